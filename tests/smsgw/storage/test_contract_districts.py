"""Districts on every backend: a subscriber's district set by their JOIN, an officer or an
import, recorded in the consent history, and counted per district in an audience."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smsgw.storage.postgres import PostgresStore
from smsgw.storage.sqlite import SqliteStore
from subscriptions.models import Action, Change, ChangeKind, ChangeResult, Service, Source

AnyStore = SqliteStore | PostgresStore
pytestmark = pytest.mark.usefixtures("postgres_database")
T0 = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
A, B, C, D = "+5016000001", "+5016000002", "+5016000003", "+5016000004"


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
async def store(any_store: AnyStore) -> AnyStore:
    await any_store.catalogue.add_service(
        Service("HURRICANE", "nemo", {"en": "Hurricane alerts"}, aliases=("HURACAN",))
    )
    return any_store


def join(msisdn: str, minute: int, district: str | None = None) -> Change:
    return Change(ChangeKind.JOIN, msisdn, at(minute), Source.SMS, f"mo-{minute}",
                  service="HURRICANE", district=district)  # fmt: skip


async def district_events(store: AnyStore, msisdn: str) -> list[str | None]:
    history = await store.subscriptions.history(msisdn)
    return [e.detail for e in history if e.action is Action.DISTRICT]


async def district_of(store: AnyStore, msisdn: str) -> str | None:
    subscriber = await store.subscriptions.subscriber(msisdn)
    assert subscriber is not None
    return subscriber.district


async def test_a_join_naming_a_district_sets_it_and_my_shows_it(store: AnyStore) -> None:
    results = await store.subscriptions.apply([
        join(A, 1, "Toledo"),
        join(A, 2, "Stann Creek"),  # already subscribed: the district still changes
        join(A, 3, "Stann Creek"),  # the same again: no event
        join(B, 4),
        Change(ChangeKind.MY, A, at(5), Source.SMS, "mo-5"),
        Change(ChangeKind.MY, B, at(6), Source.SMS, "mo-6"),
    ])  # fmt: skip
    assert [r.changed for r in results[:4]] == [True, False, False, True]
    assert results[4] == ChangeResult(services=("HURRICANE",), district="Stann Creek")
    assert results[5] == ChangeResult(services=("HURRICANE",), district=None)
    assert await district_of(store, A) == "Stann Creek"
    assert await district_events(store, A) == ["Toledo", "Stann Creek"]
    assert await district_of(store, B) is None


async def test_an_officer_sets_a_district_but_not_for_a_number_under_a_stop(
    store: AnyStore,
) -> None:
    subs = store.subscriptions
    assert await subs.join(A, "HURRICANE", at=at(1), source=Source.ASSISTED, consent="form 7",
                           actor="t-officer", district="Cayo")  # fmt: skip
    await subs.stop_all(B, at=at(2), source=Source.SMS, consent="mo-2")
    assert not await subs.join(B, "HURRICANE", at=at(3), source=Source.ASSISTED,
                               consent="form 8", actor="t-officer", district="Cayo")  # fmt: skip
    assert (await district_of(store, A), await district_of(store, B)) == ("Cayo", None)
    history = await subs.history(A)
    assert [(e.action, e.actor) for e in history][-1] == (Action.DISTRICT, "t-officer")


async def test_an_import_gives_districts_to_those_who_have_none(store: AnyStore) -> None:
    subs = store.subscriptions
    await subs.apply([join(A, 1, "Toledo")])
    await subs.stop_all(C, at=at(2), source=Source.SMS, consent="mo-2")
    counts = await subs.join_many(
        [(A, None), (B, "es"), (C, None), (D, None)], "HURRICANE", at=at(3),
        source=Source.IMPORT, consent="list.csv", actor="t-officer",
        districts={A: "Corozal", B: "Orange Walk", C: "Cayo"},
    )  # fmt: skip
    assert (counts.joined, counts.already, counts.opted_out) == (2, 1, 1)
    districts = [await district_of(store, n) for n in (A, B, C, D)]
    assert districts == ["Toledo", "Orange Walk", None, None]  # the citizen's own word stands
    assert await district_events(store, B) == ["Orange Walk"]
    assert await store.subscriptions.audience_by_district("HURRICANE") == {
        "Toledo": 1,
        "Orange Walk": 1,
        None: 1,
    }  # fmt: skip  (C is under a STOP)
