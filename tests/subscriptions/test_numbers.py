"""Citizens' numbers to E.164, and senders that must not be answered."""

from __future__ import annotations

import pytest

from subscriptions.numbers import InvalidNumber, is_short_or_alphanumeric, normalise_msisdn

VALID = [
    ("6012345", "+5016012345"),
    ("601-2345", "+5016012345"),
    ("601 2345", "+5016012345"),
    ("+501 601 2345", "+5016012345"),
    ("+501-601-2345", "+5016012345"),
    ("00501 6012345", "+5016012345"),
    ("5016012345", "+5016012345"),
    (" 6012345 ", "+5016012345"),
    ("2221234", "+5012221234"),  # Belize City landline: valid, the carrier decides on SMS
    ("+1 212 555 0123", "+12125550123"),  # a foreign number given in full
]


@pytest.mark.parametrize(("raw", "expected"), VALID, ids=[raw for raw, _ in VALID])
def test_a_valid_number_becomes_e164(raw, expected):
    assert normalise_msisdn(raw, "BZ") == expected


INVALID = [
    ("", "not a phone number"),
    ("GOVBZ", "not a phone number"),
    ("601234", "does not fit the numbering plan of BZ"),
    ("60123456", "does not fit the numbering plan of BZ"),
    ("1515", "does not fit the numbering plan of BZ"),
    ("+999 601 2345", "country code"),
    ("6O12345", "not a phone number"),
    ("+501 601 2345 ext. 3", "extension"),
    ("1" * 30, "too long"),
]


@pytest.mark.parametrize(("raw", "reason"), INVALID, ids=[raw or "empty" for raw, _ in INVALID])
def test_an_invalid_number_is_refused_with_a_clear_reason(raw, reason):
    with pytest.raises(InvalidNumber, match=reason) as raised:
        normalise_msisdn(raw, "BZ")
    assert repr(raw) in str(raised.value)


def test_the_region_decides_how_a_local_number_is_read():
    assert normalise_msisdn("(212) 555-0123", "US") == "+12125550123"
    with pytest.raises(InvalidNumber):
        normalise_msisdn("(212) 555-0123", "BZ")


SENDERS = [
    ("1515", True),
    ("+1515", True),
    ("123456", True),
    ("GOVBZ", True),
    ("BTL Info", True),
    ("DigiCell", True),
    ("", True),
    ("+5016012345", False),
    ("5016012345", False),
    ("6012345", False),
    ("+1 212 555 0123", False),
]


@pytest.mark.parametrize(("sender", "unanswered"), SENDERS, ids=[s or "empty" for s, _ in SENDERS])
def test_short_codes_and_alphanumeric_senders_are_recognised(sender, unanswered):
    assert is_short_or_alphanumeric(sender) is unanswered
