"""The gateway's error tree.

::

    GatewayError
    ├── ConfigError            bad config.toml: names the key (start-up only, exit 2)
    ├── NotFound               the API maps it to 404
    ├── Conflict               the API maps it to 409 (e.g. cancelling what is already sent)
    └── StorageUnavailable     the database cannot be written now (disk full, locked): 503

    channels.base.SendError(code)          raised by carrier transports, e.g. "ESME_RINVDSTADR"
    ├── TemporarySendError                 retry with back-off: throttled, queue full, link down
    │   └── UnknownOutcome                 in flight when the link dropped: never resent
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
    "GatewayError",
    "NotFound",
    "PermanentSendError",
    "SendError",
    "StorageUnavailable",
    "TemporarySendError",
    "UnknownOutcome",
]


class GatewayError(Exception):
    """Base of the application's own errors."""


class ConfigError(GatewayError):
    """The configuration cannot be used; the message names the file, the key and the problem."""


class NotFound(GatewayError):  # noqa: N818  # the names STYLE.md B5 gives
    """The thing asked for does not exist."""


class Conflict(GatewayError):  # noqa: N818
    """The request does not fit the current state of the thing it acts on."""


class StorageUnavailable(GatewayError):  # noqa: N818
    """The database cannot be written for a reason that passes (disk full, locked by another
    process, an I/O error): nothing of the operation was stored; try again later."""
