"""The settings tree: ``config.toml`` read with tomllib into frozen pydantic models.

Each component receives only its own sub-model. Relative paths (``gateway.data_dir``, the SQLite
file of ``database.url``) are resolved against the folder of the configuration file, so the
gateway behaves the same whatever the working directory.
"""

from __future__ import annotations

import json
import socket
import tomllib
from datetime import date, time, timedelta
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from channels.simulator.config import SimulatorConfig
from channels.smpp.config import SmppChannelConfig
from smsgw.alerts.cap import CATEGORIES
from smsgw.alerts.signature import read_certificate
from smsgw.errors import ConfigError
from subscriptions.districts import District, Districts
from subscriptions.words import normalise

_SQLITE = "sqlite:///"
_POSTGRES = ("postgresql://", "postgres://")


def _base_dir(info: ValidationInfo) -> Path:
    context = info.context or {}
    return Path(context.get("base_dir", "."))


class _Section(BaseModel):
    # validate_default: defaults go through the validators too (relative paths get resolved);
    # TOML's inf and nan pass ge/gt bounds (an infinite cost, a window that never ends)
    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_default=True, allow_inf_nan=False
    )


class GatewayConfig(_Section):
    short_code: str = Field(
        min_length=1, max_length=15, description="source address of replies and broadcasts"
    )
    default_region: str = Field(
        default="BZ", description="ISO 3166 region for normalising local numbers to E.164"
    )
    timezone: str = Field(default="UTC", description="IANA time zone for schedules and reports")
    data_dir: Path = Field(default=Path("data"), description="relative to the config file")
    shutdown_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="on SIGTERM, wait at most this long for answers to what is in flight; "
        "then unbind and exit (broadcast messages left are sent after the restart)",
    )

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region {value!r}, expected e.g. 'BZ'")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            message = f"unknown time zone {value!r}, expected e.g. 'America/Belize'"
            raise ValueError(message) from None
        return value

    @field_validator("data_dir", mode="before")
    @classmethod
    def _default_as_text(cls, value: object) -> object:
        # the default is a Path, which the strict JSON validation (parse) takes for a
        # non-string: a config without data_dir was refused
        return str(value) if isinstance(value, Path) else value

    @field_validator("data_dir")
    @classmethod
    def _resolve_data_dir(cls, value: Path, info: ValidationInfo) -> Path:
        return (_base_dir(info) / value).resolve()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class HttpConfig(_Section):
    host: str = Field(default="127.0.0.1", description="address the API listens on")
    port: int = Field(default=8080, ge=0, le=65535, description="0: any free port")
    failed_auth_limit: int = Field(
        default=10, ge=1, description="failed authentications per address and window, then 429"
    )
    failed_auth_window_s: float = Field(default=60.0, gt=0, description="of failed_auth_limit")
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = Field(
        default=(),
        description="addresses or networks of reverse proxies whose X-Forwarded-For is believed",
    )
    import_max_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1, description="a CSV import's body once decompressed"
    )
    import_max_rows: int = Field(default=1_000_000, ge=1, description="a CSV import's rows")
    idle_timeout_s: float = Field(
        default=15.0, gt=0, le=3600, description="a kept-alive connection with no request"
    )
    body_timeout_s: float = Field(
        default=30.0, gt=0, le=3600, description="to send a JSON body, or each piece of an import"
    )
    daily_messages_per_token: int = Field(
        default=10_000, ge=1, description="POST /api/v1/messages per token and day, then 429"
    )
    session_idle_minutes: float = Field(
        default=30, gt=0, le=24 * 60, description="a console session unused this long ends"
    )
    session_hours: float = Field(
        default=12, gt=0, le=24 * 31, description="a console session ends this long after log-in"
    )
    password_hash_memory_kib: int = Field(
        default=65536,  # argon2-cffi's default (RFC 9106's second recommendation)
        ge=64,
        le=4 * 1024 * 1024,
        description="argon2id memory per password hash; lower only for tests (a stored hash"
        " keeps its own and is redone at the next log-in)",
    )


class DatabaseConfig(_Section):
    url: str = Field(
        default="sqlite:///data/smsgw.db",
        description="sqlite:///relative/path (to the config file), sqlite:////absolute/path,"
        " or postgresql://user@host:port/database (several gateways on one database)",
    )

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str, info: ValidationInfo) -> str:
        if value.startswith(_POSTGRES):
            host = value.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
            if not host or "/" not in value.split("://", 1)[1].rstrip("/"):
                raise ValueError("expected postgresql://user@host:port/database")
            return value
        if not value.startswith(_SQLITE) or value == _SQLITE:
            raise ValueError(
                "expected sqlite:///path/to/file.db or postgresql://user@host:port/database"
            )
        return _SQLITE + str((_base_dir(info) / value.removeprefix(_SQLITE)).resolve())

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith(_POSTGRES)

    @property
    def sqlite_path(self) -> Path:
        if self.is_postgres:
            raise ConfigError("database.url is PostgreSQL: there is no SQLite file")
        return Path(self.url.removeprefix(_SQLITE))

    @property
    def where(self) -> str:
        """The URL without its password, for messages and logs."""
        if not self.is_postgres:
            return self.url
        scheme, rest = self.url.split("://", 1)
        userinfo, at, host = rest.rpartition("@")
        return f"{scheme}://{userinfo.split(':', 1)[0]}{at}{host}"


class CitizensConfig(_Section):
    """How the gateway answers citizens who text the short code."""

    programme: str = Field(
        default="Government Info SMS",
        min_length=1,
        max_length=30,
        description="the programme's name in replies (HELP names it)",
    )
    contact: str = Field(
        default="your ministry",
        min_length=1,
        max_length=30,
        description="where citizens get help (HELP gives it): a phone number or office",
    )
    reply_limit: int = Field(
        default=5, ge=1, description="replies to one number per reply window, at most"
    )
    reply_window_s: float = Field(default=600.0, gt=0, description="the reply limit's window")
    daily_reply_limit: int = Field(
        default=20, ge=1, description="replies to one number in 24 hours, at most (auto-responders)"
    )
    duplicate_window_s: float = Field(
        default=120.0, ge=0, description="the same text from one number within it counts once"
    )
    templates_dir: Path | None = Field(
        default=None,
        description="folder of the reply texts (one <language>.toml each), relative to the "
        "config file; unset: the templates/ shipped with smsgw",
    )

    @field_validator("templates_dir")
    @classmethod
    def _resolve_templates_dir(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else (_base_dir(info) / value).resolve()


class BroadcastsConfig(_Section):
    """Officers' broadcasts: limits, cost, validity, quiet hours."""

    max_segments: int = Field(
        default=6, ge=1, le=255, description="a broadcast text longer than this many SMS is refused"
    )
    cost_per_segment: float = Field(
        default=0.0, ge=0, description="what one SMS costs (the estimate shown before sending)"
    )
    currency: str = Field(default="BZD", max_length=8, description="of cost_per_segment")
    normal_valid_for_minutes: int = Field(
        default=1440, ge=1, description="default validity of a routine broadcast"
    )
    emergency_valid_for_minutes: int = Field(
        default=120,
        ge=1,
        description="default validity of an emergency alert (stale alerts "
        "expire rather than arrive hours late)",
    )
    quiet_hours: tuple[time, time] | None = Field(
        default=None,
        description='["21:00", "07:00"]: routine broadcasts wait out these local hours '
        "(gateway.timezone); emergency ones do not",
    )
    queue_ahead_s: float = Field(
        default=0.5,
        gt=0,
        le=10,
        description="seconds of each bind's rate handed to it ahead "
        "(an emergency overtakes routine messages already handed, within about this)",
    )


class CannedAnswerConfig(_Section):
    ministry: str = Field(min_length=1, max_length=64, description="whose officers see it")
    language: str = Field(min_length=2, max_length=8, description="of the text")
    title: str = Field(min_length=1, max_length=80)
    text: str = Field(min_length=1, max_length=1000)


class InboxConfig(_Section):
    """Citizens' questions (ASK HEALTH ...), replies to broadcasts, and poll answers."""

    reply_window_h: float = Field(
        default=24.0, ge=0, description="a text that is no command, from a number a broadcast "
        "reached this many hours ago at most, goes to its service's inbox (0: never)",
    )  # fmt: skip
    texts_per_hour: int = Field(
        default=10, ge=1, description="questions and replies taken from one number per hour; "
        "past it, one reply says so",
    )  # fmt: skip
    first_answer_h: float = Field(
        default=48.0, gt=0, description="target for a question's first answer (overdue after)"
    )
    service_first_answer_h: dict[str, float] = Field(
        default_factory=dict, description="per service keyword: its own target, in hours"
    )
    thank_poll_answers: bool = Field(
        default=True, description="a counted poll answer gets a thank-you SMS"
    )
    canned: tuple[CannedAnswerConfig, ...] = Field(
        default=(), description="answers officers may start from, per ministry and language"
    )

    @field_validator("service_first_answer_h")
    @classmethod
    def _targets(cls, value: dict[str, float]) -> dict[str, float]:
        for keyword, hours in value.items():
            if not hours > 0:
                raise ValueError(f"{keyword}: hours must be above 0")
        return {keyword.strip().upper(): hours for keyword, hours in value.items()}

    def first_answer(self, service: str) -> timedelta:
        return timedelta(hours=self.service_first_answer_h.get(service, self.first_answer_h))


class RetentionConfig(_Section):
    """How long what was sent and received is kept (consent records and the audit log are
    kept for good: they are the proof)."""

    messages_days: int = Field(
        default=180,
        ge=1,
        description="single messages (POST /messages, replies), their segments and receipt events",
    )
    inbound_days: int = Field(
        default=180,
        ge=1,
        description="citizens' texts once handled; the inbox's tickets no longer waiting for an"
        " answer (after their last change); poll answers' numbers (after the poll closed)",
    )
    outbox_days: int = Field(
        default=90,
        ge=1,
        description="a broadcast's per-recipient rows after it finished (its totals are kept)",
    )
    unmatched_receipts_minutes: int = Field(
        default=10,
        ge=1,
        description="a receipt whose submit response never came is dropped (logged) after it",
    )


class CallbacksConfig(_Section):
    """Status callbacks to integrators (a message's callback_url)."""

    timeout_s: float = Field(default=10.0, gt=0, le=120, description="for the receiver's answer")
    first_retry_s: float = Field(
        default=5.0, gt=0, le=3600, description="after a failed POST; doubling up to 10 minutes"
    )
    give_up_hours: float = Field(default=24.0, gt=0, le=720, description="then it is abandoned")


Targets = tuple[Annotated[int, Field(ge=0)], ...]


class KpisConfig(_Section):
    """The programme's yearly targets, shown beside its KPIs (GET /api/v1/kpis)."""

    programme_start: date = Field(
        default=date(2026, 1, 1),
        description="first day of programme year 1 (a year: twelve months from it, read in "
        "gateway.timezone)",
    )
    services: Targets = Field(
        default=(10, 25, 40),
        description="active services, by programme year; past the list, its last value",
    )
    subscribers: Targets = Field(
        default=(25_000, 40_000, 50_000, 75_000),
        description="numbers subscribed (no global STOP), by programme year",
    )
    broadcasts: Targets = Field(
        default=(100, 300, 500, 700),
        description="broadcasts sent in each programme year",
    )

    @field_validator("services", "subscribers", "broadcasts")
    @classmethod
    def _some_target(cls, value: Targets) -> Targets:
        # checked here rather than with min_length, which also fires when an item is invalid
        if not value:
            raise ValueError("at least one yearly target is needed")
        return value


class OperatorConfig(_Section):
    """The operator's charts (GET /api/v1/operator/history): each gateway samples its binds'
    throughput and the outbox queue depth into a ring of fixed size (constant memory)."""

    history_every_s: float = Field(default=10.0, gt=0, le=600, description="between samples")
    history_points: int = Field(
        default=360, ge=2, le=10_000, description="samples kept (360 every 10 s: the last hour)"
    )


class AlertRouteConfig(_Section):
    """Which service a CAP alert goes to: the first route whose every given key matches the
    alert (case-insensitive), e.g. event "Hurricane Warning" -> HURRICANE."""

    event: str | None = Field(default=None, min_length=1, description="the CAP info/event")
    sender: str | None = Field(default=None, min_length=1, description="the CAP alert/sender")
    category: str | None = Field(default=None, description="a CAP info/category, e.g. Met")
    service: str = Field(min_length=1, description="the keyword of the service it goes to")

    @field_validator("category")
    @classmethod
    def _category(cls, value: str | None) -> str | None:
        if value is not None and value not in CATEGORIES:
            raise ValueError(f"not a CAP category: one of {', '.join(sorted(CATEGORIES))}")
        return value

    @field_validator("service")
    @classmethod
    def _keyword(cls, value: str) -> str:
        return value.upper()

    @model_validator(mode="after")
    def _matches_something(self) -> AlertRouteConfig:
        if self.event is None and self.sender is None and self.category is None:
            raise ValueError("a route needs at least one of event, sender, category")
        return self


class AlertFeedConfig(_Section):
    """An alerting authority's feed, polled: an Atom or RSS feed of CAP alerts, or one CAP
    alert's URL. Each new alert is taken once (its CAP key is remembered in the database)."""

    url: str = Field(pattern=r"^https?://[^/\s]+", description="the feed's (or a CAP's) URL")
    name: str | None = Field(
        default=None, pattern=r"^[a-z0-9][a-z0-9_.-]{0,59}$",
        description="who it is in the records (feed:<name>); default: the URL's host",
    )  # fmt: skip
    every_s: float = Field(default=60, gt=0, le=86_400, description="seconds between polls")
    timeout_s: float = Field(default=10, gt=0, le=300, description="for each request")

    @property
    def label(self) -> str:
        return self.name or (urlsplit(self.url).hostname or self.url)


class AlertsConfig(_Section):
    """CAP 1.2 alerts from the alerting authorities (POST /api/v1/alerts)."""

    require_signature: bool = Field(
        default=False, description="a CAP alert must carry a valid XML signature of an authority"
    )
    certificates: tuple[Path, ...] = Field(
        default=(),
        description="the authorities' X.509 certificates (PEM files, relative to the config"
        " file): a signature must verify against one of them",
    )
    max_segments: int = Field(
        default=3, ge=1, le=10, description="an alert's text is cut to fit this many SMS"
    )
    exercise_numbers: tuple[str, ...] = Field(
        default=(), description="E.164 numbers that get Exercise alerts (the exercise list)"
    )
    cancel_notice: bool = Field(
        default=False,
        description="a CAP Cancel sends a short notice to those the cancelled alert reached",
    )
    routes: tuple[AlertRouteConfig, ...] = Field(
        default=(), description="[[alerts.routes]]: which service each alert goes to"
    )
    feeds: tuple[AlertFeedConfig, ...] = Field(
        default=(), description="[[alerts.feeds]]: authorities' feeds of CAP alerts to poll"
    )

    @field_validator("certificates")
    @classmethod
    def _certificates(cls, value: tuple[Path, ...], info: ValidationInfo) -> tuple[Path, ...]:
        paths = tuple((_base_dir(info) / path).resolve() for path in value)
        for path in paths:
            read_certificate(path)  # ValueError naming the file
        return paths

    @model_validator(mode="after")
    def _signed_by_someone(self) -> AlertsConfig:
        if self.require_signature and not self.certificates:
            raise ValueError("require_signature needs the authorities' certificates")
        return self

    @field_validator("feeds")
    @classmethod
    def _feed_names(cls, value: tuple[AlertFeedConfig, ...]) -> tuple[AlertFeedConfig, ...]:
        names = [feed.label for feed in value]
        if len(set(names)) != len(names):
            raise ValueError("two feeds have one name (give each a name)")
        return value

    @field_validator("exercise_numbers")
    @classmethod
    def _e164(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for number in value:
            try:
                parsed = phonenumbers.parse(number, None)
            except phonenumbers.NumberParseException:
                parsed = None
            if parsed is None or not phonenumbers.is_valid_number(parsed):
                raise ValueError(f"{number!r} is not a valid number in E.164 (+501...)")
        e164 = phonenumbers.PhoneNumberFormat.E164
        return tuple(
            dict.fromkeys(
                phonenumbers.format_number(phonenumbers.parse(n, None), e164) for n in value
            )
        )


class ClusterConfig(_Section):
    """Several gateways on one PostgreSQL database: each bind is held by one at a time."""

    instance: str = Field(
        default_factory=socket.gethostname,
        min_length=1,
        max_length=63,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="this gateway's name among those sharing the database (default: host name)",
    )
    lease_s: float = Field(
        default=15.0,
        ge=3.0,
        le=300.0,
        description="a dead gateway's binds are taken over within this; a gateway that cannot"
        " renew its leases stops sending before they can pass to another",
    )
    balance: bool = Field(
        default=True,
        description="spread the binds over the gateways alive (each holds its share, one"
        " started later gets its share handed over); false: the first holds every bind and the"
        " others stand by",
    )


# Belize's six districts, the towns people name them by, and their ISO 3166-2 codes
_BELIZE_NAMES = ("Corozal", "Orange Walk", "Belize", "Cayo", "Stann Creek", "Toledo")
_BELIZE_ALIASES = {"Belize": ("Belize City",), "Cayo": ("San Ignacio", "Belmopan"),
                   "Stann Creek": ("Dangriga",), "Toledo": ("Punta Gorda", "PG")}  # fmt: skip
_BELIZE_GEOCODES = {
    "Corozal": ("BZ-CZL",), "Orange Walk": ("BZ-OW",), "Belize": ("BZ-BZ",), "Cayo": ("BZ-CY",),
    "Stann Creek": ("BZ-SC",), "Toledo": ("BZ-TOL",),
}  # fmt: skip


class DistrictsConfig(_Section):
    """The country's districts: JOIN HURRICANE TOLEDO sets a subscriber's; a CAP area or an
    officer's broadcast may name some. Without ``names``: Belize's six, with their aliases
    and geocodes."""

    names: tuple[str, ...] = Field(default=_BELIZE_NAMES, description="as shown: Stann Creek")
    aliases: dict[str, tuple[str, ...]] | None = Field(
        default=None, description="district → other names citizens text (default: Belize's)"
    )
    geocodes: dict[str, tuple[str, ...]] | None = Field(
        default=None,
        description="district → CAP area geocode values that mean it, e.g. BZ-SC (ISO 3166-2;"
        " default: Belize's)",
    )

    @field_validator("names")
    @classmethod
    def _plain_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if "," in name:  # lists of districts are comma-separated (the outbox's SQL, CSV)
                raise ValueError(f"{name!r}: a district's name has no comma")
        return tuple(name.strip() for name in value)

    @model_validator(mode="after")
    def _one_name_one_district(self) -> DistrictsConfig:
        for table, given in (("aliases", self.aliases), ("geocodes", self.geocodes)):
            unknown = sorted(set(given or {}) - set(self.names))
            if unknown:
                raise ValueError(f"{table}: {', '.join(unknown)} is not one of the names")
        seen: dict[str, str] = {}
        for district in self.index().districts:
            for word in (district.name, *district.aliases):
                key = normalise(word)
                if not key:
                    raise ValueError(f"{word!r} has no letters or digits")
                if seen.setdefault(key, district.name) != district.name:
                    raise ValueError(f"{word!r} names both {seen[key]} and {district.name}")
        return self

    def index(self) -> Districts:
        belize = self.names == _BELIZE_NAMES  # then Belize's aliases and codes unless given
        aliases = self.aliases if self.aliases is not None else _BELIZE_ALIASES if belize else {}
        codes = self.geocodes if self.geocodes is not None else _BELIZE_GEOCODES if belize else {}
        return Districts(
            District(name, aliases.get(name, ()), codes.get(name, ())) for name in self.names
        )


class Settings(_Section):
    gateway: GatewayConfig
    # empty tables by default, validated like given ones (so the database path gets resolved)
    http: HttpConfig = Field(default_factory=dict)  # type: ignore[assignment]
    database: DatabaseConfig = Field(default_factory=dict)  # type: ignore[assignment]
    channels: tuple[SmppChannelConfig, ...]
    citizens: CitizensConfig = Field(default_factory=dict)  # type: ignore[assignment]
    broadcasts: BroadcastsConfig = Field(default_factory=dict)  # type: ignore[assignment]
    kpis: KpisConfig = Field(default_factory=dict)  # type: ignore[assignment]
    operator: OperatorConfig = Field(default_factory=dict)  # type: ignore[assignment]
    retention: RetentionConfig = Field(default_factory=dict)  # type: ignore[assignment]
    callbacks: CallbacksConfig = Field(default_factory=dict)  # type: ignore[assignment]
    cluster: ClusterConfig = Field(default_factory=dict)  # type: ignore[assignment]
    alerts: AlertsConfig = Field(default_factory=dict)  # type: ignore[assignment]
    districts: DistrictsConfig = Field(default_factory=dict)  # type: ignore[assignment]
    inbox: InboxConfig = Field(default_factory=dict)  # type: ignore[assignment]
    simulator: SimulatorConfig | None = None  # the built-in SMSC simulator (demo, tests)

    def district_index(self) -> Districts:
        return self.districts.index()

    @field_validator("channels")
    @classmethod
    def _unique_names(cls, value: tuple[SmppChannelConfig, ...]) -> tuple[SmppChannelConfig, ...]:
        # checked here rather than with min_length, which also fires when an item is invalid
        if not value:
            raise ValueError("at least one [[channels]] table is needed")
        names = [channel.name for channel in value]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"channel names must be unique, repeated: {', '.join(duplicates)}")
        return value


def parse(data: dict[str, Any], *, base_dir: Path, source: str = "config") -> Settings:
    """Validate an already-read TOML document; ``source`` prefixes the error messages.

    Strictly, as JSON: TOML has types, so ``port = "8080"`` or ``port = true`` is a mistake to
    name, not a value to coerce (lax pydantic reads true as 1); JSON's strict mode still reads
    strings as paths, times and dates, and arrays as tuples."""
    document = json.dumps(data, default=_iso)
    try:
        return Settings.model_validate_json(document, strict=True, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise ConfigError(describe(exc, source)) from None


def _iso(value: object) -> str:
    """TOML's dates and times, as the strings pydantic reads in JSON."""
    if isinstance(value, date | time):  # a datetime is a date too
        return value.isoformat()
    raise TypeError(f"not a TOML value: {value!r}")


def load(path: Path | str, *, base_dir: Path | None = None) -> Settings:
    """Read and check ``path``; any problem is a :class:`ConfigError` naming the key. Relative
    paths in it are read from its folder, or from ``base_dir``."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return parse(data, base_dir=base_dir or path.resolve().parent, source=str(path))


def secrets_exposed(path: Path | str, settings: Settings) -> bool:
    """True when the file holds a password in clear and others than its owner may read it."""
    inline = any(c.password is not None and c.password_env is None for c in settings.channels)
    return inline and Path(path).stat().st_mode & 0o077 != 0


def describe(exc: ValidationError, source: str) -> str:
    """One line per problem: "config.toml: channels[0].tps: Input should be …"."""
    return "\n".join(_describe(source, error) for error in exc.errors())


def _describe(source: str, error: Any) -> str:
    where = _key_path(error["loc"])
    if error["type"] == "extra_forbidden":
        problem = "unknown key"
    elif error["type"] == "missing":
        problem = "missing key"
    else:
        problem = str(error["msg"]).removeprefix("Value error, ")
    return f"{source}: {where}: {problem}" if where else f"{source}: {problem}"


def _key_path(loc: tuple[int | str, ...]) -> str:
    """('channels', 0, 'tps') -> 'channels[0].tps'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out
