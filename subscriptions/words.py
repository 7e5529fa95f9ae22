"""The words of citizens' texts, as the keyword grammar and the templates both read them: the
verbs a text can ask for, and the normal form texts and keywords are compared in."""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum


class Verb(StrEnum):
    JOIN = "join"
    LEAVE = "leave"
    STOP_ALL = "stop_all"
    UNSTOP = "unstop"
    HELP = "help"
    LIST = "list"
    MY = "my"
    LANGUAGE = "language"
    ASK = "ask"  # a question to a service's ministry: ASK HEALTH <question>
    UNKNOWN = "unknown"


_MARKS = re.compile("[\u0300-\u036f]")  # combining diacritics left by NFKD
# ASCII punctuation and controls become spaces; apostrophes go (DON'T → DONT).
_PUNCTUATION = {c: None if chr(c) == "'" else " " for c in range(128) if not chr(c).isalnum()}


def normalise(text: str) -> str:
    """Upper case, accents folded, punctuation dropped, spaces collapsed: "join  Héalth!" →
    "JOIN HEALTH". Letters outside A–Z (after folding) become spaces."""
    text = text.upper()
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text.replace("\u2019", ""))
        text = _MARKS.sub("", text).encode("ascii", "replace").decode("ascii").upper()
    return " ".join(text.translate(_PUNCTUATION).split())


def words_after(text: str, count: int) -> str:
    """``text`` as written, without its first ``count`` words as normalise() counts them:
    words_after("Ask health: where is the clinic?", 2) → "where is the clinic?"."""
    tokens = text.split()
    taken = 0
    while tokens and taken < count:
        taken += len(normalise(tokens.pop(0)).split())
    return " ".join(tokens)
