"""Shared fixtures: a config file in tmp_path, a real SQLite store and its recorder, each
backend in turn (SQLite, PostgreSQL) for the repositories' contract, the SMSC simulator, and the
whole gateway (HTTP API served for real) bound to it over TCP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from channels.simulator import Simulator, SimulatorConfig
from smsgw.access.tokens import Role
from smsgw.app import GATEWAY, Gateway, build_app
from smsgw.config import Settings, load
from smsgw.delivery.recorder import Recorder
from smsgw.delivery.sender import RetryPolicy
from smsgw.storage.postgres import PostgresStore
from smsgw.storage.sqlite import SqliteStore
from tests import postgres
from tests.smsgw.testbed import CARRIERS, WAIT, Client, WriteConfig, bearer, on_simulator


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    def write(text: str) -> Path:
        path = tmp_path / "config.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
async def simulator(request: pytest.FixtureRequest) -> AsyncIterator[Simulator]:
    """Parametrize indirectly with a dict to change its settings."""
    settings = {"port": 0, "control_port": None, "receipt_delay_s": 0.01, "seed": 5,
                "receipt_mix": {"delivered": 1.0}}  # fmt: skip
    settings.update(getattr(request, "param", {}))
    async with Simulator(SimulatorConfig(**settings)) as simulator:
        yield simulator


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The gateway's database: "sqlite" unless a module parametrizes it (indirectly) to run
    on "postgresql" too: testbed.BOTH_BACKENDS."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def settings(
    simulator: Simulator, write_config: WriteConfig, request: pytest.FixtureRequest, backend: str
) -> Settings:
    """The gateway's config.toml in tmp_path, every bind on the simulator; parametrize
    indirectly with TOML to add (e.g. a [broadcasts] table). On PostgreSQL: the test run's
    database, emptied first."""
    text = on_simulator(simulator.port) + getattr(request, "param", "")
    if backend == "postgresql":
        dsn = request.getfixturevalue("postgres_database")
        postgres.empty_database(dsn)
        text = text.replace("sqlite:///data/test.db", dsn)
    return load(write_config(text))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = await SqliteStore.open(tmp_path / "store.db")
    yield store
    await store.close()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A PostgreSQL database of this test run (dropped at its end): its DSN."""
    name = postgres.create_database()
    try:
        yield postgres.dsn_of(name)
    finally:
        postgres.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[SqliteStore | PostgresStore]:
    """Each backend in turn, empty: the repositories' contract holds on both."""
    if request.param == "sqlite":
        lite = await SqliteStore.open(tmp_path / "store.db")
        yield lite
        await lite.close()
        return
    dsn = request.getfixturevalue("postgres_database")
    store = await PostgresStore.open(dsn)
    await store.db.read(postgres.empty)
    yield store
    await store.close()


@pytest.fixture
async def recorder(store: SqliteStore) -> AsyncIterator[Recorder]:
    recorder = Recorder(store.delivery, CARRIERS)
    await recorder.start()
    yield recorder
    await recorder.close()


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Client]:
    """The gateway's HTTP API, served once every bind is up."""
    app = build_app(settings, retry=RetryPolicy(first_delay_s=0.01, max_delay_s=0.05))
    async with TestClient(TestServer(app)) as client:
        async with asyncio.timeout(WAIT):
            for channel in client.app[GATEWAY].channels:
                await channel.wait_bound()  # type: ignore[attr-defined]
        yield client


@pytest.fixture
def gateway(client: Client) -> Gateway:
    return client.app[GATEWAY]


@pytest.fixture
async def admin(gateway: Gateway) -> dict[str, str]:
    return await bearer(gateway, Role.ADMIN)
