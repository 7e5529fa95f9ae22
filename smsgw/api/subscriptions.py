"""``/api/v1/subscriptions``: assisted sign-up and removal, and the streamed CSV import.

An officer may act on their own ministry's services only; an admin on any. Every change is
recorded with the consent source the officer gives ("community-centre:orange-walk"), which the
store keeps in the subscriber's consent history.
"""

from __future__ import annotations

import asyncio
import csv
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import structlog
from aiohttp import StreamReader, web
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from smsgw.access.audit import AuditAction, AuditEntry
from smsgw.access.tokens import Role
from smsgw.api.context import PRINCIPAL, SERVICES
from smsgw.api.errors import ApiError, ErrorBody
from smsgw.api.routes import Route, json_response, read_body
from smsgw.api.services import find_service
from subscriptions.models import ImportCounts, Service, Source
from subscriptions.numbers import InvalidNumber, normalise_msisdn

_log = structlog.get_logger(__name__)

PATH = "/api/v1/subscriptions"
CHUNK_ROWS = 5000  # rows per store.join_many transaction
MAX_LINE = 1024  # bytes; a longer CSV line is rejected without being kept
MAX_REJECTED = 1000  # rejected rows listed in the report (all are counted)
_YIELD_EVERY = 64  # rows validated between two yields to the event loop (~1 ms of CPU)
_COLUMNS = ("msisdn", "language")

Row = tuple[str, str | None]  # (E.164 number, language or None)
Join = Callable[[Sequence[Row]], Awaitable[ImportCounts]]

ConsentSource = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    Field(description="what proves consent", examples=["community-centre:orange-walk"]),
]


class SubscriptionChange(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    msisdn: str = Field(
        max_length=32,
        description="E.164, or a local number of the gateway's default region",
        examples=["+5016012345"],
    )
    service: str = Field(
        min_length=1, max_length=40, description="its keyword or an alias", examples=["HEALTH"]
    )
    consent_source: ConsentSource

    @field_validator("msisdn")
    @classmethod
    def _e164(cls, value: str, info: ValidationInfo) -> str:
        return normalise_msisdn(value, (info.context or {})["region"])  # InvalidNumber: 400


class NewSubscription(SubscriptionChange):
    language: str | None = Field(
        None,
        description="their language, if they have none yet (null: the service's default)",
        examples=["es"],
    )

    @field_validator("language")
    @classmethod
    def _known(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            return _language(value, (info.context or {})["languages"])
        return value


class Subscribed(BaseModel):
    msisdn: str
    service: str
    subscribed: bool = Field(description="false: was subscribed already")
    opt_out_lifted: bool = Field(description="this explicit consent lifted a global STOP")
    language: str | None = Field(description="their language now (null: the service's)")


class Left(BaseModel):
    msisdn: str
    service: str
    left: bool = Field(description="false: was not subscribed")


class ImportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str = Field(min_length=1, max_length=40, examples=["HEALTH"])
    consent_source: ConsentSource


class RejectedRow(BaseModel):
    line: int = Field(description="line number in the file, the header being line 1")
    field: str | None
    value: str
    reason: str


class ImportReport(BaseModel):
    service: str
    rows: int = Field(description="data rows read (blank lines aside)")
    accepted: int = Field(description="valid rows: joined + already + opted_out_skipped")
    joined: int
    already: int = Field(description="subscribed already, or a number repeated in the file")
    opted_out_skipped: int = Field(description="under a global STOP, which only they can lift")
    rejected_total: int
    rejected: list[RejectedRow] = Field(description=f"the first {MAX_REJECTED}")


def _language(value: str, languages: Sequence[str]) -> str:
    code = value.strip().lower()
    if code not in languages:
        raise ValueError(f"{value!r} is not one of the languages {', '.join(languages)}")
    return code


async def _writable(request: web.Request, word: str, *, joining: bool) -> Service:
    """The service named ``word``, if the caller may change its subscriptions."""
    service = await find_service(request.app[SERVICES].catalogue, word, field="service")
    principal = request[PRINCIPAL]
    ministry = (principal.ministry or "").strip().casefold()
    if principal.role is Role.OFFICER and ministry != service.ministry.strip().casefold():
        raise ApiError(
            403,
            "forbidden",
            f"{service.keyword} belongs to the ministry {service.ministry};"
            " an officer acts on their own ministry's services",
            field="service",
        )
    if joining and not service.active:
        raise ApiError(409, "service_inactive", f"{service.keyword} is not active", field="service")
    return service


async def subscribe(request: web.Request) -> web.Response:
    deps = request.app[SERVICES]
    body = await read_body(
        request, NewSubscription, region=deps.region, languages=deps.templates.languages
    )
    service = await _writable(request, body.service, joining=True)
    store = deps.subscriptions
    before = await store.subscriber(body.msisdn)
    joined = await store.join(
        body.msisdn,
        service.keyword,
        at=datetime.now(UTC),
        source=Source.ASSISTED,
        consent=body.consent_source,
        language=body.language,
    )
    after = await store.subscriber(body.msisdn)
    lifted = joined and before is not None and before.opted_out_at is not None
    _log.info("subscription_assisted", service=service.keyword, joined=joined, lifted=lifted)
    await deps.audit.audit(
        AuditEntry.by(request[PRINCIPAL], AuditAction.SUBSCRIBER_SIGNED_UP, body.msisdn,
                      at=datetime.now(UTC), service=service.keyword, joined=joined,
                      consent_source=body.consent_source)
    )  # fmt: skip
    answer = Subscribed(
        msisdn=body.msisdn,
        service=service.keyword,
        subscribed=joined,
        opt_out_lifted=lifted,
        language=after.language if after else None,
    )
    return json_response(answer, status=201 if joined else 200)


async def unsubscribe(request: web.Request) -> web.Response:
    deps = request.app[SERVICES]
    body = await read_body(request, SubscriptionChange, region=deps.region)
    service = await _writable(request, body.service, joining=False)
    left = await deps.subscriptions.leave(
        body.msisdn,
        service.keyword,
        at=datetime.now(UTC),
        source=Source.ASSISTED,
        consent=body.consent_source,
    )
    _log.info("unsubscription_assisted", service=service.keyword, left=left)
    await deps.audit.audit(
        AuditEntry.by(request[PRINCIPAL], AuditAction.SUBSCRIBER_REMOVED, body.msisdn,
                      at=datetime.now(UTC), service=service.keyword, left=left,
                      consent_source=body.consent_source)
    )  # fmt: skip
    return json_response(Left(msisdn=body.msisdn, service=service.keyword, left=left))


async def import_csv(request: web.Request) -> web.Response:
    """The body is read as it arrives and committed CHUNK_ROWS valid rows at a time, so memory
    stays flat whatever the file's size (client_max_size only bounds bodies read whole). An
    import cut short keeps the chunks already committed; sending the file again is harmless."""
    deps = request.app[SERVICES]
    query = ImportQuery.model_validate(dict(request.query))
    service = await _writable(request, query.service, joining=True)
    started, at = time.perf_counter(), datetime.now(UTC)

    async def join(rows: Sequence[Row]) -> ImportCounts:
        return await deps.subscriptions.join_many(
            rows, service.keyword, at=at, source=Source.IMPORT, consent=query.consent_source
        )

    report = await _Import(deps.region, deps.templates.languages).run(request.content, join)
    answer = ImportReport(service=service.keyword, **report)
    _log.info(
        "subscriptions_imported",
        service=service.keyword,
        **answer.model_dump(exclude={"service", "rejected"}),
        duration_s=round(time.perf_counter() - started, 3),
    )
    await deps.audit.audit(
        AuditEntry.by(request[PRINCIPAL], AuditAction.SUBSCRIBERS_IMPORTED, service.keyword,
                      at=at, consent_source=query.consent_source,
                      **answer.model_dump(exclude={"service", "rejected"}))
    )  # fmt: skip
    return json_response(answer)


class _Import:
    """One CSV import: validates rows, hands them to ``join`` by chunks, counts."""

    def __init__(self, region: str, languages: Sequence[str]) -> None:
        self._region = region
        self._languages = languages
        self.counts = {"rows": 0, "accepted": 0, "joined": 0, "already": 0}
        self.counts |= {"opted_out_skipped": 0, "rejected_total": 0}
        self.rejected: list[RejectedRow] = []

    async def run(self, content: StreamReader, join: Join) -> dict[str, Any]:
        chunk: list[Row] = []
        columns: list[str] | None = None
        async for number, line in _lines(content):
            if columns is None:
                if line is None or line.strip():  # blank lines before the header are skipped
                    columns = _header(line)
                continue
            row = self._row(number, line, columns)
            if row is not None:
                chunk.append(row)
            if len(chunk) == CHUNK_ROWS:
                await self._flush(chunk, join)
                chunk = []
            if self.counts["rows"] % _YIELD_EVERY == 0:
                await asyncio.sleep(0)  # phonenumbers is CPU work: let MOs through
        if columns is None:
            raise ApiError(400, "invalid", "the CSV is empty: no header line", field="body")
        if chunk:
            await self._flush(chunk, join)
        return {**self.counts, "rejected": self.rejected}

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
                self.rejected.append(
                    RejectedRow(line=number, field=field, value=value[:64], reason=reason)
                )
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
        language = row.get("language", "").strip() or None
        if language is None:
            return msisdn, None
        try:
            return msisdn, _language(language, self._languages)
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
        raise ApiError(
            400,
            "invalid",
            f"the first line must be the header msisdn or msisdn,language; got {text[:80]!r}",
            field="body",
        )
    return columns


def _split(text: str) -> list[str]:
    text = text.removesuffix("\r")
    if '"' not in text:
        return text.split(",")
    return next(csv.reader([text]), [])


async def _lines(content: StreamReader) -> AsyncIterator[tuple[int, bytes | None]]:
    """(line number, line without its ending) as the body arrives; None for a line longer than
    MAX_LINE, whose bytes are dropped as they come (a body without newlines cannot fill memory)."""
    number, pending, overlong = 0, b"", False
    async for data in content.iter_any():
        *complete, pending = (pending + data).split(b"\n")
        for line in complete:
            number += 1
            yield number, None if overlong or len(line) > MAX_LINE else line
            overlong = False
        if len(pending) > MAX_LINE:
            overlong, pending = True, b""
    if pending or overlong:
        yield number + 1, None if overlong else pending


_ROLES = (Role.ADMIN, Role.OFFICER)
_CSV = {"text/csv": {"schema": {"type": "string"}, "example": "msisdn,language\n+5016012345,en\n"}}
_ERRORS = {403: ErrorBody, 404: ErrorBody, 409: ErrorBody}
ROUTES = [
    Route("POST", PATH, subscribe, "Assisted sign-up, with its consent source", roles=_ROLES,
          body=NewSubscription, responses={201: Subscribed, 200: Subscribed, **_ERRORS}),
    Route("DELETE", PATH, unsubscribe, "Assisted removal, with its consent source", roles=_ROLES,
          body=SubscriptionChange, responses={200: Left, 403: ErrorBody, 404: ErrorBody}),
    Route("POST", f"{PATH}/import", import_csv,
          "Import a CSV list (text/csv body, header msisdn,language; query: service, "
          "consent_source); streamed, committed by chunks; returns a report of every row",
          roles=_ROLES, query=ImportQuery, stream=_CSV,
          responses={200: ImportReport, 400: ErrorBody, **_ERRORS}),
]  # fmt: skip
