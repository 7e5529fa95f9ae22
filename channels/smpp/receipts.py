"""Delivery receipts: telling them apart, reading them (TLVs or Appendix B text), id matching.

A receipt names the message by the id the SMSC gave in submit_sm_resp, but SMSCs disagree on how
to write it: some answer the submit in hex ("00A1B2") and the receipt in decimal ("41394"), some
change case or pad with zeros. Both sides go through :func:`normalise_id` so they meet.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from channels.base import ReceiptState
from channels.smpp import codec
from channels.smpp.codec import Tag

_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")


def normalise_id(raw: str, base: str = "text") -> str:
    """The canonical form of a carrier message id.

    "text": trimmed, lower case, without leading zeros ("00A1B2" → "a1b2", "000" → "0");
    "hex" / "decimal": the number in decimal ("00A1B2" → "41394"), or the text form when
    ``raw`` is not a number in that base.
    """
    value = raw.strip()
    if value.isascii():  # int() would also take "+1", "1_0", "0x1f" and non-ASCII digits
        if base == "hex" and value and _HEX_DIGITS.issuperset(value):
            return str(int(value, 16))
        if base == "decimal" and value.isdigit():
            return str(int(value, 10))
    return value.lower().lstrip("0") or value[:1]


# esm_class bits 5..2, message type (SMPP 3.4 §5.2.12): SMSC delivery receipt 0x04, SME delivery
# acknowledgement 0x08, SME manual/user acknowledgement 0x10, intermediate notification 0x20.
_MESSAGE_TYPE_MASK: Final = 0x3C
_RECEIPT_TYPES: Final = frozenset({0x04, 0x08, 0x10, 0x20})


def is_receipt(pdu: codec.ShortMessage) -> bool:
    return (pdu.esm_class & _MESSAGE_TYPE_MASK) in _RECEIPT_TYPES


@dataclass(frozen=True, slots=True)
class ParsedReceipt:
    carrier_id: str  # normalised
    state: ReceiptState
    error: str | None  # the carrier's error code as text ("000"), None when not given
    done_at: datetime | None  # UTC


# message_state TLV values (SMPP 3.4 §5.3.2.35).
_TLV_STATES: Final = {
    1: ReceiptState.ENROUTE,
    2: ReceiptState.DELIVERED,
    3: ReceiptState.EXPIRED,
    4: ReceiptState.DELETED,
    5: ReceiptState.UNDELIVERABLE,
    6: ReceiptState.ACCEPTED,
    7: ReceiptState.UNKNOWN,
    8: ReceiptState.REJECTED,
}

# "stat:" words (SMPP 3.4 Appendix B), plus the spelled-out forms some SMSCs send; lower case
# because the text is lowered before matching.
_TEXT_STATES: Final = {
    "delivrd": ReceiptState.DELIVERED,
    "delivered": ReceiptState.DELIVERED,
    "expired": ReceiptState.EXPIRED,
    "deleted": ReceiptState.DELETED,
    "undeliv": ReceiptState.UNDELIVERABLE,
    "undeliverable": ReceiptState.UNDELIVERABLE,
    "failed": ReceiptState.UNDELIVERABLE,
    "acceptd": ReceiptState.ACCEPTED,
    "accepted": ReceiptState.ACCEPTED,
    "unknown": ReceiptState.UNKNOWN,
    "rejectd": ReceiptState.REJECTED,
    "rejected": ReceiptState.REJECTED,
    "enroute": ReceiptState.ENROUTE,
}

# One field of "id:… sub:… dlvrd:… submit date:… done date:… stat:… err:… text:…" (any order,
# any missing). A value is the first word after the colon, or empty when the next word is another
# key ("err: stat:…"). "text:" swallows the rest, so a "stat:" in the message text is never read.
# Matching the lowered text with (?<!…) is ~2.5x faster than re.IGNORECASE with \b (hot path).
_KEY = r"(?:submit[ _]*date|done[ _]*date|id|sub|dlvrd|stat|err|text)\s*:"
_TEXT_FIELD: Final = re.compile(
    r"(?<![a-z0-9_])(?:(submit|done|id|sub|dlvrd|stat|err)(?:[ _]*date)?\s*:\s*(?!"
    + _KEY
    + r")(\S*)|text\s*:.*)",
    re.DOTALL,
)


def parse_receipt(pdu: codec.ShortMessage, *, id_base: str = "text") -> ParsedReceipt:
    """Read a receipt: TLVs first, the text for what they lack. ValueError without id or state."""
    tlvs = pdu.tlvs
    carrier_id = _tlv_id(tlvs.get(Tag.RECEIPTED_MESSAGE_ID))
    state = _TLV_STATES.get(_tlv_int(tlvs.get(Tag.MESSAGE_STATE)) or 0)
    error = _tlv_error(tlvs.get(Tag.NETWORK_ERROR_CODE))
    done_at = None
    body = pdu.short_message or tlvs.get(Tag.MESSAGE_PAYLOAD)
    if body:
        fields = _text_fields(body.decode("latin-1"))
        if carrier_id is None:
            carrier_id = fields.get("id") or None
        if state is None and "stat" in fields:
            state = _TEXT_STATES.get(fields["stat"])
        if error is None:
            error = fields.get("err") or None
        if "done" in fields:
            done_at = _date(fields["done"])
    if carrier_id is None:
        raise ValueError("receipt without a message id")
    if state is None:
        raise ValueError(f"receipt for {carrier_id!r} without a known state")
    return ParsedReceipt(normalise_id(carrier_id, id_base), state, error, done_at)


def _text_fields(text: str) -> dict[str, str]:
    """Each field's value by key (id, sub, dlvrd, submit, done, stat, err); the first one wins."""
    return dict(reversed(_TEXT_FIELD.findall(text.lower())))


def _tlv_id(value: bytes | None) -> str | None:
    # A C-string, but some SMSCs leave out the NUL: keep everything before the first NUL, if any.
    if not value:
        return None
    return value.partition(b"\0")[0].decode("latin-1").strip() or None


def _tlv_int(value: bytes | None) -> int | None:
    # Read at whatever length it came: a one-octet field sent as four must not misread.
    return int.from_bytes(value, "big") if value else None


def _tlv_error(value: bytes | None) -> str | None:
    # network_error_code (SMPP 3.4 §5.3.2.31): network type octet, then the u16 error code.
    if not value:
        return None
    code = int.from_bytes(value[1:] if len(value) >= 3 else value, "big")
    return f"{code:03d}"


@functools.lru_cache(maxsize=1024)  # receipts arrive in bursts that share a done date
def _date(value: str) -> datetime | None:
    """YYMMDDhhmm[ss] (also YYYYMMDDhhmmss), read as UTC; None when it is not a date."""
    if not (value.isascii() and value.isdigit()):
        return None
    if len(value) in (10, 12):
        year, rest = 2000 + int(value[:2]), value[2:]
    elif len(value) == 14:
        year, rest = int(value[:4]), value[4:]
    else:
        return None
    try:
        return datetime(
            year,
            int(rest[0:2]),
            int(rest[2:4]),
            int(rest[4:6]),
            int(rest[6:8]),
            int(rest[8:10] or 0),
            tzinfo=UTC,
        )
    except ValueError:
        return None
