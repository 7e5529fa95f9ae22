"""Citizen-facing texts and command words, one TOML file per language under templates/.

The languages are the files found in the folder (adding a language is adding a file);
en.toml is the reference that every other file must match key for key.

    [language]  code (= the file name), name (in the language itself), words that select it
    [keywords]  command words per verb, plus stop_anywhere (opt-out words honoured anywhere)
    [replies]   texts with {placeholders}; {programme} and {contact} allowed everywhere
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from subscriptions.words import Verb, normalise

REFERENCE = "en"
FALLBACK = "en"  # render() for a language no longer (or never) installed
_COMMON = frozenset({"programme", "contact"})
_NAME = frozenset({"name", "keyword"})
# The contract with the code that renders replies: key → the placeholders it may use.
REPLIES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "help": _COMMON,
        "list_header": _COMMON,
        "list_line": _COMMON | _NAME,
        "list_empty": _COMMON,
        "my": _COMMON | {"services", "keyword"},
        "my_none": _COMMON,
        "joined": _COMMON | _NAME,
        "already_joined": _COMMON | _NAME,
        "left": _COMMON | _NAME,
        "not_subscribed": _COMMON | _NAME,
        "stopped_all": _COMMON,
        "stopped_all_none": _COMMON,
        "unstopped": _COMMON | {"services"},
        "unstopped_none": _COMMON,
        "language_set": _COMMON | {"language"},
        "language_help": _COMMON | {"choices"},
        "unknown": _COMMON,
        "suggestion": _COMMON | _NAME,
        "service_inactive": _COMMON | _NAME,
        "signed_up": _COMMON | _NAME | {"ministry"},  # an officer joined them: who, how to leave
        "joined_district": _COMMON | _NAME | {"district"},  # JOIN HURRICANE TOLEDO
        "district_set": _COMMON | _NAME | {"district"},  # the same, already subscribed
        "my_district": _COMMON | {"services", "keyword", "district"},
        "exercise_prefix": _COMMON,  # first word of every text of an alerting exercise
        "alert_cancelled": _COMMON | {"event"},  # a CAP Cancel's notice ([alerts] cancel_notice)
        "question_received": _COMMON | _NAME | {"ticket"},  # ASK HEALTH ...: its ticket
        "ask_help": _COMMON,  # ASK without a service or a question
        "questions_limited": _COMMON,  # over [inbox] texts_per_hour
        "poll_thanks": _COMMON | {"answer"},  # a poll's answer counted
        "poll_closed": _COMMON,  # a poll's answer after it closed
    }
)
VERBS = tuple(verb for verb in Verb if verb is not Verb.UNKNOWN)
STOP_ANYWHERE = "stop_anywhere"
_KEYWORD_KEYS = frozenset({*(verb.value for verb in VERBS), STOP_ANYWHERE})
_LANGUAGE_KEYS = frozenset({"code", "name", "words"})


class TemplateError(Exception):
    """A template file is missing, malformed or inconsistent; names the file and the key."""

    def __init__(self, file: Path | str, key: str, message: str) -> None:
        super().__init__(f"{file}: {key}: {message}")
        self.file = str(file)
        self.key = key
        self.message = message


@dataclass(frozen=True, slots=True)
class _Language:
    code: str
    name: str
    words: tuple[str, ...]
    keywords: Mapping[Verb, tuple[str, ...]]
    stop_anywhere: tuple[str, ...]
    replies: Mapping[str, str]
    placeholders: Mapping[str, frozenset[str]]


class Templates:
    """The loaded, validated texts of every language. Build with Templates.load(folder)."""

    def __init__(self, languages: Mapping[str, _Language]) -> None:
        self._languages = dict(languages)
        words: dict[str, str] = {}
        for code, language in self._languages.items():
            words.update(dict.fromkeys(language.words, code))
        self._language_words = MappingProxyType(words)
        reserved: set[str] = set()
        for language in self._languages.values():
            for phrase in (*language.words, *language.stop_anywhere, *_flatten(language.keywords)):
                reserved.add(phrase)
                reserved.update(phrase.split(" "))  # STOP ALL: a service ALL would be ambiguous
        self._reserved = frozenset(reserved)

    @classmethod
    def load(cls, folder: Path) -> Templates:
        files = sorted(folder.glob("*.toml"))
        reference = folder / f"{REFERENCE}.toml"
        if reference not in files:
            raise TemplateError(reference, "language", "the reference language file is missing")
        files.remove(reference)
        english = _read(reference, None)
        languages = {REFERENCE: english}
        for path in files:
            language = _read(path, english)
            languages[language.code] = language
        _check_language_words(languages, folder)
        return cls(languages)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted(self._languages))

    @property
    def language_words(self) -> Mapping[str, str]:
        """Word that selects a language (ESPANOL, ES, …) → its code."""
        return self._language_words

    @property
    def reserved(self) -> frozenset[str]:
        """Every command and language word of every language, phrases and their single words:
        none of them may be a service keyword or alias."""
        return self._reserved

    def keywords(self, language: str) -> Mapping[Verb, tuple[str, ...]]:
        return self._get(language).keywords

    def stop_anywhere(self, language: str) -> tuple[str, ...]:
        """Opt-out words honoured wherever they appear in a message ("please STOP")."""
        return self._get(language).stop_anywhere

    def name(self, language: str) -> str:
        """The language's name in itself: "Español"."""
        return self._get(language).name

    def language_choices(self) -> str:
        """The first selecting word of each language, for language_help: "ENGLISH, ESPANOL"."""
        return ", ".join(self._languages[code].words[0] for code in self.languages)

    def render(self, language: str, key: str, /, **values: str) -> str:
        """The reply `key` in `language` (English if that language is unknown). Values not
        used by the text are ignored; a missing one raises TemplateError."""
        texts = self._get(language)
        try:
            return texts.replies[key].format_map(values)
        except KeyError as error:
            if key not in texts.replies:
                raise TemplateError(
                    f"{texts.code}.toml", f"replies.{key}", "no such reply"
                ) from None
            raise TemplateError(
                f"{texts.code}.toml", f"replies.{key}", f"no value given for {error}"
            ) from None

    def _get(self, language: str) -> _Language:
        return self._languages.get(language) or self._languages[FALLBACK]


def language_code(value: str, languages: Sequence[str]) -> str:
    """A language as an officer writes it (" ES") → its code, if it is one of ``languages``
    (those of the templates); ValueError otherwise, in words fit for an API error."""
    code = value.strip().lower()
    if code not in languages:
        raise ValueError(f"{value!r} is not one of the languages {', '.join(languages)}")
    return code


def _flatten(keywords: Mapping[Verb, tuple[str, ...]]) -> list[str]:
    return [word for words in keywords.values() for word in words]


def _read(path: Path, english: _Language | None) -> _Language:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise TemplateError(path, "(file)", f"cannot be read: {error}") from None
    code = path.stem
    section = _section(path, data, "language", _LANGUAGE_KEYS)
    if section["code"] != code:
        raise TemplateError(path, "language.code", f"must be {code!r}, the file's name")
    name = _text(path, "language.name", section["name"])
    words = _words(path, "language.words", section["words"])
    keywords_section = _section(path, data, "keywords", _KEYWORD_KEYS)
    keywords: dict[Verb, tuple[str, ...]] = {
        verb: _words(path, f"keywords.{verb}", keywords_section[verb]) for verb in VERBS
    }
    stop_anywhere = _words(path, f"keywords.{STOP_ANYWHERE}", keywords_section[STOP_ANYWHERE])
    expected = REPLIES if english is None else english.placeholders
    replies_section = _section(path, data, "replies", frozenset(expected))
    replies: dict[str, str] = {}
    placeholders: dict[str, frozenset[str]] = {}
    for key, allowed in expected.items():
        text = _text(path, f"replies.{key}", replies_section[key])
        fields = _fields(path, key, text)
        unknown = fields - REPLIES[key]
        if unknown:
            raise TemplateError(
                path,
                f"replies.{key}",
                f"unknown placeholder {_braces(unknown)} (allowed: {_braces(REPLIES[key])})",
            )
        if english is not None and fields != allowed:
            raise TemplateError(
                path,
                f"replies.{key}",
                f"placeholders {_braces(fields)} differ from {REFERENCE}.toml's {_braces(allowed)}",
            )
        replies[key], placeholders[key] = text, fields
    return _Language(
        code=code,
        name=name,
        words=(*words, *(() if code.upper() in words else (code.upper(),))),
        keywords=MappingProxyType(keywords),
        stop_anywhere=stop_anywhere,
        replies=MappingProxyType(replies),
        placeholders=MappingProxyType(placeholders),
    )


def _section(
    path: Path, data: Mapping[str, Any], name: str, keys: frozenset[str]
) -> Mapping[str, Any]:
    section = data.get(name)
    if not isinstance(section, dict):
        raise TemplateError(path, name, "section missing")
    missing, extra = sorted(keys - section.keys()), sorted(section.keys() - keys)
    if missing:
        raise TemplateError(
            path, f"{name}.{missing[0]}", f"missing (every key of {REFERENCE}.toml is needed)"
        )
    if extra:
        raise TemplateError(path, f"{name}.{extra[0]}", f"unknown key (not in {REFERENCE}.toml)")
    return section


def _text(path: Path, key: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TemplateError(path, key, "must be a non-empty string")
    return value


def _words(path: Path, key: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise TemplateError(path, key, "must be a non-empty list of words")
    for word in value:
        if not isinstance(word, str) or not word or normalise(word) != word:
            raise TemplateError(
                path,
                key,
                f"{word!r} must be written normalised (upper case A–Z/0–9, single spaces)",
            )
    return tuple(value)


def _fields(path: Path, key: str, text: str) -> frozenset[str]:
    try:
        fields = {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
    except ValueError as error:
        raise TemplateError(path, f"replies.{key}", f"bad braces: {error}") from None
    return frozenset(fields)


def _braces(fields: frozenset[str]) -> str:
    return ", ".join(f"{{{field}}}" for field in sorted(fields)) or "none"


def _check_language_words(languages: Mapping[str, _Language], folder: Path) -> None:
    seen: dict[str, str] = {}
    for code, language in sorted(languages.items()):
        for word in language.words:
            if seen.setdefault(word, code) != code:
                raise TemplateError(
                    folder / f"{code}.toml",
                    "language.words",
                    f"{word} already selects {seen[word]!r}",
                )
