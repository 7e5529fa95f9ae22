"""Phone numbers: citizens' numbers to E.164, and senders we must not answer."""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

_SHORT_CODE_DIGITS = 6  # short codes are 3–6 digits; subscriber numbers are longer
_Reason = phonenumbers.NumberParseException
_REASONS = {
    _Reason.INVALID_COUNTRY_CODE: "its country code is unknown",
    _Reason.NOT_A_NUMBER: "it is not a phone number",
    _Reason.TOO_SHORT_AFTER_IDD: "it is too short",
    _Reason.TOO_SHORT_NSN: "it is too short",
    _Reason.TOO_LONG: "it is too long",
}


class InvalidNumber(ValueError):  # noqa: N818 - named by the issue 3 contract
    """Not a valid phone number; the message says why, in words fit for an API error."""


def normalise_msisdn(raw: str, region: str) -> str:
    """E.164 form ("+5016012345") of a number written any usual way: "601-2345" and "6012345"
    are read as local numbers of `region` (ISO 3166 code, "BZ"), "+501 601 2345" and
    "00501 6012345" as international ones."""
    if (already := _valid_e164(raw)) is not None:
        return already
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as error:
        reason = _REASONS.get(error.error_type, "it is not a phone number")
        raise InvalidNumber(f"{raw!r} is not a valid phone number: {reason}") from None
    if number.extension:
        raise InvalidNumber(f"{raw!r} is not a valid phone number: it has an extension")
    if not phonenumbers.is_valid_number(number):
        where = phonenumbers.region_code_for_number(number) or region
        raise InvalidNumber(
            f"{raw!r} is not a valid phone number: +{number.country_code} "
            f"{number.national_number} does not fit the numbering plan of {where}"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_E164 = re.compile(r"\+([1-9][0-9]{6,14})")


def _valid_e164(raw: str) -> str | None:
    """`raw` itself when it is already a valid number in E.164 form, which is how integrators
    send them; else None, for the full parse. phonenumbers.parse costs ~25 µs a number, most of
    it on forms this one cannot have; is_valid_number alone costs ~5."""
    digits = _E164.fullmatch(raw)
    if digits is None:
        return None
    for size in (1, 2, 3):  # country codes are prefix-free (ITU-T E.164)
        country_code = int(digits[1][:size])
        regions = COUNTRY_CODE_TO_REGION_CODE.get(country_code)
        if regions:
            break
    else:
        return None
    national = digits[1][size:]
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, regions[0])
    if metadata is None or national.startswith("0"):
        return None  # leading zeros are kept apart in phonenumbers' model: let it parse
    # parse() strips a national prefix written after the country code ("+44 07911…"): any
    # number where such a prefix could be found takes the full way.
    prefix = metadata.national_prefix_for_parsing
    if prefix and (found := re.match(prefix, national)) and (found.end() or any(found.groups())):
        return None
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))
    return raw if phonenumbers.is_valid_number(number) else None


def is_short_or_alphanumeric(sender: str) -> bool:
    """True for senders that are not a citizen's phone: an alphanumeric sender ("GOVBZ") or a
    short code ("1515"). MOs from them are never answered (no loops with other services)."""
    bare = sender.strip().removeprefix("+")
    digits = bare.replace(" ", "").replace("-", "")
    return not digits.isdigit() or len(digits) <= _SHORT_CODE_DIGITS
