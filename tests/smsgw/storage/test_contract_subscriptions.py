"""The subscriptions' contract on every backend (CatalogueStore, SubscriptionStore): the same
catalogue, consent history and audiences from the same changes, on SQLite and PostgreSQL.

Plain SQL only where a test must look at rows no method shows (a left subscription) or at what
the database itself refuses: the per-backend helper under "Rows no method shows".
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import re
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeAlias

import asyncpg
import pytest

from channels.text import text_info
from smsgw.storage.postgres import PostgresStore
from smsgw.storage.sqlite import SqliteStore
from subscriptions.models import (
    Action,
    Change,
    ChangeKind,
    ChangeResult,
    ImportCounts,
    Service,
    Source,
)
from subscriptions.service import IncomingText, SubscriptionService
from subscriptions.store import ServiceConflict
from subscriptions.templates import Templates

AnyStore: TypeAlias = SqliteStore | PostgresStore
# The PostgreSQL database made before any test's event loop runs: conftest's any_store asks
# for it from inside its loop, where its asyncio.run() may not run
pytestmark = pytest.mark.usefixtures("postgres_database")

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
SMS = Source.SMS
TEMPLATES = Path(__file__).parents[3] / "templates"
OWNED = {"HEALTH", "SALUD", "WEATHER", "CLIMA", "JOBS", "TRABAJO"}  # the words of the catalogue


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def number(n: int) -> str:
    return f"+50160{n:05d}"


def service(keyword: str, *aliases: str, active: bool = True) -> Service:
    return Service(
        keyword=keyword,
        ministry="health",
        names={"en": f"{keyword} news", "es": f"Noticias {keyword}"},
        aliases=aliases,
        descriptions={"en": "Clinics, vaccination days", "es": "Clínicas, vacunación"},
        welcome={"en": f"Welcome to {keyword}.", "es": f"Bienvenido a {keyword}. ¿Ñandú?"},
        default_language="es",
        requires_approval=True,
        active=active,
    )


@pytest.fixture
async def store(any_store: AnyStore) -> AnyStore:
    """Each backend, with three services."""
    for keyword, alias in (("HEALTH", "SALUD"), ("WEATHER", "CLIMA"), ("JOBS", "TRABAJO")):
        await any_store.catalogue.add_service(service(keyword, alias))
    return any_store


async def actions(store: AnyStore, msisdn: str) -> list[tuple[Action, str | None, str | None]]:
    return [(e.action, e.service, e.detail) for e in await store.subscriptions.history(msisdn)]


async def active(store: AnyStore, msisdn: str) -> list[str]:
    return [s.service for s in await store.subscriptions.subscriptions(msisdn)]


async def opted_out(store: AnyStore, msisdn: str) -> bool:
    subscriber = await store.subscriptions.subscriber(msisdn)
    assert subscriber is not None
    return subscriber.opted_out_at is not None


# ---------------------------------------------------------------- catalogue


async def test_a_service_reads_back_as_stored_with_its_aliases_in_order(store: AnyStore) -> None:
    edu = service("EDUCATION", "EDU", "ESCUELA", "SKUL", active=False)
    await store.catalogue.add_service(edu)
    assert await store.catalogue.service("EDUCATION") == edu
    assert await store.catalogue.service("EDU") is None  # an alias is not a keyword
    assert await store.catalogue.service("NOPE") is None
    listed = await store.catalogue.services()
    assert [s.keyword for s in listed] == ["EDUCATION", "HEALTH", "JOBS", "WEATHER"]
    assert [s.keyword for s in await store.catalogue.services(active_only=True)] == [
        "HEALTH",
        "JOBS",
        "WEATHER",
    ]


async def test_every_field_of_a_service_reads_back(any_store: AnyStore) -> None:
    bare = Service("A1", "met", {"en": "A"}, confirm_sign_ups=False)
    await any_store.catalogue.add_service(bare)
    assert await any_store.catalogue.service("A1") == bare
    assert await any_store.catalogue.services() == [bare]


async def test_the_language_of_each_alias_reads_back_and_changes_with_the_service(
    store: AnyStore,
) -> None:
    edu = dataclasses.replace(
        service("EDUCATION", "ESCUELA", "SKUL", "SCHOOLS"),
        alias_languages={"ESCUELA": "es", "SCHOOLS": "en"},  # SKUL: not known
    )
    await store.catalogue.add_service(edu)
    assert await store.catalogue.service("EDUCATION") == edu
    assert edu in await store.catalogue.services()
    health = await store.catalogue.service("HEALTH")
    assert health is not None
    assert health.alias_languages == {}  # none given: none known

    changed = dataclasses.replace(edu, aliases=("SKUL", "ESCUELA"), alias_languages={"SKUL": "en"})
    await store.catalogue.replace_service(changed)
    assert await store.catalogue.service("EDUCATION") == changed


async def test_replacing_a_service_changes_it_and_frees_its_old_aliases(store: AnyStore) -> None:
    new = service("HEALTH", "SANTE", "HEALTHY", active=False)
    await store.catalogue.replace_service(new)
    assert await store.catalogue.service("HEALTH") == new
    await store.catalogue.add_service(service("CLINIC", "SALUD"))  # SALUD is free again
    assert (await store.catalogue.service("CLINIC")) == service("CLINIC", "SALUD")


@pytest.mark.parametrize(
    "taken",
    [
        service("HEALTH"),
        service("SALUD"),
        service("ALERTS", "WEATHER"),
        service("ALERTS", "HURRICANE", "CLIMA"),
        service("ALERTS", "HURRICANE", "HURRICANE"),
        service("ALERTS", "ALERTS"),
    ],
    ids=[
        "keyword-as-keyword",
        "keyword-as-alias",
        "alias-as-keyword",
        "alias-as-alias",
        "alias-twice",
        "alias-same-as-keyword",
    ],
)
async def test_a_word_that_already_names_a_service_is_refused_and_claims_nothing(
    store: AnyStore, taken: Service
) -> None:
    before = await store.catalogue.services()
    with pytest.raises(ServiceConflict):
        await store.catalogue.add_service(taken)
    assert await store.catalogue.services() == before
    free = list(dict.fromkeys(w for w in taken.words if w not in OWNED))
    if free:  # the refused service's other words were not kept
        await store.catalogue.add_service(service(*free))
        assert await store.catalogue.service(free[0]) == service(*free)


async def test_the_conflict_names_the_word_and_its_owner(store: AnyStore) -> None:
    with pytest.raises(ServiceConflict, match=r"CLIMA \(service WEATHER\)"):
        await store.catalogue.add_service(service("ALERTS", "HURRICANE", "CLIMA"))
    with pytest.raises(ServiceConflict, match="names a word twice"):
        await store.catalogue.add_service(service("ALERTS", "HURRICANE", "HURRICANE"))
    with pytest.raises(ServiceConflict, match="service HEALTH exists"):
        await store.catalogue.add_service(service("HEALTH", "HURRICANE"))


async def test_replacing_with_another_services_alias_is_refused_and_keeps_the_old_version(
    store: AnyStore,
) -> None:
    with pytest.raises(ServiceConflict, match="CLIMA"):
        await store.catalogue.replace_service(service("HEALTH", "SALUD", "CLIMA"))
    assert await store.catalogue.service("HEALTH") == service("HEALTH", "SALUD")
    with pytest.raises(ServiceConflict):  # SALUD is still HEALTH's
        await store.catalogue.add_service(service("CLINIC", "SALUD"))


async def test_replacing_an_unknown_service_is_a_lookup_error(store: AnyStore) -> None:
    with pytest.raises(LookupError):
        await store.catalogue.replace_service(service("NOPE"))
    assert await store.catalogue.service("NOPE") is None


# ---------------------------------------------------------------- joining and leaving


async def test_join_leave_rejoin_keeps_the_whole_history(store: AnyStore, tmp_path: Path) -> None:
    n = number(1)
    assert await store.subscriptions.join(n, "HEALTH", at=at(0), source=SMS, consent="mo-1")
    assert await store.subscriptions.leave(n, "HEALTH", at=at(1), source=SMS, consent="mo-2")
    assert await store.subscriptions.join(
        n, "HEALTH", at=at(2), source=Source.ASSISTED, consent="centre:ow"
    )

    events = await store.subscriptions.history(n)
    assert [(e.action, e.service, e.at, e.source, e.consent) for e in events] == [
        (Action.JOIN, "HEALTH", at(0), SMS, "mo-1"),
        (Action.LEAVE, "HEALTH", at(1), SMS, "mo-2"),
        (Action.JOIN, "HEALTH", at(2), Source.ASSISTED, "centre:ow"),
    ]
    assert await stored_subscriptions(store, tmp_path, n) == [
        (at(0), "sms", "mo-1", at(1), False),
        (at(2), "assisted", "centre:ow", None, False),
    ]
    (now,) = await store.subscriptions.subscriptions(n)
    assert (now.msisdn, now.service, now.subscribed_at, now.source, now.consent, now.left_at) == (
        n,
        "HEALTH",
        at(2),
        Source.ASSISTED,
        "centre:ow",
        None,
    )


async def test_joining_twice_or_leaving_what_one_is_not_in_changes_nothing(
    store: AnyStore,
) -> None:
    n = number(1)
    assert await store.subscriptions.join(n, "HEALTH", at=at(0), source=SMS, consent="mo-1")
    assert not await store.subscriptions.join(
        n, "HEALTH", at=at(1), source=SMS, consent="mo-2", language="es"
    )
    assert not await store.subscriptions.leave(n, "WEATHER", at=at(2), source=SMS, consent="mo-3")
    assert not await store.subscriptions.leave(
        number(2), "WEATHER", at=at(2), source=SMS, consent="mo-4"
    )
    assert not await store.subscriptions.leave(n, "NOPE", at=at(2), source=SMS, consent="mo-5")
    assert await actions(store, n) == [(Action.JOIN, "HEALTH", None)]
    assert await store.subscriptions.history(number(2)) == []
    assert await store.subscriptions.subscriber(number(2)) is None  # a leave creates no one
    subscriber = await store.subscriptions.subscriber(n)
    assert subscriber is not None
    assert (subscriber.msisdn, subscriber.language, subscriber.created_at) == (n, None, at(0))


async def test_joining_an_unknown_service_is_a_lookup_error(store: AnyStore) -> None:
    with pytest.raises(LookupError, match="NOPE"):
        await store.subscriptions.join(number(1), "NOPE", at=at(0), source=SMS, consent="mo-1")
    assert await store.subscriptions.subscriber(number(1)) is None
    await store.subscriptions.stop_all(number(2), at=at(0), source=SMS, consent="mo-2")
    with pytest.raises(LookupError):  # under a STOP too
        await store.subscriptions.join(
            number(2), "NOPE", at=at(1), source=Source.ASSISTED, consent="x"
        )


async def test_subscriptions_lists_the_active_ones_oldest_first(store: AnyStore) -> None:
    n = number(1)
    for minute, keyword in enumerate(("WEATHER", "HEALTH", "JOBS")):
        await store.subscriptions.join(
            n, keyword, at=at(minute), source=SMS, consent=f"mo-{minute}"
        )
    await store.subscriptions.leave(n, "HEALTH", at=at(5), source=SMS, consent="mo-5")
    assert await active(store, n) == ["WEATHER", "JOBS"]


async def test_who_recorded_a_change_for_the_citizen_is_in_its_events(store: AnyStore) -> None:
    n = number(1)
    assisted = Source.ASSISTED
    await store.subscriptions.join(
        n, "HEALTH", at=at(0), source=assisted, consent="centre", language="es", actor="tok-1"
    )
    await store.subscriptions.leave(n, "HEALTH", at=at(1), source=assisted, consent="c", actor="t2")
    await store.subscriptions.join_many(
        [(number(2), "en")], "JOBS", at=at(2), source=Source.IMPORT, consent="f", actor="tok-3"
    )
    await store.subscriptions.stop_all(n, at=at(3), source=SMS, consent="mo-1")
    assert [(e.action, e.actor) for e in await store.subscriptions.history(n)] == [
        (Action.JOIN, "tok-1"),
        (Action.LANGUAGE, "tok-1"),
        (Action.LEAVE, "t2"),
        (Action.STOP_ALL, None),  # the citizen themself
    ]
    history = await store.subscriptions.history(number(2))
    assert [(e.action, e.service, e.detail, e.source, e.consent, e.actor) for e in history] == [
        (Action.JOIN, "JOBS", None, Source.IMPORT, "f", "tok-3"),
        (Action.LANGUAGE, None, "en", Source.IMPORT, "f", "tok-3"),
    ]


# ---------------------------------------------------------------- STOP and UNSTOP


async def test_stop_all_from_a_number_never_seen_opts_it_out(store: AnyStore) -> None:
    n = number(9)
    assert await store.subscriptions.stop_all(n, at=at(0), source=SMS, consent="mo-1") == []
    subscriber = await store.subscriptions.subscriber(n)
    assert subscriber is not None
    assert (subscriber.opted_out_at, subscriber.created_at) == (at(0), at(0))
    assert await actions(store, n) == [(Action.STOP_ALL, None, None)]
    # a second STOP changes nothing and records nothing
    assert await store.subscriptions.stop_all(n, at=at(1), source=SMS, consent="mo-2") == []
    assert await actions(store, n) == [(Action.STOP_ALL, None, None)]
    assert (await store.subscriptions.subscriber(n)) == subscriber


async def test_unstop_rejoins_exactly_what_the_stop_left(store: AnyStore, tmp_path: Path) -> None:
    n = number(1)
    for keyword in ("HEALTH", "WEATHER", "JOBS"):
        await store.subscriptions.join(n, keyword, at=at(0), source=SMS, consent="mo-1")
    await store.subscriptions.leave(n, "JOBS", at=at(1), source=SMS, consent="mo-2")

    assert await store.subscriptions.stop_all(n, at=at(2), source=SMS, consent="mo-3") == [
        "HEALTH",
        "WEATHER",
    ]
    assert await store.subscriptions.subscriptions(n) == []
    assert sorted(await stored_subscriptions(store, tmp_path, n)) == [
        (at(0), "sms", "mo-1", at(1), False),  # JOBS, left before the STOP
        (at(0), "sms", "mo-1", at(2), True),
        (at(0), "sms", "mo-1", at(2), True),
    ]
    assert await store.subscriptions.unstop(n, at=at(3), source=SMS, consent="mo-4") == [
        "HEALTH",
        "WEATHER",
    ]

    assert sorted(await active(store, n)) == ["HEALTH", "WEATHER"]
    rejoined = await store.subscriptions.subscriptions(n)
    assert {(s.subscribed_at, s.source, s.consent) for s in rejoined} == {(at(3), SMS, "mo-4")}
    assert not await opted_out(store, n)
    assert (await actions(store, n))[-2:] == [
        (Action.STOP_ALL, None, "HEALTH WEATHER"),
        (Action.UNSTOP, None, "HEALTH WEATHER"),
    ]
    # no longer opted out: a second UNSTOP is a no-op
    assert await store.subscriptions.unstop(n, at=at(4), source=SMS, consent="mo-5") == []
    assert len(await store.subscriptions.history(n)) == 6
    # nor is there anything to lift for a number never seen
    assert await store.subscriptions.unstop(number(2), at=at(4), source=SMS, consent="x") == []
    assert await store.subscriptions.subscriber(number(2)) is None


async def test_unstop_after_a_stop_that_left_nothing_records_the_lift(store: AnyStore) -> None:
    n = number(1)
    await store.subscriptions.stop_all(n, at=at(0), source=SMS, consent="mo-1")
    assert await store.subscriptions.unstop(n, at=at(1), source=SMS, consent="mo-2") == []
    assert not await opted_out(store, n)
    assert await actions(store, n) == [(Action.STOP_ALL, None, None), (Action.UNSTOP, None, None)]


async def test_join_after_stop_lifts_the_opt_out_but_rejoins_only_that_service(
    store: AnyStore,
) -> None:
    n = number(1)
    await store.subscriptions.join(n, "HEALTH", at=at(0), source=SMS, consent="mo-1")
    await store.subscriptions.join(n, "WEATHER", at=at(0), source=SMS, consent="mo-2")
    await store.subscriptions.stop_all(n, at=at(1), source=SMS, consent="mo-3")

    assert await store.subscriptions.join(n, "HEALTH", at=at(2), source=SMS, consent="mo-4")
    assert await active(store, n) == ["HEALTH"]
    assert not await opted_out(store, n)
    events = await store.subscriptions.history(n)
    assert [(e.action, e.service, e.detail, e.at, e.consent) for e in events[-2:]] == [
        (Action.UNSTOP, None, None, at(2), "mo-4"),
        (Action.JOIN, "HEALTH", None, at(2), "mo-4"),
    ]
    # the STOP is lifted: a later UNSTOP has nothing to rejoin
    assert await store.subscriptions.unstop(n, at=at(3), source=SMS, consent="mo-5") == []
    assert await active(store, n) == ["HEALTH"]


async def test_unstop_follows_only_the_last_stop(store: AnyStore) -> None:
    n = number(1)
    await store.subscriptions.join(n, "HEALTH", at=at(0), source=SMS, consent="mo-1")
    await store.subscriptions.join(n, "WEATHER", at=at(0), source=SMS, consent="mo-2")
    await store.subscriptions.stop_all(n, at=at(1), source=SMS, consent="mo-3")  # leaves both
    await store.subscriptions.join(n, "JOBS", at=at(2), source=SMS, consent="mo-4")  # lifts it
    assert await store.subscriptions.stop_all(n, at=at(3), source=SMS, consent="mo-5") == ["JOBS"]
    assert await store.subscriptions.unstop(n, at=at(4), source=SMS, consent="mo-6") == ["JOBS"]
    assert await active(store, n) == ["JOBS"]


@pytest.mark.parametrize("source", [Source.ASSISTED, Source.IMPORT], ids=str)
async def test_only_the_citizen_by_sms_lifts_a_stop(store: AnyStore, source: Source) -> None:
    n = number(1)
    await store.subscriptions.stop_all(n, at=at(0), source=SMS, consent="mo-1")
    joined = await store.subscriptions.join(n, "HEALTH", at=at(1), source=source, consent="x")
    assert joined is False
    assert await store.subscriptions.subscriptions(n) == []
    assert [e.action for e in await store.subscriptions.history(n)] == [Action.STOP_ALL]
    assert await store.subscriptions.join(n, "HEALTH", at=at(2), source=SMS, consent="mo-2")
    assert not await opted_out(store, n)


# ---------------------------------------------------------------- language


@pytest.mark.parametrize(
    ("first", "second", "expected", "events"),
    [
        (None, "es", "es", [Action.JOIN, Action.JOIN, Action.LANGUAGE]),
        ("en", "es", "en", [Action.JOIN, Action.LANGUAGE, Action.JOIN]),
        ("en", None, "en", [Action.JOIN, Action.LANGUAGE, Action.JOIN]),
        (None, None, None, [Action.JOIN, Action.JOIN]),
    ],
    ids=["set-when-none", "kept-when-set", "kept-when-not-given", "none"],
)
async def test_a_join_sets_the_language_only_when_the_subscriber_has_none(
    store: AnyStore,
    first: str | None,
    second: str | None,
    expected: str | None,
    events: list[Action],
) -> None:
    n = number(1)
    await store.subscriptions.join(
        n, "HEALTH", at=at(0), source=SMS, consent="mo-1", language=first
    )
    await store.subscriptions.join(
        n, "WEATHER", at=at(1), source=SMS, consent="mo-2", language=second
    )
    subscriber = await store.subscriptions.subscriber(n)
    assert subscriber is not None
    assert subscriber.language == expected
    assert [e.action for e in await store.subscriptions.history(n)] == events


async def test_set_language_records_a_change_and_ignores_a_repeat(store: AnyStore) -> None:
    n = number(1)
    await store.subscriptions.set_language(
        n, "es", at=at(0), source=SMS, consent="mo-1"
    )  # never seen before
    await store.subscriptions.set_language(n, "es", at=at(1), source=SMS, consent="mo-2")
    await store.subscriptions.set_language(n, "en", at=at(2), source=SMS, consent="mo-3")
    subscriber = await store.subscriptions.subscriber(n)
    assert subscriber is not None
    assert (subscriber.language, subscriber.opted_out_at, subscriber.created_at) == (
        "en",
        None,
        at(0),
    )
    assert await actions(store, n) == [
        (Action.LANGUAGE, None, "es"),
        (Action.LANGUAGE, None, "en"),
    ]


# ---------------------------------------------------------------- audiences


async def test_the_audience_leaves_out_opted_out_and_departed_subscribers(
    store: AnyStore,
) -> None:
    for n in range(1, 7):
        await store.subscriptions.join(number(n), "HEALTH", at=at(0), source=SMS, consent=f"mo-{n}")
    await store.subscriptions.join(
        number(1), "WEATHER", at=at(0), source=SMS, consent="mo-w", language="es"
    )
    await store.subscriptions.join(number(7), "WEATHER", at=at(0), source=SMS, consent="mo-7")
    await store.subscriptions.leave(number(2), "HEALTH", at=at(1), source=SMS, consent="mo-8")
    await store.subscriptions.stop_all(number(3), at=at(1), source=SMS, consent="mo-9")

    audience = [s async for batch in store.subscriptions.audience("HEALTH") for s in batch]
    assert [s.msisdn for s in audience] == [number(n) for n in (1, 4, 5, 6)]
    assert audience[0].language == "es"
    assert {s.opted_out_at for s in audience} == {None}
    assert {s.created_at for s in audience} == {at(0)}
    assert await store.subscriptions.audience_size("HEALTH") == 4
    assert await store.subscriptions.audience_size("WEATHER") == 2
    assert await store.subscriptions.audience_size("JOBS") == 0
    assert await store.subscriptions.audience_size("NOPE") == 0
    assert [b async for b in store.subscriptions.audience("JOBS")] == []


@pytest.mark.parametrize(
    ("subscribers", "batch", "sizes"),
    [(10, 3, [3, 3, 3, 1]), (9, 3, [3, 3, 3]), (2, 5000, [2]), (0, 3, [])],
    ids=["remainder", "exact", "one-batch", "empty"],
)
async def test_the_audience_comes_in_batches_with_every_subscriber_once(
    store: AnyStore, subscribers: int, batch: int, sizes: list[int]
) -> None:
    numbers = [number(n) for n in range(subscribers, 0, -1)]  # joined in reverse order
    counts = await store.subscriptions.join_many(
        [(n, None) for n in numbers], "HEALTH", at=at(0), source=Source.IMPORT, consent="f.csv"
    )
    assert counts.joined == subscribers
    batches = [list(b) async for b in store.subscriptions.audience("HEALTH", batch=batch)]
    assert [len(b) for b in batches] == sizes
    assert [s.msisdn for b in batches for s in b] == sorted(numbers)


async def test_writes_between_audience_batches_take_effect_in_the_later_batches(
    store: AnyStore,
) -> None:
    for n in range(1, 7):
        await store.subscriptions.join(number(n), "HEALTH", at=at(0), source=SMS, consent=f"mo-{n}")
    seen: list[str] = []
    async for batch in store.subscriptions.audience("HEALTH", batch=2):
        seen += [s.msisdn for s in batch]
        if len(seen) == 2:  # a STOP and a JOIN arrive mid-broadcast
            await store.subscriptions.stop_all(number(5), at=at(1), source=SMS, consent="mo-stop")
            await store.subscriptions.join(
                number(9), "HEALTH", at=at(1), source=SMS, consent="mo-join"
            )
    assert seen == [number(n) for n in (1, 2, 3, 4, 6, 9)]


# ---------------------------------------------------------------- bulk import


async def test_an_import_counts_joined_already_subscribed_and_opted_out_numbers(
    store: AnyStore,
) -> None:
    await store.subscriptions.join(number(1), "HEALTH", at=at(0), source=SMS, consent="mo-1")
    await store.subscriptions.join(number(2), "HEALTH", at=at(0), source=SMS, consent="mo-2")
    await store.subscriptions.stop_all(number(2), at=at(1), source=SMS, consent="mo-3")
    await store.subscriptions.join(
        number(3), "WEATHER", at=at(0), source=SMS, consent="mo-4", language="en"
    )
    await store.subscriptions.join(number(4), "WEATHER", at=at(0), source=SMS, consent="mo-5")
    before = {n: await store.subscriptions.history(number(n)) for n in (1, 2)}

    counts = await store.subscriptions.join_many(
        [
            (number(1), "es"),  # already subscribed
            (number(2), "es"),  # opted out
            (number(3), "es"),  # known, keeps English
            (number(4), "es"),  # known, no language yet
            (number(5), "es"),  # new
            (number(6), None),  # new
            (number(5), "en"),  # twice in the file: the first row counts
        ],
        "HEALTH",
        at=at(2),
        source=Source.IMPORT,
        consent="moh-list-2026.csv",
    )

    assert counts == ImportCounts(joined=4, already=2, opted_out=1)
    assert {n: await store.subscriptions.history(number(n)) for n in (1, 2)} == before
    assert await store.subscriptions.subscriptions(number(2)) == []
    for n, language in ((3, "en"), (4, "es"), (5, "es"), (6, None)):
        subscriber = await store.subscriptions.subscriber(number(n))
        assert subscriber is not None
        assert subscriber.language == language
        assert "HEALTH" in await active(store, number(n))
    new = await store.subscriptions.subscriber(number(6))
    assert new is not None
    assert (new.created_at, new.opted_out_at) == (at(2), None)
    (event,) = [e for e in await store.subscriptions.history(number(5)) if e.action is Action.JOIN]
    assert (event.service, event.at, event.source, event.consent, event.actor) == (
        "HEALTH",
        at(2),
        Source.IMPORT,
        "moh-list-2026.csv",
        None,
    )
    (joined,) = await store.subscriptions.subscriptions(number(6))
    assert (joined.subscribed_at, joined.source, joined.consent) == (
        at(2),
        Source.IMPORT,
        "moh-list-2026.csv",
    )
    assert await actions(store, number(4)) == [
        (Action.JOIN, "WEATHER", None),
        (Action.JOIN, "HEALTH", None),
        (Action.LANGUAGE, None, "es"),
    ]
    assert await actions(store, number(3)) == [
        (Action.JOIN, "WEATHER", None),
        (Action.LANGUAGE, None, "en"),
        (Action.JOIN, "HEALTH", None),
    ]
    assert await store.subscriptions.audience_size("HEALTH") == 5
    # the same import again joins nobody
    again = await store.subscriptions.join_many(
        [(number(n), None) for n in range(1, 7)],
        "HEALTH",
        at=at(3),
        source=Source.IMPORT,
        consent="again.csv",
    )
    assert again == ImportCounts(joined=0, already=5, opted_out=1)


async def test_an_import_into_an_unknown_service_stores_nothing(store: AnyStore) -> None:
    with pytest.raises(LookupError):
        await store.subscriptions.join_many(
            [(number(1), None)], "NOPE", at=at(0), source=Source.IMPORT, consent="f.csv"
        )
    assert await store.subscriptions.subscriber(number(1)) is None
    empty = await store.subscriptions.join_many(
        [], "HEALTH", at=at(0), source=Source.IMPORT, consent="f.csv"
    )
    assert empty == ImportCounts(joined=0, already=0, opted_out=0)


async def test_an_import_rejoins_who_left_but_not_who_stopped(store: AnyStore) -> None:
    await store.subscriptions.join(number(1), "HEALTH", at=at(0), source=SMS, consent="mo-1")
    await store.subscriptions.leave(number(1), "HEALTH", at=at(1), source=SMS, consent="mo-2")
    await store.subscriptions.join(number(2), "HEALTH", at=at(0), source=SMS, consent="mo-3")
    await store.subscriptions.stop_all(number(2), at=at(1), source=SMS, consent="mo-4")
    counts = await store.subscriptions.join_many(
        [(number(1), None), (number(2), None)], "HEALTH", at=at(2), source=Source.IMPORT,
        consent="f.csv",
    )  # fmt: skip
    assert counts == ImportCounts(joined=1, already=0, opted_out=1)
    assert await active(store, number(1)) == ["HEALTH"]
    assert await store.subscriptions.unstop(number(2), at=at(3), source=SMS, consent="mo-5") == [
        "HEALTH"
    ]


# ---------------------------------------------------------------- the database's guarantees


@pytest.mark.parametrize(
    "sql",
    ["UPDATE consent_events SET action = 'join'", "DELETE FROM consent_events"],
    ids=["update", "delete"],
)
async def test_the_consent_history_cannot_be_rewritten(
    store: AnyStore, tmp_path: Path, sql: str
) -> None:
    await store.subscriptions.stop_all(number(1), at=at(0), source=SMS, consent="mo-1")
    with pytest.raises((sqlite3.IntegrityError, asyncpg.PostgresError), match="append-only"):
        await fetch(store, tmp_path, sql)
    assert len(await store.subscriptions.history(number(1))) == 1


async def test_one_active_subscription_per_number_and_service_is_enforced_by_the_database(
    store: AnyStore, tmp_path: Path
) -> None:
    await store.subscriptions.join(number(1), "HEALTH", at=at(0), source=SMS, consent="mo-1")
    insert = (
        "INSERT INTO subscriptions (msisdn, service, subscribed_at, source, consent)"
        " VALUES (?, 'HEALTH', '2026-05-01T12:00:00+00:00', 'sms', 'x')"
    )
    with pytest.raises((sqlite3.IntegrityError, asyncpg.UniqueViolationError)):
        await fetch(store, tmp_path, insert, number(1))


# ---------------------------------------------------------------- a batch of changes


def change(kind: ChangeKind, msisdn: str, minute: int, **fields: object) -> Change:
    return Change(kind, msisdn, at(minute), SMS, f"mo-{minute}", **fields)  # type: ignore[arg-type]


async def test_a_batch_applies_each_change_in_order_in_one_transaction(store: AnyStore) -> None:
    a, b = number(1), number(2)
    await store.subscriptions.set_language(a, "es", at=at(0), source=SMS, consent="mo-0")

    results = await store.subscriptions.apply([
        change(ChangeKind.JOIN, a, 1, service="HEALTH", lookup=True),
        change(ChangeKind.JOIN, a, 2, service="HEALTH"),  # again: nothing to do
        change(ChangeKind.JOIN, b, 3, service="WEATHER", language="en"),
        change(ChangeKind.MY, a, 4, lookup=True),
        change(ChangeKind.STOP_ALL, b, 5),
        change(ChangeKind.UNSTOP, b, 6),
        change(ChangeKind.LEAVE, a, 7, service="HEALTH"),
        change(ChangeKind.NONE, number(3), 8, lookup=True),  # never seen: nothing written
    ])  # fmt: skip

    assert results == [
        ChangeResult("es", changed=True),
        ChangeResult(changed=False),
        ChangeResult(changed=True),
        ChangeResult("es", services=("HEALTH",)),
        ChangeResult(services=("WEATHER",)),
        ChangeResult(services=("WEATHER",)),
        ChangeResult(changed=True),
        ChangeResult(None),
    ]
    assert await active(store, a) == []
    assert await active(store, b) == ["WEATHER"]
    assert (await store.subscriptions.subscriber(b)).language == "en"  # type: ignore[union-attr]
    assert await store.subscriptions.subscriber(number(3)) is None
    assert [x for x, _, _ in await actions(store, b)] == [
        Action.JOIN, Action.LANGUAGE, Action.STOP_ALL, Action.UNSTOP,
    ]  # fmt: skip


async def test_a_change_that_fails_is_undone_alone(store: AnyStore) -> None:
    a, b = number(1), number(2)

    results = await store.subscriptions.apply([
        change(ChangeKind.JOIN, a, 1, service="HEALTH"),
        change(ChangeKind.JOIN, b, 2, service="NOSUCH", lookup=True),  # no such service
        change(ChangeKind.JOIN, a, 3, service="JOBS"),
    ])  # fmt: skip

    assert [r.changed for r in results] == [True, False, True]
    assert results[1].error is not None
    assert "NOSUCH" in results[1].error
    assert await active(store, a) == ["HEALTH", "JOBS"]
    assert await store.subscriptions.subscriber(b) is None  # its new subscriber row went with it
    assert len(await store.subscriptions.history(a)) == 2
    assert await store.subscriptions.history(b) == []


async def test_a_batch_sees_its_own_earlier_changes(store: AnyStore, tmp_path: Path) -> None:
    a, b, c = number(1), number(2), number(3)
    await store.subscriptions.join(a, "HEALTH", at=at(0), source=SMS, consent="mo-0")

    results = await store.subscriptions.apply([
        change(ChangeKind.LEAVE, a, 1, service="HEALTH"),
        change(ChangeKind.JOIN, a, 2, service="HEALTH"),  # a row left, another joined
        change(ChangeKind.JOIN, b, 3, service="JOBS", lookup=True),  # new in this batch
        change(ChangeKind.LEAVE, b, 4, service="JOBS"),
        change(ChangeKind.JOIN, b, 5, service="WEATHER"),
        change(ChangeKind.STOP_ALL, b, 6),
        change(ChangeKind.JOIN, b, 7, service="HEALTH"),  # lifts the STOP
        change(ChangeKind.STOP_ALL, b, 8),
        change(ChangeKind.UNSTOP, b, 9),  # the last STOP's: HEALTH
        change(ChangeKind.MY, b, 10, lookup=True),
        change(ChangeKind.LANGUAGE, c, 11, language="es"),
        change(ChangeKind.LANGUAGE, c, 12, language="es"),  # a repeat
        change(ChangeKind.LANGUAGE, number(4), 13),  # no language: nothing
    ])  # fmt: skip

    assert results == [
        ChangeResult(changed=True),
        ChangeResult(changed=True),
        ChangeResult(None, changed=True),
        ChangeResult(changed=True),
        ChangeResult(changed=True),
        ChangeResult(services=("WEATHER",)),
        ChangeResult(changed=True),
        ChangeResult(services=("HEALTH",)),
        ChangeResult(services=("HEALTH",)),
        ChangeResult(None, services=("HEALTH",)),
        ChangeResult(),
        ChangeResult(),
        ChangeResult(),
    ]
    assert await stored_subscriptions(store, tmp_path, a) == [
        (at(0), "sms", "mo-0", at(1), False),
        (at(2), "sms", "mo-2", None, False),
    ]
    assert await stored_subscriptions(store, tmp_path, b) == [
        (at(3), "sms", "mo-3", at(4), False),
        (at(5), "sms", "mo-5", at(6), True),
        (at(7), "sms", "mo-7", at(8), True),
        (at(9), "sms", "mo-9", None, False),
    ]
    subscriber = await store.subscriptions.subscriber(b)
    assert subscriber is not None
    assert (subscriber.created_at, subscriber.opted_out_at) == (at(3), None)
    assert await actions(store, b) == [
        (Action.JOIN, "JOBS", None),
        (Action.LEAVE, "JOBS", None),
        (Action.JOIN, "WEATHER", None),
        (Action.STOP_ALL, None, "WEATHER"),
        (Action.UNSTOP, None, None),
        (Action.JOIN, "HEALTH", None),
        (Action.STOP_ALL, None, "HEALTH"),
        (Action.UNSTOP, None, "HEALTH"),
    ]
    assert await actions(store, c) == [(Action.LANGUAGE, None, "es")]
    assert await store.subscriptions.subscriber(number(4)) is None


async def test_a_batch_of_lookups_writes_nothing(store: AnyStore) -> None:
    results = await store.subscriptions.apply([
        change(ChangeKind.NONE, number(1), 1, lookup=True),
        change(ChangeKind.MY, number(1), 2, lookup=True),
        change(ChangeKind.LEAVE, number(1), 3, service="HEALTH", lookup=True),
        change(ChangeKind.UNSTOP, number(1), 4, lookup=True),
    ])  # fmt: skip
    assert results == [ChangeResult()] * 4
    assert await store.subscriptions.subscriber(number(1)) is None
    assert await store.subscriptions.apply([]) == []


# ---------------------------------------------------------------- changes at once


async def test_changes_at_once_to_the_same_numbers_all_take_effect(store: AnyStore) -> None:
    """Several gateways (or tasks) at once: every change lands, none is lost, no deadlock, and
    a number under a STOP never keeps an active subscription."""
    numbers = [number(n) for n in range(1, 6)]
    keywords = ("HEALTH", "WEATHER", "JOBS")

    async def texts(k: int) -> None:
        order = numbers if k % 2 else numbers[::-1]  # batches in opposite orders
        batch = [change(ChangeKind.JOIN, n, k, service=keywords[k % 3]) for n in order]
        if k % 4 == 3:
            batch += [change(ChangeKind.STOP_ALL, n, k) for n in order[:2]]
        await store.subscriptions.apply(batch)

    async def lists(k: int) -> None:  # an officer's imports meanwhile
        rows = [(n, "es") for n in (numbers if k % 2 else numbers[::-1])]
        await store.subscriptions.join_many(
            rows, keywords[k % 3], at=at(k), source=Source.IMPORT, consent=f"list-{k}"
        )

    await asyncio.gather(*(texts(k) for k in range(12)), *(lists(k) for k in range(4)))
    await asyncio.gather(
        *(store.subscriptions.join(number(9), k, at=at(0), source=SMS, consent=k) for k in keywords)
    )

    assert sorted(await active(store, number(9))) == sorted(keywords)
    for n in [*numbers, number(9)]:
        subscriber = await store.subscriptions.subscriber(n)
        assert subscriber is not None
        subscribed = await active(store, n)
        assert subscriber.opted_out_at is None or subscribed == []
        joins = [e for e in await store.subscriptions.history(n) if e.action is Action.JOIN]
        assert len(joins) >= len(subscribed)


# ---------------------------------------------------------------- through the service


@pytest.fixture
async def citizens(any_store: AnyStore) -> SubscriptionService:
    """The subscription service on each backend, with two services."""
    health = Service(
        "HEALTH", "health", {"en": "Health alerts", "es": "Alertas de salud"},
        aliases=("SALUD",), welcome={"en": "Welcome to Health alerts. Reply STOP HEALTH to leave."},
    )  # fmt: skip
    weather = Service("WEATHER", "met", {"en": "Weather", "es": "El tiempo"}, aliases=("CLIMA",))
    for each in (health, weather):
        await any_store.catalogue.add_service(each)
    citizens = SubscriptionService(
        any_store.catalogue,
        any_store.subscriptions,
        Templates.load(TEMPLATES),
        programme="Gov BZ Info",
        contact="0-800-466-4636",
        fits_one_sms=lambda text: text_info(text).segments == 1,
    )
    await citizens.refresh()
    return citizens


_ids = itertools.count(1)
CITIZEN = "+5016012345"


def text(body: str, seconds: int) -> IncomingText:
    return IncomingText(CITIZEN, body, f"mo-{next(_ids)}", at(0) + timedelta(seconds=seconds))


async def test_a_citizens_texts_change_and_record_consent(
    citizens: SubscriptionService, any_store: AnyStore
) -> None:
    texts = ["join health!", "STOP HEALTH", "HEALTH", "WEATHER", "STOP", "START", "LANG ES"]
    handled = await citizens.handle_many([text(body, i) for i, body in enumerate(texts)])

    assert handled[0].replies == ("Welcome to Health alerts. Reply STOP HEALTH to leave.",)
    assert "Health alerts" in handled[5].replies[0]  # START names what it rejoined
    history = await any_store.subscriptions.history(CITIZEN)
    assert [(e.action, e.service, e.detail) for e in history] == [
        (Action.JOIN, "HEALTH", None),
        (Action.LANGUAGE, None, "en"),  # they wrote English
        (Action.LEAVE, "HEALTH", None),
        (Action.JOIN, "HEALTH", None),
        (Action.JOIN, "WEATHER", None),
        (Action.STOP_ALL, None, "HEALTH WEATHER"),
        (Action.UNSTOP, None, "HEALTH WEATHER"),
        (Action.LANGUAGE, None, "es"),
    ]
    consents = [e.consent for e in history]
    assert consents == sorted(consents, key=lambda c: int(c.removeprefix("mo-")))
    assert {s.service for s in await any_store.subscriptions.subscriptions(CITIZEN)} == {
        "HEALTH",
        "WEATHER",
    }
    assert {s.source for s in await any_store.subscriptions.subscriptions(CITIZEN)} == {SMS}


@pytest.mark.parametrize(
    ("texts", "reply_has"),
    [
        (["HEALTH", "HEALTH"], "already"),
        (["HEALTH", "STOP HEALTH"], "left Health alerts"),
        (["STOP WEATHER"], "not subscribed to Weather"),
        (["HEALTH", "STOP"], "left all"),
        (["HEALTH", "MY"], "Health alerts"),
        (["MY"], "not subscribed to any"),
    ],
    ids=["twice", "leave", "leave-unknown", "stop-all", "my", "my-none"],
)
async def test_each_command_gets_the_reply_of_what_the_store_did(
    citizens: SubscriptionService, texts: list[str], reply_has: str
) -> None:
    for i, body in enumerate(texts):
        (handled,) = await citizens.handle_many([text(body, i)])
    assert reply_has in handled.replies[-1]


@pytest.mark.parametrize(
    ("texts", "answered_in", "kept"),
    [
        (["Suscribir salud"], "es", "es"),
        (["LANG ES", "HEALTH"], "es", "es"),  # a keyword tells no language
        (["LANG ES", "JOIN HEALTH"], "en", "es"),  # answered in the words' language
        (["JOIN HEALTH", "AYUDA"], "es", "en"),  # what broadcasts use changes only by LANG
        (["ALTO"], "es", None),  # a STOP from a number never seen
    ],
    ids=["spanish-join", "chosen", "join-keeps-chosen", "help-keeps-set", "stop-never-seen"],
)
async def test_the_language_remembered_and_the_one_answered_in(
    citizens: SubscriptionService,
    any_store: AnyStore,
    texts: list[str],
    answered_in: str,
    kept: str | None,
) -> None:
    handled = await citizens.handle_many([text(body, i) for i, body in enumerate(texts)])
    assert handled[-1].language == answered_in
    subscriber = await any_store.subscriptions.subscriber(CITIZEN)
    assert subscriber is not None
    assert subscriber.language == kept
    assert (subscriber.opted_out_at is not None) == (texts == ["ALTO"])


# ---------------------------------------------------------------- rows no method shows


Stored: TypeAlias = tuple[datetime, str, str, datetime | None, bool]


async def stored_subscriptions(store: AnyStore, tmp_path: Path, msisdn: str) -> list[Stored]:
    """Every subscriptions row of the number, left ones too, oldest first: (subscribed_at,
    source, consent, left_at, left_by_stop)."""
    rows = await fetch(
        store,
        tmp_path,
        "SELECT subscribed_at, source, consent, left_at, left_by_stop FROM subscriptions"
        " WHERE msisdn = ? ORDER BY id",
        msisdn,
    )
    return [
        (_time(subscribed), str(source), str(proof), _time(left) if left else None, bool(stop))
        for subscribed, source, proof, left, stop in rows
    ]


def _time(value: object) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


async def fetch(
    store: AnyStore, tmp_path: Path, sql: str, *params: object
) -> Sequence[tuple[object, ...]]:
    """Rows of plain SQL, ``?`` its parameters (numbered for PostgreSQL)."""
    if isinstance(store, SqliteStore):
        with closing(sqlite3.connect(tmp_path / "store.db")) as db, db:  # the any_store file
            return db.execute(sql, params).fetchall()
    numbered = itertools.count(1)
    sql = re.sub(r"\?", lambda _: f"${next(numbered)}", sql)
    async with store.db.pool.acquire() as conn:
        return [tuple(row) for row in await conn.fetch(sql, *params)]
