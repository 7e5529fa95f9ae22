"""One ESME session as the SMSC sees it: bind state, keep-alive, and the answer to each PDU.

The hot path (submit_sm in, submit_sm_resp out, deliver_sm_resp in) decodes only submit_sm
bodies; framing and write coalescing are the Link's.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

import structlog

from channels.smpp.codec import (
    BIND_COMMANDS,
    HEADER,
    RESPONSE_BIT,
    Bind,
    Command,
    Pdu,
    PduError,
    ShortMessage,
    Status,
    decode,
    encode_bind_resp,
    encode_header,
    encode_submit_sm_resp,
)
from channels.text import decode as decode_text

from .link import Link
from .receipt_pdu import MAX_ADDRESS, ReceiptJob
from .receipts import ReceiptScheduler
from .state import SimulatorState

log = structlog.get_logger(__name__)

SYSTEM_ID = "SMSGWSIM"  # the SMSC's own system_id in bind responses
BIND_TYPES = {
    Command.BIND_TRANSMITTER: "transmitter",
    Command.BIND_RECEIVER: "receiver",
    Command.BIND_TRANSCEIVER: "transceiver",
}
# SMPP 3.4 §5.1.3: 0x0A invalid source address, 0x0B invalid destination address.
ESME_RINVSRCADR = 0x0A

_Handler = Callable[[bytes, int, int, float], None]


class SmscSession(Link):
    """The SMSC side of one ESME connection: bind state, keep-alive, and PDU answers."""

    def __init__(self, state: SimulatorState, receipts: ReceiptScheduler) -> None:
        super().__init__()
        config = state.config
        self._state = state
        self._receipts = receipts
        self._sequence = 0
        self._tps = config.tps
        self._window: deque[float] = deque()  # accept times within the last second
        self._response_delay = config.response_delay_s
        self._log_submits = config.log_submits
        self._delayed: deque[tuple[float, bytes]] = deque()
        self._delayed_timer: asyncio.TimerHandle | None = None
        self._keepalive_s = config.enquire_link_s
        self._keepalive: asyncio.TimerHandle | None = None
        self.system_id = ""
        # receipts sent and not yet acknowledged, by sequence: sent again if the link goes
        self.unacked: dict[int, tuple[ReceiptJob, str, bytes]] = {}
        self.bind_type: str | None = None
        self.can_submit = False
        self.can_receive = False
        self._handlers: dict[int, _Handler] = {
            Command.SUBMIT_SM: self._on_submit_sm,
            Command.DELIVER_SM_RESP: self._on_deliver_sm_resp,
            Command.ENQUIRE_LINK: self._on_enquire_link,
            Command.ENQUIRE_LINK_RESP: self._on_nothing,
            Command.UNBIND: self._on_unbind,
            Command.UNBIND_RESP: self._on_unbind_resp,
            Command.GENERIC_NACK: self._on_generic_nack,
            Command.BIND_TRANSMITTER: self._on_bind,
            Command.BIND_RECEIVER: self._on_bind,
            Command.BIND_TRANSCEIVER: self._on_bind,
        }

    # ------------------------------------------------------------ connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._state.sessions.add(self)
        log.info("esme_connected", peer=self.peer)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        for timer in (self._keepalive, self._delayed_timer):
            if timer is not None:
                timer.cancel()
        self._unregister()
        self._state.sessions.discard(self)
        unacked, self.unacked = self.unacked, {}
        for receipt in unacked.values():  # as an SMSC does: kept until acknowledged
            self._receipts.deliver(*receipt)
        self._state.notify()
        log.info("esme_disconnected", peer=self.peer, system_id=self.system_id, error=str(exc))

    def held(self) -> bool:
        return self._state.hanging  # while hanging nothing leaves; it goes out when it ends

    def next_sequence(self) -> int:
        self._sequence = self._sequence % 0x7FFFFFFF + 1
        return self._sequence

    def close(self) -> None:
        self._unregister()
        super().close()

    def unbind(self) -> None:
        """SMSC-initiated unbind (SMPP 3.4 §4.2): the ESME answers, then we close."""
        if self.bind_type is not None and not self._closing:
            self._unregister()
            self.write(encode_header(Command.UNBIND, self.next_sequence()))

    def _unregister(self) -> None:
        if self.bind_type is not None:
            self._state.bind_log.append((time.monotonic(), self.system_id, id(self), False))
        if self.can_receive:
            receivers = self._state.receivers.get(self.system_id, [])
            if self in receivers:
                receivers.remove(self)
            if not receivers:
                self._state.receivers.pop(self.system_id, None)
        self.bind_type = None
        self.can_submit = self.can_receive = False
        self._state.notify()

    # ------------------------------------------------------------ reading

    def frames_received(self, frames: list[bytes], at: float) -> None:
        state = self._state
        note = state.note_pdu
        handlers = self._handlers
        for frame in frames:
            _, command_id, status, sequence = HEADER.unpack_from(frame)
            note(command_id, frame)
            if state.hanging or self._closing:
                continue  # a hung SMSC reads and never answers
            handler = handlers.get(command_id)
            if handler is None:
                self._on_other(frame, command_id, sequence)
            else:
                handler(frame, status, sequence, at)

    def _nack(self, sequence: int, status: int) -> None:
        self.write(encode_header(Command.GENERIC_NACK, sequence, status))

    def _on_submit_sm(self, frame: bytes, _status: int, sequence: int, at: float) -> None:
        try:
            pdu = decode(frame)
        except PduError as exc:
            log.info("esme_pdu_nacked", peer=self.peer, error=str(exc))
            self._nack(exc.sequence, exc.status)
            return
        if not isinstance(pdu, ShortMessage):  # decode() gives one for submit_sm
            return
        state = self._state
        status: int
        if not self.can_submit:
            status = Status.ESME_RINVBNDSTS
        elif state.reply_count:
            state.reply_count -= 1
            status = state.reply_status
        elif state.fail_share and state.rng.random() < state.fail_share:
            status = state.rng.choice(state.fail_statuses)
        elif len(pdu.source_addr) > MAX_ADDRESS:
            status = ESME_RINVSRCADR
        elif len(pdu.destination_addr) > MAX_ADDRESS:
            status = Status.ESME_RINVDSTADR
        elif self._tps and self._over_tps(at):
            state.throttled += 1
            status = Status.ESME_RTHROTTLED
        else:
            status = 0
        message_id = ""
        if status == 0:
            message_id = state.next_message_id()
            state.accepted += 1
            if self._log_submits:
                self._log_submit(pdu, message_id)
        state.submits.append(at, self.system_id, frame, message_id, status)
        state.notify()
        response = encode_submit_sm_resp(sequence, message_id, status)
        if status == 0 and pdu.registered_delivery:
            # An address over 20 octets was refused above: a receipt can carry it back.
            self._receipts.accepted(
                self.system_id, message_id, pdu, now=state.receipt_before_response
            )
        if self._response_delay:
            self._delay(response)
        else:
            self.write(response)

    def _over_tps(self, at: float) -> bool:
        """Sliding one-second window over the receive times of accepted submits."""
        window = self._window
        horizon = at - 1.0
        while window and window[0] <= horizon:
            window.popleft()
        if len(window) >= self._tps:
            return True
        window.append(at)
        return False

    def _log_submit(self, pdu: ShortMessage, message_id: str) -> None:
        payload = pdu.short_message
        if pdu.esm_class & 0x40 and payload:
            payload = payload[payload[0] + 1 :]  # past the concatenation header
        text = decode_text(payload, pdu.data_coding)
        to = "…" + pdu.destination_addr[-2:]  # numbers are personal data: last two digits only
        log.info("submit_received", to=to, id=message_id, text=text)

    def _delay(self, response: bytes) -> None:
        due = self._loop.time() + self._response_delay
        self._delayed.append((due, response))
        if self._delayed_timer is None:
            self._delayed_timer = self._loop.call_at(due, self._send_delayed)

    def _send_delayed(self) -> None:
        self._delayed_timer = None
        now = self._loop.time()
        delayed = self._delayed
        while delayed and delayed[0][0] <= now:
            self.queue(delayed.popleft()[1])
        self.flush()
        if delayed:
            self._delayed_timer = self._loop.call_at(delayed[0][0], self._send_delayed)

    def _on_deliver_sm_resp(self, _frame: bytes, status: int, sequence: int, _at: float) -> None:
        self.unacked.pop(sequence, None)
        self._state.deliver_sm_resps[status] += 1
        self._state.notify()

    def _on_enquire_link(self, _frame: bytes, _status: int, sequence: int, _at: float) -> None:
        self.write(encode_header(Command.ENQUIRE_LINK_RESP, sequence))

    def _on_nothing(self, _frame: bytes, _status: int, _sequence: int, _at: float) -> None:
        pass

    def _on_unbind(self, _frame: bytes, _status: int, sequence: int, _at: float) -> None:
        log.info("esme_unbound", peer=self.peer, system_id=self.system_id)
        self.write(encode_header(Command.UNBIND_RESP, sequence))
        self.close()

    def _on_unbind_resp(self, _frame: bytes, _status: int, _sequence: int, _at: float) -> None:
        log.info("esme_unbound", peer=self.peer, system_id=self.system_id, by="smsc")
        self.close()

    def _on_generic_nack(self, _frame: bytes, status: int, sequence: int, _at: float) -> None:
        self._state.generic_nacks.append(Pdu(Command.GENERIC_NACK, status, sequence))
        self._state.notify()
        log.info("generic_nack_received", peer=self.peer, status=status, sequence=sequence)

    def _on_other(self, frame: bytes, command_id: int, sequence: int) -> None:
        if command_id & RESPONSE_BIT:
            return  # a response to nothing we asked: ignore, as SMSCs do
        try:
            decode(frame)
        except PduError as exc:
            log.info("esme_pdu_nacked", peer=self.peer, error=str(exc))
            self._nack(exc.sequence, exc.status)
            return
        # A well-formed request an SMSC does not take from an ESME here (deliver_sm, …).
        self._nack(sequence, Status.ESME_RINVCMDID)

    # ------------------------------------------------------------ binding

    def _on_bind(self, frame: bytes, _status: int, sequence: int, _at: float) -> None:
        try:
            pdu = decode(frame)
        except PduError as exc:
            self._nack(exc.sequence, exc.status)
            return
        if not isinstance(pdu, Bind) or pdu.command_id not in BIND_COMMANDS:
            return
        status = self._check_bind(pdu)
        response_id = pdu.command_id | RESPONSE_BIT
        self.write(encode_bind_resp(response_id, sequence, status, SYSTEM_ID))
        if status != 0:
            log.info("esme_bind_refused", peer=self.peer, system_id=pdu.system_id, status=status)
            return
        self.system_id = pdu.system_id
        self.bind_type = BIND_TYPES[Command(pdu.command_id)]
        self.can_submit = pdu.command_id != Command.BIND_RECEIVER
        self.can_receive = pdu.command_id != Command.BIND_TRANSMITTER
        log.info("esme_bound", peer=self.peer, system_id=self.system_id, bind=self.bind_type)
        self._state.binds += 1
        self._state.bind_log.append((time.monotonic(), self.system_id, id(self), True))
        self._keepalive = self._loop.call_later(self._keepalive_s, self._check_idle)
        if self.can_receive:
            self._state.receivers.setdefault(self.system_id, []).append(self)
            self._receipts.receiver_bound(self)
        self._state.notify()

    def _check_bind(self, pdu: Bind) -> int:
        if self.bind_type is not None:
            return Status.ESME_RALYBND
        if self._state.refuse_binds:
            return self._state.refuse_binds
        accounts = self._state.config.accounts
        if not accounts:
            return 0
        if pdu.system_id not in accounts:
            return Status.ESME_RINVSYSID
        if accounts[pdu.system_id] != pdu.password:
            return Status.ESME_RINVPASWD
        return 0

    def _check_idle(self) -> None:
        """Sends enquire_link when the ESME has been silent for enquire_link_s."""
        if self._closing or self.bind_type is None:
            return
        idle = time.monotonic() - self.last_rx
        wait = self._keepalive_s - idle
        if wait <= 0:
            if not self._state.hanging:
                self.write(encode_header(Command.ENQUIRE_LINK, self.next_sequence()))
            wait = self._keepalive_s
        self._keepalive = self._loop.call_later(wait, self._check_idle)
