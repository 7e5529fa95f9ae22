"""The texts the inbound handler hands to the inbox (smsgw.inbox.conversations): questions,
replies to broadcasts, poll answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from subscriptions.keywords import Command
from subscriptions.words import Verb, normalise


@dataclass(frozen=True, slots=True)
class Said:
    """A citizen's text as the subscription service understood it."""

    msisdn: str
    text: str
    command: Command
    language: str  # of the replies (the words', the subscriber's, the service's)
    channel: str
    inbound_id: str
    at: datetime


def wanted(command: Command, text: str) -> bool:
    """The texts the inbox may take: ASK with a question, YES / SI (a poll's answer), and
    those that are no command (not a single misspelt keyword: HEALHT is a join missed)."""
    verb = command.verb
    if verb is Verb.ASK:
        return command.service is not None and command.question is not None
    if verb is Verb.UNSTOP:
        return True
    if verb is not Verb.UNKNOWN or command.service is not None:
        return False
    return command.suggestion is None or len(normalise(text).split()) > 1


class Taker(Protocol):
    async def take(self, said: Sequence[Said]) -> list[tuple[str, ...] | None]:
        """The replies to each text (None: not taken: the usual reply stands)."""
