"""Reply texts and command words from templates/: loading, validation, rendering, SMS fit."""

from __future__ import annotations

import json
import shutil
import tomllib
from collections.abc import Mapping
from pathlib import Path

import pytest

from channels.text import Encoding, text_info
from subscriptions.keywords import Command, KeywordParser
from subscriptions.models import Service
from subscriptions.templates import REPLIES, VERBS, TemplateError, Templates
from subscriptions.words import Verb

TEMPLATES = Path(__file__).parents[2] / "templates"

# 3GPP TS 23.038 §6.2.1: the GSM 7-bit default alphabet and its extension table, written out
# here independently of channels/text.py so that the claim "GSM only" is checked twice.
GSM = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    "\f^{}\\[~]|€"
)
# Realistic values, at the long end: the budget every template is written to.
VALUES = {
    "programme": "Government of Belize Info",
    "contact": "0-800-466-4636 / 822-2000",
    "name": "Hurricane and flood alerts",
    "keyword": "HURRICANE",
    "services": "HEALTH, WEATHER, HURRICANE",
    "language": "Español",
    "choices": "ENGLISH, ESPANOL",
    "ministry": "public-works",
    "event": "Tropical Storm Warning",
    "district": "Stann Creek",
    "ticket": "#1234567",
    "answer": "9",
}


@pytest.fixture(scope="module")
def templates() -> Templates:
    return Templates.load(TEMPLATES)


def copy_templates(folder: Path) -> Path:
    for path in TEMPLATES.glob("*.toml"):
        shutil.copy(path, folder / path.name)
    return folder


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_english_and_spanish_load_with_every_verb_and_reply(templates):
    assert templates.languages == ("en", "es")
    for language in templates.languages:
        assert set(templates.keywords(language)) == set(VERBS)
        for key in REPLIES:
            assert templates.render(language, key, **VALUES)


def test_language_words_select_their_language(templates):
    words = templates.language_words
    assert (words["ENGLISH"], words["EN"], words["ESPANOL"], words["ES"]) == (
        "en",
        "en",
        "es",
        "es",
    )
    assert templates.name("es") == "Español"
    assert templates.language_choices() == "ENGLISH, ESPANOL"


def test_reserved_words_cover_every_command_phrase_and_its_words(templates):
    assert {
        "STOP",
        "STOP ALL",
        "ALL",
        "ALTO",
        "AYUDA",
        "ESPANOL",
        "LANG",
        "SI",
    } <= templates.reserved


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("key", sorted(REPLIES))
def test_every_reply_fits_one_gsm_sms_with_realistic_values(templates, language, key):
    text = templates.render(language, key, **VALUES)
    info = text_info(text)
    assert (info.encoding, info.segments) == (Encoding.GSM7, 1), f"{len(text)} chars: {text}"
    assert len(text) <= 160
    assert set(text) <= GSM, f"not GSM 03.38: {set(text) - GSM}"


def test_spanish_texts_avoid_the_accents_that_force_ucs2():
    text = (TEMPLATES / "es.toml").read_text(encoding="utf-8")
    replies = tomllib.loads(text)["replies"]
    assert not [key for key, reply in replies.items() if set(reply) & set("áíóúÁÍÓÚ")]


def test_render_falls_back_to_english_for_an_unknown_language(templates):
    assert templates.render("fr", "help", **VALUES) == templates.render("en", "help", **VALUES)


def test_render_takes_a_placeholder_named_language(templates):
    assert "Español" in templates.render("en", "language_set", language="Español")


def test_render_without_a_needed_value_names_the_reply(templates):
    with pytest.raises(TemplateError, match=r"replies\.joined.*name"):
        templates.render("en", "joined", keyword="HEALTH")


BROKEN = [
    ("es.toml", "[replies]\n", '[replies]\ngoodbye = "Adios"\n', "es.toml", "replies.goodbye"),
    ("es.toml", "not_subscribed = ", "# not_subscribed = ", "es.toml", "replies.not_subscribed"),
    ("es.toml", "help = [", "# help = [", "es.toml", "keywords.help"),
    ("es.toml", "bienvenida a {name}", "bienvenida a {nombre}", "es.toml", "replies.joined"),
    ("es.toml", "Ayuda: {contact}", "Ayuda: 822-2000", "es.toml", "replies.help"),
    ("en.toml", "Welcome to {name}", "Welcome to {service}", "en.toml", "replies.joined"),
    ("en.toml", "You get: {services}", "You get: {}", "en.toml", "replies.my"),
    ("en.toml", "Help: {contact}", "Help: {contact", "en.toml", "replies.help"),
    ("es.toml", 'code = "es"', 'code = "fr"', "es.toml", "language.code"),
    ("es.toml", '"AYUDA", "INFO"', '"ayuda", "INFO"', "es.toml", "keywords.help"),
    ("es.toml", '"SPANISH",', '"ENGLISH",', "es.toml", "language.words"),
    ("es.toml", "[replies]", "[replies\n", "es.toml", "(file)"),
]


@pytest.mark.parametrize(
    ("file", "old", "new", "blamed", "key"),
    BROKEN,
    ids=[
        "unknown-key",
        "missing-reply",
        "missing-keyword",
        "unknown-placeholder",
        "placeholder-missing-vs-en",
        "unknown-placeholder-in-en",
        "positional-placeholder",
        "bad-braces",
        "code-not-file-name",
        "word-not-normalised",
        "word-selects-two-languages",
        "toml-syntax",
    ],
)
def test_a_broken_template_is_refused_naming_file_and_key(tmp_path, file, old, new, blamed, key):
    edit(copy_templates(tmp_path) / file, old, new)
    with pytest.raises(TemplateError) as raised:
        Templates.load(tmp_path)
    assert Path(raised.value.file).name == blamed
    assert raised.value.key == key
    assert blamed in str(raised.value)
    assert key in str(raised.value)


def test_a_folder_without_english_is_refused(tmp_path):
    copy_templates(tmp_path)
    (tmp_path / "en.toml").unlink()
    with pytest.raises(TemplateError, match=r"en\.toml"):
        Templates.load(tmp_path)


FRENCH_KEYWORDS = {
    "join": ["ABONNER", "INSCRIRE"],
    "leave": ["ARRET", "STOP"],
    "stop_all": ["ARRET", "STOP", "ARRET TOUT"],
    "stop_anywhere": ["STOP", "ARRET"],
    "unstop": ["REPRENDRE"],
    "help": ["AIDE"],
    "list": ["LISTE"],
    "my": ["MES"],
    "language": ["LANGUE"],
    "ask": ["QUESTION"],
}


def toml_table(name: str, table: Mapping[str, object]) -> str:
    lines = [f"[{name}]"] + [f"{key} = {json.dumps(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"


def test_adding_a_language_is_adding_a_file(tmp_path):
    english = tomllib.loads((TEMPLATES / "en.toml").read_text(encoding="utf-8"))
    french = {**english["replies"], "help": "{programme}: LISTE, AIDE, ARRET. Aide: {contact}"}
    copy_templates(tmp_path)
    (tmp_path / "fr.toml").write_text(
        toml_table("language", {"code": "fr", "name": "Français", "words": ["FRANCAIS"]})
        + toml_table("keywords", FRENCH_KEYWORDS)
        + toml_table("replies", french),
        encoding="utf-8",
    )

    templates = Templates.load(tmp_path)

    assert templates.languages == ("en", "es", "fr")
    assert templates.language_words["FR"] == "fr"  # the code itself always selects it
    assert templates.render("fr", "help", **VALUES).endswith("Aide: 0-800-466-4636 / 822-2000")
    health = Service("HEALTH", "health", {"en": "Health", "fr": "Santé"})
    parser = KeywordParser([health], templates)
    assert parser.parse("abonner santé") == Command(Verb.UNKNOWN, language="fr")  # no alias
    assert parser.parse("Abonner health") == Command(Verb.JOIN, "HEALTH", "fr")
    assert parser.parse("Arrêt") == Command(Verb.STOP_ALL, language="fr")
    assert parser.parse("langue français") == Command(Verb.LANGUAGE, language="fr")
    assert "ARRET" in templates.reserved
