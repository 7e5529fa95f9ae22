"""The CSV import engine, without HTTP: a body in pieces → rows joined by chunks, a report."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence

import pytest

from subscriptions import importing
from subscriptions.districts import District, Districts
from subscriptions.importing import MAX_LINE, CsvError, Imported, Rejection, Row, import_csv
from subscriptions.models import ImportCounts

LANGUAGES = ("en", "es")


class _Joins:
    """A join that records its chunks; numbers seen before count as already subscribed."""

    def __init__(self) -> None:
        self.chunks: list[list[Row]] = []
        self._seen: set[str] = set()

    async def __call__(self, rows: Sequence[Row]) -> ImportCounts:
        self.chunks.append(list(rows))
        new = {msisdn for msisdn, _, _ in rows} - self._seen
        self._seen |= new
        return ImportCounts(joined=len(new), already=len(rows) - len(new), opted_out=0)


async def _pieces(*pieces: bytes) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


async def _run(*pieces: bytes, joins: _Joins | None = None) -> Imported:
    return await import_csv(_pieces(*pieces), joins or _Joins(), region="BZ", languages=LANGUAGES)


async def test_rows_split_across_pieces_are_read_whole_and_reported():
    joins = _Joins()
    imported = await _run(
        b"\xef\xbb\xbfLanguage, MSISDN\r\n",
        b"ES,601-0001\r\n,6010",
        b"002\n\nfr,6010003\nen,12",
        joins=joins,
    )
    assert joins.chunks == [[("+5016010001", "es", None), ("+5016010002", None, None)]]
    assert imported.rows == 4
    assert (imported.accepted, imported.joined, imported.already) == (2, 2, 0)
    assert (imported.opted_out_skipped, imported.rejected_total) == (0, 2)
    language, number = imported.rejected
    assert (language.line, language.field, language.value) == (5, "language", "fr")
    assert language.reason == "'fr' is not one of the languages en, es"
    assert (number.line, number.field, number.value) == (6, "msisdn", "12")


async def test_valid_rows_are_joined_by_chunks(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(importing, "CHUNK_ROWS", 3)
    joins = _Joins()
    lines = b"".join(b"+50160%05d\n" % i for i in range(7))
    imported = await _run(b"msisdn\n", lines, joins=joins)
    assert [len(chunk) for chunk in joins.chunks] == [3, 3, 1]
    assert (imported.rows, imported.accepted, imported.joined) == (7, 7, 7)


async def test_an_overlong_line_is_rejected_without_being_kept():
    imported = await _run(b"msisdn\n", b"6" * MAX_LINE, b"6" * MAX_LINE, b"\n6010001\n")
    assert imported.rejected == [
        Rejection(2, None, "", f"the line is longer than {MAX_LINE} bytes")
    ]
    assert imported.joined == 1


@pytest.mark.parametrize(
    ("pieces", "message"),
    [((), "the CSV is empty: no header line"),
     ((b"\n", b"\r\n"), "the CSV is empty: no header line"),
     ((b"phone\n",), "the first line must be the header msisdn, with language and district if given"
      " (msisdn,language,district); got 'phone'"),
     ((b"x" * (MAX_LINE + 1),),
      "the first line must be the header msisdn, with language and district if given"
      " (msisdn,language,district); got '(too long)'")],
)  # fmt: skip
async def test_a_missing_or_wrong_header_is_a_csv_error(pieces: Iterable[bytes], message: str):
    with pytest.raises(CsvError) as raised:
        await _run(*pieces)
    assert str(raised.value) == message


async def test_the_event_loop_runs_while_a_long_list_is_read():
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0)
    before = ticks
    lines = b"".join(b"+50160%05d\n" % i for i in range(640))
    await _run(b"msisdn\n" + lines)  # one piece: nothing in it awaits but the engine's yields
    ticker.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await ticker
    assert ticks - before >= 10  # a yield every 64 rows


async def test_a_district_column_is_read_by_name_or_alias_and_an_unknown_one_rejected():
    districts = Districts([District("Stann Creek", ("Dangriga",)), District("Toledo")])
    joins = _Joins()
    imported = await import_csv(
        _pieces(b"msisdn,district\n6010001,stann  creek\n6010002,DANGRIGA\n6010003,\n"
                b"6010004,Atlantis\n"),
        joins, region="BZ", languages=LANGUAGES, districts=districts,
    )  # fmt: skip
    assert joins.chunks == [
        [
            ("+5016010001", None, "Stann Creek"),
            ("+5016010002", None, "Stann Creek"),
            ("+5016010003", None, None),
        ]
    ]
    [rejected] = imported.rejected
    assert (rejected.line, rejected.field, rejected.value) == (5, "district", "Atlantis")
    assert rejected.reason == "not a district: one of Stann Creek, Toledo"
