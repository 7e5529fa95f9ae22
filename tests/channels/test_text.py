"""Tests for channels/text.py: encoding choice, counting, splitting, decoding and reassembly."""

from __future__ import annotations

import random
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.concatenation import MAX_SEGMENTS, Concat, Reassembler, ReferenceCounter, parse_udh
from channels.text import (
    Encoding,
    Segment,
    TextInfo,
    decode,
    fold_accents,
    is_gsm7,
    split,
    text_info,
)

GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = "\f^{}\\[~]|€"
HIGH_SURROGATES = range(0xD800, 0xDC00)

# --- counting -------------------------------------------------------------------------------

INFO_CASES = [
    ("spanish_gsm_letters", "¿Qué? ¡Él! El niño y la cigüeña en Ñuñoa", Encoding.GSM7, 1, 40, 160),
    ("acute_a_forces_ucs2", "a" * 159 + "á", Encoding.UCS2, 3, 160, 67),
    ("euro_counts_two", "€", Encoding.GSM7, 1, 2, 160),
    ("braces_count_two_each", "{x}", Encoding.GSM7, 1, 5, 160),
    ("exactly_160_gsm", "a" * 160, Encoding.GSM7, 1, 160, 160),
    ("161_gsm", "a" * 161, Encoding.GSM7, 2, 161, 153),
    ("euro_pushes_159_over_160", "a" * 159 + "€", Encoding.GSM7, 2, 161, 153),
    ("exactly_70_ucs2", "á" * 70, Encoding.UCS2, 1, 70, 70),
    ("71_ucs2", "á" * 71, Encoding.UCS2, 2, 71, 67),
    ("emoji_is_two_units", "😀", Encoding.UCS2, 1, 2, 70),
    ("backtick_is_not_gsm", "`", Encoding.UCS2, 1, 1, 70),
    ("section_sign_is_gsm", "§", Encoding.GSM7, 1, 1, 160),
    ("empty_text_is_one_sms", "", Encoding.GSM7, 1, 0, 160),
]


@pytest.mark.parametrize(
    ("text", "encoding", "segments", "units", "per_segment"),
    [case[1:] for case in INFO_CASES],
    ids=[case[0] for case in INFO_CASES],
)
def test_text_info_counts_like_a_handset(
    text: str, encoding: Encoding, segments: int, units: int, per_segment: int
) -> None:
    info = text_info(text)

    assert (info.encoding, info.segments, info.units, info.per_segment) == (
        encoding,
        segments,
        units,
        per_segment,
    )
    assert len(split(text, 0)) == segments


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 160, TextInfo(Encoding.GSM7, 1, 160, 160, 0)),
        ("a" * 161, TextInfo(Encoding.GSM7, 2, 161, 153, 145)),
        ("á" * 71, TextInfo(Encoding.UCS2, 2, 71, 67, 63)),
        ("a" * 152 + "€" + "a" * 7, TextInfo(Encoding.GSM7, 2, 161, 153, 144)),  # pair moved
    ],
    ids=["full_single", "one_into_second", "ucs2_four_into_second", "escape_pair_moved"],
)
def test_remaining_counts_free_units_in_the_last_segment(text: str, expected: TextInfo) -> None:
    assert text_info(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("`", False),
        ("§", True),
        ("Ç", True),
        ("ç", False),
        ("\x1b", False),
        ("\f", True),
        ("\t", False),
        ("ñéüÑÉÜ¿¡", True),
        ("áíóúÁÍÓÚ", False),
    ],
    ids=["backtick", "section", "c_cedilla_capital", "c_cedilla_small", "bare_escape",
         "form_feed", "tab", "spanish_in_gsm", "spanish_not_in_gsm"],
)  # fmt: skip
def test_is_gsm7_follows_the_gsm_03_38_tables(text: str, expected: bool) -> None:
    assert is_gsm7(text) is expected


# --- splitting ------------------------------------------------------------------------------


def test_one_acute_a_in_160_chars_gives_three_ucs2_segments() -> None:
    segments = split("a" * 159 + "á", 7)

    assert [(s.data_coding, len(s.payload)) for s in segments] == [(8, 134), (8, 134), (8, 52)]


@pytest.mark.parametrize(
    ("prefix", "first_septets"),
    [(151, 153), (152, 152), (153, 153)],
    ids=["pair_ends_at_153", "escape_at_position_153", "pair_starts_segment_two"],
)
def test_escape_pair_is_never_split_across_segments(prefix: int, first_septets: int) -> None:
    segments = split("a" * prefix + "€" + "b" * 20, 1)

    assert len(segments[0].payload) == first_septets
    assert segments[0].payload[-1] != 0x1B
    assert "".join(s.text for s in segments) == "a" * prefix + "€" + "b" * 20


def test_emoji_surrogate_pair_at_a_boundary_moves_whole_to_the_next_segment() -> None:
    text = "á" * 66 + "😀" + "b" * 10

    first, second = split(text, 1)

    assert (first.text, len(first.payload)) == ("á" * 66, 132)
    assert second.text == "😀" + "b" * 10


def test_single_sms_has_no_udh_and_multipart_numbers_its_parts() -> None:
    assert split("hello", 9) == [Segment(0x00, b"", b"hello", "hello")]
    assert [s.udh for s in split("a" * 200, 9)] == [
        bytes([5, 0, 3, 9, 2, 1]),
        bytes([5, 0, 3, 9, 2, 2]),
    ]


def test_reference_is_masked_to_eight_bits() -> None:
    assert split("a" * 200, 0x12C)[0].udh[3] == 0x2C


def test_gsm_payload_is_unpacked_septets_with_escape_bytes() -> None:
    assert split("@$_€", 0)[0].payload == bytes([0x00, 0x02, 0x11, 0x1B, 0x65])


def test_more_than_255_segments_is_refused() -> None:
    assert len(split("a" * 153 * MAX_SEGMENTS, 0)) == MAX_SEGMENTS
    with pytest.raises(ValueError, match="256 segments"):
        split("a" * (153 * MAX_SEGMENTS + 1), 0)


def _check_split(text: str, reference: int) -> None:
    segments = split(text, reference)
    total = len(segments)
    assert total == text_info(text).segments
    assert "".join(s.text for s in segments) == text
    assert {s.data_coding for s in segments} == {0x00 if is_gsm7(text) else 0x08}
    for seq, segment in enumerate(segments, start=1):
        assert decode(segment.payload, segment.data_coding) == segment.text
        if total == 1:
            assert segment.udh == b""
        else:
            concat, payload = parse_udh(segment.udh + segment.payload)
            assert (concat, payload) == (Concat(reference & 0xFF, total, seq), segment.payload)
        if segment.data_coding == 0x00:
            assert len(segment.payload) <= (160 if total == 1 else 153)
            assert not segment.payload.endswith(b"\x1b")
        else:
            assert len(segment.payload) <= (140 if total == 1 else 134)
            assert len(segment.payload) < 2 or (
                int.from_bytes(segment.payload[-2:], "big") not in HIGH_SURROGATES
            )


gsm_texts = st.text(
    # one_of picks each branch about equally often: escape chars are half of all chars
    alphabet=st.one_of(st.sampled_from(GSM_EXTENSION), st.sampled_from(GSM_BASIC)),
    min_size=100,
    max_size=700,
)
ucs2_texts = st.text(alphabet=st.sampled_from("aá😀€ñ👍🏽"), min_size=60, max_size=500)


@settings(max_examples=300, deadline=None)
@given(text=st.text(), reference=st.integers(0, 0xFFFF))
def test_any_text_round_trips_through_split_and_decode(text: str, reference: int) -> None:
    _check_split(text, reference)


@settings(max_examples=300, deadline=None)
@given(text=gsm_texts, reference=st.integers(0, 255))
def test_gsm_text_heavy_with_escapes_round_trips(text: str, reference: int) -> None:
    _check_split(text, reference)


@settings(max_examples=300, deadline=None)
@given(text=ucs2_texts, reference=st.integers(0, 255))
def test_ucs2_text_heavy_with_emoji_round_trips(text: str, reference: int) -> None:
    _check_split(text, reference)


@settings(max_examples=100, deadline=None)
@given(text=st.one_of(gsm_texts, ucs2_texts), order=st.randoms())
def test_split_parts_reassemble_in_any_order(text: str, order: random.Random) -> None:
    segments = split(text, 5)
    order.shuffle(segments)
    reassembler = Reassembler()
    results = []
    for segment in segments:
        concat: Concat | None = Concat(0, 1, 1)
        payload = segment.payload
        if segment.udh:
            concat, payload = parse_udh(segment.udh + segment.payload)
        assert concat is not None
        results.append(reassembler.add("+501", concat, decode(payload, segment.data_coding)))

    assert results[-1] == text
    assert results[:-1] == [None] * (len(segments) - 1)


# --- decoding -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "data_coding", "expected"),
    [
        (bytes([0x00, 0x02, 0x11, 0x1C, 0x09, 0x5F, 0x60]), 0x00, "@$_ÆÇ§¿"),
        (b"\x1b\x65 \x1b\x3cx\x1b\x3e \x1b\x28\x1b\x29", 0x00, "€ [x] {}"),
        (b"a\x1b\x41", 0x00, "aA"),  # unknown extension code: the basic char
        (b"a\x1b\x1bb", 0x00, "a b"),  # ESC ESC: a space
        (b"a\x1b", 0x00, "a "),
        (b"a\x80\xff", 0x00, "a??"),
        ("á😀".encode("utf-16-be"), 0x08, "á😀"),
        (b"\x00a\x00", 0x08, "a\ufffd"),
        (b"\xd8\x3d\x00a", 0x08, "\ufffda"),
        (b"caf\xe9", 0x03, "café"),
        (b"hi\xff", 0x01, "hi\ufffd"),
        (b"\x7d", 0xF0, "ñ"),
        (b"\x7d", 0xF4, "}"),
        (b"\x7d", 0x11, "ñ"),
        (b"\x00\xe1", 0x18, "á"),
        (b"\x7d", 0x15, "}"),
        (b"\x7d", 0x0B, "}"),
        (b"\xb0", 0x06, "А"),
    ],
    ids=["gsm_specials", "gsm_escapes", "gsm_unknown_escape", "gsm_double_escape",
         "gsm_trailing_escape", "gsm_invalid_septets", "ucs2_with_emoji", "ucs2_odd_length",
         "ucs2_lone_surrogate", "latin1", "ia5_ascii", "class_group_gsm", "class_group_8bit",
         "general_group_gsm", "general_group_ucs2", "general_group_8bit", "unknown_is_latin1",
         "cyrillic"],
)  # fmt: skip
def test_decode_reads_each_data_coding_without_raising(
    payload: bytes, data_coding: int, expected: str
) -> None:
    assert decode(payload, data_coding) == expected


def test_decode_reads_smsc_default_as_latin1_when_the_channel_says_so() -> None:
    assert decode(b"caf\xe9 }", 0x00, default_alphabet="latin1") == "café }"


# --- user data header -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("short_message", "concat", "payload"),
    [
        (b"\x05\x00\x03\x2a\x03\x02hello", Concat(42, 3, 2), b"hello"),
        (b"\x06\x08\x04\x12\x34\x03\x01hi", Concat(0x1234, 3, 1), b"hi"),
        (b"\x08\x0a\x01\xff\x00\x03\x07\x02\x01x", Concat(7, 2, 1), b"x"),
        (b"\x03\x0a\x01\x00body", None, b"body"),
        (b"\x05\x00\x03\x2a\x03\x00x", None, b"x"),
        (b"\x05\x00\x03\x2a\x03\x04x", None, b"x"),
        (b"\x00x", None, b"x"),
    ],
    ids=["eight_bit_reference", "sixteen_bit_reference", "after_another_element",
         "no_concatenation_element", "seq_zero_voids_the_element",
         "seq_beyond_total_voids_the_element", "empty_header"],
)  # fmt: skip
def test_parse_udh_reads_concatenation_elements(
    short_message: bytes, concat: Concat | None, payload: bytes
) -> None:
    assert parse_udh(short_message) == (concat, payload)


@pytest.mark.parametrize(
    "short_message",
    [b"", b"\x05\x00\x03", b"\x03\x00\x05\x01abc", b"\x01\x00"],
    ids=["empty", "header_longer_than_message", "element_overruns_header", "truncated_element"],
)
def test_parse_udh_rejects_a_malformed_header(short_message: bytes) -> None:
    with pytest.raises(ValueError, match=r"overruns|longer"):
        parse_udh(short_message)


# --- reassembly -----------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_reassembler_joins_parts_arriving_out_of_order() -> None:
    reassembler = Reassembler()

    assert reassembler.add("+501", Concat(9, 3, 3), "c") is None
    assert reassembler.add("+501", Concat(9, 3, 1), "a") is None
    assert reassembler.add("+501", Concat(9, 3, 2), "b") == "abc"


def test_reassembler_ignores_a_duplicate_part() -> None:
    reassembler = Reassembler()

    assert reassembler.add("+501", Concat(9, 2, 1), "a") is None
    assert reassembler.add("+501", Concat(9, 2, 1), "x") is None
    assert reassembler.add("+501", Concat(9, 2, 2), "b") == "ab"


def test_reassembler_keeps_senders_apart() -> None:
    reassembler = Reassembler()

    assert reassembler.add("+501", Concat(9, 2, 1), "a") is None
    assert reassembler.add("+502", Concat(9, 2, 2), "x") is None
    assert reassembler.add("+501", Concat(9, 2, 2), "b") == "ab"


def test_reassembler_passes_a_single_part_through() -> None:
    assert Reassembler().add("+501", Concat(0, 1, 1), "hi") == "hi"


def test_expiry_returns_the_partial_text_in_part_order() -> None:
    clock = FakeClock()
    reassembler = Reassembler(max_age_s=300, clock=clock)
    reassembler.add("+501", Concat(9, 3, 3), "c")
    reassembler.add("+501", Concat(9, 3, 1), "a")

    clock.now += 299
    assert reassembler.expire() == []
    clock.now += 1
    assert reassembler.expire() == [("+501", "ac")]
    assert reassembler.expire() == []
    assert reassembler.add("+501", Concat(9, 3, 2), "b") is None


def test_overflow_hands_the_oldest_partial_to_the_next_expiry() -> None:
    reassembler = Reassembler(max_pending=2, clock=FakeClock())
    for reference, text in enumerate(["a", "b", "c"]):
        reassembler.add("+501", Concat(reference, 2, 1), text)

    assert reassembler.expire() == [("+501", "a")]
    assert reassembler.add("+501", Concat(2, 2, 2), "z") == "cz"


def test_concat_rejects_impossible_numbers() -> None:
    with pytest.raises(ValueError, match="invalid concatenation"):
        Concat(1, 2, 3)


# --- references -----------------------------------------------------------------------------


def test_consecutive_references_to_one_destination_differ() -> None:
    counter = ReferenceCounter()

    references = [counter.next("+5016012345") for _ in range(256)]

    assert len(set(references)) == 256


def test_references_start_at_random_and_wrap_at_256() -> None:
    counter = ReferenceCounter(randbelow=lambda n: n - 1)

    assert [counter.next("+501") for _ in range(3)] == [255, 0, 1]
    assert counter.next("+502") == 255


def test_reference_memory_forgets_the_least_recent_destination() -> None:
    starts = iter([10, 20, 30])
    counter = ReferenceCounter(max_destinations=1, randbelow=lambda n: next(starts))

    assert [counter.next("+501"), counter.next("+502"), counter.next("+501")] == [10, 20, 30]


# --- accent folding -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("áíóú ÁÍÓÚ", "aiou AIOU"),
        ("ñéüÑÉÜ¿¡Ç", "ñéüÑÉÜ¿¡Ç"),
        ("ç ê Ā", "c e A"),
        ("ǻ", "å"),
        ("\u2126", "Ω"),
        ("≠ 😀 ж", "≠ 😀 ж"),
    ],
    ids=["spanish_acute", "already_gsm", "other_latin", "nearest_gsm_letter", "ohm_sign",
         "non_letters_untouched"],
)  # fmt: skip
def test_fold_accents_replaces_non_gsm_letters_by_their_base(text: str, expected: str) -> None:
    assert fold_accents(text) == expected


def test_folding_makes_spanish_text_gsm() -> None:
    text = "Atención: mañana habrá corte de agua en el área; ¿dudas? llame al 911."

    assert not is_gsm7(text)
    assert is_gsm7(fold_accents(text))
    assert text_info(fold_accents(text)).segments == 1


def test_fold_accents_covers_every_precomposed_letter_in_the_bmp() -> None:
    for code in range(0x10000):
        char = chr(code)
        if code in range(0xD800, 0xE000) or is_gsm7(char):
            continue
        decomposed = unicodedata.normalize("NFD", char)
        folded = fold_accents(char)
        if unicodedata.category(decomposed[0]).startswith("L") and is_gsm7(decomposed[0]):
            assert is_gsm7(folded), char
            assert decomposed.startswith(unicodedata.normalize("NFD", folded)), char
        else:
            assert folded == char, char


def test_reference_function_is_called_only_for_multipart_texts() -> None:
    calls: list[int] = []

    def reference() -> int:
        calls.append(1)
        return 42

    assert split("short", reference)[0].udh == b""
    assert calls == []
    assert [s.udh[3] for s in split("x" * 200, reference)] == [42, 42]
    assert calls == [1]
