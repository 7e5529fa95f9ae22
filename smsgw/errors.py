"""The gateway's error tree.

::

    GatewayError
    ├── ConfigError            bad config.toml: names the key (start-up only, exit 2)
    ├── Refused(code, field)   a use case says no; the API answers its status, code and field
    │   ├── Invalid            400: the request itself is wrong ("invalid", "too_long")
    │   ├── Forbidden          403: not this caller's to do (another ministry's, own approval)
    │   ├── NotFound           404
    │   ├── Conflict           409: does not fit the current state ("conflict",
    │                          "service_inactive")
    │   └── Unprocessable      422: well formed, not to act on (a CAP Draft)
    └── StorageUnavailable     the database cannot be written now (disk full, locked): 503

    channels.base.SendError(code)          raised by carrier transports, e.g. "ESME_RINVDSTADR"
    ├── TemporarySendError                 retry with back-off: throttled, queue full, link down
    │   └── UnknownOutcome                 in flight when the link dropped: sent again (a
    │                                      duplicate bounded by the window)
    └── PermanentSendError                 fail the message: bad number, no route, rejected

The send errors belong to the transport contract (``channels`` never imports ``smsgw``), so they
live in :mod:`channels.base` and are re-exported here for the application's convenience.
Core code raises these domain errors; only the API's error middleware maps them to HTTP.
"""

from __future__ import annotations

from channels.base import PermanentSendError, SendError, TemporarySendError, UnknownOutcome

__all__ = [
    "ConfigError",
    "Conflict",
    "Forbidden",
    "GatewayError",
    "Invalid",
    "NotFound",
    "PermanentSendError",
    "Refused",
    "SendError",
    "StorageUnavailable",
    "TemporarySendError",
    "UnknownOutcome",
    "Unprocessable",
]


class GatewayError(Exception):
    """Base of the application's own errors."""


class ConfigError(GatewayError):
    """The configuration cannot be used; the message names the file, the key and the problem."""


class Refused(GatewayError):  # noqa: N818 - an outcome the caller is told, not a fault
    """A use case refuses the request: ``code`` says why in a word, ``field`` names the part of
    the request at fault (None: the request as a whole)."""

    code = "refused"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or type(self).code
        self.field = field


class Invalid(Refused):
    """The request itself is wrong (a bad value, a text too long)."""

    code = "invalid"


class Forbidden(Refused):
    """The caller may not do this (another ministry's service, their own approval)."""

    code = "forbidden"


class NotFound(Refused):
    """The thing asked for does not exist."""

    code = "not_found"


class Conflict(Refused):
    """The request does not fit the current state of the thing it acts on."""

    code = "conflict"


class Unprocessable(Refused):
    """Well formed, but not something the gateway acts on (a CAP Draft)."""

    code = "unprocessable"


class StorageUnavailable(GatewayError):  # noqa: N818 - the names STYLE.md B5 gives
    """The database cannot be written for a reason that passes (disk full, locked by another
    process, an I/O error): nothing of the operation was stored; try again later."""
