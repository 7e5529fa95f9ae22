"""What the simulator knows and records: sessions, submits, received PDUs, counters, waiters."""

from __future__ import annotations

import asyncio
import random
from collections import Counter, deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from channels.smpp.codec import Pdu, PduError, decode

from .config import SimulatorConfig
from .records import SubmitLog

if TYPE_CHECKING:
    from .session import SmscSession

# Received PDUs kept per command for await_pdu(); older ones are forgotten.
PDU_HISTORY = 1_000


class NoReceiverError(RuntimeError):
    """Nothing is bound that can take a deliver_sm (no receiver or transceiver)."""


class SimulatorStoppedError(RuntimeError):
    """The simulator stopped while something was waiting on it."""


def _decode_loosely(frame: bytes) -> Pdu:
    """The PDU for await_pdu(); a malformed one still gives its header."""
    try:
        return decode(frame)
    except PduError as exc:
        return Pdu(exc.command_id, int.from_bytes(frame[8:12], "big"), exc.sequence)


class SimulatorState:
    """Shared by the listener, the sessions, the receipt scheduler and the control API."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        # Simulated outcomes and ids, not security: a seedable PRNG is the point.
        self.rng = random.Random(config.seed)  # noqa: S311 - seeded simulated traffic, not security
        self.sessions: set[SmscSession] = set()
        self.receivers: dict[str, list[SmscSession]] = {}
        self.submits = SubmitLog(config.keep_submits)
        self.accepted = 0
        self.throttled = 0
        self.receipts_sent = 0
        self.mo_sent = 0
        self.binds = 0  # binds accepted since the start: more than the ESME's means reconnects
        # (monotonic time, system_id, session, bound or not): whether two ESMEs ever held
        # one account at once (a carrier's contract allows so many binds)
        self.bind_log: list[tuple[float, str, int, bool]] = []
        self.generic_nacks: list[Pdu] = []
        self.deliver_sm_resps: Counter[int] = Counter()
        # Faults (STYLE B6), read by the sessions on every PDU.
        self.hanging = False
        self.reply_status = 0
        self.reply_count = 0
        self.receipt_before_response = False
        self.fail_share = 0.0  # share of submits answered with one of fail_statuses
        self.fail_statuses: tuple[int, ...] = ()
        self.refuse_binds = 0  # a status every bind gets while not 0
        self.duplicate_receipts = False
        self._next_id = self.rng.randrange(1 << 20, 1 << 28)
        self._hex_ids = config.message_id_format == "hex"
        self._rotation = 0
        self._history: dict[int, deque[bytes]] = {}
        self._pdu_waiters: dict[int, deque[asyncio.Future[Pdu]]] = {}
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []

    # ------------------------------------------------------------ records

    def next_message_id(self) -> str:
        self._next_id += 1
        return f"{self._next_id:08x}" if self._hex_ids else str(self._next_id)

    def note_pdu(self, command_id: int, frame: bytes) -> None:
        """Every PDU received goes to its waiter, else to the history await_pdu() reads."""
        waiters = self._pdu_waiters.get(command_id)
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(_decode_loosely(frame))
                return
        history = self._history.get(command_id)
        if history is None:
            history = self._history[command_id] = deque(maxlen=PDU_HISTORY)
        history.append(frame)

    async def await_pdu(self, command_id: int) -> Pdu:
        history = self._history.get(command_id)
        if history:
            return _decode_loosely(history.popleft())
        waiter: asyncio.Future[Pdu] = asyncio.get_running_loop().create_future()
        self._pdu_waiters.setdefault(command_id, deque()).append(waiter)
        return await waiter

    def clear_pdus(self) -> None:
        self._history.clear()

    # ------------------------------------------------------------ sessions

    def bound_sessions(self) -> list[SmscSession]:
        return [session for session in self.sessions if session.bind_type is not None]

    def receiver_for(self, system_id: str | None) -> SmscSession | None:
        """A receiver-capable session of that system_id (any when None), in rotation."""
        if system_id is None:
            candidates = [s for sessions in self.receivers.values() for s in sessions]
        else:
            candidates = self.receivers.get(system_id, [])
        if not candidates:
            return None
        self._rotation += 1
        return candidates[self._rotation % len(candidates)]

    # ------------------------------------------------------------ waiting

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Returns once ``condition()`` holds; re-checked by wake() on every change."""
        if condition():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((condition, waiter))
        await waiter

    def notify(self) -> None:
        """Something changed: re-check the waiters, if any (cheap when there are none)."""
        if self._waiters:
            self.wake()

    def wake(self) -> None:
        if not any(waiter.done() or condition() for condition, waiter in self._waiters):
            return  # the common case: nothing to release, nothing to rebuild
        pending = []
        for condition, waiter in self._waiters:
            if waiter.done():
                continue
            if condition():
                waiter.set_result(None)
            else:
                pending.append((condition, waiter))
        self._waiters = pending

    def fail_waiters(self) -> None:
        futures: list[asyncio.Future[Any]] = [waiter for _, waiter in self._waiters]
        futures += [w for waiters in self._pdu_waiters.values() for w in waiters]
        for future in futures:
            if not future.done():
                future.set_exception(SimulatorStoppedError("the simulator stopped"))
        self._waiters = []
        self._pdu_waiters.clear()
