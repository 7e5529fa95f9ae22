"""The ``smsgw`` command line. Exit codes: 0 ok, 2 bad usage or configuration, 1 anything else.

A user error (a bad key in config.toml, a missing option) is one line naming the problem, never
a traceback; unexpected errors are logged (JSON, with their traceback) and exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import structlog
from pydantic import ValidationError

from smsgw import __version__, demo, server
from smsgw import logging as gateway_logging
from smsgw.access.accounts import Accounts, Update
from smsgw.access.audit import CLI, AuditAction, AuditEntry
from smsgw.access.passwords import Passwords, generate
from smsgw.access.people import person_ministry, person_name
from smsgw.access.store import TokenStore
from smsgw.access.tokens import STAFF, Role, issue, token_ministry, token_person
from smsgw.app import build_app
from smsgw.config import DatabaseConfig, Settings, load, secrets_exposed
from smsgw.drill import command as drill
from smsgw.errors import ConfigError, Refused
from smsgw.storage import open_store, schema_status
from smsgw.storage.copy import copy_database
from smsgw.storage.sqlite.backup import backup

DEFAULT_CONFIG = Path("config.toml")
PACKAGED_CONFIG = Path(sys.prefix) / "share" / "smsgw" / "config.toml"  # a wheel's
DEFAULT_SIMULATOR = "http://127.0.0.1:8775"
_log = structlog.get_logger(__name__)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="smsgw", description="The national SMS broadcast and subscription gateway."
    )
    top.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    top.add_argument("--version", action="version", version=f"smsgw {__version__}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_, description=help_)
        sub.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="default: %(default)s")
        return sub

    command("run", "run the gateway: binds, HTTP API")
    demo_command = command(
        "demo", "the built-in SMSC simulator and the gateway, with ready-to-paste commands"
    )
    demo_command.add_argument(
        "--check", action="store_true", help="start, check that it is healthy, stop (exit 0)"
    )
    drill.add_arguments(
        command("drill", "an emergency-alert drill and its readiness report (simulator or --live)")
    )
    sim = command("simulator", "run the SMSC simulator alone")
    sim.add_argument("--host")
    sim.add_argument("--port", type=int, help="SMPP port")
    sim.add_argument("--control-port", type=int, help="HTTP control port (MO injection)")
    sim.add_argument("--tps", type=int, help="submits accepted per second and bind; 0: no limit")
    sim.add_argument("--receipt-delay", type=float, metavar="S", help="seconds until a receipt")
    sim.add_argument("--response-delay", type=float, metavar="S", help="seconds per response")
    sim.add_argument("--seed", type=int, help="seed of outcomes and ids")
    mo = commands.add_parser("mo", help="inject a mobile-originated text into a running simulator")
    mo.add_argument("sender", metavar="FROM", help="the handset, e.g. +5016012345")
    mo.add_argument("text", metavar="TEXT")
    mo.add_argument("--to", help="short code (default: the simulator's)")
    mo.add_argument("--simulator", default=DEFAULT_SIMULATOR, help="control API, %(default)s")
    token = commands.add_parser("token", help="API tokens").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    create = token.add_parser("create", help="issue a token (printed once, stored hashed)")
    create.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="default: %(default)s")
    create.add_argument("--role", required=True, choices=[role.value for role in Role])
    create.add_argument("--ministry", help="required for officers and supervisors")
    create.add_argument(
        "--person", required=True, help="whom it is for (a person, or a named system)"
    )
    create.add_argument("--expires-days", type=_positive, metavar="N", help="default: never")
    create.add_argument(
        "--callback-url", metavar="URL",
        help="an integrator's: where its messages' states go when a message names none",
    )  # fmt: skip
    listing = token.add_parser("list", help="every token: id, role, ministry, state")
    listing.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="default: %(default)s")
    revoke = token.add_parser("revoke", help="revoke a token at once")
    revoke.add_argument("id", help="the token's id (from token list)")
    revoke.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="default: %(default)s")
    _user_commands(commands)
    db = commands.add_parser("db", help="database").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    migrate = db.add_parser("migrate", help="create or upgrade the schema")
    migrate.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="default: %(default)s")
    status = db.add_parser("status", help="the schema version, and whether it is the latest")
    status.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="default: %(default)s")
    move = db.add_parser(
        "copy", help="copy a whole deployment to another database (SQLite -> PostgreSQL)"
    )
    move.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="URL",
        help="sqlite:///path (relative to here) or sqlite:////absolute/path",
    )
    move.add_argument("--to", dest="target", required=True, metavar="URL",
                      help="postgresql://user@host:port/database, empty")  # fmt: skip
    copy = commands.add_parser(
        "backup", help="a consistent copy of the database, while the gateway runs"
    )
    copy.add_argument("path", type=Path, help="the new file")
    copy.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="default: %(default)s")
    return top


def _user_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    user = commands.add_parser("user", help="people who log in to the console").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )

    def action(name: str, help_: str) -> argparse.ArgumentParser:
        sub = user.add_parser(name, help=help_, description=help_)
        sub.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="default: %(default)s")
        return sub

    add = action("add", "add a person; prints their password once (they may change it)")
    add.add_argument("name", metavar="NAME", help='e.g. "Maria Chen" (unique, ignoring case)')
    add.add_argument("--role", required=True, choices=[role.value for role in STAFF])
    add.add_argument("--ministry", help="required for officers and supervisors")
    action("list", "every person: name, role, ministry, TOTP, state")
    disable = action("disable", "disable a person (their sessions end at once)")
    disable.add_argument("name", metavar="NAME")
    reset = action(
        "reset", "a new password (printed once) and no TOTP: they enrol again; sessions end"
    )
    reset.add_argument("name", metavar="NAME")


def main(argv: Sequence[str] | None = None) -> int:
    cli = parser()
    args = cli.parse_args(argv)  # exits 2 on bad usage
    if args.command == "token" and args.action == "create":
        if args.role == Role.OFFICER and not args.ministry:
            cli.error("token create: --role officer needs --ministry")
        try:
            token_ministry(Role(args.role), args.ministry)
            token_person(args.person)
        except ValueError as exc:
            cli.error(f"token create: {exc}")
    if args.command == "user" and args.action == "add":
        try:
            person_name(args.name)
            person_ministry(Role(args.role), args.ministry)
        except ValueError as exc:
            cli.error(f"user add: {exc}")
    if args.command == "drill" and (problem := drill.usage_error(args)):
        cli.error(problem)
    gateway_logging.configure(args.log_level)
    try:
        return server.run(_dispatch(args))
    except ConfigError as exc:
        sys.stderr.write(f"smsgw: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001  # process root: one line here, the log has the rest
        _log.exception("command_failed", command=args.command)
        sys.stderr.write(f"smsgw: error: {exc}\n")
        return 1


async def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "mo":
        return await _inject_mo(args)
    if args.command == "db" and args.action == "copy":
        return await _copy(args.source, args.target)
    if args.config == DEFAULT_CONFIG and not args.config.exists() and PACKAGED_CONFIG.exists():
        # an installed smsgw run where there is no config.toml: the one it ships, its data here
        _log.info("packaged_config_used", path=str(PACKAGED_CONFIG))
        settings = load(PACKAGED_CONFIG, base_dir=Path.cwd())
    else:
        settings = load(args.config)
    if secrets_exposed(args.config if args.config.exists() else PACKAGED_CONFIG, settings):
        _log.warning(
            "config_readable_by_others", path=str(args.config),
            advice="it holds SMPP passwords: chmod 600 it, or use password_env",
        )  # fmt: skip
    if args.command == "run":
        await server.serve(
            build_app(settings), settings.http.host, settings.http.port,
            idle_timeout_s=settings.http.idle_timeout_s,
        )  # fmt: skip
    elif args.command == "demo":
        await demo.run_demo(settings, check=args.check)
    elif args.command == "simulator":
        config = demo.simulator_config(
            settings, host=args.host, port=args.port, control_port=args.control_port,
            tps=args.tps, receipt_delay_s=args.receipt_delay,
            response_delay_s=args.response_delay, seed=args.seed,
        )  # fmt: skip
        await demo.run_simulator(config)
    elif args.command == "drill":
        return await drill.run(settings, args)
    elif args.command == "token":
        return await _token(settings, args)
    elif args.command == "user":
        return await _user(settings, args)
    elif args.command == "backup":
        if settings.database.is_postgres:
            raise ConfigError(
                "smsgw backup copies a SQLite database; back PostgreSQL up with pg_dump or"
                " pg_basebackup (README: Running several instances)"
            )
        database = settings.database.sqlite_path
        pages = await asyncio.to_thread(backup, database, args.path)
        sys.stdout.write(f"{database} -> {args.path}: {pages} pages\n")
    elif args.action == "status":
        return await _status(settings)
    else:  # db migrate
        await _migrate(settings)
    return 0


async def _token(settings: Settings, args: argparse.Namespace) -> int:
    store = await open_store(settings.database)
    try:
        if args.action == "create":
            await _create_token(store.tokens, args)
        elif args.action == "list":
            await _list_tokens(store.tokens)
        elif not await _revoke_token(store.tokens, args.id):
            return 1
    finally:
        await store.close()
    return 0


async def _create_token(store: TokenStore, args: argparse.Namespace) -> None:
    role, now = Role(args.role), datetime.now(UTC)
    secret, token = issue(
        role, now=now, ministry=args.ministry, expires_days=args.expires_days, person=args.person,
        callback_url=args.callback_url,
    )  # fmt: skip
    detail = {"role": role.value, "ministry": token.ministry, "person": token.person}
    audit = AuditEntry(now, CLI, None, None, AuditAction.TOKEN_ISSUED, token.id, detail)
    await store.add_token(token, audit)
    _log.info("token_created", token_id=token.id, role=role, ministry=token.ministry)
    sys.stdout.write(secret + "\n")


async def _list_tokens(store: TokenStore) -> None:
    now = datetime.now(UTC)
    for token in await store.tokens():
        state = "revoked" if token.revoked_at else "expired" if not token.usable(now) else "usable"
        expires = token.expires_at.date().isoformat() if token.expires_at else "never"
        used = token.last_used_at.date().isoformat() if token.last_used_at else "never"
        sys.stdout.write(
            f"{token.id}  {token.role:<10} {token.ministry or '-':<12} {state:<8}"
            f" created {token.created_at.date().isoformat()}  expires {expires}"
            f"  used {used:<10}  {token.person or '-'}\n"
        )


async def _revoke_token(store: TokenStore, token_id: str) -> bool:
    now = datetime.now(UTC)
    audit = AuditEntry(now, CLI, None, None, AuditAction.TOKEN_REVOKED, token_id)
    if await store.revoke_token(token_id, at=now, audit=audit):
        _log.info("token_revoked", token_id=token_id)
        sys.stdout.write(f"revoked {token_id}\n")
        return True
    known = await store.token(token_id)
    sys.stderr.write(
        f"smsgw: error: token {token_id} is revoked already\n"
        if known
        else f"smsgw: error: no token {token_id}\n"
    )
    return False


async def _user(settings: Settings, args: argparse.Namespace) -> int:
    store = await open_store(settings.database)
    try:
        accounts = Accounts(store.people, Passwords(settings.http.password_hash_memory_kib))
        if args.action == "add":
            person, password = await accounts.create(
                None, name=args.name, role=Role(args.role), ministry=args.ministry
            )
            sys.stdout.write(f"{password}\n")
        elif args.action == "list":
            for person in await accounts.people():
                state = "disabled" if person.disabled_at else "active"
                sys.stdout.write(
                    f"{person.role:<10} {person.ministry or '-':<12} totp {person.totp:<8}"
                    f" {state:<8} {person.name}\n"
                )
        else:
            person = await accounts.find(args.name)
            reset = args.action == "reset"
            update = (
                Update(password=generate(), reset_totp=True) if reset else Update(disabled=True)
            )
            await accounts.update(None, person.id, update)
            sys.stdout.write(f"{update.password}\n" if reset else f"disabled {person.name}\n")
    except Refused as exc:
        sys.stderr.write(f"smsgw: error: {exc.message}\n")
        return 1
    finally:
        await store.close()
    return 0


async def _migrate(settings: Settings) -> None:
    store = await open_store(settings.database)  # migrates on open
    try:
        version = await store.migrate()
    finally:
        await store.close()
    sys.stdout.write(f"schema version {version}: {settings.database.where}\n")


async def _copy(source: str, target: str) -> int:
    def database(url: str, flag: str) -> DatabaseConfig:
        try:
            return DatabaseConfig.model_validate({"url": url}, context={"base_dir": Path.cwd()})
        except ValidationError as exc:
            reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
            raise ConfigError(f"db copy {flag}: {reason}") from None

    start = time.monotonic()
    copied = await copy_database(database(source, "--from"), database(target, "--to"))
    for table in copied:
        sys.stdout.write(f"{table.table:<20} {table.rows:>12,} rows\n")
    total = sum(table.rows for table in copied)
    sys.stdout.write(
        f"{total:,} rows copied and counted in {time.monotonic() - start:.1f} s:"
        f" {database(target, '--to').where}\n"
    )
    return 0


async def _status(settings: Settings) -> int:
    """0 when the schema is the latest this smsgw knows, 1 when `smsgw db migrate` is due."""
    version, latest = await schema_status(settings.database)
    if version == 0:
        state = "no schema yet: run smsgw db migrate"
    elif version < latest:
        state = f"behind: run smsgw db migrate (to {latest})"
    elif version > latest:
        state = f"newer than this smsgw knows ({latest})"
    else:
        state = "latest"
    sys.stdout.write(f"schema version {version}, {state}: {settings.database.where}\n")
    return 0 if version == latest else 1


async def _inject_mo(args: argparse.Namespace) -> int:
    body = {"from": args.sender, "text": args.text} | ({"to": args.to} if args.to else {})
    url = args.simulator.rstrip("/") + "/mo"
    timeout = aiohttp.ClientTimeout(total=10)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(url, json=body) as response,
        ):
            text = await response.text()
    except (aiohttp.ClientError, TimeoutError) as exc:
        sys.stderr.write(f"smsgw: error: cannot reach the simulator at {url}: {exc}\n")
        return 1
    sys.stdout.write(text + "\n")
    if response.status >= 400:
        try:
            message = json.loads(text)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = text
        sys.stderr.write(f"smsgw: error: the simulator answered {response.status}: {message}\n")
        return 1
    return 0
