"""The console's catalogues (smsgw/console/en.json, es.json): the same keys and the same
{placeholders} in each language, and every key the page or a script names is in them.

Keys a script builds (t(`state.${state}`)) are not checked here; the browser tests see them: a
missing key is a console warning, which fails a test."""

from __future__ import annotations

import json
import re
import string

import pytest

from smsgw.console import CONTENT_TYPES, FOLDER

LANGUAGES = ("en", "es")
# data-t="key", data-t-aria-label="key", ... in the page; t("key" or t('key' in a script
IN_PAGE = re.compile(r'data-t(?:-[a-z-]+)?="([^"]+)"')
IN_SCRIPT = re.compile(r"""\bt\(\s*["']([^"'$`]+)["']""")


def catalogue(language: str) -> dict[str, str | dict[str, str]]:
    texts: dict[str, str | dict[str, str]] = json.loads(
        (FOLDER / f"{language}.json").read_text(encoding="utf-8")
    )
    return texts


def forms(text: str | dict[str, str]) -> list[str]:
    return list(text.values()) if isinstance(text, dict) else [text]


def placeholders(text: str | dict[str, str]) -> set[str]:
    return {
        name for form in forms(text) for _, name, _, _ in string.Formatter().parse(form) if name
    }


def named_keys() -> set[str]:
    keys = set(IN_PAGE.findall((FOLDER / "index.html").read_text(encoding="utf-8")))
    for name in CONTENT_TYPES:
        if name.endswith(".js"):
            keys |= set(IN_SCRIPT.findall((FOLDER / name).read_text(encoding="utf-8")))
    return keys


def test_every_language_has_every_key() -> None:
    english = catalogue("en")
    for language in LANGUAGES[1:]:
        other = catalogue(language)
        assert sorted(set(english) - set(other)) == [], f"missing in {language}.json"
        assert sorted(set(other) - set(english)) == [], f"only in {language}.json"


@pytest.mark.parametrize("language", LANGUAGES[1:])
def test_translations_keep_the_placeholders(language: str) -> None:
    english, other = catalogue("en"), catalogue(language)
    differ = {key: (placeholders(english[key]), placeholders(other[key]))
              for key in english.keys() & other.keys()
              if placeholders(english[key]) != placeholders(other[key])}  # fmt: skip
    assert differ == {}


@pytest.mark.parametrize("language", LANGUAGES)
def test_texts_are_words(language: str) -> None:
    """No empty text, and plural forms always with "other" (the rules' fallback)."""
    for key, text in catalogue(language).items():
        assert all(form.strip() for form in forms(text)), key
        assert not isinstance(text, dict) or "other" in text, key


def test_every_named_key_is_in_the_catalogue() -> None:
    named = named_keys()
    assert named, "the page names no key: the pattern is wrong"
    assert sorted(named - set(catalogue("en"))) == []


def test_the_catalogues_are_served() -> None:
    for language in LANGUAGES:
        assert CONTENT_TYPES[f"{language}.json"].startswith("application/json")
