"""`smsgw demo` and `smsgw simulator`: the built-in SMSC simulator, with the gateway or alone."""

from __future__ import annotations

import asyncio
import shlex
import sys
from datetime import UTC, datetime
from typing import Any

import aiohttp
from pydantic import ValidationError

from channels.simulator import Simulator, SimulatorConfig
from smsgw import server
from smsgw.access.accounts import Accounts, Update
from smsgw.access.passwords import Passwords, generate
from smsgw.access.tokens import Role, issue
from smsgw.app import GATEWAY, build_app
from smsgw.config import DatabaseConfig, Settings, describe
from smsgw.demo_catalogue import DEMO_SERVICES
from smsgw.errors import ConfigError

EXAMPLE_NUMBER = "+5016012345"
# who a newcomer logs in to the console as (an admin sets up TOTP first, as in earnest)
DEMO_PEOPLE = (
    ("Olive Officer", Role.OFFICER, "health"),
    ("Otto Operator", Role.OPERATOR, None),
    ("Ada Admin", Role.ADMIN, None),
)


def simulator_config(settings: Settings, **overrides: Any) -> SimulatorConfig:
    """The ``[simulator]`` table, or one accepting the configured binds; then ``overrides``."""
    if settings.simulator is not None:
        base = settings.simulator.model_dump()
    else:
        first = settings.channels[0]
        base = {
            "host": first.host,
            "port": first.port,
            "accounts": {channel.system_id: channel.secret for channel in settings.channels},
            "short_code": settings.gateway.short_code,
        }
    changes = {key: value for key, value in overrides.items() if value is not None}
    try:
        return SimulatorConfig.model_validate(base | changes)
    except ValidationError as exc:  # a bad command-line option (the file was checked at load)
        raise ConfigError(describe(exc, "simulator")) from None


async def run_simulator(config: SimulatorConfig) -> None:
    simulator = Simulator(config)
    await simulator.start()
    try:
        control = simulator.control_port
        _write(
            f"SMSC simulator listening on {config.host}:{simulator.port}"
            + (f", control API http://{config.host}:{control}" if control else "")
            + "\nCtrl-C to stop.\n"
        )
        await server.until_signalled()
    finally:
        await simulator.stop()


async def run_demo(settings: Settings, *, check: bool = False) -> None:
    """Simulator + gateway on a demo database; prints an admin token and commands to paste.
    ``check``: start, see /healthz say ok with every bind up, stop (an install's smoke test)."""
    demo_db = settings.gateway.data_dir / "demo.db"
    # no quiet hours: a newcomer trying it at night would see routine broadcasts wait
    broadcasts = settings.broadcasts.model_copy(update={"quiet_hours": None})
    database = DatabaseConfig(url=f"sqlite:///{demo_db}")
    settings = settings.model_copy(update={"database": database, "broadcasts": broadcasts})
    simulator = Simulator(simulator_config(settings, log_submits=True))
    await simulator.start()
    app = build_app(settings)

    async def ready(url: str) -> None:
        gateway = app[GATEWAY]
        catalogue = gateway.store.catalogue
        if not await catalogue.services():
            for service in DEMO_SERVICES:  # a first run: an example catalogue to play with
                await catalogue.add_service(service)
            await gateway.catalogue_changed()
        if check:
            await _check(url)
            return
        secret, token = issue(Role.ADMIN, now=datetime.now(UTC), expires_days=1, person="demo")
        await gateway.store.tokens.add_token(token)
        people = await _people(
            Accounts(gateway.store.people, Passwords(settings.http.password_hash_memory_kib))
        )
        _write(_banner(url, secret, simulator, people))

    try:
        await server.serve(
            app, settings.http.host, settings.http.port, on_ready=ready,
            idle_timeout_s=settings.http.idle_timeout_s, once=check,
        )  # fmt: skip
    finally:
        await simulator.stop()


async def _people(accounts: Accounts) -> dict[str, str]:
    """The demo's people, each with a new password (this run's: printed, stored hashed); an
    earlier run's admin sets up TOTP again (its authenticator may be long gone)."""
    passwords = {}
    known = {person.name: person for person in await accounts.people()}
    for name, role, ministry in DEMO_PEOPLE:
        password = generate()
        if name in known:  # an earlier run's
            update = Update(password=password, reset_totp=role is Role.ADMIN)
            await accounts.update(None, known[name].id, update)
        else:
            await accounts.create(None, name=name, role=role, ministry=ministry, password=password)
        passwords[name] = password
    return passwords


async def _check(url: str) -> None:
    async with aiohttp.ClientSession() as session, asyncio.timeout(30):
        while True:
            async with session.get(f"{url}/healthz") as response:
                health = await response.json()
            if health["status"] == "ok":
                break
            await asyncio.sleep(0.1)
    _write(f"smsgw demo check: ok ({len(health['channels'])} binds up, storage ok)\n")


def _banner(url: str, token: str, simulator: Simulator, people: dict[str, str]) -> str:
    control = f"http://{simulator.config.host}:{simulator.control_port}"
    body = shlex.quote(f'{{"to": "{EXAMPLE_NUMBER}", "text": "Hello from smsgw"}}')
    broadcast = shlex.quote(
        '{"service": "HEALTH", "texts": {"en": "Vaccination day Saturday 9am at all clinics.",'
        ' "es": "Dia de vacunacion el sabado 9am en todas las clinicas."}}'
    )
    auth = shlex.quote(f"Authorization: Bearer {token}")
    (officer, _, _), (operator, _, _), (admin, _, _) = DEMO_PEOPLE
    return f"""
smsgw demo is running. Ctrl-C stops it (the binds are closed cleanly).

  console       {url}/console/   log in as
                  {officer:<15} password {people[officer]}   (an officer of health)
                  {operator:<15} password {people[operator]}   (the operator)
                  {admin:<15} password {people[admin]}   (then sets up TOTP)
                or paste the admin token below (a wall display's way)
  health        {url}/healthz
  API document  {url}/api/v1/openapi.json
  SMSC          simulator on {simulator.config.host}:{simulator.port}, control API {control}
  admin token   {token}   (valid for one day)

Send a message, then look at its state and history (use the id it returns):

  curl -s -X POST {url}/api/v1/messages -H {auth} -H 'Content-Type: application/json' -d {body}
  curl -s {url}/api/v1/messages/ID -H {auth}

Play a citizen texting the short code (the replies show in this log as submits):

  smsgw mo {EXAMPLE_NUMBER} "JOIN HEALTH" --simulator {control}
  smsgw mo {EXAMPLE_NUMBER} "LISTA" --simulator {control}
  smsgw mo {EXAMPLE_NUMBER} "ASK HEALTH Where can I get the flu shot?" --simulator {control}
  smsgw mo {EXAMPLE_NUMBER} "STOP" --simulator {control}

The question lands in the console's Inbox (or: curl -s {url}/api/v1/inbox -H {auth}); answer
it there and the answer shows in this log as a submit.

Broadcast to everyone who joined HEALTH (add "priority": "emergency" for an alert), then
watch it (quiet hours are off in the demo):

  curl -s -X POST {url}/api/v1/broadcasts -H {auth} -H 'Content-Type: application/json' \\
       -d {broadcast}
  curl -s {url}/api/v1/broadcasts/ID -H {auth}

Services: curl -s {url}/api/v1/services -H {auth}

"""


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
