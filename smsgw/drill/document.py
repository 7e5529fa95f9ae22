"""The CAP 1.2 document a drill posts, as an alerting authority's system would write it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape

from smsgw.alerts.cap import NAMESPACE, Status

SENDER = "drill@smsgw"


def cap_alert(
    *, status: Status, event: str, headline: str, instruction: str, sender: str = SENDER,
    category: str = "Met", valid_for: timedelta = timedelta(hours=2),
) -> bytes:  # fmt: skip
    """A new alert (its own identifier) sent now, urgent and extreme: what goes out as an
    emergency. ``status``: Actual (the throwaway database's drill) or Exercise (live)."""
    now = datetime.now(UTC).replace(microsecond=0)

    def cap_time(moment: datetime) -> str:  # CAP 1.2 §3.3.2: an explicit offset, no "Z"
        return moment.strftime("%Y-%m-%dT%H:%M:%S-00:00")

    fields = {
        "identifier": f"DRILL-{uuid.uuid4().hex[:16]}",
        "sender": sender,
        "sent": cap_time(now),
        "status": status.value,
        "msgType": "Alert",
        "scope": "Public",
    }
    info = {
        "language": "en-US",
        "category": category,
        "event": event,
        "urgency": "Immediate",
        "severity": "Extreme",
        "certainty": "Likely",
        "expires": cap_time(now + valid_for),
        "headline": headline,
        "instruction": instruction,
    }
    body = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields.items())
    body += "<info>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in info.items())
    # no <area>: a drill is for the whole audience, wherever its numbers live
    body += "</info>"
    return f'<alert xmlns="{NAMESPACE}">{body}</alert>'.encode()
