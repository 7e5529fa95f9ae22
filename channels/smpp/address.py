"""Phone numbers and sender names as SMPP addresses (SMPP 3.4 §5.2.5–5.2.6)."""

from __future__ import annotations


def address(number: str) -> tuple[str, int, int]:
    """(addr, ton, npi): "+5016012345" is international without its "+"; digits alone (a short
    code, a national number) are of unknown type on the ISDN plan, for the SMSC to read;
    anything else is an alphanumeric sender."""
    if number.startswith("+") and number[1:].isdigit():
        return number[1:], 1, 1
    if number.isdigit():
        return number, 0, 1
    return number, 5, 0
