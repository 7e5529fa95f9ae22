"""The Recorder: the channels' sink; stores what they report in batches, off the hot path.

A channel calls :meth:`Recorder.segment_submitted` and :meth:`Recorder.received` from its reader:
both only append to the pending batch (no await, no task per item). One writer task stores the
batch in one transaction as soon as it is free (group commit with no fixed wait: what arrives
while a write is in progress is the next batch, so batches grow with the load by themselves and
a lone item is stored at once), then resolves the futures handed out, so a channel acknowledges
a receipt or an inbound text to the carrier only once it is stored.

When the database cannot be written (disk full, locked by another process, an I/O error), the
batch is kept and written again, with back-off, until it goes in: nothing is dropped. Meanwhile
every bind holds its window slots (a segment's slot is freed once stored), so sending stops
after one window per bind, and receipts and texts are not acknowledged, so the SMSC keeps them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

import structlog

from channels.base import DeliveryReceipt, InboundSms, SegmentSubmitted
from smsgw.access.audit import AuditEntry
from smsgw.delivery.message import DeliveryBatch, Message, Outcome
from smsgw.delivery.outbox import OutboxOutcome
from smsgw.delivery.store import DeliveryLog
from smsgw.errors import StorageUnavailable
from smsgw.ids import new_id
from smsgw.metrics import Metrics

_log = structlog.get_logger(__name__)

# Segments whose final receipt may still come, for the latency metric: past this many the
# oldest are forgotten (receipts not asked for, or never sent, would otherwise pile up)
LATENCY_TRACKED = 200_000
# A carrier's receipt may come a little after the validity we gave the message ended
RECEIPT_GRACE = timedelta(hours=1)
# Waits between tries of a batch the database refused for a reason that passes (full, locked)
RETRY_FIRST_S, RETRY_MAX_S = 0.1, 2.0


class _Pending:
    __slots__ = ("batch", "futures", "waiters")

    def __init__(self) -> None:
        self.batch = DeliveryBatch()
        self.futures: list[asyncio.Future[None]] = []  # one per received() / messages_queued()
        self.waiters: list[asyncio.Future[None]] = []  # flush() calls

    def settle(self, error: BaseException | None) -> None:
        for future in (*self.futures, *self.waiters):
            if future.done():  # the caller cancelled its wait
                continue
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)


class Recorder:
    """Implements ``channels.base.ChannelSink``; also takes the sender's outcomes."""

    def __init__(
        self,
        log: DeliveryLog,
        carriers: Mapping[str, str],
        *,
        unmatched_keep: timedelta = timedelta(minutes=10),
        receipt_grace: timedelta = RECEIPT_GRACE,
        purge_interval: float = 60.0,
        metrics: Metrics | None = None,
    ) -> None:
        self._log = log
        self._carriers = dict(carriers)  # channel name -> carrier: receipts match per carrier
        self._unmatched_keep = unmatched_keep
        self._receipt_grace = receipt_grace
        self._purge_interval = purge_interval
        self._pending = _Pending()
        self._wake = asyncio.Event()  # the pending batch has something (or must be written)
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self.on_inbound: Callable[[], None] | None = None  # told after inbound texts are stored
        self._metrics = metrics or Metrics()  # none given: counted, never read
        self.storage_error: str | None = None  # why the database cannot be written, while so
        self._failing_since = 0.0
        # (carrier, carrier id) -> when accepted (monotonic); OrderedDict: the oldest go in O(1)
        self._submitted_at: OrderedDict[tuple[str, str], float] = OrderedDict()

    # ChannelSink

    def segment_submitted(self, event: SegmentSubmitted) -> asyncio.Future[None]:
        """Done once stored: the channel holds the segment's window slot until then, so a
        crash can lose the record of at most one window of accepted segments per bind."""
        carrier = self._carrier(event.channel)
        self._pending.batch.segments.append((carrier, event, time.time()))
        self._metrics.submitted(event.channel)
        self._track(carrier, event.carrier_id)
        return self._future()

    def received(self, item: InboundSms | DeliveryReceipt) -> asyncio.Future[None]:
        batch = self._pending.batch
        if isinstance(item, DeliveryReceipt):
            carrier = self._carrier(item.channel)
            batch.receipts.append((carrier, item, time.time()))
            self._metrics.receipt(item.state, self._latency(carrier, item))
        else:
            batch.inbound.append((new_id(), item, time.time()))
        return self._future()

    # from the sender

    def message_queued(self, message: Message) -> asyncio.Future[None]:
        """Store a new message; the future is done once it is committed (group commit: many
        API requests share one transaction)."""
        return self.messages_queued([message])

    def messages_queued(self, messages: list[Message]) -> asyncio.Future[None]:
        """Store new messages together: one future for them all (a batch of a thousand)."""
        self._pending.batch.messages.extend(messages)
        return self._future()

    def audited(self, entry: AuditEntry) -> None:
        """Store ``entry`` with what else is pending (the new messages it is about)."""
        self._pending.batch.audit.append(entry)
        self._added()

    def outcome(self, outcome: Outcome) -> None:
        self._pending.batch.outcomes.append((outcome, time.time()))
        self._added()

    # from the broadcast dispatcher

    def outbox_outcome(self, outcome: OutboxOutcome) -> None:
        self._pending.batch.outbox.append((outcome, time.time()))
        self._added()

    def committed(self) -> asyncio.Future[None]:
        """Done once everything handed over so far is stored."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.waiters.append(waiter)
        self._wake.set()
        return waiter

    # lifecycle

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="recorder")

    async def flush(self) -> None:
        """Wait until everything handed over so far is stored."""
        if self._task is None or self._task.done():
            raise RuntimeError("the recorder is not running")
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.waiters.append(waiter)
        self._wake.set()
        await waiter

    async def close(self) -> None:
        """Store what is pending, then stop the writer. Items handed over after this are lost:
        close the recorder after whatever feeds it (channels, sender)."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task

    def _carrier(self, channel: str) -> str:
        return self._carriers.get(channel, channel)

    def _track(self, carrier: str, carrier_id: str) -> None:
        self._submitted_at[carrier, carrier_id] = time.monotonic()
        if len(self._submitted_at) > LATENCY_TRACKED:
            self._submitted_at.popitem(last=False)

    def _latency(self, carrier: str, receipt: DeliveryReceipt) -> float | None:
        """Seconds since its segment was accepted, for a final receipt whose submit we saw
        (not one that came ahead of its submit response, nor one of before a restart)."""
        if not receipt.state.final:
            return None
        submitted = self._submitted_at.pop((carrier, receipt.carrier_id), None)
        return None if submitted is None else time.monotonic() - submitted

    def _future(self) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.futures.append(future)
        self._added()
        return future

    def _added(self) -> None:
        self._wake.set()  # (a no-op once set: the writer takes everything pending at once)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_purge = loop.time() + self._purge_interval
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, next_purge - loop.time())):
                    await self._wake.wait()
            if self._wake.is_set():
                # one turn of the loop: what the same burst of frames hands over goes along
                await asyncio.sleep(0)
                pending, self._pending = self._pending, _Pending()
                self._wake.clear()
                await self._write(pending)  # what comes meanwhile wakes the next round
            if loop.time() >= next_purge:
                await self.purge()
                next_purge = loop.time() + self._purge_interval
            if self._closing and not (self._pending.batch or self._pending.waiters):
                return

    async def _write(self, pending: _Pending) -> None:
        batch = pending.batch
        try:
            if batch:
                await self._record(batch)
        except Exception as exc:  # noqa: BLE001  # task root: record the next batches anyway
            _log.exception(
                "recorder_batch_failed",
                messages=len(batch.messages),
                segments=len(batch.segments),
                receipts=len(batch.receipts),
                inbound=len(batch.inbound),
                outcomes=len(batch.outcomes),
            )
            pending.settle(exc)
            return
        pending.settle(None)
        for id_, sms, _ in batch.inbound:
            _log.info("inbound_received", id=id_, sender=sms.sender, to=sms.to, channel=sms.channel)
        if batch.inbound and self.on_inbound is not None:
            self.on_inbound()

    async def _record(self, batch: DeliveryBatch) -> None:
        """Writes the batch, trying again while the database itself fails (it is one
        transaction: a failed try leaves nothing behind). Gives up only when closing."""
        wait = RETRY_FIRST_S
        while True:
            try:
                await self._log.record(batch)
            except StorageUnavailable as exc:
                if self.storage_error is None:
                    self._failing_since = time.monotonic()
                    _log.error("storage_failing", error=str(exc), items=len(batch))
                    self._metrics.storage_failing(True)
                self.storage_error = str(exc)
                if self._closing:
                    raise
                await asyncio.sleep(wait)
                wait = min(wait * 2, RETRY_MAX_S)
                continue
            if self.storage_error is not None:
                failed_s = time.monotonic() - self._failing_since
                _log.warning("storage_recovered", failed_s=round(failed_s, 1), items=len(batch))
                self.storage_error = None
                self._metrics.storage_failing(False)
            return

    async def purge(self) -> None:
        """Drop receipts unmatched for longer than ``unmatched_keep``, and settle messages with
        no final receipt ``receipt_grace`` after their validity ended (run every minute)."""
        try:
            dropped = await self._log.purge_unmatched(datetime.now(UTC) - self._unmatched_keep)
        except Exception:  # noqa: BLE001  # task root: try again at the next purge
            _log.exception("receipt_purge_failed")
            return
        for receipt in dropped:
            _log.warning(
                "receipt_unmatched_dropped",
                carrier=receipt.carrier,
                carrier_id=receipt.carrier_id,
                state=receipt.state,
                received_at=receipt.received_at.isoformat(),
            )
        try:
            unknown = await self._log.settle_unconfirmed(datetime.now(UTC) - self._receipt_grace)
        except Exception:  # noqa: BLE001  # task root: try again at the next purge
            _log.exception("unconfirmed_settle_failed")
            return
        for message_id in unknown:
            _log.warning("message_outcome_unknown", id=message_id, error="no_receipt")
