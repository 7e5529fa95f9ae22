"""A CSV list of numbers → subscriptions: the engine of the bulk import, free of HTTP.

The file is read as it arrives (any AsyncIterable[bytes]: aiohttp's ``request.content.iter_any()``
is one) and its valid rows are handed to ``join`` CHUNK_ROWS at a time, so memory stays flat
whatever the file's size. The first line is the header: ``msisdn``, with ``language`` and
``district`` if given, in any order. Every row is counted; a row that cannot be read is
rejected with its line number and the reason, and the import goes on.
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

from subscriptions.districts import Districts
from subscriptions.models import ImportCounts
from subscriptions.numbers import InvalidNumber, normalise_msisdn
from subscriptions.templates import language_code

NO_ROUTE = "no carrier of this gateway serves this number"
CHUNK_ROWS = 5000  # rows per join (one store.join_many transaction)
MAX_LINE = 1024  # bytes; a longer CSV line is rejected without being kept
MAX_REJECTED = 1000  # rejected rows listed in the report (all are counted)
_YIELD_EVERY = 64  # rows validated between two yields to the event loop (~1 ms of CPU)
_COLUMNS = ("msisdn", "language", "district")

Row = tuple[str, str | None, str | None]  # (E.164 number, language, district: or None)
Join = Callable[[Sequence[Row]], Awaitable[ImportCounts]]


class CsvError(ValueError):
    """The file is not a list to import (no header line, or not the expected header); the
    message says why, in words fit for an API error. Rows already joined stay joined."""


class RowLimitError(ValueError):
    """The file has more data rows than the import takes."""


class Stopped(Exception):  # noqa: N818 - an outcome the caller reports, with what was done
    """The import stopped before the end of the file (too many rows, the body over its limit,
    the client gone): ``so_far`` is what it did until then (those chunks stay joined); the
    cause is ``__cause__``."""

    def __init__(self, so_far: Imported) -> None:
        super().__init__(f"stopped after {so_far.rows} rows")
        self.so_far = so_far


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int  # in the file, the header being line 1
    field: str | None  # the column at fault; None for the line as a whole
    value: str  # as written, cut to 64 characters
    reason: str


@dataclass(frozen=True, slots=True)
class Imported:
    """What an import did with every row of the file."""

    rows: int  # data rows read (blank lines aside)
    accepted: int  # valid rows: joined + already + opted_out_skipped
    joined: int
    already: int  # subscribed already, or a number repeated in the file
    opted_out_skipped: int  # under a global STOP, which only the citizen can lift
    rejected_total: int
    rejected: list[Rejection]  # the first MAX_REJECTED


async def import_csv(
    content: AsyncIterable[bytes],
    join: Join,
    *,
    region: str,
    languages: Sequence[str],
    routable: Callable[[str], bool] = lambda _number: True,
    max_rows: int | None = None,
    districts: Districts | None = None,
) -> Imported:
    """Read the CSV ``content``, hand its valid rows to ``join`` by chunks, count every row.
    Numbers are read as local ones of ``region`` when they have no country code, and must be
    ``routable`` (a carrier of the gateway serves them); a language must be one of
    ``languages``, a district one of ``districts`` (by its name or an alias). Raises CsvError
    for a missing or wrong header, and Stopped (from
    RowLimitError past ``max_rows``, or from what ``content`` raised) for an import that ended
    before the end of its file."""
    job = _Import(region, languages, routable, max_rows, districts or Districts())
    try:
        return await job.run(content, join)
    except CsvError:
        raise
    except Exception as exc:
        raise Stopped(job.so_far()) from exc


class _Import:
    """One CSV import: validates rows, hands them to ``join`` by chunks, counts."""

    def __init__(
        self,
        region: str,
        languages: Sequence[str],
        routable: Callable[[str], bool],
        max_rows: int | None,
        districts: Districts,
    ) -> None:
        self._region = region
        self._districts = districts
        self._languages = languages
        self._routable = routable
        self._max_rows = max_rows
        self.counts = {"rows": 0, "accepted": 0, "joined": 0, "already": 0}
        self.counts |= {"opted_out_skipped": 0, "rejected_total": 0}
        self.rejected: list[Rejection] = []

    async def run(self, content: AsyncIterable[bytes], join: Join) -> Imported:
        chunk: list[Row] = []
        columns: list[str] | None = None
        async for number, line in _lines(content):
            if columns is None:
                if line is None or line.strip():  # blank lines before the header are skipped
                    columns = _header(line)
                continue
            row = self._row(number, line, columns)
            if self._max_rows is not None and self.counts["rows"] > self._max_rows:
                raise RowLimitError(f"the file has more than {self._max_rows} rows")
            if row is not None:
                chunk.append(row)
            if len(chunk) == CHUNK_ROWS:
                await self._flush(chunk, join)
                chunk = []
            if self.counts["rows"] % _YIELD_EVERY == 0:
                await asyncio.sleep(0)  # phonenumbers is CPU work: let MOs through
        if columns is None:
            raise CsvError("the CSV is empty: no header line")
        if chunk:
            await self._flush(chunk, join)
        return self.so_far()

    def so_far(self) -> Imported:
        return Imported(**self.counts, rejected=list(self.rejected))

    async def _flush(self, chunk: list[Row], join: Join) -> None:
        counts = await join(chunk)
        self.counts["accepted"] += len(chunk)
        self.counts["joined"] += counts.joined
        self.counts["already"] += counts.already
        self.counts["opted_out_skipped"] += counts.opted_out

    def _row(self, number: int, line: bytes | None, columns: list[str]) -> Row | None:
        """The valid row of a line; None for a blank line or a rejected row (recorded)."""
        if line is not None and not line.strip():
            return None  # blank lines are not rows
        self.counts["rows"] += 1
        try:
            return self._parse(line, columns)
        except _Rejected as rejected:
            self.counts["rejected_total"] += 1
            if len(self.rejected) < MAX_REJECTED:
                field, value, reason = rejected.args
                self.rejected.append(Rejection(number, field, value[:64], reason))
            return None

    def _parse(self, line: bytes | None, columns: list[str]) -> Row:
        if line is None:
            raise _Rejected(None, "", f"the line is longer than {MAX_LINE} bytes")
        try:
            values = _split(line.decode("utf-8"))
        except UnicodeDecodeError:
            raise _Rejected(None, line.decode("utf-8", "replace"), "not UTF-8 text") from None
        if len(values) > len(columns):
            raise _Rejected(None, line.decode(), f"more values than the {len(columns)} columns")
        row = dict(zip(columns, values, strict=False))
        raw = row.get("msisdn", "").strip()
        try:
            msisdn = normalise_msisdn(raw, self._region)
        except InvalidNumber as error:
            raise _Rejected("msisdn", raw, str(error)) from None
        if not self._routable(msisdn):
            raise _Rejected("msisdn", raw, NO_ROUTE)
        given = row.get("district", "").strip()
        district = self._districts.find(given) if given else None
        if given and district is None:
            names = ", ".join(self._districts.names)
            raise _Rejected("district", given, f"not a district: one of {names}")
        language = row.get("language", "").strip() or None
        if language is None:
            return msisdn, None, district
        try:
            return msisdn, language_code(language, self._languages), district
        except ValueError as error:
            raise _Rejected("language", language, str(error)) from None


class _Rejected(Exception):  # noqa: N818 - a row's outcome, not a failure
    """args: (field or None, the value as written, the reason)."""


def _header(line: bytes | None) -> list[str]:
    text = "(too long)" if line is None else line.decode("utf-8", "replace")
    text = text.removeprefix("\ufeff")  # Excel writes a BOM
    columns = [column.strip().lower() for column in _split(text)]
    unknown = [column for column in columns if column not in _COLUMNS]
    if "msisdn" not in columns or unknown or len(set(columns)) != len(columns):
        raise CsvError(
            "the first line must be the header msisdn, with language and district if given"
            f" (msisdn,language,district); got {text[:80]!r}"
        )
    return columns


def _split(text: str) -> list[str]:
    text = text.removesuffix("\r")
    if '"' not in text:
        return text.split(",")
    return next(csv.reader([text]), [])


async def _lines(content: AsyncIterable[bytes]) -> AsyncIterator[tuple[int, bytes | None]]:
    """(line number, line without its ending) as the body arrives; None for a line longer than
    MAX_LINE, whose bytes are dropped as they come (a body without newlines cannot fill memory)."""
    number, pending, overlong = 0, b"", False
    async for data in content:
        *complete, pending = (pending + data).split(b"\n")
        for line in complete:
            number += 1
            yield number, None if overlong or len(line) > MAX_LINE else line
            overlong = False
        if len(pending) > MAX_LINE:
            overlong, pending = True, b""
    if pending or overlong:
        yield number + 1, None if overlong else pending
