"""Citizens' numbers to E.164, and senders that must not be answered."""

from __future__ import annotations

import phonenumbers
import pytest

from subscriptions.numbers import (
    InvalidNumber,
    _valid_e164,
    is_short_or_alphanumeric,
    normalise_msisdn,
)

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


def _slow(raw: str) -> str | None:
    number = phonenumbers.parse(raw, "BZ")
    if number.extension or not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _e164_forms() -> list[str]:
    """Every region's example numbers of every type in E.164, each with one digit changed,
    one dropped and one added, and written with a national prefix after the country code."""
    forms: set[str] = set()
    regions = phonenumbers.SUPPORTED_REGIONS | {"001"}
    for region in regions:
        for kind in phonenumbers.PhoneNumberType.values():
            if region == "001":
                examples = [
                    phonenumbers.example_number_for_non_geo_entity(code)
                    for code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS
                ]
            else:
                examples = [phonenumbers.example_number_for_type(region, kind)]
            for example in filter(None, examples):
                e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
                code = str(example.country_code)
                national = e164[1 + len(code) :]
                forms.update({e164, e164[:-1], e164 + "7", f"+{code}0{national}"})
                forms.update(f"+{code}{p}{national}" for p in ("1", "8", "9", "15"))
                forms.update(e164[:i] + str((int(e164[i]) + 3) % 10) + e164[i + 1 :]
                             for i in range(1 + len(code), len(e164)))  # fmt: skip
    return sorted(forms)


def test_numbers_already_in_e164_take_a_short_way_that_agrees_with_the_full_parse():
    """The short way (no phonenumbers.parse) may only ever accept what the full parse would
    accept, as the same number; anything else falls back to the full parse."""
    forms = _e164_forms()
    short = 0
    for raw in forms:
        try:
            expected = _slow(raw)
        except phonenumbers.NumberParseException:
            expected = None
        fast = _valid_e164(raw)
        if fast is not None:
            short += 1
            assert fast == expected, raw
        if expected is not None:
            assert normalise_msisdn(raw, "BZ") == expected, raw
    assert len(forms) > 15_000
    assert short > len(forms) // 5  # the short way is really taken
