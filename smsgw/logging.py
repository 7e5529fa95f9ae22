"""Structured logging: one JSON object per line, with phone numbers and secrets masked.

Call :func:`configure` once at start-up. Everything the gateway logs goes through
:func:`mask_sensitive`, so a number or a password never reaches the log files in clear; the
standard library's loggers (aiohttp, asyncio) are routed through the same chain, and a
malformed HTTP request is logged as one line without its head (which may hold a token).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog
from aiohttp.http_exceptions import HttpProcessingError

# keys whose value is a phone number (or an address that may be one)
NUMBER_KEYS = frozenset(
    {"to", "from", "sender", "msisdn", "number", "destination", "recipient", "source"}
)
# keys whose value is a secret: hidden entirely
SECRET_KEYS = frozenset({"password", "token", "secret", "authorization"})
_SECRET_SUFFIXES = ("_password", "_token", "_secret")
# keys whose digit runs are identifiers, not numbers
_ID_KEYS = frozenset({"id", "carrier_id", "message_id", "sms_id", "request_id"})
# a run of digits standing alone ("+5016012345", "to=%2B5016012345"), not one inside a word or
# a hex id ("41059270f0")
_NUMBER_RUN = re.compile(r"(?:(?<=%2B)|(?<=%2b)|(?<![0-9A-Za-z_]))\+?\d{7,15}(?![0-9A-Za-z_])")
# an API token, or what follows "Bearer", wherever it shows (a request head, a traceback)
_TOKEN_TEXT = re.compile(r"smsgw_[A-Za-z0-9_-]+|(?i:bearer)\s+[^\s'\"]+")
_HIDDEN = "***"


def mask_number(number: str) -> str:
    """'+5016012345' -> '+50160****45': the first 5 and last 2 digits stay, at least 3 go."""
    plus = "+" if number.startswith("+") else ""
    digits = number.removeprefix("+")
    if not digits.isdigit() or len(digits) < 7:  # short codes and sender names are not private
        return number
    head = max(0, min(5, len(digits) - 5))
    return f"{plus}{digits[:head]}****{digits[-2:]}"


def _mask_text(text: str) -> str:
    text = _TOKEN_TEXT.sub(_HIDDEN, text)
    return _NUMBER_RUN.sub(lambda match: mask_number(match.group()), text)


def _mask_value(key: str, value: Any) -> Any:
    if key in SECRET_KEYS or key.endswith(_SECRET_SUFFIXES):
        return _HIDDEN
    if isinstance(value, str):
        if key in NUMBER_KEYS and value.removeprefix("+").isdigit():
            return mask_number(value)
        return value if key in _ID_KEYS else _mask_text(value)
    if isinstance(value, dict):
        return {k: _mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_value(key, item) for item in value]
    return value


def mask_sensitive(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: masks numbers (by key and inside any text) and secrets."""
    for key, value in event_dict.items():
        event_dict[key] = _mask_value(key, value)
    return event_dict


def processors() -> list[Any]:
    """The processor chain before rendering (tests render with their own final step)."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        mask_sensitive,  # after format_exc_info, so numbers inside tracebacks are masked too
    ]


def malformed_request(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A request aiohttp could not parse: one line naming the error, without the traceback
    or the exception's text (both hold the raw request head, tokens and numbers included)."""
    exc_info = event_dict.get("exc_info")
    error = exc_info[1] if isinstance(exc_info, tuple) else exc_info
    if isinstance(error, HttpProcessingError):
        event_dict.pop("exc_info")
        event_dict["event"] = "http_request_malformed"
        event_dict["error"] = type(error).__name__
        event_dict["status"] = error.code
        event_dict["client_error"] = True  # the client's fault: logged as a warning
    return event_dict


def _as_warning(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    if event_dict.pop("client_error", False):
        event_dict["level"] = "warning"
    return event_dict


def configure(level: str = "info", stream: TextIO | None = None) -> None:
    """JSON lines on ``stream`` (stderr by default), events below ``level`` dropped; the
    standard library's loggers go the same way."""
    out = stream or sys.stderr
    threshold = logging.getLevelNamesMapping()[level.upper()]
    structlog.configure(
        processors=[*processors(), structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=structlog.WriteLoggerFactory(file=out),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_logger_name,
                malformed_request,
                *processors(),
                _as_warning,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(threshold)
