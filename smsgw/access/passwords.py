"""People's passwords: argon2id hashes (argon2-cffi's defaults, RFC 9106's second choice),
computed off the event loop and a few at a time, and generated passwords."""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

DEFAULT_MEMORY_KIB = 65536  # argon2-cffi's default: 64 MiB and ~0.1-0.2 s a hash
AT_ONCE = 4  # hashes computed at once: a burst of log-ins queues rather than exhausting memory


class Passwords:
    """Hashes and checks passwords; ``memory_kib`` below the default only for tests (a hash
    keeps its own parameters, so one made cheap is still checked, and rehashed at log-in)."""

    def __init__(self, memory_kib: int = DEFAULT_MEMORY_KIB) -> None:
        self._hasher = PasswordHasher(memory_cost=memory_kib)
        self._slots = asyncio.Semaphore(AT_ONCE)
        self._nobody: str | None = None

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        async with self._slots:
            return await asyncio.to_thread(self._verify, password_hash, password)

    async def verify_nobody(self, password: str) -> None:
        """As long as a real check: a name that is nobody's takes as long to refuse as a
        wrong password (the answer's time tells no one which names exist)."""
        if self._nobody is None:
            self._nobody = await self.hash(secrets.token_urlsafe(16))
        await self.verify(self._nobody, password)

    def outdated(self, password_hash: str) -> bool:
        """Made with other parameters than today's: rehash it while the password is at hand."""
        return self._hasher.check_needs_rehash(password_hash)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


def generate() -> str:
    """A password to hand out once (120 random bits, 20 characters a person can type)."""
    return secrets.token_urlsafe(15)
