"""One bound SMPP TCP session: bind, read loop, keep-alive, sequence → pending submit, unbind.

The session knows PDUs, not messages: it writes what the channel gives it, matches responses
by sequence number and hands them back synchronously from the reader, so the channel records a
carrier id before the next PDU of the same read (possibly its receipt) is looked at.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any, Protocol, cast

import structlog

from channels.smpp import codec
from channels.smpp.codec import Command, Status

log = structlog.get_logger("channels.smpp")

MAX_SEQUENCE = 0x7FFFFFFF
FLUSH_AT = 64 * 1024  # write at once above this; below it, once per loop turn
NO_RESPONSE = -1  # the status handed to on_submit_resp when no response came in time


class BindError(Exception):
    """The SMSC refused the bind; ``code`` is the SMPP status name (e.g. ESME_RINVPASWD)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class Outgoing(Protocol):
    """What the channel hands the session to submit: a PDU whose sequence the session sets."""

    frame: bytes
    sent_at: float


SubmitHandler = Callable[[Any, int, str], None]
DeliverHandler = Callable[[codec.ShortMessage], "asyncio.Future[None] | None"]


class SmppSession(asyncio.Protocol):
    def __init__(
        self,
        *,
        name: str,
        on_submit_resp: SubmitHandler,
        on_deliver: DeliverHandler,
        response_timeout_s: float,
        enquire_link_s: float,
    ) -> None:
        self.name = name
        self.on_submit_resp = on_submit_resp
        self.on_deliver = on_deliver
        self.response_timeout_s = response_timeout_s
        self.enquire_link_s = enquire_link_s
        self.pending: dict[int, Any] = {}  # seq → Outgoing, oldest first
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.close_reason = ""
        self._requests: dict[int, asyncio.Future[codec.Pdu]] = {}
        self._transport: asyncio.Transport | None = None
        self._inbox = bytearray()
        self._outbox = bytearray()
        self._flush_scheduled = False
        self._sequence = 0
        self._last_heard = time.monotonic()
        self._watchdog: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ opening and closing

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        *,
        bind: Command,
        system_id: str,
        password: str,
        system_type: str = "",
        **kwargs: Any,
    ) -> SmppSession:
        """Connect and bind; raises BindError, OSError or TimeoutError."""
        loop = asyncio.get_running_loop()
        session = cls(**kwargs)
        async with asyncio.timeout(session.response_timeout_s):
            await loop.create_connection(lambda: session, host, port)
        try:
            resp = await session.request(
                lambda seq: codec.encode_bind(
                    bind, seq, system_id=system_id, password=password, system_type=system_type
                )
            )
            if resp.status != Status.ESME_ROK:
                raise BindError(codec.status_name(resp.status))
        except BaseException:
            session.close("bind failed")
            raise
        session._watchdog = loop.create_task(session._keep_alive(), name=f"{session.name}-watch")
        return session

    def close(self, reason: str) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self.close_reason = self.close_reason or reason
            self._flush()
            self._transport.close()

    async def unbind(self, wait_s: float | None = None) -> None:
        """Polite goodbye (SMPP 3.4 §4.2): unbind, wait for unbind_resp (response_timeout_s,
        or ``wait_s`` if given), close."""
        if self._transport is None or self._transport.is_closing():
            return
        with contextlib.suppress(TimeoutError, ConnectionError):
            await self.request(lambda seq: codec.encode_header(Command.UNBIND, seq), wait_s=wait_s)
        self.close("unbound")
        with contextlib.suppress(Exception):
            await asyncio.shield(self.closed)

    # ------------------------------------------------------------ writing

    def next_sequence(self) -> int:
        self._sequence = self._sequence % MAX_SEQUENCE + 1
        return self._sequence

    def submit(self, outgoing: Outgoing) -> None:
        seq = self.next_sequence()
        frame = outgoing.frame
        self._write(frame[:12] + seq.to_bytes(4, "big") + frame[16:])
        outgoing.sent_at = time.monotonic()
        self.pending[seq] = outgoing

    async def request(
        self, build: Callable[[int], bytes], *, wait_s: float | None = None
    ) -> codec.Pdu:
        """Send a session request (bind, enquire_link, unbind) and await its response
        (response_timeout_s, or ``wait_s`` if given)."""
        seq = self.next_sequence()
        future: asyncio.Future[codec.Pdu] = asyncio.get_running_loop().create_future()
        self._requests[seq] = future
        self._write(build(seq))
        try:
            async with asyncio.timeout(self.response_timeout_s if wait_s is None else wait_s):
                return await future
        finally:
            self._requests.pop(seq, None)

    def _write(self, data: bytes) -> None:
        self._outbox += data
        if len(self._outbox) >= FLUSH_AT:
            self._flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._outbox and self._transport is not None and not self._transport.is_closing():
            self._transport.write(bytes(self._outbox))
        self._outbox.clear()

    # ------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A TCP transport (asyncio's or uvloop's, which does not subclass asyncio.Transport).
        self._transport = cast("asyncio.Transport", transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.close_reason = self.close_reason or (str(exc) if exc else "closed by the SMSC")
        if self._watchdog is not None:
            self._watchdog.cancel()
        for future in self._requests.values():
            if not future.done():
                future.set_exception(ConnectionError(self.close_reason))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        self._last_heard = time.monotonic()
        self._inbox += data
        while True:
            try:
                frames = codec.take_frames(self._inbox)
            except codec.FrameError as exc:
                # The stream has lost its framing; nothing after this point can be trusted.
                log.warning("smpp_stream_broken", channel=self.name, error=str(exc))
                self.close(f"broken stream: {exc}")
                return
            for frame in frames:
                self._dispatch(frame)
            if not frames or len(self._inbox) < 4:
                return

    # ------------------------------------------------------------ reading

    def _dispatch(self, frame: bytes) -> None:
        try:
            pdu = codec.decode(frame)
        except codec.PduError as exc:
            log.warning("pdu_rejected", channel=self.name, error=str(exc), sequence=exc.sequence)
            self._write(codec.encode_header(Command.GENERIC_NACK, exc.sequence, exc.status))
            return
        command = pdu.command_id
        if command == Command.SUBMIT_SM_RESP:
            outgoing = self.pending.pop(pdu.sequence, None)
            if outgoing is None:
                log.warning("submit_resp_unexpected", channel=self.name, sequence=pdu.sequence)
                return
            assert isinstance(pdu, codec.SubmitSmResp)  # noqa: S101 - decode guarantees it
            self.on_submit_resp(outgoing, pdu.status, pdu.message_id)
        elif command == Command.DELIVER_SM:
            assert isinstance(pdu, codec.ShortMessage)  # noqa: S101 - decode guarantees it
            self._deliver(pdu)
        elif command == Command.ENQUIRE_LINK:
            self._write(codec.encode_header(Command.ENQUIRE_LINK_RESP, pdu.sequence))
        elif command == Command.UNBIND:
            log.info("smpp_unbound_by_smsc", channel=self.name)
            self._write(codec.encode_header(Command.UNBIND_RESP, pdu.sequence))
            self.close("unbound by the SMSC")
        elif command == Command.GENERIC_NACK and pdu.sequence in self.pending:
            outgoing = self.pending.pop(pdu.sequence)
            self.on_submit_resp(outgoing, pdu.status or Status.ESME_RSYSERR, "")
        elif command & codec.RESPONSE_BIT:
            future = self._requests.get(pdu.sequence)
            if future is not None and not future.done():
                future.set_result(pdu)
        else:
            # A request an ESME does not serve (submit_sm from the SMSC, a bind, …).
            self._write(
                codec.encode_header(Command.GENERIC_NACK, pdu.sequence, Status.ESME_RINVCMDID)
            )

    def _deliver(self, pdu: codec.ShortMessage) -> None:
        seq = pdu.sequence
        try:
            stored = self.on_deliver(pdu)
        except Exception:  # one bad deliver_sm must not kill the link
            log.exception("deliver_failed", channel=self.name, sequence=seq)
            self._write(codec.encode_deliver_sm_resp(seq, Status.ESME_RX_T_APPN))
            return
        if stored is None:
            self._write(codec.encode_deliver_sm_resp(seq))
            return

        def answer(done: asyncio.Future[None]) -> None:
            # Acknowledge only once stored; if storing failed the SMSC should retry it later.
            failed = done.cancelled() or done.exception() is not None
            self._write(codec.encode_deliver_sm_resp(seq, Status.ESME_RX_T_APPN if failed else 0))

        stored.add_done_callback(answer)

    # ------------------------------------------------------------ timers

    async def _keep_alive(self) -> None:
        """enquire_link when the line is quiet; expire submits that get no response."""
        tick = min(self.enquire_link_s, self.response_timeout_s) / 4
        while True:
            await asyncio.sleep(tick)
            self._expire_pending()
            if time.monotonic() - self._last_heard < self.enquire_link_s:
                continue
            try:
                await self.request(lambda seq: codec.encode_header(Command.ENQUIRE_LINK, seq))
            except (TimeoutError, ConnectionError):
                log.warning("smpp_link_dead", channel=self.name)
                self.close("no answer to enquire_link")
                return

    def _expire_pending(self) -> None:
        deadline = time.monotonic() - self.response_timeout_s
        expired = []
        for seq, outgoing in self.pending.items():
            if outgoing.sent_at > deadline:
                break  # the rest were sent later
            expired.append(seq)
        for seq in expired:
            outgoing = self.pending.pop(seq)
            self.on_submit_resp(outgoing, NO_RESPONSE, "")
