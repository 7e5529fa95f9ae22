"""A consistent copy of a live database (SQLite's online backup API): the gateway may go on
writing meanwhile; the copy is the database as it was at one instant."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from smsgw.errors import ConfigError


def backup(database: Path, target: Path) -> int:
    """Copies ``database`` to ``target`` (a new file, owner-only); returns its pages."""
    if not database.exists():
        raise ConfigError(f"{database}: no database to back up")
    if target.exists():
        raise ConfigError(f"{target}: exists already; give a new file")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(target, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))  # personal data
    source = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy, pages=1024)  # a step at a time: writers are not held up
        (pages,) = copy.execute("PRAGMA page_count").fetchone()
        (verdict,) = copy.execute("PRAGMA quick_check").fetchone()
    finally:
        copy.close()
        source.close()
    if verdict != "ok":
        raise ConfigError(f"{target}: the copy does not check out ({verdict})")
    return int(pages)
