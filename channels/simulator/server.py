"""The scriptable SMSC simulator: its listener, its API for tests, and its fault switches."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

import structlog
from aiohttp import web

from channels.smpp.address import address
from channels.smpp.codec import Pdu, Status

from .config import SimulatorConfig
from .control import build_control_app
from .faults import malformed_pdu
from .mo import PartsMode, encode_mo
from .receipt_pdu import MAX_ADDRESS, STATES, ReceiptJob
from .receipts import ReceiptScheduler
from .records import Submit
from .session import SmscSession
from .state import NoReceiverError, SimulatorState

log = structlog.get_logger(__name__)


def mask(number: str) -> str:
    """A phone number for the logs: its last two characters only."""
    return "…" + number[-2:]


class Simulator:
    """An SMSC on 127.0.0.1 for tests, the demo and benchmarks; see SimulatorConfig."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self._state = SimulatorState(config)
        self._receipts = ReceiptScheduler(config, self._state)
        self._server: asyncio.Server | None = None
        self._control: web.AppRunner | None = None
        self._hang_timer: asyncio.TimerHandle | None = None
        self._mo_reference = self._state.rng.randrange(0x10000)
        self.port = config.port
        self.control_port = config.control_port

    # ------------------------------------------------------------ life cycle

    async def start(self) -> None:
        await self._listen(self.config.port)
        if self.config.control_port is not None:
            try:
                await self._start_control(self.config.control_port)
            except BaseException:
                await self.stop()  # e.g. the control port is taken: leave nothing listening
                raise
        log.info(
            "simulator_started",
            host=self.config.host,
            port=self.port,
            control_port=self.control_port,
        )

    async def _listen(self, port: int) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SmscSession(self._state, self._receipts), self.config.host, port
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _start_control(self, port: int) -> None:
        self._control = web.AppRunner(build_control_app(self), access_log=None)
        await self._control.setup()
        await web.TCPSite(self._control, self.config.host, port).start()
        self.control_port = self._control.addresses[0][1]

    async def stop(self) -> None:
        if self._control is not None:
            await self._control.cleanup()
            self._control = None
        if self._server is not None:
            self._server.close()
            for session in list(self._state.sessions):
                session.abort()
            await self._server.wait_closed()
            self._server = None
        if self._hang_timer is not None:
            self._hang_timer.cancel()
        self._receipts.close()
        self._state.fail_waiters()
        log.info("simulator_stopped", submits=self._state.submits.total)

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    # ------------------------------------------------------------ what happened

    @property
    def submits(self) -> Sequence[Submit]:
        """Every submit_sm received, oldest first (the last ``keep_submits`` of them); a
        list-like view that decodes each Submit when read."""
        return self._state.submits

    @property
    def submit_total(self) -> int:
        return self._state.submits.total

    @property
    def generic_nacks(self) -> list[Pdu]:
        """generic_nack PDUs the ESMEs sent us."""
        return self._state.generic_nacks

    @property
    def deliver_sm_resps(self) -> Counter[int]:
        """command_status -> how many deliver_sm_resp carried it."""
        return self._state.deliver_sm_resps

    def most_bound(self) -> dict[str, int]:
        """system_id -> the most sessions bound with it at any one moment since the start (the
        bind log: more than one where each ESME may hold one bind is two ESMEs on it)."""
        now: Counter[str] = Counter()
        most: dict[str, int] = {}
        for _at, system_id, _session, bound in self._state.bind_log:
            now[system_id] += 1 if bound else -1
            most[system_id] = max(most.get(system_id, 0), now[system_id])
        return most

    def binds_of(self, system_id: str) -> list[tuple[float, bool]]:
        """(time.monotonic(), bound or unbound) of every session of ``system_id``, in order."""
        return [(at, bound) for at, sid, _, bound in self._state.bind_log if sid == system_id]

    def bound(self) -> list[str]:
        """Every bound session as "system_id:bind type", e.g. "smsgw:transceiver"."""
        return sorted(f"{s.system_id}:{s.bind_type}" for s in self._state.bound_sessions())

    def status(self) -> dict[str, Any]:
        state = self._state
        return {
            "bound": self.bound(),
            "connections": len(state.sessions),
            "binds": state.binds,
            "submits": state.submits.total,
            "accepted": state.accepted,
            "throttled": state.throttled,
            "receipts_sent": state.receipts_sent,
            "receipts_queued": self._receipts.queued,
            "mo_sent": state.mo_sent,
            "generic_nacks_received": len(state.generic_nacks),
            "deliver_sm_resps": {str(k): v for k, v in sorted(state.deliver_sm_resps.items())},
            "hanging": state.hanging,
        }

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        """Returns once ``condition()`` holds; checked again at every bind, unbind,
        disconnection, submit and receipt. Wrap it in a timeout."""
        await self._state.wait_until(condition)

    async def wait_submits(self, n: int) -> None:
        """Returns once ``n`` submit_sm have been received since start."""
        await self._state.wait_until(lambda: self._state.submits.total >= n)

    async def wait_bound(self, n: int = 1) -> None:
        await self._state.wait_until(lambda: len(self._state.bound_sessions()) >= n)

    async def wait_receipts(self, n: int) -> None:
        """Returns once ``n`` receipts have been sent since start."""
        await self._state.wait_until(lambda: self._state.receipts_sent >= n)

    async def await_pdu(self, command_id: int) -> Pdu:
        """The oldest PDU of that command received from any ESME and not yet taken (the last
        1,000 per command are kept), else the next one to arrive. Wrap it in a timeout."""
        return await self._state.await_pdu(command_id)

    def clear_pdus(self) -> None:
        """Forgets the received PDUs await_pdu() has not taken."""
        self._state.clear_pdus()

    # ------------------------------------------------------------ things to send

    async def inject_mo(
        self,
        sender: str,
        text: str,
        to: str | None = None,
        *,
        parts: PartsMode = "udh",
        system_id: str | None = None,
    ) -> int:
        """Delivers a mobile-originated text to a bound receiver or transceiver (of
        ``system_id`` when given); returns the number of deliver_sm sent."""
        session = self._state.receiver_for(system_id)
        if session is None:
            raise NoReceiverError("no receiver or transceiver is bound")
        self._mo_reference = (self._mo_reference + 1) & 0xFFFF
        pdus = encode_mo(
            sender,
            to or self.config.short_code,
            text,
            reference=self._mo_reference,
            parts=parts,
            next_sequence=session.next_sequence,
        )
        for pdu in pdus:
            session.write(pdu)
        self._state.mo_sent += 1
        self._state.notify()
        log.info(
            "mo_injected",
            sender=mask(sender),
            to=mask(to or self.config.short_code),
            pdus=len(pdus),
            system_id=session.system_id,
        )
        return len(pdus)

    async def send_receipt(
        self,
        message_id: str,
        state: str = "delivered",
        *,
        system_id: str | None = None,
        handset: str = "+5016012345",
        sender: str | None = None,
        text: str = "",
    ) -> None:
        """Sends a receipt for any id (submitted or not). With ``system_id`` it waits for a
        receiver of that system_id like any receipt; without, it goes to any receiver."""
        if state not in STATES:
            raise ValueError(f"unknown receipt state {state!r}; use one of {', '.join(STATES)}")
        if system_id is None and self._state.receiver_for(None) is None:
            raise NoReceiverError("no receiver or transceiver is bound")
        source, source_ton, source_npi = address(sender or self.config.short_code)
        destination, dest_ton, dest_npi = address(handset)
        if max(len(source), len(destination)) > MAX_ADDRESS:
            raise ValueError(f"addresses are at most {MAX_ADDRESS} characters")
        job = ReceiptJob(
            system_id or "",
            message_id,
            destination.encode("latin-1"),
            dest_ton,
            dest_npi,
            source.encode("latin-1"),
            source_ton,
            source_npi,
            text[:20].encode("ascii", "replace"),
        )
        self._receipts.deliver(job, state, b"", any_receiver=system_id is None)

    # ------------------------------------------------------------ faults (STYLE B6)

    @property
    def receipt_before_response(self) -> bool:
        """When set, each receipt is written before its submit_sm_resp (no receipt delay)."""
        return self._state.receipt_before_response

    @receipt_before_response.setter
    def receipt_before_response(self, on: bool) -> None:
        self._state.receipt_before_response = on
        log.info("fault_applied", fault="receipt_before_response", on=on)

    def drop_links(self) -> None:
        """Closes every ESME connection abruptly, as a lost link would."""
        log.info("fault_applied", fault="drop_links", sessions=len(self._state.sessions))
        for session in list(self._state.sessions):
            session.abort()

    def hang(self, on: bool = True, *, seconds: float | None = None) -> None:
        """While on, nothing is answered nor sent; what was queued goes out when it ends.
        With ``seconds``, the hang ends by itself."""
        if self._hang_timer is not None:
            self._hang_timer.cancel()
            self._hang_timer = None
        self._state.hanging = on
        log.info("fault_applied", fault="hang", on=on, seconds=seconds)
        if on and seconds is not None:
            self._hang_timer = asyncio.get_running_loop().call_later(seconds, self.hang, False)
        if not on:
            for session in self._state.sessions:
                session.flush()
        self._state.notify()

    def reply_next(self, status: int, count: int = 1) -> None:
        """Answers the next ``count`` submit_sm with ``status`` (not accepted, no receipt)."""
        self._state.reply_status = status
        self._state.reply_count = count
        log.info("fault_applied", fault="reply_next", status=status, count=count)

    def send_malformed(self, kind: str = "bad_tlv") -> None:
        """Writes one malformed PDU to every connected ESME (see faults.malformed_pdu)."""
        malformed_pdu(kind, 1)  # unknown kinds fail here, before anything is sent
        log.info("fault_applied", fault="malformed", kind=kind)
        for session in self._state.sessions:
            session.write(malformed_pdu(kind, session.next_sequence()))

    def fail_share(self, share: float, statuses: Sequence[int] = (Status.ESME_RSYSERR,)) -> None:
        """Answers each submit_sm, with probability ``share``, with one of ``statuses`` (drawn
        at random; not accepted, no receipt). ``share`` 0 ends it."""
        if not 0 <= share <= 1 or (share and not statuses):
            raise ValueError("share is between 0 and 1, with at least one status")
        self._state.fail_share = share
        self._state.fail_statuses = tuple(statuses)
        log.info("fault_applied", fault="fail_share", share=share, statuses=list(statuses))

    def refuse_binds(self, status: int = Status.ESME_RBINDFAIL) -> None:
        """Refuses every bind with ``status`` (e.g. ESME_RINVPASWD) until called with 0;
        sessions already bound stay bound."""
        self._state.refuse_binds = status
        log.info("fault_applied", fault="refuse_binds", status=status)

    def duplicate_receipts(self, on: bool = True) -> None:
        """While on, every receipt is sent twice (two deliver_sm, same id and state)."""
        self._state.duplicate_receipts = on
        log.info("fault_applied", fault="duplicate_receipts", on=on)

    async def go_down(self) -> None:
        """The SMSC goes away: its links close and new connections are refused until
        come_up(). Receipts not yet acknowledged are kept and sent once someone binds again."""
        if self._server is None:
            return
        log.info("fault_applied", fault="down", sessions=len(self._state.sessions))
        self._server.close()
        for session in list(self._state.sessions):
            session.abort()
        await self._server.wait_closed()
        self._server = None

    async def come_up(self) -> None:
        """Listens again on the same port after go_down()."""
        if self._server is None:
            await self._listen(self.port)
            log.info("fault_cleared", fault="down", port=self.port)

    def unbind_all(self) -> None:
        """SMSC-initiated unbind on every bound session."""
        log.info("fault_applied", fault="unbind_all")
        for session in self._state.bound_sessions():
            session.unbind()


async def run_simulator(
    config: SimulatorConfig, *, on_started: Callable[[Simulator], None] | None = None
) -> None:
    """Runs the simulator until cancelled (``smsgw simulator``, the demo); ``on_started``
    gets the running simulator, e.g. to print its ports."""
    async with Simulator(config) as simulator:
        if on_started is not None:
            on_started(simulator)
        await asyncio.Event().wait()
