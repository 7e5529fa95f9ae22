"""Mobile-originated texts as the SMSC delivers them: one deliver_sm per segment."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Literal

from channels.smpp.address import address
from channels.smpp.codec import Command, Tag, encode_short_message, encode_tlv
from channels.text import split

PartsMode = Literal["udh", "sar"]
ESM_CLASS_UDHI = 0x40  # SMPP 3.4 §5.2.12: short_message starts with a user data header


def encode_mo(
    sender: str,
    to: str,
    text: str,
    *,
    reference: int,
    parts: PartsMode,
    next_sequence: Callable[[], int],
) -> list[bytes]:
    """The deliver_sm PDUs of one MO; split by channels.text.split like any outbound text.

    Multi-part texts carry concatenation as a UDH (esm_class 0x40, 8-bit ``reference``) or,
    with ``parts="sar"``, as sar_* TLVs (SMPP 3.4 §5.3.2.22-24, 16-bit reference).
    """
    source, source_ton, source_npi = address(sender)
    destination, dest_ton, dest_npi = address(to)
    segments = split(text, reference)
    total = len(segments)
    pdus = []
    for seq, segment in enumerate(segments, start=1):
        esm_class = 0
        short_message = segment.payload
        tlvs = b""
        if total > 1 and parts == "udh":
            esm_class = ESM_CLASS_UDHI
            short_message = segment.udh + segment.payload
        elif total > 1:
            tlvs = (
                encode_tlv(Tag.SAR_MSG_REF_NUM, struct.pack(">H", reference & 0xFFFF))
                + encode_tlv(Tag.SAR_TOTAL_SEGMENTS, bytes((total,)))
                + encode_tlv(Tag.SAR_SEGMENT_SEQNUM, bytes((seq,)))
            )
        pdus.append(
            encode_short_message(
                Command.DELIVER_SM,
                next_sequence(),
                source_addr=source,
                source_ton=source_ton,
                source_npi=source_npi,
                destination_addr=destination,
                dest_ton=dest_ton,
                dest_npi=dest_npi,
                esm_class=esm_class,
                data_coding=segment.data_coding,
                short_message=short_message,
                tlvs=tlvs,
            )
        )
    return pdus
