"""Shared fixtures: a config file in tmp_path, a real SQLite store and its recorder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from smsgw.config import Settings, load
from smsgw.delivery.recorder import Recorder
from smsgw.storage.sqlite import SqliteStore
from tests.smsgw.fakes import CARRIERS, CONFIG, WriteConfig


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    def write(text: str) -> Path:
        path = tmp_path / "config.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def settings(write_config: WriteConfig) -> Settings:
    return load(write_config(CONFIG))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = await SqliteStore.open(tmp_path / "store.db")
    yield store
    await store.close()


@pytest.fixture
async def recorder(store: SqliteStore) -> AsyncIterator[Recorder]:
    recorder = Recorder(store, CARRIERS)
    await recorder.start()
    yield recorder
    await recorder.close()
