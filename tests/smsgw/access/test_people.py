"""The rules of people's accounts: the back-off's schedule, passwords, TOTP steps (a drifting
clock's neighbours accepted, taken ones refused), recovery codes as typed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from smsgw.access import totp
from smsgw.access.people import next_try_at, password_problem, person_ministry
from smsgw.access.tokens import Role

T0 = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("failures", "wait_s"),
    [(0, None), (2, None), (3, 1), (4, 2), (7, 16), (8, 30), (40, 30), (10_000, 30)],
)
def test_the_back_off_doubles_from_the_third_failure_up_to_half_a_minute(
    failures: int, wait_s: int | None
) -> None:
    expected = None if wait_s is None else T0 + timedelta(seconds=wait_s)
    assert next_try_at(failures, T0) == expected


@pytest.mark.parametrize(
    ("password", "ok"),
    [("eleven char", False), ("twelve chars", True), ("MARIA  chen", False),
     ("mariachen", False), ("x" * 1025, False)],
    ids=["short", "twelve", "the-name", "name-unspaced", "too-long"],
)  # fmt: skip
def test_passwords_are_twelve_characters_or_more_and_not_the_name(password: str, ok: bool) -> None:
    assert (password_problem(password, "Maria Chen") is None) is ok


def test_a_code_of_the_step_before_or_after_is_taken_and_a_taken_one_is_refused() -> None:
    secret = pyotp.random_base32()
    code = pyotp.TOTP(secret)
    now = code.timecode(T0)
    for drift in (-30, 0, 30):
        moment = T0 + timedelta(seconds=drift)
        assert totp.step_of(secret, code.at(moment), T0, after=None) == now + drift // 30
    assert totp.step_of(secret, code.at(T0 + timedelta(seconds=60)), T0, after=None) is None
    assert totp.step_of(secret, code.at(T0), T0, after=now) is None  # replayed
    assert totp.step_of(secret, " " + code.at(T0)[:3] + " " + code.at(T0)[3:], T0, after=None)
    assert totp.step_of(secret, "12345a", T0, after=None) is None


def test_recovery_codes_are_read_as_typed() -> None:
    codes = totp.recovery_codes()
    assert len(set(codes)) == totp.RECOVERY_CODES
    first = codes[0]
    assert totp.recovery_hash(first.upper().replace("-", " ")) == totp.recovery_hash(first)
    assert not totp.looks_like_totp(first)


def test_people_are_staff_not_systems() -> None:
    with pytest.raises(ValueError, match="for systems"):
        person_ministry(Role.ALERTING, None)
