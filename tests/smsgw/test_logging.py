from __future__ import annotations

import io
import json
from datetime import datetime
from typing import Any

import pytest
import structlog

from smsgw.logging import mask_number, mask_sensitive, processors


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+5016012345", "+50160****45"),
        ("5016012345", "50160****45"),
        ("+447700900123", "+44770****23"),
        ("6012345", "60****45"),  # a local number keeps fewer digits: at least 3 hidden
        ("1515", "1515"),  # a short code is not personal data
        ("GOVBZ", "GOVBZ"),  # nor is an alphanumeric sender
    ],
    ids=["e164", "no-plus", "long", "local", "short-code", "alphanumeric"],
)
def test_a_number_keeps_its_first_five_and_last_two_digits(number: str, masked: str) -> None:
    assert mask_number(number) == masked


def _masked(**event: Any) -> dict[str, Any]:
    return dict(mask_sensitive(None, "info", event))


def test_numbers_are_masked_by_key_and_inside_any_text() -> None:
    out = _masked(
        event="inbound_received",
        sender="+5016012345",
        to="1515",
        msisdn="5016012345",
        detail="reply to +5016012345 failed",
        nested={"destination": "+5016099999"},
        numbers=["+5016012345"],
    )
    assert out["sender"] == "+50160****45"
    assert out["to"] == "1515"
    assert out["msisdn"] == "50160****45"
    assert out["detail"] == "reply to +50160****45 failed"
    assert out["nested"] == {"destination": "+50160****99"}
    assert out["numbers"] == ["+50160****45"]


SECRETS = {"password": "hunter2", "token": "smsgw_abc", "api_secret": "x"}  # test data


def test_secrets_are_hidden_entirely_and_ids_left_alone() -> None:
    out = _masked(**SECRETS, carrier_id="12345678")
    assert out == dict.fromkeys(SECRETS, "***") | {"carrier_id": "12345678"}


def test_a_log_line_is_one_json_object_with_level_time_and_masked_values() -> None:
    stream = io.StringIO()
    log = structlog.wrap_logger(
        structlog.PrintLogger(stream),
        processors=[*processors(), structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(0),
    )
    log.warning("send_rejected", to="+5016012345", code="ESME_RINVDSTADR", **SECRETS)
    line = stream.getvalue()
    assert line.count("\n") == 1
    record = json.loads(line)
    assert record["event"] == "send_rejected"
    assert record["level"] == "warning"
    assert record["to"] == "+50160****45"
    assert [record[key] for key in SECRETS] == ["***"] * len(SECRETS)
    assert datetime.fromisoformat(record["timestamp"]).utcoffset() is not None
    assert "5016012345" not in line


def test_a_traceback_is_masked_too() -> None:
    stream = io.StringIO()
    log = structlog.wrap_logger(
        structlog.PrintLogger(stream),
        processors=[*processors(), structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(0),
    )
    try:
        raise ValueError("bad number +5016012345")
    except ValueError:
        log.exception("send_crashed")
    record = json.loads(stream.getvalue())
    assert "+50160****45" in record["exception"]
    assert "5016012345" not in stream.getvalue()


def test_a_hex_id_keeps_its_digits_while_numbers_and_tokens_in_text_are_hidden() -> None:
    out = _masked(
        event="request_failed",
        detail="message 9f41059270f0a1c2 for to=%2B5016012345, auth Bearer smsgw_abcDEF-123",
        path="/api/v1/messages/a410592701234567b",
    )
    assert out["detail"] == "message 9f41059270f0a1c2 for to=%2B50160****45, auth ***"
    assert out["path"] == "/api/v1/messages/a410592701234567b"
