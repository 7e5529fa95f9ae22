"""The ``smsgw`` command run as a user runs it: a subprocess, its exit code and its output."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from channels.simulator import Simulator
from channels.smpp.channel import SmppChannel
from channels.smpp.codec import Status
from smsgw import __version__
from smsgw.access.audit import AuditAction, AuditEntry
from smsgw.app import build_app
from smsgw.config import Settings
from smsgw.delivery.recorder import Recorder
from smsgw.errors import ConfigError
from smsgw.storage.postgres import PostgresStore
from smsgw.storage.postgres.migrations import LATEST as PG_LATEST
from smsgw.storage.sqlite import SqliteStore
from smsgw.storage.sqlite.migrations import LATEST
from tests import postgres
from tests.smsgw.testbed import CONFIG, WAIT, WriteConfig

REPO = Path(__file__).resolve().parents[2]
ENV = os.environ | {"PYTHONPATH": str(REPO)}


def smsgw(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603  # our own command, fixed arguments
        [sys.executable, "-m", "smsgw", *args],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_a_bad_config_exits_2_naming_the_key_without_a_traceback(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    write_config(CONFIG.replace('system_id = "smsgw-btl"', 'system_id = "smsgw-btl"\ntps = -5'))
    result = smsgw("run", "--config", "config.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert "config.toml: channels[0].tps: Input should be greater than or equal to 0" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr + result.stdout


def test_a_bad_simulator_option_exits_2_naming_it(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    write_config(CONFIG)
    result = smsgw("simulator", "--tps", "-1", cwd=tmp_path)
    assert result.returncode == 2
    assert "simulator: tps: Input should be greater than or equal to 0" in result.stderr


def test_bad_usage_exits_2(tmp_path: Path) -> None:
    assert smsgw("frobnicate", cwd=tmp_path).returncode == 2
    result = smsgw("token", "create", "--role", "officer", "--person", "Ana", cwd=tmp_path)
    assert result.returncode == 2
    assert "--role officer needs --ministry" in result.stderr
    result = smsgw(
        "token",
        "create",
        "--role",
        "admin",
        "--ministry",
        "health",
        "--person",
        "Ana",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "admin token acts for every ministry: it names none" in result.stderr
    result = smsgw(
        "token",
        "create",
        "--role",
        "admin",
        "--expires-days",
        "0",
        "--person",
        "Ana",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "must be at least 1" in result.stderr


async def test_a_created_token_is_printed_once_and_opens_the_api(
    settings: Settings, tmp_path: Path
) -> None:
    result = smsgw(
        "token",
        "create",
        "--role",
        "admin",
        "--expires-days",
        "7",
        "--person",
        "Ana",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token.startswith("smsgw_")
    assert token not in result.stderr  # the log line names the token's id, not its secret
    app = build_app(settings)  # on the same config.toml, so the same database
    async with TestClient(TestServer(app)) as client:
        headers = {"Authorization": f"Bearer {token}"}
        assert (await client.get("/api/v1/messages/x", headers=headers)).status == 404
        assert (await client.get("/api/v1/messages/x")).status == 401


async def test_tokens_are_listed_and_revoked_from_the_command_line(
    settings: Settings, tmp_path: Path
) -> None:
    created = smsgw(
        "token",
        "create",
        "--role",
        "officer",
        "--ministry",
        "health",
        "--person",
        "Ana",
        cwd=tmp_path,
    )
    secret = created.stdout.strip()
    listed = smsgw("token", "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    [line] = listed.stdout.splitlines()
    token_id, role, ministry, state = line.split()[:4]
    assert (role, ministry, state) == ("officer", "health", "usable")
    assert " used never " in line  # not yet
    assert secret not in listed.stdout + listed.stderr

    revoked = smsgw("token", "revoke", token_id, cwd=tmp_path)
    assert revoked.returncode == 0, revoked.stderr
    assert smsgw("token", "list", cwd=tmp_path).stdout.split()[3] == "revoked"
    again = smsgw("token", "revoke", token_id, cwd=tmp_path)
    assert again.returncode == 1
    assert "revoked already" in again.stderr
    assert "no token" in smsgw("token", "revoke", "nosuch", cwd=tmp_path).stderr
    app = build_app(settings)
    async with TestClient(TestServer(app)) as client:
        headers = {"Authorization": f"Bearer {secret}"}
        assert (await client.get("/api/v1/broadcasts", headers=headers)).status == 401
    with sqlite3.connect(tmp_path / "data" / "test.db") as db:
        actions = db.execute("SELECT actor, action, target FROM audit_log ORDER BY id").fetchall()
    assert actions == [("cli", "token_issued", token_id), ("cli", "token_revoked", token_id)]


async def test_people_are_added_listed_disabled_and_reset_from_the_command_line(
    settings: Settings, tmp_path: Path
) -> None:
    refused = smsgw("user", "add", "Ana", "--role", "officer", cwd=tmp_path)
    assert refused.returncode == 2
    assert "an officer needs a ministry" in refused.stderr
    added = smsgw("user", "add", "Maria Chen", "--role", "officer", "--ministry", "health",
                  cwd=tmp_path)  # fmt: skip
    assert added.returncode == 0, added.stderr
    password = added.stdout.strip()
    assert password not in added.stderr
    twice = smsgw("user", "add", "maria chen", "--role", "operator", cwd=tmp_path)
    assert twice.returncode == 1
    assert "smsgw: error: there is a person named maria chen already" in twice.stderr
    listed = smsgw("user", "list", cwd=tmp_path)
    assert listed.stdout.split() == ["officer", "health", "totp", "optional", "active", "Maria",
                                     "Chen"]  # fmt: skip
    app = build_app(settings)  # on the same config.toml, so the same database
    async with TestClient(TestServer(app)) as client:
        login = {"name": "Maria Chen", "password": password}
        assert (await client.post("/api/v1/session", json=login)).status == 200
        assert smsgw("user", "disable", "Maria Chen", cwd=tmp_path).returncode == 0
        assert (await client.get("/api/v1/me")).status == 401  # her session ended
        assert (await client.post("/api/v1/session", json=login)).status == 401
        reset = smsgw("user", "reset", "Maria Chen", cwd=tmp_path)
        assert reset.returncode == 0, reset.stderr
        login["password"] = reset.stdout.strip()
        assert (await client.post("/api/v1/session", json=login)).status == 401  # disabled
    assert "no person named Nobody" in smsgw("user", "disable", "Nobody", cwd=tmp_path).stderr
    with sqlite3.connect(tmp_path / "data" / "test.db") as db:
        actions = db.execute("SELECT actor, action FROM audit_log ORDER BY id").fetchall()
    refused_login = ("address:127.0.0.1", "login_failed")
    assert actions == [("cli", "person_created"), ("user:Maria Chen", "logged_in"),
                       ("cli", "person_updated"), refused_login,
                       ("cli", "person_updated"), refused_login]  # fmt: skip


def test_db_migrate_creates_the_schema(write_config: WriteConfig, tmp_path: Path) -> None:
    write_config(CONFIG)
    for _ in range(2):
        result = smsgw("db", "migrate", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"schema version {LATEST}: sqlite:///")
    assert (tmp_path / "data" / "test.db").exists()


def test_a_database_newer_than_the_code_is_refused_and_left_as_it_is(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    write_config(CONFIG)
    assert smsgw("db", "migrate", cwd=tmp_path).returncode == 0
    database = tmp_path / "data" / "test.db"
    with sqlite3.connect(database) as db:
        db.execute("INSERT INTO schema_version (version) VALUES (?)", (LATEST + 1,))
    for command in (["db", "migrate"], ["run"]):
        result = smsgw(*command, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert f"schema version {LATEST + 1}, newer than this smsgw knows" in result.stderr
        assert "Traceback" not in result.stderr
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT max(version) FROM schema_version").fetchone() == (LATEST + 1,)


def test_the_data_is_private_to_its_owner_and_an_exposed_password_is_warned_about(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    config = write_config(CONFIG)
    config.chmod(0o644)
    result = smsgw("db", "migrate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "config_readable_by_others" in result.stderr  # CONFIG holds a password in clear
    data = tmp_path / "data"
    assert data.stat().st_mode & 0o777 == 0o700
    files = [path for path in data.iterdir() if path.name.startswith("test.db")]
    assert files
    assert {path.name: path.stat().st_mode & 0o777 for path in files} == {
        path.name: 0o600 for path in files
    }
    config.chmod(0o600)
    assert "config_readable_by_others" not in smsgw("db", "migrate", cwd=tmp_path).stderr


def test_version_is_printed(tmp_path: Path) -> None:
    result = smsgw("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"smsgw {__version__}"


def test_mo_to_an_absent_simulator_exits_1_with_a_message(tmp_path: Path) -> None:
    result = smsgw("mo", "+5016012345", "HELP", "--simulator", "http://127.0.0.1:9", cwd=tmp_path)
    assert result.returncode == 1
    assert "cannot reach the simulator" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("simulator", [{"control_port": 0}], indirect=True, ids=["control"])
async def test_mo_injects_a_text_that_the_gateway_stores(
    simulator: Simulator, settings: Settings, recorder: Recorder, tmp_path: Path
) -> None:
    channel = SmppChannel(settings.channels[0])  # one bind: the text can only come in there
    await channel.start(recorder)
    try:
        async with asyncio.timeout(WAIT):
            await channel.wait_bound()
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "smsgw", "mo", "+5016012345", "JOIN HEALTH",
                "--simulator", f"http://127.0.0.1:{simulator.control_port}",
                env=ENV, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            _, stderr = await process.communicate()
            assert process.returncode == 0, stderr
            # The bind acknowledges a text once the recorder stored it.
            await simulator.wait_for(lambda: simulator.deliver_sm_resps[Status.ESME_ROK] == 1)
    finally:
        await channel.stop()
    with sqlite3.connect(tmp_path / "store.db") as conn:
        rows = conn.execute("SELECT sender, recipient, text, channel FROM inbound").fetchall()
    assert rows == [("+5016012345", "1515", "JOIN HEALTH", "btl-1")]


def test_db_status_says_whether_the_schema_is_the_latest(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    write_config(CONFIG)
    before = smsgw("db", "status", cwd=tmp_path)
    assert (before.returncode, before.stdout.split(":")[0]) == (
        1,
        "schema version 0, no schema yet",
    )
    assert not (tmp_path / "data" / "test.db").exists()  # status creates nothing
    assert smsgw("db", "migrate", cwd=tmp_path).returncode == 0
    after = smsgw("db", "status", cwd=tmp_path)
    assert after.returncode == 0, after.stderr
    assert after.stdout.startswith(f"schema version {LATEST}, latest: sqlite:///")


@pytest.fixture
def postgres_config(write_config: WriteConfig) -> Iterator[str]:
    """CONFIG on a new PostgreSQL database of its own (dropped after): its URL."""
    name = postgres.create_database()
    url = postgres.dsn_of(name)
    write_config(CONFIG.replace("sqlite:///data/test.db", url))
    try:
        yield url
    finally:
        postgres.drop_database(name)


def test_db_migrate_and_status_on_postgresql(postgres_config: str, tmp_path: Path) -> None:
    assert smsgw("db", "status", cwd=tmp_path).returncode == 1
    for _ in range(2):
        result = smsgw("db", "migrate", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"schema version {PG_LATEST}: {postgres_config}\n"
    status = smsgw("db", "status", cwd=tmp_path)
    assert (status.returncode, status.stdout) == (
        0,
        f"schema version {PG_LATEST}, latest: {postgres_config}\n",
    )


async def test_gateways_share_a_postgresql_database_under_names_of_their_own(
    postgres_config: str,
) -> None:
    """Two gateways under one name would each hold the other's bind leases: refused."""
    first = await PostgresStore.open(postgres_config, serving=True, instance="a")
    try:
        with pytest.raises(ConfigError, match=r"a gateway named 'a' .* is already serving"):
            await PostgresStore.open(postgres_config, serving=True, instance="a")
        other = await PostgresStore.open(postgres_config, serving=True, instance="b")
        await other.close()
        helper = await PostgresStore.open(postgres_config)  # smsgw token, db migrate: welcome
        await helper.close()
    finally:
        await first.close()
    again = await PostgresStore.open(postgres_config, serving=True, instance="a")  # it went
    await again.close()


async def test_db_copy_moves_a_sqlite_database_to_postgresql_once(
    postgres_config: str, tmp_path: Path
) -> None:
    lite = await SqliteStore.open(tmp_path / "old.db")
    await lite.audit.audit(
        AuditEntry(datetime.now(UTC), "cli", None, None, AuditAction.TOKEN_ISSUED, "t1")
    )
    await lite.close()
    copy = ("db", "copy", "--from", "sqlite:///old.db", "--to", postgres_config)
    result = await asyncio.to_thread(smsgw, *copy, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "audit_log                       1 rows" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("1 rows copied and counted in ")
    again = await asyncio.to_thread(smsgw, *copy, cwd=tmp_path)
    assert again.returncode == 2
    assert "table audit_log is not empty; a copy never merges" in again.stderr
    wrong = await asyncio.to_thread(smsgw, "db", "copy", "--from", "sqlite:///old.db",
                                    "--to", "mysql://db/x", cwd=tmp_path)  # fmt: skip
    assert (wrong.returncode, wrong.stderr.strip()) == (
        2,
        "smsgw: error: db copy --to: expected sqlite:///path/to/file.db or"
        " postgresql://user@host:port/database",
    )
