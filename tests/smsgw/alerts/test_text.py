"""The SMS texts made from a CAP alert: which words, which language, how long."""

from __future__ import annotations

import pytest

from channels.text import Encoding, text_info
from smsgw.alerts.cap import Info, parse
from smsgw.alerts.text import compose, fit, language_of, plain
from tests.smsgw.alerts.cap_testbed import alert, info


def infos(*parts: str) -> tuple[Info, ...]:
    return parse(alert(*parts)).infos


def test_typographic_punctuation_is_made_plain_so_the_alert_stays_gsm() -> None:
    typed = "Don\u2019t wait \u2014 \u201cmove\u201d now\u2026\u00a0Shelters\u2011open"
    assert plain(typed) == 'Don\'t wait - "move" now... Shelters-open'
    assert text_info(plain(typed)).encoding is Encoding.GSM7
    assert text_info(typed).encoding is Encoding.UCS2


@pytest.mark.parametrize(
    ("cap", "expected"),
    [("en", "en"), ("en-US", "en"), ("EN-us", "en"), ("es", "es"), ("es-BZ", "es"),
     ("fr-CA", None), ("", None)],
)  # fmt: skip
def test_cap_languages_map_to_the_template_languages(cap: str, expected: str | None) -> None:
    assert language_of(cap, ["en", "es"]) == expected


def test_the_phone_parameter_wins_over_headline_and_instruction() -> None:
    (found,) = infos(info(parameters={"CMAMtext": "Short.", "SMS": "Take shelter now."}))
    assert compose([found], ["en"], "en", max_segments=3) == {"en": "Take shelter now."}
    (found,) = infos(info(parameters={"CMAMtext": "Short text."}))
    assert compose([found], ["en"], "en", max_segments=3) == {"en": "Short text."}


def test_headline_and_instruction_without_a_phone_parameter() -> None:
    texts = compose(
        infos(info(language="en-US"), info(language="es-BZ", headline="Aviso de huracán",
                                           instruction="Vaya a un refugio.")),
        ["en", "es"], "en", max_segments=3,
    )  # fmt: skip
    assert texts == {
        "en": "Hurricane warning for the coast Move to a shelter now.",
        "es": "Aviso de huracán Vaya a un refugio.",
    }


def test_a_language_the_service_lacks_stands_in_only_for_the_default() -> None:
    french = info(language="fr-CA", headline="Alerte", instruction="Abritez-vous.")
    english = info(language="en-US")
    assert compose(infos(french, english), ["en", "es"], "en", max_segments=3) == {
        "en": "Hurricane warning for the coast Move to a shelter now."}  # fmt: skip
    assert compose(infos(french), ["en", "es"], "en", max_segments=3) == {
        "en": "Alerte Abritez-vous."}  # fmt: skip


def test_the_exercise_word_comes_first_and_counts() -> None:
    texts = compose(
        infos(info(language="en"), info(language="es", headline="Aviso", instruction="Salga.")),
        ["en", "es"], "en", max_segments=1, prefix={"en": "EXERCISE", "es": "SIMULACRO"},
    )  # fmt: skip
    assert texts["en"].startswith("EXERCISE Hurricane")
    assert texts["es"] == "SIMULACRO Aviso Salga."


@pytest.mark.parametrize("max_segments", [1, 2, 3])
@pytest.mark.parametrize("word", ["shelter", "refugió"])  # GSM 7-bit, and UCS-2
def test_a_long_text_is_cut_at_a_word_to_fit(max_segments: int, word: str) -> None:
    text = " ".join([word] * 200)
    fitted = fit(text, max_segments)
    assert text_info(fitted).segments == max_segments
    assert fitted.endswith(f"{word}...")
    assert text_info(fitted + " x").segments <= max_segments + 1  # close to full, not half


def test_a_text_that_fits_is_left_whole() -> None:
    assert fit("Move to a shelter now.", 1) == "Move to a shelter now."
