from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

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
from subscriptions.store import ServiceConflict

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
SMS = Source.SMS


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
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = await SqliteStore.open(tmp_path / "subscriptions.db")
    for keyword, alias in (("HEALTH", "SALUD"), ("WEATHER", "CLIMA"), ("JOBS", "TRABAJO")):
        await store.catalogue.add_service(service(keyword, alias))
    yield store
    await store.close()


def rows(path: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as conn, conn:
        return conn.execute(sql, params).fetchall()


async def actions(store: SqliteStore, msisdn: str) -> list[tuple[Action, str | None, str | None]]:
    return [(e.action, e.service, e.detail) for e in await store.subscriptions.history(msisdn)]


async def active(store: SqliteStore, msisdn: str) -> list[str]:
    return [s.service for s in await store.subscriptions.subscriptions(msisdn)]


# ---------------------------------------------------------------- catalogue


async def test_a_service_reads_back_as_stored_with_its_aliases_in_order(
    store: SqliteStore,
) -> None:
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


async def test_replacing_a_service_changes_it_and_frees_its_old_aliases(
    store: SqliteStore,
) -> None:
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
async def test_a_word_that_already_names_a_service_is_refused(
    store: SqliteStore, taken: Service, tmp_path: Path
) -> None:
    before = rows(tmp_path / "subscriptions.db", "SELECT * FROM service_words ORDER BY word")
    with pytest.raises(ServiceConflict):
        await store.catalogue.add_service(taken)
    assert (
        rows(tmp_path / "subscriptions.db", "SELECT * FROM service_words ORDER BY word") == before
    )
    assert [s.keyword for s in await store.catalogue.services()] == ["HEALTH", "JOBS", "WEATHER"]


async def test_the_conflict_names_the_word_and_its_owner(store: SqliteStore) -> None:
    with pytest.raises(ServiceConflict, match=r"CLIMA \(service WEATHER\)"):
        await store.catalogue.add_service(service("ALERTS", "HURRICANE", "CLIMA"))


async def test_replacing_with_another_services_alias_is_refused_and_keeps_the_old_version(
    store: SqliteStore,
) -> None:
    with pytest.raises(ServiceConflict, match="CLIMA"):
        await store.catalogue.replace_service(service("HEALTH", "SALUD", "CLIMA"))
    assert await store.catalogue.service("HEALTH") == service("HEALTH", "SALUD")


async def test_replacing_an_unknown_service_is_a_lookup_error(store: SqliteStore) -> None:
    with pytest.raises(LookupError):
        await store.catalogue.replace_service(service("NOPE"))


# ---------------------------------------------------------------- joining and leaving


async def test_join_leave_rejoin_keeps_the_whole_history(
    store: SqliteStore, tmp_path: Path
) -> None:
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
    stored = rows(
        tmp_path / "subscriptions.db",
        "SELECT subscribed_at, source, consent, left_at, left_by_stop FROM subscriptions"
        " WHERE msisdn = ? ORDER BY id",
        n,
    )
    assert [(datetime.fromisoformat(str(r[0])), *r[1:3]) for r in stored] == [
        (at(0), "sms", "mo-1"),
        (at(2), "assisted", "centre:ow"),
    ]
    assert [(r[3] is not None, r[4]) for r in stored] == [(True, 0), (False, 0)]
    assert datetime.fromisoformat(str(stored[0][3])) == at(1)
    (now,) = await store.subscriptions.subscriptions(n)
    assert (now.service, now.subscribed_at, now.source, now.left_at) == (
        "HEALTH",
        at(2),
        Source.ASSISTED,
        None,
    )


async def test_joining_twice_or_leaving_what_one_is_not_in_changes_nothing(
    store: SqliteStore,
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
    assert await actions(store, n) == [(Action.JOIN, "HEALTH", None)]
    assert await store.subscriptions.history(number(2)) == []
    subscriber = await store.subscriptions.subscriber(n)
    assert subscriber is not None
    assert (subscriber.language, subscriber.created_at) == (None, at(0))


async def test_joining_an_unknown_service_is_a_lookup_error(store: SqliteStore) -> None:
    with pytest.raises(LookupError):
        await store.subscriptions.join(number(1), "NOPE", at=at(0), source=SMS, consent="mo-1")
    assert await store.subscriptions.subscriber(number(1)) is None


async def test_subscriptions_lists_the_active_ones_oldest_first(store: SqliteStore) -> None:
    n = number(1)
    for minute, keyword in enumerate(("WEATHER", "HEALTH", "JOBS")):
        await store.subscriptions.join(
            n, keyword, at=at(minute), source=SMS, consent=f"mo-{minute}"
        )
    await store.subscriptions.leave(n, "HEALTH", at=at(5), source=SMS, consent="mo-5")
    assert await active(store, n) == ["WEATHER", "JOBS"]


# ---------------------------------------------------------------- STOP and UNSTOP


async def test_stop_all_from_a_number_never_seen_opts_it_out(store: SqliteStore) -> None:
    n = number(9)
    assert await store.subscriptions.stop_all(n, at=at(0), source=SMS, consent="mo-1") == []
    subscriber = await store.subscriptions.subscriber(n)
    assert subscriber is not None
    assert (subscriber.opted_out_at, subscriber.created_at) == (at(0), at(0))
    assert await actions(store, n) == [(Action.STOP_ALL, None, None)]
    # a second STOP changes nothing and records nothing
    assert await store.subscriptions.stop_all(n, at=at(1), source=SMS, consent="mo-2") == []
    assert await actions(store, n) == [(Action.STOP_ALL, None, None)]


async def test_unstop_rejoins_exactly_what_the_stop_left(store: SqliteStore) -> None:
    n = number(1)
    for keyword in ("HEALTH", "WEATHER", "JOBS"):
        await store.subscriptions.join(n, keyword, at=at(0), source=SMS, consent="mo-1")
    await store.subscriptions.leave(n, "JOBS", at=at(1), source=SMS, consent="mo-2")

    assert await store.subscriptions.stop_all(n, at=at(2), source=SMS, consent="mo-3") == [
        "HEALTH",
        "WEATHER",
    ]
    assert await store.subscriptions.subscriptions(n) == []
    assert await store.subscriptions.unstop(n, at=at(3), source=SMS, consent="mo-4") == [
        "HEALTH",
        "WEATHER",
    ]

    assert sorted(await active(store, n)) == ["HEALTH", "WEATHER"]
    assert {s.subscribed_at for s in await store.subscriptions.subscriptions(n)} == {
        at(3)
    }  # new rows
    subscriber = await store.subscriptions.subscriber(n)
    assert subscriber is not None
    assert subscriber.opted_out_at is None
    assert (await actions(store, n))[-2:] == [
        (Action.STOP_ALL, None, "HEALTH WEATHER"),
        (Action.UNSTOP, None, "HEALTH WEATHER"),
    ]
    # no longer opted out: a second UNSTOP is a no-op
    assert await store.subscriptions.unstop(n, at=at(4), source=SMS, consent="mo-5") == []
    assert len(await store.subscriptions.history(n)) == 6


async def test_join_after_stop_lifts_the_opt_out_but_rejoins_only_that_service(
    store: SqliteStore,
) -> None:
    n = number(1)
    await store.subscriptions.join(n, "HEALTH", at=at(0), source=SMS, consent="mo-1")
    await store.subscriptions.join(n, "WEATHER", at=at(0), source=SMS, consent="mo-2")
    await store.subscriptions.stop_all(n, at=at(1), source=SMS, consent="mo-3")

    assert await store.subscriptions.join(n, "HEALTH", at=at(2), source=SMS, consent="mo-4")
    assert await active(store, n) == ["HEALTH"]
    subscriber = await store.subscriptions.subscriber(n)
    assert subscriber is not None
    assert subscriber.opted_out_at is None
    assert (await actions(store, n))[-2:] == [
        (Action.UNSTOP, None, None),
        (Action.JOIN, "HEALTH", None),
    ]
    # the STOP is lifted: a later UNSTOP has nothing to rejoin
    assert await store.subscriptions.unstop(n, at=at(3), source=SMS, consent="mo-5") == []
    assert await active(store, n) == ["HEALTH"]


async def test_unstop_follows_only_the_last_stop(store: SqliteStore) -> None:
    n = number(1)
    await store.subscriptions.join(n, "HEALTH", at=at(0), source=SMS, consent="mo-1")
    await store.subscriptions.join(n, "WEATHER", at=at(0), source=SMS, consent="mo-2")
    await store.subscriptions.stop_all(n, at=at(1), source=SMS, consent="mo-3")  # leaves both
    await store.subscriptions.join(
        n, "JOBS", at=at(2), source=SMS, consent="mo-4"
    )  # lifts the STOP
    assert await store.subscriptions.stop_all(n, at=at(3), source=SMS, consent="mo-5") == ["JOBS"]
    assert await store.subscriptions.unstop(n, at=at(4), source=SMS, consent="mo-6") == ["JOBS"]
    assert await active(store, n) == ["JOBS"]


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
    store: SqliteStore,
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


async def test_set_language_records_a_change_and_ignores_a_repeat(store: SqliteStore) -> None:
    n = number(1)
    await store.subscriptions.set_language(
        n, "es", at=at(0), source=SMS, consent="mo-1"
    )  # never seen before
    await store.subscriptions.set_language(n, "es", at=at(1), source=SMS, consent="mo-2")
    await store.subscriptions.set_language(n, "en", at=at(2), source=SMS, consent="mo-3")
    subscriber = await store.subscriptions.subscriber(n)
    assert subscriber is not None
    assert (subscriber.language, subscriber.opted_out_at) == ("en", None)
    assert await actions(store, n) == [
        (Action.LANGUAGE, None, "es"),
        (Action.LANGUAGE, None, "en"),
    ]


# ---------------------------------------------------------------- audiences


async def test_the_audience_leaves_out_opted_out_and_departed_subscribers(
    store: SqliteStore,
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
    assert await store.subscriptions.audience_size("HEALTH") == 4
    assert await store.subscriptions.audience_size("WEATHER") == 2
    assert await store.subscriptions.audience_size("JOBS") == 0
    assert [b async for b in store.subscriptions.audience("JOBS")] == []


@pytest.mark.parametrize(
    ("subscribers", "batch", "sizes"),
    [(10, 3, [3, 3, 3, 1]), (9, 3, [3, 3, 3]), (2, 5000, [2]), (0, 3, [])],
    ids=["remainder", "exact", "one-batch", "empty"],
)
async def test_the_audience_comes_in_batches_with_every_subscriber_once(
    store: SqliteStore, subscribers: int, batch: int, sizes: list[int]
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
    store: SqliteStore,
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
    store: SqliteStore,
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
            (number(5), "en"),  # twice in the file
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
    (event,) = [e for e in await store.subscriptions.history(number(5)) if e.action is Action.JOIN]
    assert (event.service, event.at, event.source, event.consent) == (
        "HEALTH",
        at(2),
        Source.IMPORT,
        "moh-list-2026.csv",
    )
    assert await actions(store, number(4)) == [
        (Action.JOIN, "WEATHER", None),
        (Action.JOIN, "HEALTH", None),
        (Action.LANGUAGE, None, "es"),
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


async def test_an_import_into_an_unknown_service_stores_nothing(store: SqliteStore) -> None:
    with pytest.raises(LookupError):
        await store.subscriptions.join_many(
            [(number(1), None)], "NOPE", at=at(0), source=Source.IMPORT, consent="f.csv"
        )
    assert await store.subscriptions.subscriber(number(1)) is None


# ---------------------------------------------------------------- the database's guarantees


@pytest.mark.parametrize(
    "sql",
    ["UPDATE consent_events SET action = 'join'", "DELETE FROM consent_events"],
    ids=["update", "delete"],
)
async def test_the_consent_history_cannot_be_rewritten(
    store: SqliteStore, tmp_path: Path, sql: str
) -> None:
    await store.subscriptions.stop_all(number(1), at=at(0), source=SMS, consent="mo-1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        rows(tmp_path / "subscriptions.db", sql)
    assert len(await store.subscriptions.history(number(1))) == 1


async def test_one_active_subscription_per_number_and_service_is_enforced_by_the_database(
    store: SqliteStore, tmp_path: Path
) -> None:
    await store.subscriptions.join(number(1), "HEALTH", at=at(0), source=SMS, consent="mo-1")
    with pytest.raises(sqlite3.IntegrityError):
        rows(
            tmp_path / "subscriptions.db",
            "INSERT INTO subscriptions (msisdn, service, subscribed_at, source, consent)"
            " VALUES (?, 'HEALTH', 'x', 'sms', 'x')",
            number(1),
        )


# ---------------------------------------------------------------- a batch of changes


def change(kind: ChangeKind, msisdn: str, minute: int, **fields: object) -> Change:
    return Change(kind, msisdn, at(minute), SMS, f"mo-{minute}", **fields)  # type: ignore[arg-type]


async def test_a_batch_applies_each_change_in_order_in_one_transaction(
    store: SqliteStore,
) -> None:
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


async def test_a_change_that_fails_is_undone_alone(store: SqliteStore, tmp_path: Path) -> None:
    a, b = number(1), number(2)

    results = await store.subscriptions.apply([
        change(ChangeKind.JOIN, a, 1, service="HEALTH"),
        change(ChangeKind.JOIN, b, 2, service="NOSUCH"),  # no such service
        change(ChangeKind.JOIN, a, 3, service="JOBS"),
    ])  # fmt: skip

    assert [r.changed for r in results] == [True, False, True]
    assert results[1].error is not None
    assert "NOSUCH" in results[1].error
    assert await active(store, a) == ["HEALTH", "JOBS"]
    assert await store.subscriptions.subscriber(b) is None  # its new subscriber row went with it
    assert rows(tmp_path / "subscriptions.db", "SELECT count(*) FROM consent_events") == [(2,)]


@pytest.mark.parametrize("source", [Source.ASSISTED, Source.IMPORT], ids=str)
async def test_only_the_citizen_by_sms_lifts_a_stop(store: SqliteStore, source: Source) -> None:
    n = number(1)
    await store.subscriptions.stop_all(n, at=at(0), source=SMS, consent="mo-1")
    joined = await store.subscriptions.join(n, "HEALTH", at=at(1), source=source, consent="x")
    assert joined is False
    assert await store.subscriptions.subscriptions(n) == []
    assert [e.action for e in await store.subscriptions.history(n)] == [Action.STOP_ALL]
    assert await store.subscriptions.join(n, "HEALTH", at=at(2), source=SMS, consent="mo-2")
    subscriber = await store.subscriptions.subscriber(n)
    assert subscriber is not None
    assert subscriber.opted_out_at is None
