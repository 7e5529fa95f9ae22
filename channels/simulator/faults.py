"""Malformed PDUs the simulator can send, to prove an ESME survives a misbehaving SMSC."""

from __future__ import annotations

import struct
from typing import Literal, get_args

from channels.smpp.codec import HEADER, HEADER_LENGTH, Command, Tag, encode_short_message

MalformedKind = Literal["bad_tlv", "unknown_command", "truncated_body", "bad_length", "oversized"]
MALFORMED_KINDS: tuple[str, ...] = get_args(MalformedKind)
UNKNOWN_COMMAND_ID = 0x00001234
OVERSIZED_LENGTH = 16 * 1024 * 1024


def malformed_pdu(kind: str, sequence: int) -> bytes:
    """One bad PDU. All but ``bad_length`` frame correctly: the ESME should answer them with
    generic_nack and keep the session; ``bad_length`` (command_length < 16) cannot be framed
    and must make the ESME drop the link; ``oversized`` announces a 16 MB PDU and sends 64
    octets of it: the ESME must drop the link without waiting for (or buffering) the rest."""
    if kind == "bad_tlv":
        # A message_payload TLV announcing 200 octets with 3 present: it overruns the PDU.
        return _with_length(_deliver_sm(sequence) + struct.pack(">HH", Tag.MESSAGE_PAYLOAD, 200))
    if kind == "unknown_command":
        return HEADER.pack(HEADER_LENGTH, UNKNOWN_COMMAND_ID, 0, sequence)
    if kind == "truncated_body":
        # The body stops inside source_addr (no terminating NUL, nothing after it).
        body = _deliver_sm(sequence)[HEADER_LENGTH : HEADER_LENGTH + 6]
        return HEADER.pack(HEADER_LENGTH + len(body), Command.DELIVER_SM, 0, sequence) + body
    if kind == "bad_length":
        return HEADER.pack(8, Command.DELIVER_SM, 0, sequence)
    if kind == "oversized":
        return HEADER.pack(OVERSIZED_LENGTH, Command.DELIVER_SM, 0, sequence) + bytes(64)
    raise ValueError(f"unknown malformed kind {kind!r}; use one of {', '.join(MALFORMED_KINDS)}")


def _deliver_sm(sequence: int) -> bytes:
    return encode_short_message(
        Command.DELIVER_SM,
        sequence,
        source_addr="5016012345",
        destination_addr="1515",
        short_message=b"malformed",
    )


def _with_length(pdu: bytes) -> bytes:
    """Appends 3 octets of TLV value and rewrites command_length to the real size."""
    pdu += b"abc"
    return struct.pack(">I", len(pdu)) + pdu[4:]
