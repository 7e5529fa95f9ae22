"""A CAP alert's areas → the districts it is for.

An area names a district by its areaDesc ("Toledo", "Toledo District", "Stann Creek; Toledo")
or by a geocode mapped in [districts] geocodes ("BZ-TOL"). When every area of the alert
names districts, it goes to those districts' subscribers and to those who never said theirs;
when any area names none (the whole country, a region we do not know), to everyone: a warning
is never narrowed on a guess.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from smsgw.alerts.cap import Area, Info
from subscriptions.districts import Districts

_PARTS = re.compile(r"[,;/]| and | y ", re.IGNORECASE)
_SUFFIX = re.compile(r"\s+(district|distrito)$", re.IGNORECASE)


def districts_of(infos: Sequence[Info], districts: Districts) -> tuple[str, ...] | None:
    """The districts the alert's areas name, in the configured order; None: everyone."""
    found: set[str] = set()
    areas = [area for info in infos for area in info.areas]
    if not areas:
        return None
    for area in areas:
        named = _named(area, districts)
        if not named:
            return None
        found |= named
    return tuple(name for name in districts.names if name in found)


def _named(area: Area, districts: Districts) -> set[str]:
    named = {name for _, code in area.geocodes if (name := districts.of_code(code))}
    parts = [_SUFFIX.sub("", part.strip()) for part in _PARTS.split(area.description)]
    by_name = [districts.find(part) for part in parts if part]
    if by_name and all(by_name):  # every part of the description is a district
        named |= {name for name in by_name if name}
    return named
