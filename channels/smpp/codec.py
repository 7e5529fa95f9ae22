"""Bytes ⇄ SMPP 3.4 PDUs: stream framing, a struct codec for the four hot PDUs, smpplib for binds.

The hot PDUs (submit_sm, deliver_sm and their responses) are coded here with `struct`: smpplib's
codec costs ~105 µs per message with a receipt against ~19 µs for this one
(../shared/notes/smpplib-facts.md). Binds go through smpplib; header-only PDUs (enquire_link,
unbind, generic_nack and responses) are just the 16-octet header. The tests check every
encoder here against smpplib both ways.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum

from smpplib import command_codes, consts
from smpplib import smpp as smpplib_smpp

HEADER = struct.Struct(">IIII")
HEADER_LENGTH = 16
# A deliver_sm with a full message_payload TLV is under 70 KB; anything larger is a broken stream.
MAX_PDU_LENGTH = 70_000


class Command(IntEnum):
    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015


BIND_COMMANDS = frozenset(
    {Command.BIND_RECEIVER, Command.BIND_TRANSMITTER, Command.BIND_TRANSCEIVER}
)
RESPONSE_BIT = 0x80000000

# Every command smpplib knows, including those we answer with generic_nack or a bare response.
KNOWN_COMMANDS: frozenset[int] = frozenset(command_codes.commands.values())


class Status(IntEnum):
    ESME_ROK = consts.SMPP_ESME_ROK
    ESME_RINVMSGLEN = consts.SMPP_ESME_RINVMSGLEN
    ESME_RINVCMDLEN = consts.SMPP_ESME_RINVCMDLEN
    ESME_RINVCMDID = consts.SMPP_ESME_RINVCMDID
    ESME_RINVBNDSTS = consts.SMPP_ESME_RINVBNDSTS
    ESME_RALYBND = consts.SMPP_ESME_RALYBND
    ESME_RSYSERR = consts.SMPP_ESME_RSYSERR
    ESME_RINVDSTADR = consts.SMPP_ESME_RINVDSTADR
    ESME_RBINDFAIL = consts.SMPP_ESME_RBINDFAIL
    ESME_RINVPASWD = consts.SMPP_ESME_RINVPASWD
    ESME_RINVSYSID = consts.SMPP_ESME_RINVSYSID
    ESME_RMSGQFUL = consts.SMPP_ESME_RMSGQFUL
    ESME_RTHROTTLED = consts.SMPP_ESME_RTHROTTLED
    ESME_RINVOPTPARSTREAM = consts.SMPP_ESME_RINVOPTPARSTREAM
    ESME_RX_T_APPN = consts.SMPP_ESME_RX_T_APPN
    ESME_RDELIVERYFAILURE = consts.SMPP_ESME_RDELIVERYFAILURE


# command_status → its SMPP name, from smpplib's constants ("ESME_RTHROTTLED").
STATUS_NAMES: dict[int, str] = {
    value: name.removeprefix("SMPP_")
    for name, value in vars(consts).items()
    if name.startswith("SMPP_ESME_") and isinstance(value, int)
}


def status_name(status: int) -> str:
    return STATUS_NAMES.get(status, f"0x{status:08X}")


class Tag(IntEnum):
    """Optional parameter tags this gateway reads or writes (SMPP 3.4 §5.3.2)."""

    USER_MESSAGE_REFERENCE = 0x0204
    SAR_MSG_REF_NUM = 0x020C
    SAR_TOTAL_SEGMENTS = 0x020E
    SAR_SEGMENT_SEQNUM = 0x020F
    RECEIPTED_MESSAGE_ID = 0x001E
    NETWORK_ERROR_CODE = 0x0423
    MESSAGE_PAYLOAD = 0x0424
    MESSAGE_STATE = 0x0427


class FrameError(Exception):
    """The byte stream cannot be framed any more (bad command_length): drop the connection."""


class PduError(Exception):
    """One PDU is malformed or unknown: answer it with generic_nack, keep the session."""

    def __init__(self, message: str, *, command_id: int, sequence: int, status: int) -> None:
        super().__init__(message)
        self.command_id = command_id
        self.sequence = sequence
        self.status = status


@dataclass(slots=True)
class Pdu:
    """A PDU with no body we care about: enquire_link, unbind, generic_nack, the responses."""

    command_id: int
    status: int
    sequence: int


@dataclass(slots=True)
class SubmitSmResp(Pdu):
    message_id: str = ""


@dataclass(slots=True)
class ShortMessage(Pdu):
    """submit_sm or deliver_sm (their bodies share one layout, SMPP 3.4 §4.4.1 and §4.6.1)."""

    service_type: str = ""
    source_ton: int = 0
    source_npi: int = 0
    source_addr: str = ""
    dest_ton: int = 0
    dest_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    protocol_id: int = 0
    priority: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    data_coding: int = 0
    short_message: bytes = b""
    tlvs: dict[int, bytes] = field(default_factory=dict)


@dataclass(slots=True)
class Bind(Pdu):
    system_id: str = ""
    password: str = ""
    system_type: str = ""
    interface_version: int = 0x34


@dataclass(slots=True)
class BindResp(Pdu):
    system_id: str = ""


# ---------------------------------------------------------------- framing


def take_frames(buffer: bytearray) -> list[bytes]:
    """Remove and return every complete PDU at the front of ``buffer``."""
    frames: list[bytes] = []
    pos = 0
    end = len(buffer)
    while end - pos >= 4:
        (length,) = struct.unpack_from(">I", buffer, pos)
        if length < HEADER_LENGTH or length > MAX_PDU_LENGTH:
            if frames:
                break  # hand over the good frames first; the next call raises
            raise FrameError(f"command_length {length} outside {HEADER_LENGTH}..{MAX_PDU_LENGTH}")
        if end - pos < length:
            break
        frames.append(bytes(buffer[pos : pos + length]))
        pos += length
    if pos:
        del buffer[:pos]
    return frames


# ---------------------------------------------------------------- encoding


def encode_header(command_id: int, sequence: int, status: int = 0) -> bytes:
    """A PDU that is only its header (enquire_link, unbind, generic_nack, their responses)."""
    return HEADER.pack(HEADER_LENGTH, command_id, status, sequence)


def _cstring(value: str, limit: int) -> bytes:
    raw = value.encode("latin-1")
    if len(raw) >= limit:  # smpplib truncates silently; a wrong address must not go out
        raise ValueError(f"{value!r} is longer than {limit - 1} octets")
    return raw + b"\0"


def encode_tlv(tag: int, value: bytes) -> bytes:
    return struct.pack(">HH", tag, len(value)) + value


_SM_FIXED = struct.Struct(">BBB")  # esm_class, protocol_id, priority_flag


def encode_short_message(
    command_id: int,
    sequence: int,
    *,
    source_addr: str,
    destination_addr: str,
    short_message: bytes,
    source_ton: int = 0,
    source_npi: int = 0,
    dest_ton: int = 1,
    dest_npi: int = 1,
    esm_class: int = 0,
    registered_delivery: int = 0,
    data_coding: int = 0,
    priority: int = 0,
    validity_period: str = "",
    service_type: str = "",
    tlvs: bytes = b"",
) -> bytes:
    """submit_sm or deliver_sm. ``short_message`` (UDH included) is at most 254 octets;
    longer content goes in a message_payload TLV built by the caller."""
    if len(short_message) > 254:
        raise ValueError("short_message over 254 octets: use message_payload")
    body = b"".join(
        (
            _cstring(service_type, 6),
            bytes((source_ton, source_npi)),
            _cstring(source_addr, 21),
            bytes((dest_ton, dest_npi)),
            _cstring(destination_addr, 21),
            _SM_FIXED.pack(esm_class, 0, priority),
            b"\0",  # schedule_delivery_time: immediate
            _cstring(validity_period, 17),
            bytes((registered_delivery, 0, data_coding, 0, len(short_message))),
            short_message,
            tlvs,
        )
    )
    return HEADER.pack(HEADER_LENGTH + len(body), command_id, 0, sequence) + body


def encode_submit_sm_resp(sequence: int, message_id: str, status: int = 0) -> bytes:
    # On error SMPP 3.4 §4.4.2 says the body is not returned; many SMSCs send an empty id anyway.
    body = _cstring(message_id, 65) if status == 0 else b""
    return HEADER.pack(HEADER_LENGTH + len(body), Command.SUBMIT_SM_RESP, status, sequence) + body


def encode_deliver_sm_resp(sequence: int, status: int = 0) -> bytes:
    return HEADER.pack(HEADER_LENGTH + 1, Command.DELIVER_SM_RESP, status, sequence) + b"\0"


class _Sequence:
    """The sequence source smpplib insists on for request PDUs (see the smpplib notes)."""

    def __init__(self, value: int) -> None:
        self.sequence = value

    def next_sequence(self) -> int:
        return self.sequence


def encode_bind(
    command_id: int, sequence: int, *, system_id: str, password: str, system_type: str = ""
) -> bytes:
    # smpplib truncates over-long C-strings silently (a 9-character password would go out as 8)
    for value, limit in ((system_id, 16), (password, 9), (system_type, 13)):
        _cstring(value, limit)
    name = command_codes.get_command_name(command_id)
    pdu = smpplib_smpp.make_pdu(
        name,
        client=_Sequence(sequence),
        system_id=system_id,
        password=password,
        system_type=system_type,
        interface_version=consts.SMPP_VERSION_34,
        addr_ton=0,
        addr_npi=0,
        address_range="",
    )
    pdu.sequence = sequence
    return bytes(pdu.generate())


def encode_bind_resp(command_id: int, sequence: int, status: int, system_id: str) -> bytes:
    _cstring(system_id, 16)  # smpplib would truncate it silently
    name = command_codes.get_command_name(command_id)
    pdu = smpplib_smpp.make_pdu(name, client=_Sequence(sequence), system_id=system_id)
    pdu.sequence = sequence
    pdu.status = status
    return bytes(pdu.generate())


# ---------------------------------------------------------------- decoding


def _take_cstring(body: bytes, pos: int, limit: int) -> tuple[str, int]:
    end = body.index(b"\0", pos, pos + limit)  # ValueError when missing: malformed
    return body[pos:end].decode("latin-1"), end + 1


def decode_tlvs(data: bytes, pos: int) -> dict[int, bytes]:
    tlvs: dict[int, bytes] = {}
    end = len(data)
    while pos < end:
        if end - pos < 4:
            raise ValueError("truncated TLV header")
        tag, length = struct.unpack_from(">HH", data, pos)
        pos += 4
        if pos + length > end:
            raise ValueError(f"TLV 0x{tag:04X} overruns the PDU")
        tlvs[tag] = data[pos : pos + length]
        pos += length
    return tlvs


def _decode_short_message(command_id: int, status: int, sequence: int, b: bytes) -> ShortMessage:
    service_type, p = _take_cstring(b, HEADER_LENGTH, 6)
    source_ton, source_npi = b[p], b[p + 1]
    source_addr, p = _take_cstring(b, p + 2, 65)  # 21 in 3.4; some SMSCs send longer ids
    dest_ton, dest_npi = b[p], b[p + 1]
    destination_addr, p = _take_cstring(b, p + 2, 65)
    esm_class, protocol_id, priority = b[p], b[p + 1], b[p + 2]
    schedule, p = _take_cstring(b, p + 3, 17)
    validity, p = _take_cstring(b, p, 17)
    registered_delivery, data_coding, sm_length = b[p], b[p + 2], b[p + 4]
    p += 5
    if p + sm_length > len(b):
        raise ValueError("sm_length overruns the PDU")
    return ShortMessage(
        command_id,
        status,
        sequence,
        service_type,
        source_ton,
        source_npi,
        source_addr,
        dest_ton,
        dest_npi,
        destination_addr,
        esm_class,
        protocol_id,
        priority,
        schedule,
        validity,
        registered_delivery,
        data_coding,
        b[p : p + sm_length],
        decode_tlvs(b, p + sm_length),
    )


def _decode_via_smpplib(command_id: int, status: int, sequence: int, frame: bytes) -> Pdu:
    if command_id not in BIND_COMMANDS:
        # bind_resp: system_id is all we need. smpplib would misread its one TLV
        # (sc_interface_version) at a non-standard length and fail the whole bind.
        system_id, _ = _take_cstring(frame, HEADER_LENGTH, 65)
        return BindResp(command_id, status, sequence, system_id)
    # smpplib reads a C-string without its NUL, or a truncated body, as garbage rather than
    # failing: check the mandatory fields (SMPP 3.4 §4.1.1) before handing it the frame.
    pos = HEADER_LENGTH
    for limit in (16, 9, 13):  # system_id, password, system_type
        _, pos = _take_cstring(frame, pos, limit)
    _take_cstring(frame, pos + 3, 41)  # after interface_version, addr_ton, addr_npi: address_range
    parsed = smpplib_smpp.parse_pdu(
        frame, client=_Sequence(sequence), allow_unknown_opt_params=True
    )

    def text(value: object) -> str:
        return value.decode("latin-1") if isinstance(value, bytes) else str(value or "")

    return Bind(
        command_id,
        status,
        sequence,
        text(parsed.system_id),
        text(parsed.password),
        text(parsed.system_type),
        parsed.interface_version or 0,
    )


def decode(frame: bytes) -> Pdu:
    """One framed PDU → its object. Raises PduError for anything malformed or unknown."""
    length, command_id, status, sequence = HEADER.unpack_from(frame)
    try:
        if command_id in (Command.SUBMIT_SM, Command.DELIVER_SM):
            return _decode_short_message(command_id, status, sequence, frame)
        if command_id == Command.SUBMIT_SM_RESP:
            message_id = ""
            if length > HEADER_LENGTH:
                # Lenient: some SMSCs omit the NUL; losing the id would lose the receipt.
                message_id = frame[HEADER_LENGTH:].split(b"\0", 1)[0].decode("latin-1")
            return SubmitSmResp(command_id, status, sequence, message_id)
        if command_id in BIND_COMMANDS or (
            command_id & ~RESPONSE_BIT in BIND_COMMANDS and length > HEADER_LENGTH
        ):
            return _decode_via_smpplib(command_id, status, sequence, frame)
        if command_id in KNOWN_COMMANDS and (
            command_id & RESPONSE_BIT or command_id in (Command.ENQUIRE_LINK, Command.UNBIND)
        ):
            return Pdu(command_id, status, sequence)
    except (ValueError, IndexError, struct.error, KeyError, AttributeError, TypeError) as exc:
        # KeyError/AttributeError/TypeError: smpplib's parser on a broken bind (see the notes).
        raise PduError(
            f"malformed {_command_label(command_id)}: {exc}",
            command_id=command_id,
            sequence=sequence,
            status=Status.ESME_RINVCMDLEN,
        ) from exc
    if command_id in KNOWN_COMMANDS:
        # A real SMPP request we do not serve (query_sm, data_sm, submit_multi, …).
        raise PduError(
            f"unsupported {_command_label(command_id)}",
            command_id=command_id,
            sequence=sequence,
            status=Status.ESME_RINVCMDID,
        )
    raise PduError(
        f"unknown command_id 0x{command_id:08X}",
        command_id=command_id,
        sequence=sequence,
        status=Status.ESME_RINVCMDID,
    )


def _command_label(command_id: int) -> str:
    try:
        return str(command_codes.get_command_name(command_id))
    except Exception:  # noqa: BLE001 - smpplib raises its own error type for unknown ids
        return f"0x{command_id:08X}"
