"""The fault suite: each of the simulator's faults strikes in the middle of a broadcast (and of a
few single messages), over real TCP to two SMSCs, one per carrier. Afterwards every message is
in a correct final state, no subscriber is left out, and a number got the broadcast twice only
if the fault cut a link with submits in flight (at most one window per bind per cut: the
at-least-once guarantee the README states)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from channels.simulator import Simulator, SimulatorConfig
from channels.smpp.codec import Status
from smsgw.app import Gateway
from smsgw.config import Settings, load
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.broadcast_testbed import create, numbers, seed, sent_to, view, wait_state
from tests.smsgw.test_dispatch import CONFIG, WINDOW
from tests.smsgw.testbed import WAIT, Client, WriteConfig, eventually

BINDS = 3  # btl-a and btl-b on btl's SMSC, smart-1 on smart's
RESPONSE_TIMEOUT_S = 0.5
BTL, SMART = numbers("+50160", 240), numbers("+50165", 120)
SINGLES = ("+5016099001", "+5016099002", "+5016599003")


@dataclass(frozen=True)
class Fault:
    """What strikes both SMSCs once the broadcast is under way, and how many times it may cut
    every link with submits in flight."""

    strike: Callable[[Simulator], Awaitable[None]]
    cuts: int = 0
    heal: Callable[[Simulator], Awaitable[None]] | None = None


def smsc(**settings: object) -> SimulatorConfig:
    # 20 ms per answer keeps every window full, so a cut always has submits in flight.
    base = {"port": 0, "control_port": None, "receipt_delay_s": 0.01, "seed": 11,
            "receipt_mix": {"delivered": 1.0}, "response_delay_s": 0.02}  # fmt: skip
    return SimulatorConfig(**(base | settings))


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    """btl's SMSC."""
    async with Simulator(smsc()) as btl:
        yield btl


@pytest.fixture
async def smart_smsc() -> AsyncIterator[Simulator]:
    async with Simulator(smsc(seed=12)) as smart:
        yield smart


@pytest.fixture
def settings(simulator: Simulator, smart_smsc: Simulator, write_config: WriteConfig) -> Settings:
    text = CONFIG.replace("PORT", str(simulator.port))
    head, tail = text.split('name = "smart-1"')
    text = head + 'name = "smart-1"' + tail.replace(str(simulator.port), str(smart_smsc.port))
    quick = f"response_timeout_s = {RESPONSE_TIMEOUT_S}\nenquire_link_s = 0.5\n"
    return load(write_config(text.replace("throttle_pause_s", quick + "throttle_pause_s")))


async def nothing(_smsc: Simulator) -> None:
    return None


async def drop(smsc: Simulator) -> None:
    smsc.drop_links()


async def hang(smsc: Simulator) -> None:
    smsc.hang(seconds=3 * RESPONSE_TIMEOUT_S)


async def refuse_share(smsc: Simulator) -> None:
    smsc.fail_share(0.2, (Status.ESME_RTHROTTLED, Status.ESME_RMSGQFUL, Status.ESME_RSYSERR))


async def refuse_none(smsc: Simulator) -> None:
    smsc.fail_share(0)


async def receipts_never_issued(smsc: Simulator) -> None:
    for n in range(20):
        await smsc.send_receipt(f"feed{n:04x}", handset="+5016011111")


async def duplicate_receipts(smsc: Simulator) -> None:
    smsc.duplicate_receipts()


def malformed(kind: str) -> Callable[[Simulator], Awaitable[None]]:
    async def send(smsc: Simulator) -> None:
        smsc.send_malformed(kind)

    return send


async def refuse_binds(smsc: Simulator) -> None:
    smsc.refuse_binds(Status.ESME_RINVPASWD)
    smsc.drop_links()


async def accept_binds(smsc: Simulator) -> None:
    smsc.refuse_binds(0)


async def go_down(smsc: Simulator) -> None:
    await smsc.go_down()


async def come_up(smsc: Simulator) -> None:
    await smsc.come_up()


FAULTS = {
    "link dropped mid-window": Fault(drop, cuts=1),
    "SMSC silent past the response timeout": Fault(hang, cuts=1),
    "a fifth of submits throttled, queue full or system error": Fault(
        refuse_share, heal=refuse_none
    ),
    "receipts for ids never issued": Fault(receipts_never_issued),
    "every receipt sent twice": Fault(duplicate_receipts),
    "PDU with a TLV overrunning it": Fault(malformed("bad_tlv")),
    "PDU with its body cut short": Fault(malformed("truncated_body")),
    "unknown command id": Fault(malformed("unknown_command")),
    "command_length below the header": Fault(malformed("bad_length"), cuts=1),
    "PDU announcing 16 MB": Fault(malformed("oversized"), cuts=1),
    "binds refused (wrong password) then accepted": Fault(refuse_binds, 1, accept_binds),
    "both carriers down then back": Fault(go_down, cuts=1, heal=come_up),
}


async def single(client: Client, admin: dict[str, str], to: str) -> str:
    body = {"to": to, "text": "Your clinic appointment is on Monday."}
    response = await client.post("/api/v1/messages", json=body, headers=admin)
    assert response.status == 201, await response.text()
    return str((await response.json())["id"])


async def final_state(client: Client, admin: dict[str, str], message_id: str) -> str:
    state = ""

    async def final() -> bool:
        nonlocal state
        response = await client.get(f"/api/v1/messages/{message_id}", headers=admin)
        state = (await response.json())["state"]
        return state not in ("queued", "submitted")

    await eventually(final)
    return state


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
async def test_after_the_fault_everyone_has_the_broadcast_and_duplicates_stay_bounded(
    client: Client, gateway: Gateway, simulator: Simulator, smart_smsc: Simulator,
    admin: dict[str, str], fault: Fault,
) -> None:  # fmt: skip
    smscs = (simulator, smart_smsc)
    await add_service(gateway)
    await seed(gateway, "HEALTH", BTL + SMART)
    created = await create(client, admin, service="HEALTH", texts={"en": "Clinic hours change."})
    async with asyncio.timeout(WAIT):
        await simulator.wait_submits(60)
        await smart_smsc.wait_submits(30)
    singles = [await single(client, admin, to) for to in SINGLES]
    for smsc in smscs:
        await fault.strike(smsc)
    if fault.heal is not None:
        await asyncio.sleep(4 * RESPONSE_TIMEOUT_S)  # the gateway tries and is refused meanwhile
        assert (await view(client, admin, created["id"]))["state"] == "sending"
        for smsc in smscs:
            await fault.heal(smsc)

    audience = len(BTL) + len(SMART)
    await wait_state(client, admin, created["id"], state="done", delivered=audience)
    received = sent_to(simulator) + sent_to(smart_smsc)
    broadcast = Counter({n: received[n] for n in BTL + SMART})
    assert set(broadcast) == set(BTL + SMART)
    assert broadcast.total() - audience <= fault.cuts * BINDS * WINDOW
    # A single message in flight at a cut is sent again, as a broadcast's: all delivered.
    states = {await final_state(client, admin, message_id) for message_id in singles}
    assert states == {"delivered"}
    if not fault.cuts:  # the links lived through it: no bind after the first ones
        assert simulator.status()["binds"] + smart_smsc.status()["binds"] == BINDS
    # Nothing went twice into the store either: one delivered row per subscriber.
    seen = await view(client, admin, created["id"])
    assert seen["delivered"] == audience
    assert seen["delivery_rate"] == 1.0


async def test_single_messages_cut_off_mid_run_all_arrive_and_duplicates_stay_bounded(
    client: Client, gateway: Gateway, simulator: Simulator, admin: dict[str, str]
) -> None:
    """300 API messages to one carrier; its link is cut with the window full: every message
    ends delivered, none is missing at the SMSC, and only those in flight came twice."""
    numbers_ = [f"+501609{i:04d}" for i in range(300)]  # valid in the numbering plan
    ids = [await single(client, admin, to) for to in numbers_]
    async with asyncio.timeout(WAIT):
        await simulator.wait_submits(100)
    simulator.drop_links()
    states = {await final_state(client, admin, message_id) for message_id in ids}
    assert states == {"delivered"}
    received = sent_to(simulator)
    assert set(received) == set(numbers_)  # none missing at the SMSC
    assert received.total() - len(numbers_) <= 2 * WINDOW  # btl's two binds, one cut each
