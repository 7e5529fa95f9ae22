"""Structured logging: one JSON object per line, with phone numbers and secrets masked.

Call :func:`configure` once at start-up. Everything the gateway logs goes through
:func:`mask_sensitive`, so a number or a password never reaches the log files in clear.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

# keys whose value is a phone number (or an address that may be one)
NUMBER_KEYS = frozenset(
    {"to", "from", "sender", "msisdn", "number", "destination", "recipient", "source"}
)
# keys whose value is a secret: hidden entirely
SECRET_KEYS = frozenset({"password", "token", "secret", "authorization"})
_SECRET_SUFFIXES = ("_password", "_token", "_secret")
# keys whose digit runs are identifiers, not numbers
_ID_KEYS = frozenset({"id", "carrier_id", "message_id", "sms_id", "request_id"})
_NUMBER_RUN = re.compile(r"(?<!\d)\+?\d{7,15}(?!\d)")
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


def configure(level: str = "info", stream: TextIO | None = None) -> None:
    """JSON lines on ``stream`` (stderr by default), events below ``level`` dropped."""
    structlog.configure(
        processors=[*processors(), structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.WriteLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=True,
    )
