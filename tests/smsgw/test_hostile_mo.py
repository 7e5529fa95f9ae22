"""A citizen's text the SMSC delivers broken or oversized: the gateway neither crashes nor drops
the session, and a valid JOIN sent afterwards is still answered.

What it does with each (the channel's decoder never raises; it replaces what it cannot read):
- UCS-2 with an odd number of octets or a lone (high or low) surrogate: acknowledged, decoded
  with U+FFFD for what is unreadable, stored in ``inbound`` as decoded, answered (the list of
  services for a JOIN without a known keyword, else HELP, as for any text it does not know).
- GSM 7-bit octets over 0x7F: the same, each such octet read as "?".
- An unknown data_coding: read as Latin-1 (every octet stays visible), stored, answered.
- An empty text: acknowledged, stored empty, answered with HELP (as test_hostile_text shows).
- A 10 kB text in a message_payload TLV: acknowledged, stored whole, answered.
"""

from __future__ import annotations

import sqlite3

import pytest

from channels.simulator import Simulator
from channels.simulator.raw import inject_raw_mo
from channels.text import decode
from smsgw.app import Gateway
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.testbed import eventually

SENDER = "+5016012345"
LATER = "+5016054321"  # texts JOIN afterwards
UCS2 = 0x08
GSM = 0x00

CASES = {
    "ucs2-odd-octets": (UCS2, "JOIN".encode("utf-16-be") + b"\x00", "JOIN\ufffd"),
    "ucs2-lone-high-surrogate": (UCS2, b"\xd8\x00" + "HI".encode("utf-16-be"), "\ufffdHI"),
    "ucs2-lone-low-surrogate": (UCS2, "HI".encode("utf-16-be") + b"\xdc\x00", "HI\ufffd"),
    "gsm7-octets-over-0x7f": (GSM, b"JOIN \x80\xff", "JOIN ??"),
    "unknown-data-coding": (0x0B, b"JOIN \xe9t\xe9", "JOIN été"),
    "empty": (GSM, b"", ""),
    "10-kB": (GSM, b"JOIN HEALTH " * 850, "JOIN HEALTH " * 850),
}


def _replies(simulator: Simulator, number: str) -> list[str]:
    return [
        decode(s.pdu.short_message, s.pdu.data_coding)
        for s in simulator.submits
        if "+" + s.destination_addr == number
    ]


def _inbound(gateway: Gateway) -> list[tuple[str, str]]:
    with sqlite3.connect(gateway.settings.database.sqlite_path) as db:
        return db.execute("SELECT sender, text FROM inbound ORDER BY received_at").fetchall()


@pytest.mark.parametrize(("data_coding", "payload", "stored"), CASES.values(), ids=CASES)
async def test_a_broken_text_is_stored_as_decoded_and_the_session_lives_on(
    gateway: Gateway,
    simulator: Simulator,
    data_coding: int,
    payload: bytes,
    stored: str,
) -> None:
    await add_service(gateway)
    await gateway.catalogue_changed()
    inject_raw_mo(simulator, SENDER, payload, data_coding=data_coding)
    await eventually(lambda: simulator.deliver_sm_resps.total() >= 1)
    assert set(simulator.deliver_sm_resps) == {0}  # acknowledged (its reply's receipt too)
    await eventually(lambda: bool(_replies(simulator, SENDER)))

    await simulator.inject_mo(LATER, "JOIN HEALTH")
    await eventually(lambda: bool(_replies(simulator, LATER)))
    assert _replies(simulator, LATER)[0].startswith("Welcome to Health alerts")
    assert len(simulator.bound()) == 2
    assert simulator.status()["binds"] == 2  # no session was dropped and bound again
    assert not simulator.generic_nacks
    [(sender, text), later] = _inbound(gateway)
    assert sender == SENDER
    assert text == stored
    assert later == (LATER, "JOIN HEALTH")
