"""The composer's live counter (smsgw/console/text.js) against the server's
channels.text.text_info: the same encoding, segments and units for every text."""

from __future__ import annotations

import random
from typing import Any

from channels.text import fold_accents, text_info
from smsgw.access.tokens import Role
from smsgw.app import Gateway
from tests.console.browser import Console, person
from tests.smsgw.api.catalogue_testbed import add_service

ESCAPES = "€[]{}~^|\\\f"
EMOJI = "😀"  # outside the BMP: a surrogate pair in UTF-16
TRICKY = {
    "empty": "",
    "plain 160": "a" * 160,
    "plain 161": "a" * 161,
    "plain 153x2": "a" * 306,
    "plain 153x2+1": "a" * 307,
    "escape ends a single SMS": "a" * 158 + "€",
    "escape one past a single SMS": "a" * 159 + "€",
    **{f"{char!r} across a part's end": "a" * 152 + char + "b" * 20 for char in ESCAPES},
    "escapes only": "[]{}~^|\\" * 25,
    "Spanish á is UCS-2": "Día de vacunación",
    "á and 69 more": "á" + "a" * 69,
    "á and 70 more": "á" + "a" * 70,
    "ñ é ü ¿ ¡ are GSM": "¿Niño? ¡Sí, café y pingüino! Ñandú é ü Ü " * 5,
    "emoji fill 70": EMOJI * 35,
    "emoji fill 71": EMOJI * 35 + "a",
    "emoji across 67": "a" * 66 + EMOJI + "b" * 20,
    "emoji ends 67": "a" * 65 + EMOJI + "b" * 20,
    "emoji across 134": "a" * 133 + EMOJI + "b" * 20,
    "CR LF and ESC": "line\r\nline\x1b",
    "Greek capitals are GSM": "ΔΦΓΛΩΠΨΣΘΞ" * 17,
}


def expected(text: str) -> dict[str, Any]:
    info = text_info(text)
    return {
        "encoding": str(info.encoding),
        "segments": info.segments,
        "units": info.units,
        "perSegment": info.per_segment,
        "remaining": info.remaining,
    }


async def counted(console: Console, texts: list[str]) -> list[dict[str, Any]]:
    """text.js's textInfo of each text, run in the page."""
    found: list[dict[str, Any]] = await console.page.evaluate(
        """async (texts) => {
            const { textInfo } = await import(new URL("text.js", document.baseURI));
            return texts.map(textInfo);
        }""",
        texts,
    )
    return found


async def test_the_counter_shows_what_the_server_counts_for_tricky_texts(
    console: Console, gateway: Gateway
) -> None:
    await add_service(gateway)
    await console.log_in(await person(gateway, Role.OFFICER))
    area, counter = (
        console.page.get_by_label("English (en) text"),
        console.page.locator("#count-en"),
    )
    for name, text in TRICKY.items():
        await area.fill(text)  # typed into the page: the counter the officer sees
        want = expected(await area.input_value())  # a textarea turns CR LF into LF
        shown = {
            key: await counter.get_attribute(f"data-{key}") for key in ("encoding", "segments")
        }
        assert shown == {"encoding": want["encoding"], "segments": str(want["segments"])}, name
        assert f"{want['units']} used, {want['remaining']} left" in await counter.inner_text()
    assert await counted(console, list(TRICKY.values())) == [expected(t) for t in TRICKY.values()]
    assert console.problems == []


async def test_the_counter_agrees_on_every_char_and_on_random_texts(
    console: Console, gateway: Gateway
) -> None:
    await console.open()
    chars = [chr(code) for code in range(0x3000) if not 0xD800 <= code < 0xE000]
    chars += ["€", EMOJI, "𝄞", "\U000e0001"]
    assert await counted(console, chars) == [expected(char) for char in chars]

    rng = random.Random(5)
    alphabet = "abc 123.\n" * 20 + ESCAPES * 3 + "éñüÄ¿¡" * 2 + "áí" + EMOJI
    texts = ["".join(rng.choices(alphabet, k=rng.randint(0, 500))) for _ in range(400)]
    texts = [t.replace("\n", "\r\n") if i % 7 == 0 else t for i, t in enumerate(texts)]
    assert await counted(console, texts) == [expected(text) for text in texts]
    assert console.problems == []


async def test_accents_fold_in_the_page_as_on_the_server(console: Console) -> None:
    """text.js's foldAccents against channels.text.fold_accents: every char of the blocks that
    hold accented letters, and texts of Spanish and the odd char that must stay."""
    await console.open()
    chars = [chr(code) for code in range(0x00A0, 0x2200)]
    texts = [*chars, "Día de vacunación: ¿vendrá? ¡Sí! Niño, pingüino", "≠ ǻ Ω ı", EMOJI]
    folded: list[str] = await console.page.evaluate(
        """async (texts) => {
            const { foldAccents } = await import(new URL("text.js", document.baseURI));
            return texts.map(foldAccents);
        }""",
        texts,
    )
    assert folded == [fold_accents(text) for text in texts]
    assert folded[-3] == "Dia de vacunacion: ¿vendra? ¡Si! Niño, pingüino"
    assert console.problems == []
