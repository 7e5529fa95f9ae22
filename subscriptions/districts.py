"""The country's districts as citizens and authorities name them: a subscriber may say where
they live (JOIN HURRICANE TOLEDO), and an alert for some districts reaches their subscribers
plus those who never said (a warning is never withheld for want of an address)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from subscriptions.words import normalise


@dataclass(frozen=True, slots=True)
class District:
    name: str  # as shown and stored: "Stann Creek"
    aliases: tuple[str, ...] = ()  # other names citizens use: "Dangriga", "SC"
    geocodes: tuple[str, ...] = ()  # a CAP area's geocode values that mean it: "BZ-SC"


class Districts:
    """Name look-ups, built once from the configured districts."""

    def __init__(self, districts: Iterable[District] = ()) -> None:
        self._all = tuple(districts)
        self._by_word: dict[str, str] = {}
        self._by_code: dict[str, str] = {}
        for district in self._all:
            for word in (district.name, *district.aliases):
                self._by_word[normalise(word)] = district.name
            for code in district.geocodes:
                self._by_code[code.strip().upper()] = district.name

    @property
    def districts(self) -> tuple[District, ...]:
        return self._all

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(district.name for district in self._all)

    @property
    def words(self) -> Mapping[str, str]:
        """Every name and alias, normalised ("STANN CREEK") → the district's name."""
        return self._by_word

    def find(self, text: str) -> str | None:
        """The district a name or alias means, whatever its case, accents or spacing."""
        return self._by_word.get(normalise(text))

    def of_code(self, code: str) -> str | None:
        return self._by_code.get(code.strip().upper())
