"""channels/smpp/status.py: which SMPP answers are retried, which fail the message."""

from __future__ import annotations

import pytest

from channels.base import PermanentSendError, SendError, TemporarySendError
from channels.smpp import status
from channels.smpp.codec import STATUS_NAMES

T, P = TemporarySendError, PermanentSendError

CASES = [
    # status, the class send_error gives, .code, pauses the bind
    pytest.param(0x58, T, "ESME_RTHROTTLED", True, id="throttled-temporary-pauses"),
    pytest.param(0x14, T, "ESME_RMSGQFUL", True, id="queue-full-temporary-pauses"),
    pytest.param(0x08, T, "ESME_RSYSERR", False, id="system-error-temporary"),
    pytest.param(0x45, T, "ESME_RSUBMITFAIL", False, id="submit-failed-temporary"),
    pytest.param(0x64, T, "ESME_RX_T_APPN", False, id="temporary-app-error"),
    pytest.param(0xFE, T, "ESME_RDELIVERYFAILURE", False, id="delivery-failure-temporary"),
    pytest.param(0xFF, T, "ESME_RUNKNOWNERR", False, id="unknown-error-temporary"),
    pytest.param(0x04, T, "ESME_RINVBNDSTS", False, id="bind-state-temporary"),
    pytest.param(0x0E, T, "ESME_RINVPASWD", False, id="bind-credentials-not-the-message"),
    pytest.param(0x0B, P, "ESME_RINVDSTADR", False, id="bad-destination-permanent"),
    pytest.param(0x0A, P, "ESME_RINVSRCADR", False, id="bad-source-permanent"),
    pytest.param(0x50, P, "ESME_RINVDSTTON", False, id="bad-destination-ton-permanent"),
    pytest.param(0x51, P, "ESME_RINVDSTNPI", False, id="bad-destination-npi-permanent"),
    pytest.param(0x48, P, "ESME_RINVSRCTON", False, id="bad-source-ton-permanent"),
    pytest.param(0x01, P, "ESME_RINVMSGLEN", False, id="bad-length-permanent"),
    pytest.param(0x43, P, "ESME_RINVESMCLASS", False, id="bad-esm-class-permanent"),
    pytest.param(0x65, P, "ESME_RX_P_APPN", False, id="permanent-app-error"),
    pytest.param(0x66, P, "ESME_RX_R_APPN", False, id="rejected-by-app"),
    pytest.param(0xC2, P, "ESME_RINVPARLEN", False, id="bad-tlv-length-permanent"),
    pytest.param(0x61, P, "ESME_RINVSCHED", False, id="bad-schedule-permanent"),
    pytest.param(0x104, P, "0x00000104", False, id="smpp5-invalid-data-coding-permanent"),
    pytest.param(0x102, T, "0x00000102", False, id="smpp5-service-unavailable-temporary"),
    pytest.param(0x4D2, T, "0x000004D2", False, id="vendor-code-temporary"),
    pytest.param(0x400, T, "0x00000400", False, id="vendor-range-start-temporary"),
    pytest.param(0x09, T, "0x00000009", False, id="reserved-code-temporary"),
]


@pytest.mark.parametrize(("code", "kind", "name", "pauses"), CASES)
def test_status_maps_to_retry_decision_and_names_the_code(
    code: int, kind: type[SendError], name: str, pauses: bool
) -> None:
    error = status.send_error(code)

    assert type(error) is kind
    assert error.temporary is (kind is T)
    assert error.code == name
    assert status.pauses_bind(code) is pauses


def test_detail_is_kept_on_the_error() -> None:
    error = status.send_error(0x0B, "to +5016012345")

    assert error.detail == "to +5016012345"
    assert str(error) == "ESME_RINVDSTADR: to +5016012345"


@pytest.mark.parametrize(
    "code", sorted(c for c in STATUS_NAMES if c), ids=lambda c: STATUS_NAMES[c]
)
def test_every_named_status_gives_an_error_with_its_name(code: int) -> None:
    error = status.send_error(code)

    assert isinstance(error, T | P)
    assert error.code == STATUS_NAMES[code]


def test_ok_is_not_an_error() -> None:
    with pytest.raises(ValueError, match="ESME_ROK"):
        status.send_error(0)
    assert not status.pauses_bind(0)
