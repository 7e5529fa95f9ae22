"""Ids of messages, texts and requests: 128 random bits as 32 hex digits, the shape of a
uuid4's hex, from a generator seeded once from the OS. uuid4 asks the kernel for 16 bytes each
time (a system call per API request, twice); these ids name rows and are no secrets (tokens
are made with ``secrets``)."""

from __future__ import annotations

import random

_random = random.Random()  # noqa: S311 - seeded from os.urandom; ids need no secrecy


def new_id() -> str:
    return f"{_random.getrandbits(128):032x}"
