"""``/api/v1/subscriptions``: assisted sign-up and removal, and the streamed CSV import.

An officer may act on their own ministry's services only; an admin on any. Every change is
recorded with the consent source the officer gives ("community-centre:orange-walk"), which the
store keeps in the subscriber's consent history.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated

import structlog
from aiohttp import web
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from channels.text import text_info
from smsgw.access.audit import AuditAction, AuditEntry
from smsgw.access.tokens import Role
from smsgw.api.context import PRINCIPAL, SERVICES, Services
from smsgw.api.errors import ApiError, ErrorBody
from smsgw.api.routes import Route, json_response, read_body
from smsgw.api.services import find_service
from smsgw.errors import Conflict, Forbidden, Invalid
from subscriptions import importing
from subscriptions.districts import Districts
from subscriptions.importing import MAX_LINE as MAX_LINE  # re-exported: tests size files by it
from subscriptions.importing import MAX_REJECTED as MAX_REJECTED
from subscriptions.importing import Row
from subscriptions.models import ImportCounts, Service, Source
from subscriptions.numbers import normalise_msisdn
from subscriptions.templates import language_code

_log = structlog.get_logger(__name__)

PATH = "/api/v1/subscriptions"

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
    district: str | None = Field(
        None, max_length=40, description="where they live, by a district's name or alias (null:"
        " not said; they get every district's alerts)", examples=["Toledo"],
    )  # fmt: skip

    @field_validator("language")
    @classmethod
    def _known(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            return language_code(value, (info.context or {})["languages"])
        return value

    @field_validator("district")
    @classmethod
    def _district(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        districts: Districts = (info.context or {})["districts"]
        found = districts.find(value)
        if found is None:
            raise ValueError(f"not a district: one of {', '.join(districts.names)}")
        return found


class Subscribed(BaseModel):
    msisdn: str
    service: str
    subscribed: bool = Field(description="false: was subscribed already")
    opt_out_lifted: bool = Field(
        description="always false: a number under a STOP is refused (409 opted_out), since"
        " only its owner lifts a STOP, by SMS"
    )
    language: str | None = Field(description="their language now (null: the service's)")
    district: str | None = Field(description="their district now (null: not said)")


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
    confirmations: int | None = Field(
        default=None,
        description="the broadcast sending each number joined its sign-up confirmation (the"
        " service's confirm_sign_ups); none when nobody joined",
    )


async def _writable(request: web.Request, word: str, *, joining: bool) -> Service:
    """The service named ``word``, if the caller may change its subscriptions."""
    service = await find_service(request.app[SERVICES].catalogue, word, field="service")
    if not request[PRINCIPAL].may_act_for(service.ministry):
        raise Forbidden(
            f"{service.keyword} belongs to the ministry {service.ministry};"
            " an officer acts on their own ministry's services",
            field="service",
        )
    if joining and not service.active:
        raise Conflict(f"{service.keyword} is not active", code="service_inactive", field="service")
    return service


async def subscribe(request: web.Request) -> web.Response:
    deps = request.app[SERVICES]
    body = await read_body(
        request, NewSubscription, region=deps.region, languages=deps.templates.languages,
        districts=deps.districts,
    )  # fmt: skip
    service = await _writable(request, body.service, joining=True)
    if deps.carrier_of(body.msisdn) is None:  # they could never be sent anything
        raise Invalid(importing.NO_ROUTE, code="no_route", field="msisdn")
    store = deps.subscriptions
    before = await store.subscriber(body.msisdn)
    joined = await store.join(
        body.msisdn,
        service.keyword,
        at=datetime.now(UTC),
        source=Source.ASSISTED,
        consent=body.consent_source,
        language=body.language,
        actor=request[PRINCIPAL].id,
        district=body.district,
    )
    if not joined and before is not None and before.opted_out_at is not None:
        raise Conflict(
            "this number asked for no messages (STOP); only its owner can lift that, by texting"
            " START",
            code="opted_out", field="msisdn",
        )  # fmt: skip
    after = await store.subscriber(body.msisdn)
    if joined and service.confirm_sign_ups:  # they learn who signed them up, how to leave
        await _confirm(deps, body.msisdn, service, after.language if after else None)
    _log.info("subscription_assisted", service=service.keyword, joined=joined)
    await deps.audit.audit(
        AuditEntry.by(request[PRINCIPAL], AuditAction.SUBSCRIBER_SIGNED_UP, body.msisdn,
                      at=datetime.now(UTC), service=service.keyword, joined=joined,
                      consent_source=body.consent_source)
    )  # fmt: skip
    answer = Subscribed(
        msisdn=body.msisdn,
        service=service.keyword,
        subscribed=joined,
        opt_out_lifted=False,
        language=after.language if after else None,
        district=after.district if after else None,
    )
    return json_response(answer, status=201 if joined else 200)


async def _confirm(deps: Services, msisdn: str, service: Service, language: str | None) -> None:
    text = _signed_up(deps, service, language or service.default_language)
    info = text_info(text)
    await deps.sender.create(msisdn, text, segments=info.segments, encoding=str(info.encoding))


def _signed_up(deps: Services, service: Service, language: str) -> str:
    """The confirmation a citizen signed up by an officer or an import gets: who, how to
    leave."""
    citizens = deps.citizen_settings
    return deps.templates.render(
        language, "signed_up", programme=citizens.programme, contact=citizens.contact,
        name=service.names.get(language) or service.names[service.default_language],
        keyword=service.keyword, ministry=service.ministry,
    )  # fmt: skip


def _languages(deps: Services, service: Service) -> list[str]:
    """The languages a confirmation can be written in for the service's subscribers (the
    others get the service's default language)."""
    known = set(deps.templates.languages)
    return sorted((set(service.names) | {service.default_language}) & known)


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
        actor=request[PRINCIPAL].id,
    )
    _log.info("unsubscription_assisted", service=service.keyword, left=left)
    await deps.audit.audit(
        AuditEntry.by(request[PRINCIPAL], AuditAction.SUBSCRIBER_REMOVED, body.msisdn,
                      at=datetime.now(UTC), service=service.keyword, left=left,
                      consent_source=body.consent_source)
    )  # fmt: skip
    return json_response(Left(msisdn=body.msisdn, service=service.keyword, left=left))


async def import_csv(request: web.Request) -> web.Response:
    """The body is read as it arrives and committed CHUNK_ROWS valid rows at a time
    (subscriptions.importing), so memory stays flat whatever the file's size (client_max_size
    only bounds bodies read whole; ``[http] import_max_bytes`` bounds this one once
    decompressed, ``import_max_rows`` its rows: 413 past them). An import cut short keeps the
    chunks already committed (sending the file again is harmless); however it ends, it is
    audited with its counts."""
    deps = request.app[SERVICES]
    limits = deps.http_settings
    query = ImportQuery.model_validate(dict(request.query))
    service = await _writable(request, query.service, joining=True)
    started, at = time.perf_counter(), datetime.now(UTC)

    async def join(rows: Sequence[Row]) -> ImportCounts:
        return await deps.subscriptions.join_many(
            [(number, language) for number, language, _ in rows], service.keyword, at=at,
            source=Source.IMPORT, consent=query.consent_source, actor=request[PRINCIPAL].id,
            districts={number: district for number, _, district in rows if district},
        )  # fmt: skip

    async def audit(outcome: str, imported: importing.Imported) -> ImportReport:
        confirmations = None  # those it joined are signed up even when it was cut short
        if imported.joined and service.confirm_sign_ups:
            texts = {lang: _signed_up(deps, service, lang) for lang in _languages(deps, service)}
            confirmations = await deps.broadcasts.confirm_import(
                request[PRINCIPAL], service, texts, joined_at=at
            )
        answer = ImportReport.model_validate(
            {"service": service.keyword, **asdict(imported), "confirmations": confirmations}
        )
        counts = answer.model_dump(exclude={"service", "rejected"})
        log = _log.info if outcome == "done" else _log.warning
        log("subscriptions_imported", service=service.keyword, outcome=outcome, **counts,
            duration_s=round(time.perf_counter() - started, 3))  # fmt: skip
        await deps.audit.audit(
            AuditEntry.by(request[PRINCIPAL], AuditAction.SUBSCRIBERS_IMPORTED, service.keyword,
                          at=at, consent_source=query.consent_source, outcome=outcome, **counts)
        )  # fmt: skip
        return answer

    try:
        imported = await importing.import_csv(
            _capped(request, limits.import_max_bytes),
            join,
            region=deps.region,
            languages=deps.templates.languages,
            routable=lambda number: deps.carrier_of(number) is not None,
            max_rows=limits.import_max_rows,
            districts=deps.districts,
        )
    except importing.CsvError as error:
        raise ApiError(400, "invalid", str(error), field="body") from None
    except importing.Stopped as stopped:
        cause = stopped.__cause__
        if isinstance(cause, ConnectionResetError):
            await audit("client_gone", stopped.so_far)
            raise cause from None  # nobody to answer (the error middleware counts a 499)
        if isinstance(cause, importing.RowLimitError | _BodyLimitError):
            await audit("too_large", stopped.so_far)
            raise ApiError(413, "too_large", str(cause), field="body") from None
        await audit("failed", stopped.so_far)
        raise cause or stopped from None
    return json_response(await audit("done", imported))


class _BodyLimitError(ValueError):
    """The body is over ``[http] import_max_bytes`` once decompressed."""


async def _capped(request: web.Request, limit: int) -> AsyncIterator[bytes]:
    """The body as it arrives (decompressed when sent gzipped), until ``limit`` bytes; a
    client that went is noticed between pieces (what it sent before is not read on)."""
    read = 0
    wait = request.app[SERVICES].http_settings.body_timeout_s
    while True:
        try:
            async with asyncio.timeout(wait):  # a client that stalls holds no import open
                data = await request.content.readany()
        except TimeoutError:
            raise ConnectionResetError(f"no part of the file came in {wait:g} s") from None
        if not data:
            return
        transport = request.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("the client went")
        read += len(data)
        if read > limit:
            raise _BodyLimitError(f"the file is over {limit} bytes (once decompressed)")
        yield data


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
