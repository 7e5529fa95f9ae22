"""SMS text: GSM 7-bit or UCS-2 choice, segment count, split, decoding and MO reassembly."""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from channels.concatenation import MAX_SEGMENTS

# 3GPP TS 23.038 §6.2.1: the GSM 7-bit default alphabet, indexed by septet (0x1B is the escape).
_GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# 3GPP TS 23.038 §6.2.1.1: the extension table, reached by ESC (0x1B) + code: two septets each.
_GSM_EXTENSION = {
    0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\",
    0x3C: "[", 0x3D: "~", 0x3E: "]", 0x40: "|", 0x65: "€",
}  # fmt: skip
_ESC = 0x1B
_GSM_ENCODE: dict[int, int | str] = {ord(ch): n for n, ch in enumerate(_GSM_BASIC) if n != _ESC}
_GSM_ENCODE.update({ord(ch): f"\x1b{chr(code)}" for code, ch in _GSM_EXTENSION.items()})
_GSM_DECODE = _GSM_BASIC + "?" * 128  # unpacked septets above 0x7F are invalid
_GSM_CHARS = frozenset(_GSM_BASIC.replace("\x1b", "") + "".join(_GSM_EXTENSION.values()))
# One scan of a compiled class finds a non-GSM char several times faster than str.translate.
_NOT_GSM = re.compile(f"[^{re.escape(''.join(sorted(_GSM_CHARS)))}]")

# 3GPP TS 23.040 §9.2.3.24.1: UDH of 6 octets (UDHL, IEI 0x00, length 3, ref, total, seq) leaves
# 134 octets: 153 septets once the SMSC packs them with fill bits, or 67 UTF-16 units.
_GSM_SINGLE, _GSM_MULTI = 160, 153
_UCS2_SINGLE, _UCS2_MULTI = 140, 134  # octets


class Encoding(StrEnum):
    GSM7 = "gsm7"
    UCS2 = "ucs2"


@dataclass(frozen=True, slots=True)
class TextInfo:
    """What the composer and the API show before sending."""

    encoding: Encoding
    segments: int  # SMS needed, 1 if the text fits one single SMS
    units: int  # septets (extension chars count 2) or UTF-16 code units
    per_segment: int  # 160 / 153 for GSM, 70 / 67 for UCS-2
    remaining: int  # units still free in the last segment


@dataclass(frozen=True, slots=True)
class Segment:
    """One short message: SMPP carries GSM unpacked, one septet per octet."""

    data_coding: int  # 0x00 SMSC default alphabet (GSM), 0x08 UCS-2
    udh: bytes  # b"" for a single SMS, else the concatenation header
    payload: bytes  # short_message without the UDH
    text: str  # the slice of the original text this segment carries


def is_gsm7(text: str) -> bool:
    """Whether the text fits the GSM 03.38 default alphabet and its extension table."""
    return _NOT_GSM.search(text) is None


@dataclass(frozen=True, slots=True)
class _Plan:
    encoding: Encoding
    data: bytes  # unpacked septets or UTF-16-BE
    ends: list[int]  # end offset in `data` of each segment


def _ends(size: int, budget: int, step: int, opens_pair: Callable[[int], bool]) -> list[int]:
    """Cuts `size` octets greedily into parts of at most `budget`, never after a pair opener."""
    ends: list[int] = []
    start = 0
    while start < size:
        end = min(start + budget, size)
        if end < size and opens_pair(end - step):
            end -= step  # the pair moves whole to the next part
        ends.append(end)
        start = end
    return ends


def _plan(text: str) -> _Plan:
    if _NOT_GSM.search(text) is None:
        data = text.translate(_GSM_ENCODE).encode("ascii")
        if len(data) <= _GSM_SINGLE:
            return _Plan(Encoding.GSM7, data, [len(data)])
        # TS 23.038 §6.2.1.1: an ESC and its code must reach the handset in one part.
        ends = _ends(len(data), _GSM_MULTI, 1, lambda at: data[at] == _ESC)
        return _Plan(Encoding.GSM7, data, ends)
    data = text.encode("utf-16-be", "surrogatepass")
    if len(data) <= _UCS2_SINGLE:
        return _Plan(Encoding.UCS2, data, [len(data)])
    # A high surrogate (0xD800-0xDBFF) and its low surrogate must stay in one part.
    ends = _ends(len(data), _UCS2_MULTI, 2, lambda at: data[at] & 0xFC == 0xD8)
    return _Plan(Encoding.UCS2, data, ends)


def text_info(text: str) -> TextInfo:
    """Counts the text the way split() cuts it; the count may exceed MAX_SEGMENTS."""
    plan = _plan(text)
    width = 1 if plan.encoding is Encoding.GSM7 else 2
    single = len(plan.ends) == 1
    if plan.encoding is Encoding.GSM7:
        per_segment = _GSM_SINGLE if single else _GSM_MULTI
    else:
        per_segment = (_UCS2_SINGLE if single else _UCS2_MULTI) // 2
    last = plan.ends[-1] - (plan.ends[-2] if not single else 0)
    return TextInfo(
        encoding=plan.encoding,
        segments=len(plan.ends),
        units=len(plan.data) // width,
        per_segment=per_segment,
        remaining=per_segment - last // width,
    )


def split(text: str, reference: int | Callable[[], int]) -> list[Segment]:
    """Encodes and cuts the text into SMS; `reference` is the 8-bit concatenation reference,
    or a function giving it (called only when the text needs several segments).

    `reference` is masked to 0..255; keeping it unique per handset is the caller's job
    (see ReferenceCounter). An empty text gives one empty segment.
    """
    plan = _plan(text)
    total = len(plan.ends)
    if total > MAX_SEGMENTS:
        raise ValueError(f"text needs {total} segments, more than {MAX_SEGMENTS}")
    if callable(reference):
        reference = reference() if total > 1 else 0
    gsm = plan.encoding is Encoding.GSM7
    data_coding = 0x00 if gsm else 0x08
    segments: list[Segment] = []
    start = 0
    for seq, end in enumerate(plan.ends, start=1):
        # TS 23.040 §9.2.3.24.1: concatenated short messages, 8-bit reference.
        udh = b"" if total == 1 else bytes((5, 0x00, 3, reference & 0xFF, total, seq))
        payload = plan.data[start:end]
        segment_text = _slice(text, plan.data, start, end, 1 if gsm else 2)
        segments.append(Segment(data_coding, udh, payload, segment_text))
        start = end
    return segments


def _slice(text: str, data: bytes, start: int, end: int, width: int) -> str:
    """The characters behind data[start:end], GSM septets (width 1) or UTF-16 (width 2)."""
    if len(data) == len(text) * width:  # one unit per char: no escapes, no surrogate pairs
        return text[start // width : end // width]
    if width == 2:
        return data[start:end].decode("utf-16-be", "surrogatepass")
    # Each ESC adds a septet but no char.
    return text[start - data.count(_ESC, 0, start) : end - data.count(_ESC, 0, end)]


def decode(
    payload: bytes, data_coding: int, *, default_alphabet: Literal["gsm7", "latin1"] = "gsm7"
) -> str:
    """Decodes a short_message (without UDH); never raises on bad input, it replaces instead."""
    alphabet = _alphabet(data_coding)
    if alphabet == "default":
        alphabet = default_alphabet
    if alphabet == "gsm7":
        return _decode_gsm(payload)
    if alphabet == "ucs2":
        return payload.decode("utf-16-be", "replace")
    return payload.decode(alphabet, "replace")


def _alphabet(data_coding: int) -> str:
    """The alphabet of a data_coding (SMPP 3.4 §5.2.19; TS 23.038 §4 coding groups)."""
    if data_coding in _SMPP_CODINGS:
        return _SMPP_CODINGS[data_coding]
    group = data_coding >> 4
    if group in (0x1, 0x4, 0x5):  # general data coding, uncompressed: bits 3-2 name the alphabet
        return ("gsm7", "latin1", "ucs2", "latin1")[(data_coding >> 2) & 0x3]
    if group in (0xC, 0xD):  # message waiting indication, GSM alphabet
        return "gsm7"
    if group == 0xE:  # message waiting indication, UCS-2
        return "ucs2"
    if group == 0xF:  # data coding / message class: bit 2 clear is GSM, set is 8-bit
        return "latin1" if data_coding & 0x04 else "gsm7"
    return "latin1"  # unknown or compressed: Latin-1 keeps every octet visible


_SMPP_CODINGS = {
    0x00: "default",  # "SMSC default alphabet": GSM for most SMSCs, Latin-1 for some
    0x01: "ascii",  # IA5
    0x02: "latin1",  # 8-bit binary
    0x03: "latin1",
    0x04: "latin1",  # 8-bit binary
    0x06: "iso8859_5",  # Cyrillic
    0x07: "iso8859_8",  # Latin/Hebrew
    0x08: "ucs2",
}


def _decode_gsm(payload: bytes) -> str:
    text = codecs.charmap_decode(payload, "strict", _GSM_DECODE)[0]
    if "\x1b" not in text:
        return text
    chars: list[str] = []
    i = 0
    while i < len(payload):
        if payload[i] != _ESC:
            chars.append(_GSM_DECODE[payload[i]])
            i += 1
            continue
        code = payload[i + 1] if i + 1 < len(payload) else _ESC
        # TS 23.038 §6.2.1.1: an unknown extension code shows as the basic char, ESC as space.
        chars.append(_GSM_EXTENSION.get(code) or (" " if code == _ESC else _GSM_DECODE[code]))
        i += 2
    return "".join(chars)


def _fold_char(char: str) -> str | None:
    """The GSM char left after dropping the fewest trailing accents, if the base is a letter."""
    decomposed = unicodedata.normalize("NFD", char)
    if not unicodedata.category(decomposed[0]).startswith("L"):
        return None  # "≠" is "=" plus a stroke: folding it would change the meaning
    while True:
        composed = unicodedata.normalize("NFC", decomposed)
        if composed in _GSM_CHARS:
            return composed  # "ǻ" folds to "å", not "a"; the ohm sign to "Ω"
        if len(decomposed) == 1 or not unicodedata.combining(decomposed[-1]):
            return None
        decomposed = decomposed[:-1]


# Every precomposed letter whose base is in GSM lives in these blocks (tests check the BMP).
_FOLD_BLOCKS = ((0x00C0, 0x0250), (0x0370, 0x0400), (0x1E00, 0x2000), (0x2100, 0x2150))
_FOLD = {
    code: folded
    for low, high in _FOLD_BLOCKS
    for code in range(low, high)
    if chr(code) not in _GSM_CHARS and (folded := _fold_char(chr(code))) is not None
}


def fold_accents(text: str) -> str:
    """Replaces accented letters outside GSM by their GSM base ("á" → "a"); keeps the rest."""
    return text.translate(_FOLD)
