"""Failures of several gateways on one PostgreSQL (issue 14, item 4), with real processes: three
``smsgw run`` on one database, bound to the SMSC simulator here, whose bind log shows whether
two gateways were ever bound on one channel entry at once.

A gateway's claims (bind leases, outbox rows, messages) last ``lease_s``, 3 s here (the
config's least): what a dead gateway held passes to the others within that.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from channels.simulator import Simulator
from tests import postgres
from tests.smsgw.broadcast_testbed import sent_to
from tests.smsgw.cluster.processes import CHANNELS, Cluster, first_bind_after, now, numbers
from tests.smsgw.testbed import eventually


@pytest.fixture
def database() -> Iterator[str]:
    """A database of its own (the gateways migrate it as they start)."""
    name = postgres.create_database()
    try:
        yield postgres.dsn_of(name)
    finally:
        postgres.drop_database(name)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def assert_never_two_holders(simulator: Simulator) -> None:
    most = simulator.most_bound()
    assert set(most) == {name for name, _, _ in CHANNELS}
    twice = {name: simulator.binds_of(name) for name, count in most.items() if count > 1}
    assert not twice, twice


def sent_twice(simulator: Simulator, sent: Counter[str], since: float) -> list[str]:
    """Each submit to a number sent more than once: seconds after ``since``, system_id."""
    twice = {number[1:] for number, count in sent.items() if count > 1}
    return [
        f"{s.destination_addr} {s.at - since:+.3f} {s.system_id}"
        for s in simulator.submits
        if s.destination_addr in twice
    ]


async def test_kill_9_of_the_gateway_holding_btl_mid_broadcast(
    simulator: Simulator, database: str, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    """Three gateways, a bind each ([cluster] balance), a 20,000-subscriber broadcast over btl
    (two binds) and smart; kill -9 the gateway holding btl-a a quarter of the way: the others
    take its bind within lease_s and finish the broadcast, everyone gets it, duplicates stay
    within a window per bind it held."""
    cluster = Cluster(tmp_path, database, simulator.port)
    audience = numbers("+50160", 14_000) + numbers("+50165", 6_000)
    headers = await cluster.prepare(audience)
    try:
        await cluster.start(session)
        before = await cluster.balanced(session)
        assert sorted(before.values()) == ["a", "b", "c"]  # one each
        victim = before["btl-a"]
        broadcast_id = await cluster.broadcast(session, headers)
        await eventually(lambda: simulator.submit_total >= len(audience) // 4)
        killed_at = now()
        await cluster.gateways[victim].kill()
        assert simulator.submit_total < len(audience)  # killed mid-way
        seen = await cluster.until_done(session, headers, broadcast_id, len(audience))
        holders = await cluster.holders(session)
        alive = (await cluster.alive()[0].health(session))["gateways"]
    finally:
        await cluster.stop()
    # taken over within lease_s (a bind takes milliseconds); the others' binds never dropped
    bound_again = first_bind_after(simulator.binds_of("btl-a"), killed_at)
    assert bound_again is not None
    assert bound_again - killed_at < cluster.lease_s + 0.5
    assert first_bind_after(simulator.binds_of("btl-b"), killed_at) is None
    assert set(holders) == {name for name, _, _ in CHANNELS}
    assert victim not in holders.values()
    assert alive == sorted({"a", "b", "c"} - {victim})  # as /healthz and the console list them
    assert_never_two_holders(simulator)
    sent = sent_to(simulator)
    assert set(sent) == set(audience)
    assert seen["delivery_rate"] == 1.0
    again = sum(count - 1 for count in sent.values())
    assert again <= cluster.window, sent_twice(simulator, sent, killed_at)  # in flight at the kill


async def test_a_gateway_cut_off_from_the_database_stops_sending_before_its_binds_pass_on(
    simulator: Simulator, database: str, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    """Fencing: a gateway loses the database (its connections killed, and refused from then
    on); it unbinds before its leases lapse, the other binds them after, and finishes the
    broadcast. Once it can reach the database again it rejoins and gets its share back."""
    role = f"smsgw_cut_{Path(database).name}"[:63]
    await postgres.execute(database, f'CREATE ROLE "{role}" SUPERUSER LOGIN')
    cluster = Cluster(tmp_path, database, simulator.port, names=("a", "b"), tps=200)
    cluster.use_role("a", role)
    audience = numbers("+50160", 2_400) + numbers("+50165", 800)
    headers = await cluster.prepare(audience)
    try:
        await cluster.start(session)
        held = [c for c, holder in (await cluster.balanced(session)).items() if holder == "a"]
        assert held
        broadcast_id = await cluster.broadcast(session, headers)
        await eventually(lambda: simulator.submit_total >= 600)
        cut_at = now()
        await postgres.execute(database, f'ALTER ROLE "{role}" NOLOGIN')
        await postgres.execute(
            database,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1",
            role,
        )
        await eventually(lambda: all(first_bind_after(simulator.binds_of(c), cut_at)
                                     for c in held))  # fmt: skip
        a_health = await cluster.gateways["a"].health(session)
        await postgres.execute(database, f'ALTER ROLE "{role}" LOGIN')  # back
        seen = await cluster.until_done(session, headers, broadcast_id, len(audience))
        assert "a" in (await cluster.balanced(session)).values()  # back, with its share
    finally:
        await cluster.stop()
        await postgres.execute(database, f'DROP ROLE IF EXISTS "{role}"')
    assert a_health["storage"]["status"] == "failing"
    assert a_health["status"] == "standby"  # fenced: it holds nothing
    assert_never_two_holders(simulator)  # a's sessions ended before b's began
    sent = sent_to(simulator)
    assert set(sent) == set(audience)
    assert seen["delivery_rate"] == 1.0
    again = sum(count - 1 for count in sent.values())
    assert again <= len(CHANNELS) * cluster.window, sent_twice(simulator, sent, cut_at)


async def test_postgresql_restarted_mid_broadcast(
    simulator: Simulator, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    """pg_ctl restart while two gateways send a broadcast: they reconnect by themselves, sending
    holds meanwhile, and the broadcast ends with everyone delivered."""
    async with postgres.own_server() as server:
        cluster = Cluster(tmp_path, server.dsn, simulator.port, names=("a", "b"), tps=200)
        audience = numbers("+50160", 2_400) + numbers("+50165", 800)
        headers = await cluster.prepare(audience)
        try:
            await cluster.start(session)
            broadcast_id = await cluster.broadcast(session, headers)
            await eventually(lambda: simulator.submit_total >= 600)
            restarted_at = now()
            await server.restart()
            seen = await cluster.until_done(session, headers, broadcast_id, len(audience))
            assert all(g.alive for g in cluster.gateways.values())
        finally:
            await cluster.stop()
    assert_never_two_holders(simulator)
    sent = sent_to(simulator)
    assert set(sent) == set(audience)
    assert seen["delivery_rate"] == 1.0
    again = sum(count - 1 for count in sent.values())
    assert again <= len(CHANNELS) * cluster.window, sent_twice(simulator, sent, restarted_at)
