"""The citizen keyword grammar (SPEC "Citizen keywords"), in English and Spanish."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from subscriptions.districts import District, Districts
from subscriptions.keywords import Command, KeywordParser
from subscriptions.models import Service
from subscriptions.templates import Templates
from subscriptions.words import Verb, normalise

TEMPLATES = Path(__file__).parents[2] / "templates"


def service(
    keyword: str, alias: str, name: str, *, language: str | None = "es", active: bool = True
) -> Service:
    """A service whose alias is a word of ``language`` (None: its language is not known)."""
    languages = {alias: language} if language else {}
    return Service(keyword, "gov", {"en": name}, aliases=(alias,), alias_languages=languages,
                   active=active)  # fmt: skip


CATALOGUE = (
    service("HEALTH", "SALUD", "Health alerts"),
    service("WEATHER", "CLIMA", "Weather"),
    service("HURRICANE", "HURACAN", "Hurricane and flood alerts"),
    service("EDUCATION", "EDUCACION", "School news"),
    service("AGRI", "AGRO", "Farm prices", language=None),  # as an alias given in a plain list
    service("JOBS", "EMPLEO", "Job offers"),
    service("FISHERIES", "PESCA", "Fishing seasons", active=False),
)


@pytest.fixture(scope="module")
def parser() -> KeywordParser:
    return KeywordParser(CATALOGUE, Templates.load(TEMPLATES))


def join(service: str, language: str | None = None) -> Command:
    return Command(Verb.JOIN, service=service, language=language)


def leave(service: str, language: str | None = None) -> Command:
    return Command(Verb.LEAVE, service=service, language=language)


def verb(verb: Verb, language: str | None = None) -> Command:
    return Command(verb, language=language)


def unknown(suggestion: str | None = None, language: str | None = None) -> Command:
    return Command(Verb.UNKNOWN, language=language, suggestion=suggestion)


STOP_ALL = verb(Verb.STOP_ALL)
EN_STOP_ALL = verb(Verb.STOP_ALL, "en")
ES_STOP_ALL = verb(Verb.STOP_ALL, "es")

CASES = [
    # JOIN: the keyword alone, after a join word, by alias, in either language. The language
    # is the one the words tell: a command word's, a Spanish alias's (a keyword tells none);
    # none when they disagree (JOIN SALUD) or when the alias's language is not known (AGRO)
    ("HEALTH", join("HEALTH")),
    ("JOIN HEALTH", join("HEALTH", "en")),
    ("START HEALTH", join("HEALTH", "en")),
    ("SUB HEALTH", join("HEALTH", "en")),
    ("SUBSCRIBE WEATHER", join("WEATHER", "en")),
    ("SALUD", join("HEALTH", "es")),
    ("JOIN SALUD", join("HEALTH")),
    ("UNIR SALUD", join("HEALTH", "es")),
    ("UNIRSALUD", join("HEALTH", "es")),
    ("ALTA CLIMA", join("WEATHER", "es")),
    ("SUSCRIBIR HURACAN", join("HURRICANE", "es")),
    ("Suscribirme empleo", join("JOBS", "es")),
    ("agro", join("AGRI")),
    ("JOIN AGRO", join("AGRI", "en")),
    ("UNIR AGRO", join("AGRI", "es")),
    # case, accents, spaces, punctuation
    ("join health!", join("HEALTH", "en")),
    ("Join  Héalth", join("HEALTH", "en")),
    ("jOiN hEaLtH", join("HEALTH", "en")),
    ("  health  ", join("HEALTH")),
    ("JOIN-HEALTH", join("HEALTH", "en")),
    ("Huracán", join("HURRICANE", "es")),
    ("Educación", join("EDUCATION", "es")),
    ("'Health.'", join("HEALTH")),
    ("joinhealth", join("HEALTH", "en")),
    ("JOIN HEALTH please", join("HEALTH", "en")),
    # LEAVE one service, including an inactive one
    ("STOP HEALTH", leave("HEALTH")),
    ("LEAVE HEALTH", leave("HEALTH", "en")),
    ("stop health.", leave("HEALTH")),
    ("Stop Salud", leave("HEALTH", "es")),  # STOP is a word of both languages
    ("LEAVE SALUD", leave("HEALTH")),
    ("CANCEL JOBS", leave("JOBS", "en")),
    ("ALTO SALUD", leave("HEALTH", "es")),
    ("BAJA CLIMA", leave("WEATHER", "es")),
    ("Salir huracán", leave("HURRICANE", "es")),
    ("STOP HEALTH messages", leave("HEALTH")),
    ("STOP FISHERIES", leave("FISHERIES")),
    ("ALTO PESCA", leave("FISHERIES", "es")),
    # UNSTOP: alone only
    ("START", verb(Verb.UNSTOP, "en")),
    ("UNSTOP", verb(Verb.UNSTOP, "en")),
    ("yes", verb(Verb.UNSTOP, "en")),
    ("Sí", verb(Verb.UNSTOP, "es")),
    ("INICIO", verb(Verb.UNSTOP, "es")),
    # HELP, LIST, MY
    ("HELP", verb(Verb.HELP, "en")),
    ("help?", verb(Verb.HELP, "en")),
    ("HELP ME PLEASE", verb(Verb.HELP, "en")),
    ("INFO", verb(Verb.HELP)),
    ("AYUDA", verb(Verb.HELP, "es")),
    ("LIST", verb(Verb.LIST, "en")),
    ("MENU", verb(Verb.LIST)),
    ("Menú", verb(Verb.LIST)),
    ("LISTA", verb(Verb.LIST, "es")),
    ("JOIN", verb(Verb.LIST, "en")),
    ("SUSCRIBIR", verb(Verb.LIST, "es")),
    ("MY", verb(Verb.MY, "en")),
    ("STATUS", verb(Verb.MY, "en")),
    ("my services", verb(Verb.MY, "en")),
    ("MIS", verb(Verb.MY, "es")),
    ("Estado", verb(Verb.MY, "es")),
    # LANGUAGE
    ("LANG ES", verb(Verb.LANGUAGE, "es")),
    ("lang  es.", verb(Verb.LANGUAGE, "es")),
    ("LANGUAGE SPANISH", verb(Verb.LANGUAGE, "es")),
    ("ESPANOL", verb(Verb.LANGUAGE, "es")),
    ("Español", verb(Verb.LANGUAGE, "es")),
    ("en español", verb(Verb.LANGUAGE, "es")),
    ("IDIOMA ES", verb(Verb.LANGUAGE, "es")),
    ("ENGLISH", verb(Verb.LANGUAGE, "en")),
    ("LANG EN", verb(Verb.LANGUAGE, "en")),
    ("Idioma inglés", verb(Verb.LANGUAGE, "en")),
    ("LANG", verb(Verb.LANGUAGE)),
    ("LANG KLINGON", verb(Verb.LANGUAGE)),
    # UNKNOWN, with a near miss when there is one
    ("HEALHT", unknown("HEALTH")),
    ("HELTH", unknown("HEALTH")),
    ("healthh", unknown("HEALTH")),
    ("WEATHR", unknown("WEATHER")),
    ("Hurrican", unknown("HURRICANE")),
    ("SALDU", unknown("HEALTH")),
    ("JBOS", unknown("JOBS")),
    ("JOB", unknown("JOBS")),
    ("HEAL TH", unknown("HEALTH")),
    ("JOIN HEALHT", unknown("HEALTH", "en")),
    ("UNIR CLIMAA", unknown("WEATHER", "es")),
    ("HEALTH WEATHER", unknown("HEALTH")),
    ("what is health", unknown("HEALTH")),
    ("HEAL", unknown()),
    ("HLTH", unknown()),
    ("WEATHERMAN", unknown()),
    ("JO", unknown()),
    ("FISHERIE", unknown()),
    ("asdfgh", unknown()),
    ("Hello how are you", unknown()),
    ("12345", unknown()),
    ("", unknown()),
    ("   ", unknown()),
    ("?!", unknown()),
    ("😀", unknown()),
    # an inactive service: named, not joined (the reply says it is closed)
    ("FISHERIES", Command(Verb.UNKNOWN, service="FISHERIES")),
    ("PESCA", Command(Verb.UNKNOWN, service="FISHERIES", language="es")),
    ("JOIN FISHERIES", Command(Verb.UNKNOWN, service="FISHERIES", language="en")),
    ("UNIR PESCA", Command(Verb.UNKNOWN, service="FISHERIES", language="es")),
    ("JOIN PESCA", Command(Verb.UNKNOWN, service="FISHERIES")),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[repr(text) for text, _ in CASES])
def test_text_parses_to_its_command(parser, text, expected):
    assert parser.parse(text) == expected


STOPS = [
    ("STOP", STOP_ALL),
    ("stop", STOP_ALL),
    ("  stop  ", STOP_ALL),
    ("Stop.", STOP_ALL),
    ("STOP!!!", STOP_ALL),
    ("STOP ALL", EN_STOP_ALL),
    ("stop all", EN_STOP_ALL),
    ("STOPALL", EN_STOP_ALL),
    ("Stop-All", EN_STOP_ALL),
    ("UNSUBSCRIBE", EN_STOP_ALL),
    ("CANCEL", EN_STOP_ALL),
    ("END", EN_STOP_ALL),
    ("QUIT", EN_STOP_ALL),
    ("REVOKE", EN_STOP_ALL),
    ("OPTOUT", EN_STOP_ALL),
    ("opt out", EN_STOP_ALL),
    ("Opt-out", EN_STOP_ALL),
    ("LEAVE", EN_STOP_ALL),
    ("stop please", STOP_ALL),
    ("Stop sending me messages", STOP_ALL),
    ("please stop", STOP_ALL),
    ("pls STOP texting me!!", STOP_ALL),
    ("HEALTH STOP", STOP_ALL),
    ("S.T.O.P", STOP_ALL),
    ("STOP HEALHT", STOP_ALL),
    ("STOP HEALTH WEATHER", STOP_ALL),
    ("Quit it", EN_STOP_ALL),
    ("Cancel my subscription", EN_STOP_ALL),
    ("HELP STOP", STOP_ALL),
    ("JOIN HEALTH STOP", STOP_ALL),
    ("ALTO", ES_STOP_ALL),
    ("alto!", ES_STOP_ALL),
    ("BAJA", ES_STOP_ALL),
    ("PARAR", ES_STOP_ALL),
    ("CANCELAR", ES_STOP_ALL),
    ("Fin", ES_STOP_ALL),
    ("TERMINAR", ES_STOP_ALL),
    ("DESUSCRIBIR", ES_STOP_ALL),
    ("ALTO TODO", ES_STOP_ALL),
    ("Baja todo", ES_STOP_ALL),
    ("SALIR", ES_STOP_ALL),
    ("Alto, ya no quiero mensajes", ES_STOP_ALL),
    ("quiero parar los mensajes", ES_STOP_ALL),
    ("Desuscribirme por favor", ES_STOP_ALL),
]


@pytest.mark.parametrize(("text", "expected"), STOPS, ids=[repr(text) for text, _ in STOPS])
def test_every_stop_variant_in_every_language_leaves_everything(parser, text, expected):
    assert parser.parse(text) == expected


@given(st.text(max_size=160))
def test_stop_followed_by_anything_never_fails_to_stop(text):
    parser = _PARSER  # a module-level parser: hypothesis re-runs the body, not the fixture
    assert parser.parse(f"STOP {text}").verb in {Verb.STOP_ALL, Verb.LEAVE}
    assert parser.parse(f"{text} STOP").verb in {Verb.STOP_ALL, Verb.LEAVE}


@given(st.text(max_size=320))
def test_any_text_parses_without_error(text):
    assert isinstance(_PARSER.parse(text), Command)


_PARSER = KeywordParser(CATALOGUE, Templates.load(TEMPLATES))


NORMALISED = [
    ("join  Héalth!", "JOIN HEALTH"),
    ("  stop  ", "STOP"),
    ("ESPAÑOL", "ESPANOL"),
    ("Suscríbase ¡ya!", "SUSCRIBASE YA"),
    ("don't", "DONT"),
    ("don’t", "DONT"),
    ("stop\nall\t", "STOP ALL"),
    ("S.T.O.P", "S T O P"),
    ("", ""),
    ("😀 stop", "STOP"),
]


@pytest.mark.parametrize(("text", "expected"), NORMALISED, ids=[t for t, _ in NORMALISED])
def test_normalise_folds_case_accents_punctuation_and_spaces(text, expected):
    assert normalise(text) == expected


def test_a_parser_with_an_empty_catalogue_still_honours_stop_and_help():
    parser = KeywordParser([], Templates.load(TEMPLATES))
    assert parser.parse("STOP").verb is Verb.STOP_ALL
    assert parser.parse("AYUDA").verb is Verb.HELP
    assert parser.parse("HEALTH") == unknown()


MISSPELT_STOPS = ["STOPP", "Stopp!", "ST0P", "SOTP", "stpo", "Stop.", "5TOP", "UNSUBSCRIB",
                  "0PT0UT", "DESUSCRIBRI", "PARRAR"]  # fmt: skip
NOT_STOPS = ["SHOP", "STEP", "TOP", "POST", "SPOT", "PARA", "OK"]  # words of their own


@pytest.mark.parametrize("text", MISSPELT_STOPS)
def test_an_obviously_misspelt_stop_said_alone_is_honoured(parser, text):
    assert parser.parse(text).verb is Verb.STOP_ALL


@pytest.mark.parametrize("text", NOT_STOPS)
def test_a_word_of_its_own_near_stop_is_not_an_opt_out(parser, text):
    assert parser.parse(text).verb is not Verb.STOP_ALL


DISTRICTS = Districts([District("Stann Creek", ("Dangriga",)), District("Toledo", ("PG",)),
                       District("Cayo")])  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("JOIN HURRICANE TOLEDO", Command(Verb.JOIN, "HURRICANE", "en", district="Toledo")),
        ("hurricane toledo", Command(Verb.JOIN, "HURRICANE", district="Toledo")),
        ("HURACAN Toledo", Command(Verb.JOIN, "HURRICANE", "es", district="Toledo")),
        ("JOIN HURACAN TOLEDO", Command(Verb.JOIN, "HURRICANE", district="Toledo")),
        ("join hurricane stann creek", Command(Verb.JOIN, "HURRICANE", "en", None, "Stann Creek")),
        ("HURRICANE  Dangriga!", Command(Verb.JOIN, "HURRICANE", district="Stann Creek")),
        ("HURRICANE PG", Command(Verb.JOIN, "HURRICANE", district="Toledo")),
        ("JOIN HURRICANE PLEASE", join("HURRICANE", "en")),  # no district: the join as before
        ("HURRICANE TOLEDO STOP", verb(Verb.STOP_ALL)),  # a STOP still wins
        ("STOP HURRICANE TOLEDO", leave("HURRICANE")),  # a district only follows a join
        ("FISHERIES CAYO", Command(Verb.UNKNOWN)),  # inactive: not joined, as FISHERIES NOW
    ],
)  # fmt: skip
def test_a_join_followed_by_a_district_says_where_they_live(text: str, expected: Command):
    parser = KeywordParser(CATALOGUE, Templates.load(TEMPLATES), DISTRICTS.words)
    assert parser.parse(text) == expected


ASK = Verb.ASK
QUESTIONS = [
    (
        "ASK HEALTH Where is the clinic?",
        Command(ASK, "HEALTH", "en", question="Where is the clinic?"),
    ),
    ("pregunta salud: ¿dónde?", Command(ASK, "HEALTH", "es", question="¿dónde?")),
    ("Ask-Health hi", Command(ASK, "HEALTH", "en", question="hi")),
    ("ASK SALUD hola", Command(ASK, "HEALTH", None, question="hola")),  # two languages: none
    # a question may say STOP: it is a question (STOP alone after it is still a STOP)
    (
        "ASK HEALTH how do I stop mosquitoes",
        Command(ASK, "HEALTH", "en", question="how do I stop mosquitoes"),
    ),
    ("ASK HEALTH STOP", Command(Verb.STOP_ALL)),
    # no question, no service: the reply explains how to ask
    ("ASK HEALTH", Command(ASK, "HEALTH", "en")),
    ("ASK", Command(ASK, language="en")),
    ("PREGUNTA", Command(ASK, language="es")),
    ("ASK where is the clinic", Command(ASK, language="en")),
    ("ASK please stop", Command(Verb.STOP_ALL)),  # not a question to a service: rule 3
]


@pytest.mark.parametrize(("text", "expected"), QUESTIONS, ids=[t for t, _ in QUESTIONS])
def test_a_question_names_its_service_and_keeps_its_words(parser, text, expected):
    assert parser.parse(text) == expected
