"""Raw mobile-originated PDUs: a deliver_sm carrying exactly the bytes and data_coding given,
for tests of what a misbehaving SMSC or handset sends (odd UCS-2, bytes outside GSM 03.38,
an unknown data_coding, a 64 kB message_payload). Simulator.inject_mo sends only valid text.
"""

from __future__ import annotations

from channels.simulator.server import Simulator
from channels.simulator.state import NoReceiverError
from channels.smpp.address import address
from channels.smpp.codec import Command, Tag, encode_short_message, encode_tlv


def inject_raw_mo(
    simulator: Simulator,
    sender: str,
    payload: bytes,
    *,
    data_coding: int,
    to: str | None = None,
    system_id: str | None = None,
) -> None:
    """One deliver_sm with ``payload`` as is: in short_message up to 254 octets, else in a
    message_payload TLV (SMPP 3.4 §5.3.2.32) with an empty short_message."""
    # the simulator's state is private; this module sits beside it in the same package
    session = simulator._state.receiver_for(system_id)
    if session is None:
        raise NoReceiverError("no receiver or transceiver is bound")
    source, source_ton, source_npi = address(sender)
    destination, dest_ton, dest_npi = address(to or simulator.config.short_code)
    long = len(payload) > 254
    session.write(
        encode_short_message(
            Command.DELIVER_SM,
            session.next_sequence(),
            source_addr=source,
            source_ton=source_ton,
            source_npi=source_npi,
            destination_addr=destination,
            dest_ton=dest_ton,
            dest_npi=dest_npi,
            data_coding=data_coding,
            short_message=b"" if long else payload,
            tlvs=encode_tlv(Tag.MESSAGE_PAYLOAD, payload) if long else b"",
        )
    )
