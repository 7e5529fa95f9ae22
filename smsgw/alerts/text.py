"""The SMS texts of a CAP alert: one per language the service speaks, fitted into at most
``max_segments`` SMS, in GSM 7-bit wherever the words allow it.

A CAP ``info`` carries one language. Its text is the phone-ready ``parameter`` when there is
one (``SMS``, else the US practice's ``CMAMlongtext`` then ``CMAMtext``), else the headline and
the instruction. Typographic quotes, dashes, ellipses and spaces are made plain first: a single
’ would otherwise turn the whole alert into UCS-2 and more than double its SMS.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from channels.text import text_info
from smsgw.alerts.cap import Info

PHONE_PARAMETERS = ("SMS", "CMAMlongtext", "CMAMtext")
_PLAIN = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u00a0": " ", "\u2007": " ", "\u2009": " ", "\u202f": " ",
})  # fmt: skip
_SPACES = re.compile(r"\s+")
_CUT = "..."


def plain(text: str) -> str:
    """Typographic punctuation made plain, runs of white space made one space."""
    return _SPACES.sub(" ", text.translate(_PLAIN)).strip()


def language_of(cap_language: str, languages: Sequence[str]) -> str | None:
    """The template language of a CAP ``language`` (RFC 3066: "en-US" → "en", "es-BZ" →
    "es") when it is one of ``languages``; None: the service's default takes it."""
    primary = cap_language.strip().split("-")[0].casefold()
    return primary if primary in languages else None


def info_text(info: Info) -> str:
    """What an ``info`` says to a phone, made plain (may be too long: see :func:`fit`)."""
    for name in PHONE_PARAMETERS:
        value = info.parameter(name)
        if value and value.strip():
            return plain(value)
    parts = [info.headline, info.instruction] if info.headline or info.instruction else [
        info.event, info.description]  # fmt: skip
    return plain(" ".join(part for part in parts if part))


def fit(text: str, max_segments: int) -> str:
    """``text`` whole if it fits in ``max_segments`` SMS, else cut at a word and ended by
    "..." so that it does."""
    if text_info(text).segments <= max_segments:
        return text
    low, high = 0, len(text)  # the longest prefix that fits with the mark, by bisection
    while low < high:
        middle = (low + high + 1) // 2
        if text_info(text[:middle].rstrip() + _CUT).segments <= max_segments:
            low = middle
        else:
            high = middle - 1
    cut = text[:low]
    if " " in cut and not text[low : low + 1].isspace():
        cut = cut[: cut.rindex(" ")]  # not mid-word
    return cut.rstrip() + _CUT


def compose(
    infos: Sequence[Info], languages: Sequence[str], default: str, *, max_segments: int,
    prefix: dict[str, str] | None = None,
) -> dict[str, str]:  # fmt: skip
    """One text per language among ``languages`` the alert has an ``info`` for (the first
    info of each), the others falling back to ``default``'s; an info in a language the
    service does not speak stands for ``default`` when none is in it. ``prefix``: per
    language, a word put first ("EXERCISE"), inside the SMS limit."""
    chosen: dict[str, Info] = {}
    for info in infos:
        language = language_of(info.language, languages)
        if language is not None:
            chosen.setdefault(language, info)
    if default not in chosen and infos:
        chosen[default] = infos[0]  # none in the default language: the first stands for it
    if not chosen:
        return {}
    texts = {}
    for language, info in chosen.items():
        text = info_text(info)
        mark = (prefix or {}).get(language, "")
        texts[language] = fit(f"{mark} {text}".strip() if mark else text, max_segments)
    return texts
