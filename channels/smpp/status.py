"""SMPP command_status → send error: retry later (temporary) or fail the message (permanent).

The table follows SMPP 3.4 §5.1.3 and what the gateways we learn from do with a failed submit:
Kannel (``smpp_status_to_smscconn_failure_reason``) retries RMSGQFUL, RTHROTTLED, RX_T_APPN and
RSYSERR and rejects the rest; Jasmin's default ``submit_error_retrial`` retries RSYSERR,
RTHROTTLED, RMSGQFUL (and RINVSCHED); vumi pauses on RTHROTTLED and RMSGQFUL. We add the few
codes that say nothing about the message itself (the bind's state, a generic submit failure,
"unknown error"), and treat every code we cannot read (reserved, SMSC vendor-specific 0x400–0x4FF)
as temporary: a wrong "temporary" costs a few bounded retries, a wrong "permanent" silently drops
a citizen's message.
"""

from __future__ import annotations

from typing import Final

from channels.base import PermanentSendError, SendError, TemporarySendError
from channels.smpp.codec import Status, status_name

_T: Final = TemporarySendError
_P: Final = PermanentSendError

# command_status → the error class it maps to. Codes missing here are temporary (see above).
_TABLE: Final[dict[int, type[SendError]]] = {
    # The message or our PDU is wrong: the same bytes would get the same answer.
    0x00000001: _P,  # ESME_RINVMSGLEN
    0x00000002: _P,  # ESME_RINVCMDLEN
    0x00000003: _P,  # ESME_RINVCMDID
    0x00000006: _P,  # ESME_RINVPRTFLG
    0x00000007: _P,  # ESME_RINVREGDLVFLG
    0x0000000A: _P,  # ESME_RINVSRCADR
    0x0000000B: _P,  # ESME_RINVDSTADR
    0x0000000C: _P,  # ESME_RINVMSGID
    0x00000011: _P,  # ESME_RCANCELFAIL
    0x00000013: _P,  # ESME_RREPLACEFAIL
    0x00000015: _P,  # ESME_RINVSERTYP
    0x00000033: _P,  # ESME_RINVNUMDESTS
    0x00000034: _P,  # ESME_RINVDLNAME
    0x00000040: _P,  # ESME_RINVDESTFLAG
    0x00000042: _P,  # ESME_RINVSUBREP
    0x00000043: _P,  # ESME_RINVESMCLASS
    0x00000044: _P,  # ESME_RCNTSUBDL
    0x00000048: _P,  # ESME_RINVSRCTON
    0x00000049: _P,  # ESME_RINVSRCNPI
    0x00000050: _P,  # ESME_RINVDSTTON
    0x00000051: _P,  # ESME_RINVDSTNPI
    0x00000054: _P,  # ESME_RINVREPFLAG
    0x00000055: _P,  # ESME_RINVNUMMSGS
    # We never schedule (schedule_delivery_time is always empty), so this is the SMSC's quirk and
    # repeats on every retry; Jasmin retries it twice, we fail it at once.
    0x00000061: _P,  # ESME_RINVSCHED
    0x00000062: _P,  # ESME_RINVEXPIRY
    0x00000063: _P,  # ESME_RINVDFTMSGID
    0x00000065: _P,  # ESME_RX_P_APPN: the receiving application refused it for good
    0x00000066: _P,  # ESME_RX_R_APPN: rejected
    0x000000C0: _P,  # ESME_RINVOPTPARSTREAM
    0x000000C1: _P,  # ESME_ROPTPARNOTALLWD
    0x000000C2: _P,  # ESME_RINVPARLEN
    0x000000C3: _P,  # ESME_RMISSINGOPTPARAM
    0x000000C4: _P,  # ESME_RINVOPTPARAMVAL
    # SMPP 5.0 §4.7.6 codes some 3.4 SMSCs send too (status_name shows them as hex).
    0x00000100: _P,  # ESME_RSERTYPUNAUTH
    0x00000101: _P,  # ESME_RPROHIBITED
    0x00000102: _T,  # ESME_RSERTYPUNAVAIL: the service is down for now
    0x00000103: _P,  # ESME_RSERTYPDENIED
    0x00000104: _P,  # ESME_RINVDCS: invalid data_coding
    0x00000105: _P,  # ESME_RINVSRCADDRSUBUNIT
    0x00000106: _P,  # ESME_RINVDSTADDRSUBUNIT
    # The SMSC is busy or broken right now: retry with back-off.
    0x00000008: _T,  # ESME_RSYSERR
    0x00000014: _T,  # ESME_RMSGQFUL
    0x00000045: _T,  # ESME_RSUBMITFAIL: generic; SMSCs use it for HLR/routing hiccups
    0x00000058: _T,  # ESME_RTHROTTLED
    0x00000064: _T,  # ESME_RX_T_APPN
    0x00000067: _T,  # ESME_RQUERYFAIL: query_sm only, says nothing about the message
    0x000000FE: _T,  # ESME_RDELIVERYFAILURE
    0x000000FF: _T,  # ESME_RUNKNOWNERR
    # About the bind, not the message: it must go out later or over another bind.
    0x00000004: _T,  # ESME_RINVBNDSTS
    0x00000005: _T,  # ESME_RALYBND
    0x0000000D: _T,  # ESME_RBINDFAIL
    0x0000000E: _T,  # ESME_RINVPASWD
    0x0000000F: _T,  # ESME_RINVSYSID
    0x00000053: _T,  # ESME_RINVSYSTYP
}

# The SMSC asks us to slow down (vumi's throttle_statuses): pause the bind, keep the message.
_PAUSES_BIND: Final = frozenset({Status.ESME_RTHROTTLED, Status.ESME_RMSGQFUL})


def send_error(status: int, detail: str = "") -> SendError:
    """The error a non-zero ``command_status`` stands for; ``.code`` is its SMPP name."""
    if status == Status.ESME_ROK:
        raise ValueError("ESME_ROK is not an error")
    return _TABLE.get(status, _T)(status_name(status), detail)


def pauses_bind(status: int) -> bool:
    """True when the SMSC is throttling the bind rather than judging the message."""
    return status in _PAUSES_BIND
