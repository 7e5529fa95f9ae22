"""The people repository's contract on every backend (PeopleStore): accounts found by name
ignoring case, changes in one transaction, the back-off claimed atomically, TOTP steps and
recovery codes taken once, sessions and their ends; and the audit log's person."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import TypeAlias

import pytest

from smsgw.access.audit import AuditAction, AuditEntry
from smsgw.access.people import Person, Session
from smsgw.access.store import PersonChange
from smsgw.access.tokens import Role
from smsgw.errors import Conflict
from smsgw.storage.postgres import PostgresStore
from smsgw.storage.sqlite import SqliteStore

AnyStore: TypeAlias = SqliteStore | PostgresStore

T0 = datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def person(name: str = "Maria Chen", **changes: object) -> Person:
    made = Person(id=name.lower().replace(" ", "-"), name=name, role=Role.OFFICER,
                  ministry="health", password_hash="$argon2id$x", created_at=T0)  # fmt: skip
    return dataclasses.replace(made, **changes)  # type: ignore[arg-type]


def entry(action: AuditAction, target: str) -> AuditEntry:
    return AuditEntry(T0, "cli", None, None, action, target, {}, person="Rosa Admin")


def session(id_: str, person_id: str = "maria-chen", *, start: float = 0) -> Session:
    return Session(id=id_, person=person_id, csrf=f"csrf-{id_}", created_at=at(start),
                   last_seen_at=at(start), expires_at=at(start + 3600))  # fmt: skip


async def test_a_person_is_found_by_id_and_by_name_ignoring_case_and_spacing(
    any_store: AnyStore,
) -> None:
    maria = person(totp_secret="JBSWY3DPEHPK3PXP", disabled_at=at(5))
    await any_store.people.add_person(maria, entry(AuditAction.PERSON_CREATED, maria.name))
    assert await any_store.people.person(maria.id) == maria
    assert await any_store.people.person_by_name("  maria   CHEN ") == maria
    assert await any_store.people.person_by_name("Maria") is None
    ana = person("Ana Pérez", role=Role.ADMIN, ministry=None)
    await any_store.people.add_person(ana, entry(AuditAction.PERSON_CREATED, ana.name))
    assert [p.name for p in await any_store.people.people()] == ["Ana Pérez", "Maria Chen"]
    with pytest.raises(Conflict):
        await any_store.people.add_person(
            person("MARIA CHEN", id="other"), entry(AuditAction.PERSON_CREATED, "x")
        )
    entries = await any_store.audit.audit_entries(before=None, limit=10)
    assert [(e.target, e.person) for e in entries] == [
        ("Ana Pérez", "Rosa Admin"), ("Maria Chen", "Rosa Admin"),
    ]  # fmt: skip


async def test_a_change_writes_what_it_names_and_ends_sessions_but_the_kept_one(
    any_store: AnyStore,
) -> None:
    people = any_store.people
    enrolled = person(totp_secret="S", totp_last_step=9, failures=5, next_try_at=at(60))
    await people.add_person(enrolled, entry(AuditAction.PERSON_CREATED, "m"))
    await people.confirm_totp("maria-chen", "S", step=1, recovery=["h"], audit=entry(
        AuditAction.TOTP_ENROLLED, "m"))  # not pending: refused  # fmt: skip
    for id_ in ("a", "b", "c"):
        await people.add_session(session(id_), entry(AuditAction.LOGGED_IN, "m"))
    change = PersonChange(role=Role.SUPERVISOR, ministry="education", password_hash="new",
                          reset_totp=True, end_sessions_at=at(10), keep="b")  # fmt: skip
    changed = await people.change_person("maria-chen", change, entry(AuditAction.PERSON_UPDATED,
                                                                    "m"))  # fmt: skip
    assert changed == person(role=Role.SUPERVISOR, ministry="education", password_hash="new")
    ended = [found[0].revoked_at for i in "abc" if (found := await people.session(i))]
    assert ended == [at(10), None, at(10)]
    disabled = await people.change_person("maria-chen", PersonChange(disabled_at=at(20)), None)
    assert disabled is not None
    assert disabled.disabled_at == at(20)
    again = await people.change_person("maria-chen", PersonChange(disabled_at=at(30)), None)
    assert again is not None
    assert again.disabled_at == at(20)
    enabled = await people.change_person("maria-chen", PersonChange(enabled=True), None)
    assert enabled is not None
    assert enabled.disabled_at is None
    assert await people.change_person("nobody", PersonChange(enabled=True), None) is None


async def test_attempts_are_counted_as_they_start_and_the_back_off_holds_them(
    any_store: AnyStore,
) -> None:
    people = any_store.people
    await people.add_person(person(), entry(AuditAction.PERSON_CREATED, "m"))
    assert [await people.claim_attempt("maria-chen", at=at(0)) for _ in range(3)] == [None] * 3
    assert await people.claim_attempt("maria-chen", at=at(0.5)) == at(1)  # held: not counted
    assert await people.claim_attempt("maria-chen", at=at(1)) is None
    found = await people.person("maria-chen")
    assert found is not None
    assert (found.failures, found.next_try_at) == (4, at(3))
    await people.add_session(session("s", start=4), entry(AuditAction.LOGGED_IN, "m"))
    found = await people.person("maria-chen")
    assert found is not None
    assert (found.failures, found.next_try_at) == (0, None)
    assert await people.claim_attempt("nobody", at=at(0)) is None


async def test_concurrent_attempts_past_the_free_ones_pass_one_at_a_time(
    any_store: AnyStore,
) -> None:
    people = any_store.people
    await people.add_person(person(), entry(AuditAction.PERSON_CREATED, "m"))
    held = await asyncio.gather(*(people.claim_attempt("maria-chen", at=at(0)) for _ in range(20)))
    assert held.count(None) == 3  # the free three; the rest wait for the back-off


async def test_a_totp_step_and_a_recovery_code_are_each_taken_once(any_store: AnyStore) -> None:
    people = any_store.people
    await people.add_person(person(), entry(AuditAction.PERSON_CREATED, "m"))
    await people.start_totp("maria-chen", "PENDING")
    found = await people.person("maria-chen")
    assert found is not None
    assert (found.totp_pending, found.totp_secret) == ("PENDING", None)
    audit = entry(AuditAction.TOTP_ENROLLED, "m")
    assert not await people.confirm_totp("maria-chen", "OTHER", step=7, recovery=[], audit=audit)
    assert await people.confirm_totp("maria-chen", "PENDING", step=7, recovery=["h1", "h2"],
                                     audit=audit)  # fmt: skip
    found = await people.person("maria-chen")
    assert found is not None
    assert (found.totp_secret, found.totp_pending, found.totp_last_step) == ("PENDING", None, 7)
    assert not await people.take_totp_step("maria-chen", 7)  # confirm's own step
    assert await people.take_totp_step("maria-chen", 8)
    assert not await people.take_totp_step("maria-chen", 8)
    assert not await people.take_totp_step("maria-chen", 6)
    assert await people.recovery_codes_left("maria-chen") == 2
    assert await people.take_recovery_code("maria-chen", "h1")
    assert not await people.take_recovery_code("maria-chen", "h1")
    assert await people.recovery_codes_left("maria-chen") == 1
    await people.change_person("maria-chen", PersonChange(reset_totp=True), None)
    assert await people.recovery_codes_left("maria-chen") == 0
    found = await people.person("maria-chen")
    assert found is not None
    assert found.totp_secret is None


async def test_sessions_are_found_touched_ended_and_purged(any_store: AnyStore) -> None:
    people = any_store.people
    await people.add_person(person(), entry(AuditAction.PERSON_CREATED, "m"))
    await people.add_session(session("one"), entry(AuditAction.LOGGED_IN, "m"))
    await people.add_session(session("two"), entry(AuditAction.LOGGED_IN, "m"))
    found = await people.session("one")
    assert found == (session("one"), person())
    await people.touch_session("one", at(60))
    found = await people.session("one")
    assert found is not None
    assert found[0].last_seen_at == at(60)
    out = entry(AuditAction.LOGGED_OUT, "m")
    assert await people.end_sessions("maria-chen", at=at(70), only="one", audit=out) == 1
    assert await people.end_sessions("maria-chen", at=at(80), only="one", audit=None) == 0
    assert await people.end_sessions("maria-chen", at=at(90), only=None, audit=None) == 1
    assert await people.session("nope") is None
    day_later = 24 * 3600 + 4000  # "one" and "two" ended (and expired) over a day before
    await people.add_session(session("three", start=day_later), entry(AuditAction.LOGGED_IN, "m"))
    assert await people.session("one") is None
    assert await people.session("three") is not None
