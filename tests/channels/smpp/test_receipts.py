"""channels/smpp/receipts.py: receipt formats seen in the wild, and id matching."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.base import ReceiptState
from channels.smpp import codec, receipts
from channels.smpp.codec import Command, Tag

STANDARD = (
    b"id:0000A1B2C3 sub:001 dlvrd:001 submit date:2401011200 done date:2401011201"
    b" stat:DELIVRD err:000 text:Hello"
)
DONE = datetime(2024, 1, 1, 12, 1, tzinfo=UTC)
STATE_TLV: dict[int, bytes] = {Tag.MESSAGE_STATE: b"\x02"}  # DELIVERED


def receipt(
    short_message: bytes = b"", tlvs: dict[int, bytes] | None = None, esm_class: int = 0x04
) -> codec.ShortMessage:
    return codec.ShortMessage(
        Command.DELIVER_SM, 0, 1, esm_class=esm_class, short_message=short_message, tlvs=tlvs or {}
    )


PARSE_CASES = [
    # pdu, id_base, expected ParsedReceipt fields (carrier_id, state, error, done_at)
    pytest.param(
        receipt(
            tlvs={
                Tag.RECEIPTED_MESSAGE_ID: b"A1B2C3\0",
                Tag.MESSAGE_STATE: b"\x02",
                Tag.NETWORK_ERROR_CODE: b"\x03\x00\x00",
            }
        ),
        "text",
        ("a1b2c3", ReceiptState.DELIVERED, "000", None),
        id="tlv-only",
    ),
    pytest.param(
        receipt(tlvs={Tag.RECEIPTED_MESSAGE_ID: b"A1B2C3", Tag.MESSAGE_STATE: b"\x05"}),
        "text",
        ("a1b2c3", ReceiptState.UNDELIVERABLE, None, None),
        id="tlv-id-without-nul-keeps-last-char",
    ),
    pytest.param(
        receipt(
            tlvs={
                Tag.RECEIPTED_MESSAGE_ID: b"77\0",
                Tag.MESSAGE_STATE: b"\x00\x00\x00\x08",
                Tag.NETWORK_ERROR_CODE: b"\x03\x00\x22",
            }
        ),
        "text",
        ("77", ReceiptState.REJECTED, "034", None),
        id="tlv-state-of-four-octets",
    ),
    pytest.param(
        receipt(STANDARD),
        "text",
        ("a1b2c3", ReceiptState.DELIVERED, "000", DONE),
        id="text-only",
    ),
    pytest.param(
        receipt(
            b"id:999 sub:001 dlvrd:000 submit date:2401011200 done date:2401011201"
            b" stat:UNDELIV err:001 text:",
            {
                Tag.RECEIPTED_MESSAGE_ID: b"41394\0",
                **STATE_TLV,
                Tag.NETWORK_ERROR_CODE: b"\x03\x00\x07",
            },
        ),
        "text",
        ("41394", ReceiptState.DELIVERED, "007", DONE),
        id="both-tlvs-win-text-gives-date",
    ),
    pytest.param(
        receipt(STANDARD, {Tag.RECEIPTED_MESSAGE_ID: b"A1B2C3\0"}),
        "text",
        ("a1b2c3", ReceiptState.DELIVERED, "000", DONE),
        id="tlv-id-text-state",
    ),
    pytest.param(
        receipt(b"id:00A1B2 stat:DELIVRD"),
        "hex",
        ("41394", ReceiptState.DELIVERED, None, None),
        id="hex-id",
    ),
    pytest.param(
        receipt(b"id:0041394 stat:DELIVRD"),
        "decimal",
        ("41394", ReceiptState.DELIVERED, None, None),
        id="decimal-id-leading-zeros",
    ),
    pytest.param(
        receipt(b"id:XYZ-1 stat:DELIVRD"),
        "hex",
        ("xyz-1", ReceiptState.DELIVERED, None, None),
        id="hex-base-non-hex-id-falls-back-to-text",
    ),
    pytest.param(
        receipt(b"id:00AB12CD stat:DELIVRD err:000"),
        "text",
        ("ab12cd", ReceiptState.DELIVERED, "000", None),
        id="upper-case-and-leading-zeros",
    ),
    pytest.param(
        receipt(b"id:12 sub:001 dlvrd:001 done date:2401011201 stat:DELIVRD text:x"),
        "text",
        ("12", ReceiptState.DELIVERED, None, DONE),
        id="missing-err",
    ),
    pytest.param(
        receipt(b"id:12 done date:2413451299 stat:EXPIRED err:000"),
        "text",
        ("12", ReceiptState.EXPIRED, "000", None),
        id="bad-date-is-none",
    ),
    pytest.param(
        receipt(b"id:12 done date:24010112 stat:DELETED err:000"),
        "text",
        ("12", ReceiptState.DELETED, "000", None),
        id="short-date-is-none",
    ),
    pytest.param(
        receipt(b"id:12 done date:240101120159 stat:DELIVRD err:000"),
        "text",
        ("12", ReceiptState.DELIVERED, "000", datetime(2024, 1, 1, 12, 1, 59, tzinfo=UTC)),
        id="date-with-seconds",
    ),
    pytest.param(
        receipt(b"ID:12  SUB:001   Submit_Date:2401011200 DONE_DATE:2401011201  Stat:delivered"),
        "text",
        ("12", ReceiptState.DELIVERED, None, DONE),
        id="keys-any-case-underscores-extra-spaces",
    ),
    pytest.param(
        receipt(b"id: 12 sub:001 err: stat:DELIVRD"),
        "text",
        ("12", ReceiptState.DELIVERED, None, None),
        id="empty-value-before-next-key",
    ),
    pytest.param(
        receipt(b"stat:UNDELIVERABLE err:069 id:5"),
        "text",
        ("5", ReceiptState.UNDELIVERABLE, "069", None),
        id="fields-out-of-order",
    ),
    pytest.param(
        receipt(b"id:5 stat:FAILED"),
        "text",
        ("5", ReceiptState.UNDELIVERABLE, None, None),
        id="failed-is-undeliverable",
    ),
    pytest.param(
        receipt(b"id:5 stat:REJECTED err:011"),
        "text",
        ("5", ReceiptState.REJECTED, "011", None),
        id="rejected-spelled-out",
    ),
    pytest.param(
        receipt(b"id:5 stat:REJECTD err:011 text:stat:DELIVRD id:6"),
        "text",
        ("5", ReceiptState.REJECTED, "011", None),
        id="stat-inside-message-text-is-ignored",
    ),
    pytest.param(
        receipt(tlvs={Tag.MESSAGE_PAYLOAD: STANDARD}),
        "text",
        ("a1b2c3", ReceiptState.DELIVERED, "000", DONE),
        id="text-in-message-payload",
    ),
    pytest.param(
        receipt(b"id:7 stat:ENROUTE err:000", esm_class=0x20),
        "text",
        ("7", ReceiptState.ENROUTE, "000", None),
        id="intermediate-enroute",
    ),
    pytest.param(
        receipt(b"id:7 sub:001 dlvrd:000 stat:ACCEPTD err:000 text:"),
        "text",
        ("7", ReceiptState.ACCEPTED, "000", None),
        id="intermediate-acceptd",
    ),
    pytest.param(
        receipt(tlvs={Tag.RECEIPTED_MESSAGE_ID: b"7\0", Tag.MESSAGE_STATE: b"\x06"}),
        "text",
        ("7", ReceiptState.ACCEPTED, None, None),
        id="intermediate-accepted-tlv",
    ),
    pytest.param(
        receipt("id:8 stat:DELIVRD text:Olá".encode("latin-1")),
        "text",
        ("8", ReceiptState.DELIVERED, None, None),
        id="latin-1-text",
    ),
]


@pytest.mark.parametrize(("pdu", "base", "expected"), PARSE_CASES)
def test_receipt_formats_parse_to_id_state_error_and_date(
    pdu: codec.ShortMessage, base: str, expected: tuple[object, ...]
) -> None:
    parsed = receipts.parse_receipt(pdu, id_base=base)

    assert (parsed.carrier_id, parsed.state, parsed.error, parsed.done_at) == expected


@pytest.mark.parametrize(
    "pdu",
    [
        pytest.param(receipt(), id="empty"),
        pytest.param(receipt(b"stat:DELIVRD err:000"), id="text-without-id"),
        pytest.param(receipt(b"id:12 err:000"), id="text-without-stat"),
        pytest.param(receipt(b"id:12 stat:SENT"), id="unknown-stat-word"),
        pytest.param(receipt(tlvs={Tag.RECEIPTED_MESSAGE_ID: b"12\0"}), id="tlv-id-only"),
        pytest.param(receipt(tlvs={Tag.MESSAGE_STATE: b"\x02"}), id="tlv-state-only"),
        pytest.param(
            receipt(tlvs={Tag.RECEIPTED_MESSAGE_ID: b"12\0", Tag.MESSAGE_STATE: b"\x63"}),
            id="tlv-state-out-of-range",
        ),
        pytest.param(receipt(b"hello there"), id="not-a-receipt-text"),
    ],
)
def test_receipt_without_id_or_state_is_a_value_error(pdu: codec.ShortMessage) -> None:
    with pytest.raises(ValueError, match="receipt"):
        receipts.parse_receipt(pdu)


def test_receipt_from_the_wire_with_odd_tlv_lengths_keeps_every_field() -> None:
    # message_state sent as 4 octets, then more TLVs: none of them may shift or vanish.
    tlvs = b"".join(
        (
            codec.encode_tlv(Tag.MESSAGE_STATE, b"\x00\x00\x00\x02"),
            codec.encode_tlv(Tag.NETWORK_ERROR_CODE, b"\x03\x00\x00"),
            codec.encode_tlv(Tag.RECEIPTED_MESSAGE_ID, b"0A1B"),  # no NUL
        )
    )
    frame = codec.encode_short_message(
        Command.DELIVER_SM,
        9,
        source_addr="5016012345",
        destination_addr="1234",
        short_message=b"",
        esm_class=0x04,
        tlvs=tlvs,
    )
    pdu = codec.decode(frame)
    assert isinstance(pdu, codec.ShortMessage)

    parsed = receipts.parse_receipt(pdu, id_base="hex")

    assert receipts.is_receipt(pdu)
    assert parsed == receipts.ParsedReceipt("2587", ReceiptState.DELIVERED, "000", None)


@pytest.mark.parametrize(
    ("esm_class", "expected"),
    [
        pytest.param(0x04, True, id="smsc-delivery-receipt"),
        pytest.param(0x08, True, id="sme-delivery-ack"),
        pytest.param(0x10, True, id="sme-user-ack"),
        pytest.param(0x20, True, id="intermediate-notification"),
        pytest.param(0x44, True, id="receipt-with-udhi"),
        pytest.param(0x07, True, id="receipt-with-mode-bits"),
        pytest.param(0x00, False, id="plain-mo"),
        pytest.param(0x40, False, id="mo-with-udhi"),
        pytest.param(0x03, False, id="mode-bits-only"),
        pytest.param(0x18, False, id="conversation-abort"),
    ],
)
def test_receipts_are_told_apart_by_esm_class_message_type(esm_class: int, expected: bool) -> None:
    assert receipts.is_receipt(receipt(esm_class=esm_class)) is expected


@pytest.mark.parametrize(
    ("raw", "base", "expected"),
    [
        pytest.param("00A1B2", "hex", "41394", id="hex"),
        pytest.param("41394", "decimal", "41394", id="decimal"),
        pytest.param(" 0041394\n", "decimal", "41394", id="decimal-padded"),
        pytest.param("00a1b2", "text", "a1b2", id="text-leading-zeros"),
        pytest.param("A1B2", "text", "a1b2", id="text-upper-case"),
        pytest.param("000", "text", "0", id="text-all-zeros-keeps-one"),
        pytest.param("0", "hex", "0", id="hex-zero"),
        pytest.param("", "text", "", id="empty"),
        pytest.param("0x1F", "hex", "x1f", id="hex-prefix-is-not-hex"),
        pytest.param("1_000", "decimal", "1_000", id="underscore-is-not-decimal"),
        pytest.param("-12", "decimal", "-12", id="sign-is-not-decimal"),
        pytest.param("٤٢", "decimal", "٤٢", id="non-ascii-digits-are-not-decimal"),
        pytest.param("ab-CD-01", "decimal", "ab-cd-01", id="uuid-like-falls-back-to-text"),
    ],
)
def test_normalise_id(raw: str, base: str, expected: str) -> None:
    assert receipts.normalise_id(raw, base) == expected


def test_hex_submit_id_meets_decimal_receipt_id() -> None:
    submitted = receipts.normalise_id("00A1B2", "hex")

    parsed = receipts.parse_receipt(receipt(b"id:41394 stat:DELIVRD"), id_base="decimal")

    assert parsed.carrier_id == submitted


def test_text_ids_meet_across_case_and_padding() -> None:
    submitted = receipts.normalise_id("00a1b2")

    parsed = receipts.parse_receipt(receipt(b"id:A1B2 stat:DELIVRD"))

    assert parsed.carrier_id == submitted


WORDS = st.sampled_from(
    ["id:", "ID: ", "stat:", "DELIVRD", "done date:", "submit_date:", "err:", "text:", " ", "\t"]
)
TEXT = st.lists(WORDS | st.text(alphabet="0123456789abcdefXYZ:_ ", max_size=14)).map("".join)


@settings(max_examples=1000, deadline=None)
@given(
    text=TEXT,
    tlvs=st.dictionaries(
        st.sampled_from(
            [
                Tag.RECEIPTED_MESSAGE_ID,
                Tag.MESSAGE_STATE,
                Tag.NETWORK_ERROR_CODE,
                Tag.MESSAGE_PAYLOAD,
            ]
        ),
        st.binary(max_size=8),
    ),
    base=st.sampled_from(["text", "hex", "decimal"]),
)
def test_any_receipt_parses_or_is_a_value_error(
    text: str, tlvs: dict[int, bytes], base: str
) -> None:
    try:
        parsed = receipts.parse_receipt(receipt(text.encode("latin-1"), tlvs), id_base=base)
    except ValueError:
        return
    assert parsed.carrier_id
    assert parsed.done_at is None or parsed.done_at.tzinfo is UTC
