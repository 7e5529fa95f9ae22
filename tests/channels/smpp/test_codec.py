"""channels/smpp/codec.py against smpplib both ways, stream framing, and malformed input."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

# smpplib is the oracle here: our encoders are checked by its parser, our decoder by its builder.
from smpplib import smpp as oracle  # noqa: TID251 - test oracle, see the comment above

from channels.smpp import codec
from channels.smpp.codec import Command, FrameError, PduError, Status, Tag

SEQ = 0x01020304
KEY = "secret12"  # a test-only bind password
BINDS = [(command, command.name.lower()) for command in sorted(codec.BIND_COMMANDS)]


class _Client:
    """The sequence source smpplib wants for request PDUs."""

    sequence = SEQ

    def next_sequence(self) -> int:
        return self.sequence


def oracle_parse(raw: bytes) -> Any:
    return oracle.parse_pdu(raw, client=_Client(), allow_unknown_opt_params=True)


def oracle_build(name: str, *, status: int = 0, **fields: Any) -> bytes:
    pdu = oracle.make_pdu(name, client=_Client(), **fields)
    pdu.sequence = SEQ  # make_pdu ignores sequence=
    pdu.status = status
    return bytes(pdu.generate())


def tlv(tag: int, value: bytes) -> bytes:
    return codec.encode_tlv(tag, value)


def frame(command_id: int, body: bytes = b"", *, status: int = 0, sequence: int = SEQ) -> bytes:
    return struct.pack(">IIII", 16 + len(body), command_id, status, sequence) + body


def with_length(raw: bytes) -> bytes:
    """``raw`` with command_length set to its real length (as take_frames would hand it over)."""
    return struct.pack(">I", len(raw)) + raw[4:]


UDH = b"\x05\x00\x03\x2a\x02\x01"  # concatenated SMS, ref 42, part 1 of 2


# ---------------------------------------------------------------- ours → smpplib

ENCODE_CASES = [
    # build with our codec, command name smpplib must see, fields it must read
    pytest.param(
        lambda: codec.encode_short_message(
            Command.SUBMIT_SM,
            SEQ,
            source_addr="1234",
            destination_addr="5016012345",
            short_message=b"Hello",
            registered_delivery=1,
        ),
        "submit_sm",
        {
            "source_addr_ton": 0,
            "source_addr_npi": 0,
            "source_addr": b"1234",
            "dest_addr_ton": 1,
            "dest_addr_npi": 1,
            "destination_addr": b"5016012345",
            "esm_class": 0,
            "protocol_id": 0,
            "priority_flag": 0,
            "schedule_delivery_time": b"",
            "validity_period": b"",
            "registered_delivery": 1,
            "replace_if_present_flag": 0,
            "data_coding": 0,
            "sm_default_msg_id": 0,
            "sm_length": 5,
            "short_message": b"Hello",
        },
        id="submit_sm",
    ),
    pytest.param(
        lambda: codec.encode_short_message(
            Command.SUBMIT_SM,
            SEQ,
            source_addr="INFO",
            destination_addr="5016012345",
            short_message=UDH + "¡Hola €!".encode("utf-16-be"),
            source_ton=5,
            source_npi=0,
            esm_class=0x40,
            data_coding=8,
            priority=1,
            validity_period="000001000000000R",
            service_type="CMT",
            tlvs=tlv(Tag.USER_MESSAGE_REFERENCE, b"\x00\x07"),
        ),
        "submit_sm",
        {
            "service_type": b"CMT",
            "source_addr_ton": 5,
            "source_addr": b"INFO",
            "esm_class": 0x40,
            "priority_flag": 1,
            "validity_period": b"000001000000000R",
            "data_coding": 8,
            "short_message": UDH + "¡Hola €!".encode("utf-16-be"),
            "user_message_reference": 7,
        },
        id="submit_sm-udh-ucs2-validity-tlv",
    ),
    pytest.param(
        lambda: codec.encode_short_message(
            Command.SUBMIT_SM,
            SEQ,
            source_addr="1234",
            destination_addr="5016012345",
            short_message=b"",
            tlvs=tlv(Tag.MESSAGE_PAYLOAD, b"x" * 300),
        ),
        "submit_sm",
        {"sm_length": 0, "short_message": b"", "message_payload": b"x" * 300},
        id="submit_sm-message_payload",
    ),
    pytest.param(
        lambda: codec.encode_short_message(
            Command.SUBMIT_SM,
            SEQ,
            source_addr="1234",
            destination_addr="5016012345",
            short_message=b"part one",
            tlvs=tlv(Tag.SAR_MSG_REF_NUM, b"\x01\x02")
            + tlv(Tag.SAR_TOTAL_SEGMENTS, b"\x03")
            + tlv(Tag.SAR_SEGMENT_SEQNUM, b"\x01"),
        ),
        "submit_sm",
        {"sar_msg_ref_num": 0x0102, "sar_total_segments": 3, "sar_segment_seqnum": 1},
        id="submit_sm-sar",
    ),
    pytest.param(
        lambda: codec.encode_short_message(
            Command.DELIVER_SM,
            SEQ,
            source_addr="5016012345",
            destination_addr="1234",
            short_message=b"id:abc stat:DELIVRD",
            source_ton=1,
            dest_ton=0,
            dest_npi=0,
            esm_class=0x04,
            tlvs=tlv(Tag.RECEIPTED_MESSAGE_ID, b"abc\0")
            + tlv(Tag.MESSAGE_STATE, b"\x02")
            + tlv(Tag.NETWORK_ERROR_CODE, b"\x03\x00\x01"),
        ),
        "deliver_sm",
        {
            "source_addr_ton": 1,
            "source_addr": b"5016012345",
            "dest_addr_ton": 0,
            "destination_addr": b"1234",
            "esm_class": 0x04,
            "short_message": b"id:abc stat:DELIVRD",
            "receipted_message_id": b"abc",
            "message_state": 2,
            "network_error_code": b"\x03\x00\x01",
        },
        id="deliver_sm-receipt-tlvs",
    ),
    pytest.param(
        lambda: codec.encode_submit_sm_resp(SEQ, "0A1B2C"),
        "submit_sm_resp",
        {"status": 0, "message_id": b"0A1B2C"},
        id="submit_sm_resp-ok",
    ),
    pytest.param(
        lambda: codec.encode_submit_sm_resp(SEQ, "", Status.ESME_RTHROTTLED),
        "submit_sm_resp",
        {"status": Status.ESME_RTHROTTLED, "length": 16, "message_id": None},
        id="submit_sm_resp-error-has-no-body",
    ),
    pytest.param(
        lambda: codec.encode_deliver_sm_resp(SEQ),
        "deliver_sm_resp",
        {"status": 0, "length": 17, "message_id": b""},
        id="deliver_sm_resp-ok",
    ),
    pytest.param(
        lambda: codec.encode_deliver_sm_resp(SEQ, Status.ESME_RX_T_APPN),
        "deliver_sm_resp",
        {"status": Status.ESME_RX_T_APPN},
        id="deliver_sm_resp-error",
    ),
    *(
        pytest.param(
            lambda command=command: codec.encode_bind(
                command, SEQ, system_id="smsgw", password=KEY, system_type="VMA"
            ),
            command.name.lower(),
            {
                "system_id": b"smsgw",
                "password": KEY.encode(),
                "system_type": b"VMA",
                "interface_version": 0x34,
                "addr_ton": 0,
                "addr_npi": 0,
                "address_range": b"",
            },
            id=command.name.lower(),
        )
        for command in sorted(codec.BIND_COMMANDS)
    ),
    *(
        pytest.param(
            lambda command=command, status=status: codec.encode_bind_resp(
                command | codec.RESPONSE_BIT, SEQ, status, "SMSC"
            ),
            f"{command.name.lower()}_resp",
            {"status": status, "system_id": b"SMSC"},
            id=f"{command.name.lower()}_resp-{Status(status).name}",
        )
        for command in sorted(codec.BIND_COMMANDS)
        for status in (Status.ESME_ROK, Status.ESME_RINVPASWD)
    ),
    *(
        pytest.param(
            lambda command=command: codec.encode_header(command, SEQ),
            command.name.lower(),
            {"status": 0, "length": 16},
            id=command.name.lower(),
        )
        for command in (
            Command.ENQUIRE_LINK,
            Command.ENQUIRE_LINK_RESP,
            Command.UNBIND,
            Command.UNBIND_RESP,
        )
    ),
    pytest.param(
        lambda: codec.encode_header(Command.GENERIC_NACK, SEQ, Status.ESME_RINVCMDID),
        "generic_nack",
        {"status": Status.ESME_RINVCMDID, "length": 16},
        id="generic_nack",
    ),
]


@pytest.mark.parametrize(("build", "command", "fields"), ENCODE_CASES)
def test_our_encoding_parses_in_smpplib(
    build: Callable[[], bytes], command: str, fields: dict[str, Any]
) -> None:
    raw = build()

    parsed = oracle_parse(raw)

    assert parsed.command == command
    assert parsed.sequence == SEQ
    assert struct.unpack_from(">I", raw)[0] == len(raw)
    assert {name: getattr(parsed, name) for name in fields} == fields


# ---------------------------------------------------------------- smpplib → ours

DECODE_CASES = [
    # build with smpplib, the type our decoder must give, its fields
    pytest.param(
        lambda: oracle_build(
            "submit_sm",
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="5016012345",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="5016054321",
            registered_delivery=1,
            data_coding=0,
            short_message=b"Hello",
        ),
        codec.ShortMessage,
        {
            "command_id": Command.SUBMIT_SM,
            "source_ton": 1,
            "source_npi": 1,
            "source_addr": "5016012345",
            "dest_ton": 1,
            "dest_npi": 1,
            "destination_addr": "5016054321",
            "esm_class": 0,
            "registered_delivery": 1,
            "data_coding": 0,
            "short_message": b"Hello",
            "tlvs": {},
        },
        id="submit_sm",
    ),
    pytest.param(
        lambda: oracle_build(
            "deliver_sm",
            source_addr_ton=1,
            source_addr="5016012345",
            destination_addr="1234",
            esm_class=0x40,
            data_coding=8,
            short_message=UDH + "Olá".encode("utf-16-be"),
        ),
        codec.ShortMessage,
        {
            "command_id": Command.DELIVER_SM,
            "source_addr": "5016012345",
            "destination_addr": "1234",
            "esm_class": 0x40,
            "data_coding": 8,
            "short_message": UDH + "Olá".encode("utf-16-be"),
            "tlvs": {},
        },
        id="deliver_sm-udh-esm_class-0x40",
    ),
    pytest.param(
        lambda: oracle_build(
            "deliver_sm",
            source_addr="5016012345",
            destination_addr="1234",
            esm_class=0x04,
            short_message=b"id:abc stat:DELIVRD err:000",
            receipted_message_id="abc",
            message_state=2,
            sar_msg_ref_num=0x0102,
            sar_total_segments=2,
            sar_segment_seqnum=1,
        ),
        codec.ShortMessage,
        {
            "esm_class": 0x04,
            "short_message": b"id:abc stat:DELIVRD err:000",
            "tlvs": {
                Tag.RECEIPTED_MESSAGE_ID: b"abc\0",
                Tag.MESSAGE_STATE: b"\x02",
                Tag.SAR_MSG_REF_NUM: b"\x01\x02",
                Tag.SAR_TOTAL_SEGMENTS: b"\x02",
                Tag.SAR_SEGMENT_SEQNUM: b"\x01",
            },
        },
        id="deliver_sm-receipt-and-sar-tlvs",
    ),
    pytest.param(
        lambda: oracle_build("submit_sm_resp", message_id="0A1B2C"),
        codec.SubmitSmResp,
        {"command_id": Command.SUBMIT_SM_RESP, "status": 0, "message_id": "0A1B2C"},
        id="submit_sm_resp-ok",
    ),
    pytest.param(
        lambda: oracle_build("submit_sm_resp", status=Status.ESME_RINVDSTADR),
        codec.SubmitSmResp,
        {"status": Status.ESME_RINVDSTADR, "message_id": ""},
        id="submit_sm_resp-error",
    ),
    pytest.param(
        lambda: with_length(oracle_build("submit_sm_resp", status=Status.ESME_RTHROTTLED)[:16]),
        codec.SubmitSmResp,
        {"status": Status.ESME_RTHROTTLED, "message_id": ""},
        id="submit_sm_resp-error-header-only",
    ),
    pytest.param(
        lambda: oracle_build("deliver_sm_resp"),
        codec.Pdu,
        {"command_id": Command.DELIVER_SM_RESP, "status": 0},
        id="deliver_sm_resp",
    ),
    *(
        pytest.param(
            lambda name=name: oracle_build(
                name, system_id="smsgw", password=KEY, system_type="VMA"
            ),
            codec.Bind,
            {
                "command_id": command,
                "system_id": "smsgw",
                "password": KEY,
                "system_type": "VMA",
                "interface_version": 0x34,
            },
            id=name,
        )
        for command, name in BINDS
    ),
    *(
        pytest.param(
            lambda name=f"{name}_resp", status=status: oracle_build(
                name, status=status, system_id="SMSC"
            ),
            codec.BindResp,
            {"command_id": command | codec.RESPONSE_BIT, "status": status, "system_id": "SMSC"},
            id=f"{name}_resp-{Status(status).name}",
        )
        for command, name in BINDS
        for status in (Status.ESME_ROK, Status.ESME_RBINDFAIL)
    ),
    pytest.param(
        lambda: oracle_build("bind_transceiver_resp", system_id="SMSC", sc_interface_version=0x34),
        codec.BindResp,
        {"system_id": "SMSC"},
        id="bind_transceiver_resp-sc_interface_version",
    ),
    *(
        pytest.param(
            lambda name=name: oracle_build(name),
            codec.Pdu,
            {"command_id": command, "status": 0},
            id=name,
        )
        for name, command in (
            ("enquire_link", Command.ENQUIRE_LINK),
            ("enquire_link_resp", Command.ENQUIRE_LINK_RESP),
            ("unbind", Command.UNBIND),
            ("unbind_resp", Command.UNBIND_RESP),
        )
    ),
    pytest.param(
        lambda: oracle_build("generic_nack", status=Status.ESME_RINVCMDLEN),
        codec.Pdu,
        {"command_id": Command.GENERIC_NACK, "status": Status.ESME_RINVCMDLEN},
        id="generic_nack",
    ),
]


@pytest.mark.parametrize(("build", "kind", "fields"), DECODE_CASES)
def test_smpplib_encoding_decodes_with_ours(
    build: Callable[[], bytes], kind: type[codec.Pdu], fields: dict[str, Any]
) -> None:
    pdu = codec.decode(build())

    assert type(pdu) is kind
    assert pdu.sequence == SEQ
    assert {name: getattr(pdu, name) for name in fields} == fields


@pytest.mark.parametrize(
    "command", [Command.SUBMIT_SM, Command.DELIVER_SM], ids=lambda c: c.name.lower()
)
def test_short_message_round_trips_through_our_codec(command: Command) -> None:
    tlvs: dict[int, bytes] = {Tag.SAR_MSG_REF_NUM: b"\x00\x2a", Tag.MESSAGE_PAYLOAD: b"\xff" * 3}
    raw = codec.encode_short_message(
        command,
        SEQ,
        source_addr="1234",
        destination_addr="+5016012345",
        short_message=bytes(range(254)),
        esm_class=0x43,
        data_coding=4,
        registered_delivery=0x11,
        tlvs=b"".join(tlv(tag, value) for tag, value in tlvs.items()),
    )

    pdu = codec.decode(raw)

    assert pdu == codec.ShortMessage(
        command,
        0,
        SEQ,
        source_addr="1234",
        dest_ton=1,
        dest_npi=1,
        destination_addr="+5016012345",
        esm_class=0x43,
        registered_delivery=0x11,
        data_coding=4,
        short_message=bytes(range(254)),
        tlvs=tlvs,
    )


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(
            lambda: codec.encode_short_message(
                Command.SUBMIT_SM,
                1,
                source_addr="1",
                destination_addr="2",
                short_message=b"x" * 255,
            ),
            id="short_message-over-254",
        ),
        pytest.param(
            lambda: codec.encode_short_message(
                Command.SUBMIT_SM, 1, source_addr="1", destination_addr="5" * 21, short_message=b""
            ),
            id="address-over-20",
        ),
        pytest.param(lambda: codec.encode_submit_sm_resp(1, "x" * 65), id="message_id-over-64"),
        pytest.param(
            lambda: codec.encode_bind(
                Command.BIND_TRANSCEIVER, 1, system_id="smsgw", password=KEY + "9"
            ),
            id="password-over-8",
        ),
        pytest.param(
            lambda: codec.encode_bind(Command.BIND_TRANSCEIVER, 1, system_id="s" * 16, password=""),
            id="system_id-over-15",
        ),
        pytest.param(
            lambda: codec.encode_bind(
                Command.BIND_TRANSCEIVER, 1, system_id="s", password="", system_type="t" * 13
            ),
            id="system_type-over-12",
        ),
        pytest.param(
            lambda: codec.encode_bind_resp(Command.BIND_TRANSCEIVER_RESP, 1, 0, "s" * 16),
            id="bind_resp-system_id-over-15",
        ),
    ],
)
def test_over_long_fields_are_refused_not_truncated(build: Callable[[], bytes]) -> None:
    with pytest.raises(ValueError, match=r"longer than|over 254"):
        build()


def test_bind_resp_with_error_and_no_body_decodes_as_a_bare_response() -> None:
    pdu = codec.decode(frame(Command.BIND_TRANSCEIVER_RESP, status=Status.ESME_RINVPASWD))

    assert type(pdu) is codec.Pdu
    assert (pdu.command_id, pdu.status, pdu.sequence) == (
        Command.BIND_TRANSCEIVER_RESP,
        Status.ESME_RINVPASWD,
        SEQ,
    )


def test_bind_resp_with_an_odd_length_tlv_still_binds() -> None:
    body = b"SMSC\0" + tlv(0x0210, b"\x00\x00\x00\x34")  # sc_interface_version in 4 octets

    pdu = codec.decode(frame(Command.BIND_TRANSCEIVER_RESP, body))

    assert pdu == codec.BindResp(Command.BIND_TRANSCEIVER_RESP, 0, SEQ, "SMSC")


def test_status_names_come_from_smpplib() -> None:
    assert codec.status_name(Status.ESME_RINVDSTADR) == "ESME_RINVDSTADR"
    assert codec.status_name(0x4D2) == "0x000004D2"


# ---------------------------------------------------------------- framing

ENQUIRE = codec.encode_header(Command.ENQUIRE_LINK, 1)
RESP = codec.encode_submit_sm_resp(2, "abc")
DELIVER = codec.encode_short_message(
    Command.DELIVER_SM, 3, source_addr="5016012345", destination_addr="1234", short_message=b"hi"
)
STREAM = ENQUIRE + RESP + DELIVER


def test_partial_frame_waits_for_the_rest() -> None:
    buffer = bytearray(RESP[:10])

    assert codec.take_frames(buffer) == []
    assert buffer == RESP[:10]

    buffer += RESP[10:]
    assert codec.take_frames(buffer) == [RESP]
    assert buffer == b""


def test_several_frames_in_one_read_come_out_in_order() -> None:
    buffer = bytearray(STREAM + DELIVER[:7])

    assert codec.take_frames(buffer) == [ENQUIRE, RESP, DELIVER]
    assert buffer == DELIVER[:7]


def test_a_byte_at_a_time_gives_the_same_frames() -> None:
    buffer = bytearray()
    frames: list[bytes] = []
    for byte in STREAM:
        buffer.append(byte)
        frames += codec.take_frames(buffer)

    assert frames == [ENQUIRE, RESP, DELIVER]
    assert buffer == b""


@pytest.mark.parametrize(
    "length",
    [
        pytest.param(0, id="zero"),
        pytest.param(15, id="under-header"),
        pytest.param(codec.MAX_PDU_LENGTH + 1, id="over-max"),
        pytest.param(0xFFFFFFFF, id="huge"),
    ],
)
def test_impossible_command_length_breaks_the_stream_after_the_good_frames(length: int) -> None:
    buffer = bytearray(ENQUIRE + struct.pack(">III", length, Command.ENQUIRE_LINK, 0))

    assert codec.take_frames(buffer) == [ENQUIRE]
    with pytest.raises(FrameError, match=str(length)):
        codec.take_frames(buffer)


@pytest.mark.parametrize(
    "length", [pytest.param(16, id="header-only"), pytest.param(codec.MAX_PDU_LENGTH, id="max")]
)
def test_command_length_limits_are_inclusive(length: int) -> None:
    raw = struct.pack(">IIII", length, Command.DELIVER_SM, 0, 1) + bytes(length - 16)
    buffer = bytearray(raw)

    assert codec.take_frames(buffer) == [raw]
    assert buffer == b""


# ---------------------------------------------------------------- malformed PDUs

GOOD_SUBMIT = codec.encode_short_message(
    Command.SUBMIT_SM,
    SEQ,
    source_addr="1234",
    destination_addr="5016012345",
    short_message=b"Hello",
    tlvs=tlv(Tag.SAR_MSG_REF_NUM, b"\x00\x01"),
)
GOOD_BIND = codec.encode_bind(Command.BIND_TRANSCEIVER, SEQ, system_id="smsgw", password=KEY)


def sm_with(sm_length: int, rest: bytes) -> bytes:
    body = b"\0" + b"\1\1" + b"1234\0" + b"\1\1" + b"5016\0" + b"\0\0\0" + b"\0" + b"\0"
    return frame(Command.SUBMIT_SM, body + bytes((0, 0, 0, 0, sm_length)) + rest)


INVCMDLEN = Status.ESME_RINVCMDLEN
INVCMDID = Status.ESME_RINVCMDID

MALFORMED_CASES = [
    pytest.param(frame(Command.SUBMIT_SM), INVCMDLEN, id="submit_sm-empty-body"),
    pytest.param(with_length(GOOD_SUBMIT[:30]), INVCMDLEN, id="submit_sm-truncated"),
    pytest.param(
        frame(Command.DELIVER_SM, b"\0\1\1" + b"5" * 80), INVCMDLEN, id="deliver_sm-address-no-nul"
    ),
    pytest.param(frame(Command.SUBMIT_SM, b"CMTCMTCMT"), INVCMDLEN, id="service_type-no-nul"),
    pytest.param(sm_with(10, b"abc"), INVCMDLEN, id="sm_length-overruns"),
    pytest.param(sm_with(3, b"abc" + b"\x02\x0c\x00\x09ab"), INVCMDLEN, id="tlv-overruns"),
    pytest.param(sm_with(3, b"abc" + b"\x02\x0c"), INVCMDLEN, id="tlv-header-truncated"),
    pytest.param(frame(Command.BIND_TRANSCEIVER, b"smsgw"), INVCMDLEN, id="bind-no-nul"),
    pytest.param(with_length(GOOD_BIND[:26]), INVCMDLEN, id="bind-truncated"),
    pytest.param(frame(Command.BIND_TRANSMITTER, b"s" * 20 + b"\0"), INVCMDLEN, id="bind-long-id"),
    pytest.param(
        frame(Command.BIND_TRANSCEIVER, GOOD_BIND[16:] + tlv(0x0427, b"\x02")),
        INVCMDLEN,
        id="bind-with-tlv",
    ),
    pytest.param(frame(Command.BIND_RECEIVER_RESP, b"SMSC"), INVCMDLEN, id="bind_resp-no-nul"),
    pytest.param(frame(0x00000099), INVCMDID, id="unknown-command"),
    pytest.param(frame(0x80000099), INVCMDID, id="unknown-response"),
    pytest.param(frame(0x00000003, b"abc\0\1\1"), INVCMDID, id="query_sm-unsupported"),
    pytest.param(frame(0x00000103), INVCMDID, id="data_sm-unsupported"),
    pytest.param(frame(0x00000021), INVCMDID, id="submit_multi-unsupported"),
    pytest.param(frame(0x00000008), INVCMDID, id="cancel_sm-unsupported"),
    pytest.param(frame(0x0000000B), INVCMDID, id="outbind-unsupported"),
    pytest.param(frame(0x00000102), INVCMDID, id="alert_notification-unsupported"),
]


@pytest.mark.parametrize(("raw", "status"), MALFORMED_CASES)
def test_malformed_pdu_is_a_pdu_error_that_can_be_nacked(raw: bytes, status: int) -> None:
    with pytest.raises(PduError) as caught:
        codec.decode(raw)

    assert caught.value.status == status
    assert caught.value.sequence == SEQ
    assert caught.value.command_id == struct.unpack_from(">I", raw, 4)[0]


def decode_or_error(raw: bytes) -> codec.Pdu | PduError:
    """What decode gives; any exception but PduError fails the test."""
    try:
        return codec.decode(raw)
    except PduError as exc:
        return exc


COMMAND_IDS = [*sorted(codec.KNOWN_COMMANDS), 0x00000099, 0x80000099]


@settings(max_examples=2000, deadline=None)
@given(
    command_id=st.sampled_from(COMMAND_IDS) | st.integers(0, 0xFFFFFFFF),
    status=st.integers(0, 0xFFFFFFFF),
    sequence=st.integers(0, 0xFFFFFFFF),
    body=st.binary(max_size=300),
)
def test_any_body_after_a_valid_header_decodes_or_is_a_pdu_error(
    command_id: int, status: int, sequence: int, body: bytes
) -> None:
    outcome = decode_or_error(frame(command_id, body, status=status, sequence=sequence))

    if isinstance(outcome, PduError):
        assert outcome.sequence == sequence
        assert outcome.status in (INVCMDLEN, INVCMDID)
    else:
        assert (outcome.command_id, outcome.status, outcome.sequence) == (
            command_id,
            status,
            sequence,
        )


@settings(max_examples=1000, deadline=None)
@given(
    cut=st.integers(16, len(GOOD_SUBMIT)),
    flips=st.dictionaries(st.integers(16, 60), st.integers(0, 255)),
)
def test_damaged_submit_sm_decodes_or_is_a_pdu_error(cut: int, flips: dict[int, int]) -> None:
    raw = bytearray(GOOD_SUBMIT[:cut])
    for pos, value in flips.items():
        if pos < len(raw):
            raw[pos] = value

    outcome = decode_or_error(with_length(bytes(raw)))

    assert outcome.sequence == SEQ


def test_submit_sm_resp_without_its_nul_keeps_the_whole_id() -> None:
    # Some SMSCs omit the NUL; dropping the id would orphan the message's receipt.
    pdu = codec.decode(frame(Command.SUBMIT_SM_RESP, b"abc"))

    assert isinstance(pdu, codec.SubmitSmResp)
    assert pdu.message_id == "abc"
