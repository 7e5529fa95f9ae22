"""One TCP connection's bytes: PDU framing in, coalesced writes out, back-pressure.

Every write of one read (or of one loop turn) leaves in a single transport.write: at a few
thousand messages a second the syscalls and loop turns, not the PDUs, are the cost.
"""

from __future__ import annotations

import asyncio
import time
from typing import cast

import structlog

from channels.smpp.codec import FrameError, take_frames

log = structlog.get_logger(__name__)


class Link(asyncio.Protocol):
    """Subclasses handle frames in ``frames_received`` and say when output is ``held``."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._in = bytearray()
        self._out = bytearray()
        self._flush_scheduled = False
        self._closing = False
        self.last_rx = time.monotonic()
        self.peer = ""

    # ------------------------------------------------------------ for subclasses

    def frames_received(self, frames: list[bytes], at: float) -> None:
        raise NotImplementedError

    def held(self) -> bool:
        """True while nothing may be written (it stays queued until the next flush)."""
        return False

    # ------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # create_server gives a Transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._closing = True

    def data_received(self, data: bytes) -> None:
        buffer = self._in
        buffer += data
        try:
            frames = take_frames(buffer)
        except FrameError as exc:
            log.warning("esme_frame_rejected", peer=self.peer, error=str(exc))
            self.close()
            return
        if not frames:
            return
        at = time.monotonic()
        self.last_rx = at
        # Answers to one read leave in one write at its end, without a loop turn in between.
        scheduled, self._flush_scheduled = self._flush_scheduled, True
        try:
            self.frames_received(frames, at)
        finally:
            self._flush_scheduled = scheduled
        self._send_out()

    def pause_writing(self) -> None:
        # The ESME is not reading: stop reading its submits rather than buffer without end.
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._transport is not None and not self._closing:
            self._transport.resume_reading()

    # ------------------------------------------------------------ writing

    def write(self, data: bytes) -> None:
        """Queues bytes for this loop turn's single write."""
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self.flush)
        self._out += data

    def queue(self, data: bytes) -> None:
        """Queues bytes without scheduling a write: the caller calls flush() soon."""
        self._out += data

    def flush(self) -> None:
        self._flush_scheduled = False
        self._send_out()

    def _send_out(self) -> None:
        if self._transport is None or not self._out or self.held():
            return
        out, self._out = self._out, bytearray()
        self._transport.write(out)

    def close(self) -> None:
        """Writes what is queued (unless held), then closes."""
        self._closing = True
        if self._transport is not None:
            if self._out and not self.held():
                self._transport.write(self._out)
            self._out = bytearray()
            self._transport.close()

    def abort(self) -> None:
        """Drops the connection at once, like a lost link."""
        self._closing = True
        if self._transport is not None:
            self._transport.abort()
