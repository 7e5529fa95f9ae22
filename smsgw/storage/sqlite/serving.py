"""One gateway per database: two ``smsgw run`` on one SQLite file would both bind the
carriers (twice the binds the SMSC allows, every message sent by both)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from smsgw.errors import ConfigError


class ServingLock:
    """An exclusive lock on ``<database>.lock``, held while the gateway runs; the kernel lets
    it go when the process ends, however it ends."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    @classmethod
    def take(cls, database: Path) -> ServingLock:
        path = database.with_name(database.name + ".lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise ConfigError(
                f"{database}: another smsgw (pid {holder}) is running on this database;"
                " stop it first, or give this one its own [database] url"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        return cls(fd)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None
