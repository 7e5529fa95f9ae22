"""Phone numbers: citizens' numbers to E.164, and senders we must not answer."""

from __future__ import annotations

import phonenumbers

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


def is_short_or_alphanumeric(sender: str) -> bool:
    """True for senders that are not a citizen's phone: an alphanumeric sender ("GOVBZ") or a
    short code ("1515"). MOs from them are never answered (no loops with other services)."""
    bare = sender.strip().removeprefix("+")
    digits = bare.replace(" ", "").replace("-", "")
    return not digits.isdigit() or len(digits) <= _SHORT_CODE_DIGITS
