"""Errors as JSON: ``{"error": {"code", "message", "field"}}`` with the right status.

The error middleware is the only place where domain errors (smsgw.errors.Refused and its
kinds) become HTTP statuses. Anything
unexpected is logged with its traceback and answered with a bare 500: nothing internal leaks.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Mapping

import structlog
from aiohttp import web
from pydantic import BaseModel, ValidationError

from smsgw.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    Refused,
    StorageUnavailable,
    Unprocessable,
)
from smsgw.ids import new_id

_log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    """An error answer decided by a handler or a middleware."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = dict(headers or {})


def error_response(error: ApiError) -> web.Response:
    body = ErrorBody(error=ErrorDetail(code=error.code, message=error.message, field=error.field))
    return web.json_response(
        body.model_dump(mode="json"), status=error.status, headers=error.headers
    )


def validation_error(exc: ValidationError) -> ApiError:
    """The first problem of a pydantic error, naming the field ("to", "texts.en")."""
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or None
    message = str(first["msg"]).removeprefix("Value error, ")
    return ApiError(400, "invalid", message, field=field)


def _from_http(exc: web.HTTPException) -> ApiError:
    code = exc.reason.lower().replace(" ", "_")
    headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
    return ApiError(exc.status, code, exc.reason, headers=headers)


CLIENT_GONE = 499  # nginx's "client closed request": counted apart from server errors
_STATUS: dict[type[Refused], int] = {
    Invalid: 400,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Unprocessable: 422,
}


def _status(error: Refused) -> int:
    return next((status for kind, status in _STATUS.items() if isinstance(error, kind)), 400)


_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The root of every request: a request id on its log lines (the caller's X-Request-Id
    when it is a sane one, so a proxy's id follows the request), errors as JSON, one log line."""
    given = request.headers.get("X-Request-Id", "")
    request_id = given if _REQUEST_ID.fullmatch(given) else new_id()[:16]
    with structlog.contextvars.bound_contextvars(request_id=request_id):
        response = await _answer(request, handler)
    if not response.prepared:  # a streamed answer has sent its headers already
        response.headers["X-Request-Id"] = request_id
    return response


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error_response(_from_http(exc))
    except ApiError as exc:
        response = error_response(exc)
    except ValidationError as exc:
        response = error_response(validation_error(exc))
    except Refused as exc:
        response = error_response(ApiError(_status(exc), exc.code, exc.message, field=exc.field))
    except ConnectionResetError:  # the client left mid-body: nobody to answer, not our fault
        _log.info("request_abandoned", method=request.method, path=_logged_path(request))
        response = error_response(ApiError(CLIENT_GONE, "client_gone", "the client went"))
    except StorageUnavailable as exc:
        _log.warning("request_refused_storage", method=request.method, error=str(exc))
        message = f"the database cannot be written now ({exc}); nothing was stored, try again"
        retry = {"Retry-After": "10"}
        response = error_response(ApiError(503, "storage_unavailable", message, headers=retry))
    except Exception:  # noqa: BLE001  # the root of every request: log, answer 500, go on
        _log.exception("request_failed", method=request.method, path=_logged_path(request))
        response = error_response(ApiError(500, "internal_error", "internal server error"))
    # probes poll /healthz every few seconds: keep them out of the info log
    log = _log.debug if request.path == "/healthz" else _log.info
    log(
        "request_handled",
        method=request.method,
        path=_logged_path(request),
        status=response.status,
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
    )
    return response


def _logged_path(request: web.Request) -> str:
    """The path, or its route's template where it holds a number (a look-up's, in any form a
    person typed it: "601 2345" escapes the logs' masking of digit runs)."""
    if "msisdn" in request.match_info:
        resource = request.match_info.route.resource
        if resource is not None:
            return resource.canonical
    return request.path
