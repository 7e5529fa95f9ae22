"""What a simulator drill sends, to whom and on which binds: the carriers chosen from the
config, an audience of synthetic numbers spread evenly over them (each made from one of its
carrier's prefixes, so the gateway's own routing sends it there), and the settings of the
throwaway gateway that runs it: the config's binds, each pointed at its simulated SMSC."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import phonenumbers

from channels.routing import Router
from smsgw.config import AlertRouteConfig, DatabaseConfig, Settings
from smsgw.errors import ConfigError

SERVICE = "DRILL"  # the throwaway database's one service, which the drill's alert is routed to
EVENT = "Hurricane Warning"  # the drill alert's CAP event (routed to SERVICE)
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Bind:
    """One [[channels]] bind as the drill reads it."""

    name: str
    carrier: str
    tps: int  # contracted submits per second; 0: no cap


@dataclass(frozen=True, slots=True)
class Plan:
    binds: tuple[Bind, ...]  # of the carriers drilled, in config order
    audience: Mapping[str, int]  # carrier -> synthetic subscribers

    @property
    def carriers(self) -> tuple[str, ...]:
        return tuple(self.audience)

    @property
    def size(self) -> int:
        return sum(self.audience.values())


@dataclass(frozen=True, slots=True)
class _Routable:
    """A bind as routing reads it, for numbers that are only counted, never sent."""

    name: str
    carrier: str
    prefixes: tuple[str, ...]
    can_send: bool = True
    backlog: int = 0


def router(settings: Settings) -> Router[_Routable]:
    """The gateway's routing (longest prefix, a carrier's default bind) over the config."""
    return Router([_Routable(c.name, c.carrier, c.prefixes) for c in settings.channels])


def spread(count: int, carriers: Sequence[str]) -> dict[str, int]:
    """``count`` numbers evenly over ``carriers`` (the first ones take the remainder)."""
    share, extra = divmod(count, len(carriers))
    return {carrier: share + (1 if i < extra else 0) for i, carrier in enumerate(carriers)}


def binds_of(settings: Settings) -> tuple[Bind, ...]:
    return tuple(Bind(c.name, c.carrier, c.tps) for c in settings.channels)


def contracted(binds: Sequence[Bind], carrier: str) -> int | None:
    """The carrier's contracted submits per second over all its binds; None: uncapped."""
    mine = [bind.tps for bind in binds if bind.carrier == carrier]
    return None if not mine or 0 in mine else sum(mine)


def choose(settings: Settings, carriers: Sequence[str] | None, audience: int) -> Plan:
    """The binds of ``carriers`` (all when None) and ``audience`` spread evenly over them; a
    ConfigError (exit 2) names an unknown carrier or one the drill cannot address."""
    known = list(dict.fromkeys(channel.carrier for channel in settings.channels))
    wanted = list(dict.fromkeys(carriers)) if carriers else known
    unknown = [carrier for carrier in wanted if carrier not in known]
    if unknown:
        raise ConfigError(
            f"drill --carriers: no carrier {', '.join(unknown)} in [[channels]]"
            f" (there: {', '.join(known)})"
        )
    for carrier in wanted:
        if not _prefixes(settings, carrier):
            raise ConfigError(
                f"drill: carrier {carrier} has no prefixes, so no number can be made that"
                " routes to it; leave it out with --carriers"
            )
    shares = {carrier: n for carrier, n in spread(audience, wanted).items() if n}
    return Plan(tuple(bind for bind in binds_of(settings) if bind.carrier in shares), shares)


def numbers(settings: Settings, carrier: str, count: int) -> Iterator[str]:
    """``count`` synthetic numbers of ``carrier``: its prefixes in turn, each followed by a
    serial number as long as the region's numbers (longer only when the count needs it)."""
    prefixes = _prefixes(settings, carrier)
    example = phonenumbers.example_number(settings.gateway.default_region)
    e164 = phonenumbers.PhoneNumberFormat.E164
    length = len(phonenumbers.format_number(example, e164)) if example else 12
    per_prefix = -(-count // len(prefixes))
    for i in range(count):
        prefix = prefixes[i % len(prefixes)]
        width = max(length - len(prefix), len(str(per_prefix)))
        yield f"{prefix}{i // len(prefixes):0{width}d}"


def _prefixes(settings: Settings, carrier: str) -> tuple[str, ...]:
    """The carrier's own prefixes, minus any a longer prefix of another carrier splits."""
    mine = [p for c in settings.channels if c.carrier == carrier for p in c.prefixes]
    theirs = [p for c in settings.channels if c.carrier != carrier for p in c.prefixes]
    # "+5016" of one carrier and "+50165" of another: a number under +5016 may still route to
    # the other, so keep only prefixes no other carrier's prefix lies under
    return tuple(
        dict.fromkeys(p for p in mine if not any(t.startswith(p) and t != p for t in theirs))
    )


def drill_settings(
    settings: Settings, plan: Plan, folder: Path, ports: Mapping[str, int]
) -> Settings:
    """The config's gateway with only the drilled binds, each on its simulated SMSC at
    127.0.0.1:``ports[name]``, a database in ``folder``, and nothing that reaches outside:
    no alert feeds polled; the drill's alert routed to SERVICE; signatures not asked (the
    drill holds no authority's key); no quiet hours."""
    channels = tuple(
        channel.model_copy(update={"host": LOOPBACK, "port": ports[channel.name]})
        for channel in settings.channels
        if channel.carrier in plan.audience
    )
    if any(c.host != LOOPBACK or c.port != ports[c.name] for c in channels):
        raise RuntimeError("a drill bind is not on its simulated SMSC")  # never a carrier
    alerts = settings.alerts.model_copy(update={
        "feeds": (), "require_signature": False, "certificates": (), "exercise_numbers": (),
        "cancel_notice": False, "routes": (AlertRouteConfig(event=EVENT, service=SERVICE),),
    })  # fmt: skip
    return settings.model_copy(update={
        "channels": channels,
        "gateway": settings.gateway.model_copy(update={"data_dir": folder}),
        "database": DatabaseConfig(url=f"sqlite:///{folder / 'drill.db'}"),
        "http": settings.http.model_copy(update={"host": LOOPBACK, "port": 0}),
        "broadcasts": settings.broadcasts.model_copy(update={"quiet_hours": None}),
        "alerts": alerts,
        "simulator": None,
    })  # fmt: skip
