"""The deliver_sm that carries a delivery receipt: Appendix B text and/or TLVs.

Encoded here with one bytes format per receipt (a third of codec.encode_short_message's
cost): receipts are half the PDUs a benchmark run writes. The tests check the result
decodes with channels.smpp.codec to the same fields.
"""

from __future__ import annotations

from typing import NamedTuple

from channels.smpp.codec import HEADER, HEADER_LENGTH, Command, ShortMessage, Tag

# state -> (stat in the text, message_state TLV, error code): SMPP 3.4 §5.2.28 and Appendix B.
# Error codes are GSM MAP errors (unknown subscriber 1, teleservice not provisioned 11,
# absent subscriber 27), the usual content of network_error_code.
STATES: dict[str, tuple[str, int, int]] = {
    "enroute": ("ENROUTE", 1, 0),
    "delivered": ("DELIVRD", 2, 0),
    "expired": ("EXPIRED", 3, 27),
    "deleted": ("DELETED", 4, 0),
    "undeliverable": ("UNDELIV", 5, 1),
    "accepted": ("ACCEPTD", 6, 0),
    "unknown": ("UNKNOWN", 7, 0),
    "rejected": ("REJECTD", 8, 11),
}
ESM_CLASS_RECEIPT = 0x04  # SMPP 3.4 §5.2.12: SMSC delivery receipt
_GSM_NETWORK = 3  # network_error_code's first octet: 3 = GSM (SMPP 3.4 §5.3.2.31)
_UDHI = 0x40
MAX_ADDRESS = 20  # octets of an SMPP 3.4 address

# Per state: the text's "dlvrd:… stat:… err:…" values, and the message_state and
# network_error_code TLVs (tag, length, value).
_TEXT = {
    state: (b"001" if state == "delivered" else b"000", stat.encode(), b"%03d" % error)
    for state, (stat, _, error) in STATES.items()
}
_TLVS = {
    state: (
        Tag.MESSAGE_STATE.to_bytes(2, "big")
        + b"\x00\x01"
        + bytes((message_state,))
        + Tag.NETWORK_ERROR_CODE.to_bytes(2, "big")
        + b"\x00\x03"
        + bytes((_GSM_NETWORK,))
        + error.to_bytes(2, "big")
    )
    for state, (_, message_state, error) in STATES.items()
}
# SMPP 3.4 Appendix B.
_TEXT_FORMAT = b"id:%s sub:001 dlvrd:%s submit date:%s done date:%s stat:%s err:%s text:%s"
_RECEIPTED_ID = Tag.RECEIPTED_MESSAGE_ID.to_bytes(2, "big")


class ReceiptJob(NamedTuple):
    """What a receipt needs from its submit_sm: plain values, cheap to keep for a while."""

    system_id: str
    message_id: str
    handset: bytes  # the submit's destination: the receipt's source
    handset_ton: int
    handset_npi: int
    sender: bytes  # the submit's source: the receipt's destination
    sender_ton: int
    sender_npi: int
    excerpt: bytes


def excerpt(pdu: ShortMessage) -> bytes:
    """The first 20 characters of the submitted text, as Appendix B's ``text:`` field."""
    content = pdu.short_message or pdu.tlvs.get(Tag.MESSAGE_PAYLOAD, b"")
    if pdu.esm_class & _UDHI and content:
        content = content[content[0] + 1 :]
    if pdu.data_coding == 0x08:  # UCS-2: the text field is plain ASCII
        return content[:40].decode("utf-16-be", "replace")[:20].encode("ascii", "replace")
    return content[:20]


def job_for(system_id: str, message_id: str, pdu: ShortMessage) -> ReceiptJob:
    return ReceiptJob(
        system_id,
        message_id,
        pdu.destination_addr.encode("latin-1"),
        pdu.dest_ton,
        pdu.dest_npi,
        pdu.source_addr.encode("latin-1"),
        pdu.source_ton,
        pdu.source_npi,
        excerpt(pdu),
    )


def encode_receipt(
    sequence: int,
    job: ReceiptJob,
    state: str,
    *,
    submit_date: bytes,
    done_date: bytes,
    receipt_format: str,
    text_id: str,
) -> bytes:
    """The deliver_sm carrying the receipt: from the handset back to the sender."""
    short_message = tlvs = b""
    if receipt_format != "tlv":
        dlvrd, stat, error = _TEXT[state]
        short_message = _TEXT_FORMAT % (
            text_id.encode("ascii"),
            dlvrd,
            submit_date,
            done_date,
            stat,
            error,
            job.excerpt,
        )
        short_message = short_message[:254]  # 254 octets at most (SMPP 3.4 §5.2.21)
    if receipt_format != "text":
        message_id = job.message_id.encode("ascii")
        tlvs = b"%s%s%s\0%s" % (
            _RECEIPTED_ID,
            (len(message_id) + 1).to_bytes(2, "big"),
            message_id,
            _TLVS[state],
        )
    # SMPP 3.4 §4.6.1: service_type, addresses, then esm_class 0x04 and eight zero octets
    # (protocol_id, priority, schedule, validity, registered_delivery, replace, data_coding,
    # sm_default_msg_id), sm_length, short_message, TLVs.
    body = b"\0%c%c%s\0%c%c%s\0\x04\0\0\0\0\0\0\0\0%c%s%s" % (
        job.handset_ton,
        job.handset_npi,
        job.handset,
        job.sender_ton,
        job.sender_npi,
        job.sender,
        len(short_message),
        short_message,
        tlvs,
    )
    return HEADER.pack(HEADER_LENGTH + len(body), Command.DELIVER_SM, 0, sequence) + body
