"""Delivery receipts: outcome drawing, timing, and routing to a receiver of the same system_id.

One deque and at most one timer serve every receipt: the delay is constant, so receipts fall
due in the order they were queued.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections import deque
from typing import TYPE_CHECKING

from channels.smpp.codec import ShortMessage

from .config import SimulatorConfig
from .receipt_pdu import ReceiptJob, encode_receipt, job_for
from .state import SimulatorState

if TYPE_CHECKING:
    from .session import SmscSession

# Receipts are sent up to this much after they fall due, so those due close together leave in
# one write (and their deliver_sm_resp come back in one read) instead of one wake-up each.
BATCH_S = 0.005

# (job, state, submit date)
_Receipt = tuple[ReceiptJob, str, bytes]


def _is_hex(value: str) -> bool:
    return bool(value) and all(char in "0123456789abcdefABCDEF" for char in value)


class _Dates:
    """YYMMDDhhmm (UTC) of now, formatted once a minute rather than once a receipt."""

    def __init__(self) -> None:
        self._minute = -1
        self._text = b""

    def now(self) -> bytes:
        now = time.time()
        minute = int(now // 60)
        if minute != self._minute:
            self._minute = minute
            self._text = time.strftime("%y%m%d%H%M", time.gmtime(now)).encode()
        return self._text


class ReceiptScheduler:
    """Draws each receipt's outcome, holds it for receipt_delay_s, sends it to a receiver."""

    def __init__(self, config: SimulatorConfig, state: SimulatorState) -> None:
        self._state = state
        self._enabled = config.receipts
        self._delay = config.receipt_delay_s
        self._format = config.receipt_format
        self._decimal_text_id = (
            config.receipt_text_id == "decimal" and config.message_id_format == "hex"
        )
        self._keep = config.keep_submits
        self._outcomes = list(config.receipt_mix)
        weights = list(config.receipt_mix.values())
        self._cumulative = [sum(weights[: i + 1]) for i in range(len(weights))]
        self._dates = _Dates()
        self._due: deque[tuple[float, ReceiptJob, str, bytes]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._waiting: dict[str, deque[_Receipt]] = {}  # per system_id, until a receiver binds

    @property
    def queued(self) -> int:
        return len(self._due) + sum(len(waiting) for waiting in self._waiting.values())

    def draw(self) -> str:
        point = self._state.rng.random() * self._cumulative[-1]
        index = bisect.bisect_right(self._cumulative, point)
        return self._outcomes[min(index, len(self._outcomes) - 1)]

    def accepted(
        self, system_id: str, message_id: str, pdu: ShortMessage, *, now: bool = False
    ) -> None:
        """Called for every accepted submit_sm; ``now`` skips the delay."""
        wanted = pdu.registered_delivery & 0x03  # SMPP 3.4 §5.2.17
        if not wanted or not self._enabled:
            return
        state = self.draw()
        if wanted == 2 and state == "delivered":
            return  # 2: a receipt on failure only
        job = job_for(system_id, message_id, pdu)
        submit_date = self._dates.now()
        if now or self._delay <= 0:
            self.deliver(job, state, submit_date)
            return
        loop = asyncio.get_running_loop()
        due = loop.time() + self._delay
        self._due.append((due, job, state, submit_date))
        if self._timer is None:
            self._timer = loop.call_at(due + BATCH_S, self._send_due)

    def _send_due(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        due = self._due
        now = loop.time()
        touched: set[SmscSession] = set()
        receiver_for = self._state.receiver_for
        while due and due[0][0] <= now:
            _, job, state, submit_date = due.popleft()
            session = receiver_for(job.system_id)
            if session is None:
                self._wait(job, state, submit_date)
            else:
                self._send(session, job, state, submit_date, queue=True)
                touched.add(session)
        for session in touched:
            session.flush()  # one write per session per batch, in this loop turn
        if due:
            self._timer = loop.call_at(due[0][0] + BATCH_S, self._send_due)

    def deliver(
        self, job: ReceiptJob, state: str, submit_date: bytes, *, any_receiver: bool = False
    ) -> None:
        """Sends the receipt now to a receiver of the job's system_id, or keeps it waiting."""
        session = self._state.receiver_for(None if any_receiver else job.system_id)
        if session is None:
            self._wait(job, state, submit_date)
        else:
            self._send(session, job, state, submit_date)

    def _wait(self, job: ReceiptJob, state: str, submit_date: bytes) -> None:
        waiting = self._waiting.get(job.system_id)
        if waiting is None:
            waiting = self._waiting[job.system_id] = deque(maxlen=self._keep)
        waiting.append((job, state, submit_date))

    def receiver_bound(self, session: SmscSession) -> None:
        """Sends what waited for a receiver of this system_id."""
        waiting = self._waiting.pop(session.system_id, None)
        while waiting:
            self._send(session, *waiting.popleft())

    def _send(
        self,
        session: SmscSession,
        job: ReceiptJob,
        state: str,
        submit_date: bytes,
        *,
        queue: bool = False,
    ) -> None:
        text_id = job.message_id
        if self._decimal_text_id and _is_hex(text_id):
            text_id = str(int(text_id, 16))
        # The duplicate fault: some SMSCs send a receipt again (e.g. after a failover).
        for _ in range(2 if self._state.duplicate_receipts else 1):
            sequence = session.next_sequence()
            session.unacked[sequence] = (job, state, submit_date)
            (session.queue if queue else session.write)(
                encode_receipt(
                    sequence,
                    job,
                    state,
                    submit_date=submit_date or self._dates.now(),
                    done_date=self._dates.now(),
                    receipt_format=self._format,
                    text_id=text_id,
                )
            )
            self._state.receipts_sent += 1
        self._state.notify()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
