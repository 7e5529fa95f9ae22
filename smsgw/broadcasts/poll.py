"""A broadcast's poll: its options, which answers count, and their tally.

Citizens answer with an option's number ("1"), one of its words in any language ("SI"), or
both ("1 YES"). Each number counts once: its last answer before the close counts (SPEC).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from subscriptions.words import normalise

MIN_OPTIONS, MAX_OPTIONS = 2, 9


@dataclass(frozen=True, slots=True)
class PollOption:
    number: int  # 1-9: what citizens may answer alone
    words: Mapping[str, tuple[str, ...]]  # language → words meaning this option (normalised)


@dataclass(frozen=True, slots=True)
class Poll:
    options: tuple[PollOption, ...]
    closes_at: datetime
    question: Mapping[str, str] = field(default_factory=dict)  # language → the question, shown
    # every text (normalised) that answers: option, the language its words tell
    _answers: dict[str, tuple[int, str | None]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        for option in self.options:
            number = str(option.number)
            self._answers[number] = (option.number, None)
            for language, words in option.words.items():
                for word in words:
                    for text in (word, f"{number} {word}", f"{word} {number}"):
                        seen = self._answers.setdefault(text, (option.number, language))
                        if seen[1] != language:  # NO in English and Spanish tells neither
                            self._answers[text] = (seen[0], None)

    def answer(self, text: str) -> tuple[int, str | None] | None:
        """(option, the language its words tell) that ``text`` answers; None: not an answer."""
        return self._answers.get(normalise(text))

    def open_at(self, at: datetime) -> bool:
        return at < self.closes_at

    def to_json(self) -> dict[str, Any]:
        return {
            "question": dict(self.question),
            "options": [
                {"number": o.number, "words": {k: list(v) for k, v in o.words.items()}}
                for o in self.options
            ],
            "closes_at": self.closes_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Poll:
        options = tuple(
            PollOption(o["number"], {k: tuple(v) for k, v in o["words"].items()})
            for o in data["options"]
        )
        return cls(options, datetime.fromisoformat(data["closes_at"]), data.get("question", {}))


@dataclass(frozen=True, slots=True)
class PollAnswer:
    broadcast: int
    msisdn: str
    option: int
    language: str
    district: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class PollTally:
    """The counted answers of one poll: one per number, its last."""

    counts: dict[int, int]  # option → numbers
    by_language: dict[str, dict[int, int]]
    by_district: dict[str, dict[int, int]]  # "" for numbers that never said their district

    @classmethod
    def of(cls, rows: Iterable[tuple[int, str, str | None, int]]) -> PollTally:
        """From (option, language, district, count) rows."""
        counts: dict[int, int] = {}
        by_language: dict[str, dict[int, int]] = {}
        by_district: dict[str, dict[int, int]] = {}
        for option, language, district, count in rows:
            counts[option] = counts.get(option, 0) + count
            per = by_language.setdefault(language, {})
            per[option] = per.get(option, 0) + count
            per = by_district.setdefault(district or "", {})
            per[option] = per.get(option, 0) + count
        return cls(counts, by_language, by_district)


class PollStore(Protocol):
    async def answer_many(self, answers: list[PollAnswer]) -> None:
        """Store each answer, replacing the number's earlier answer to the same poll."""

    async def tally(self, broadcast: int) -> PollTally: ...
