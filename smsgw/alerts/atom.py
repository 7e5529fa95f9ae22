"""The warnings the gateway acted on as an Atom feed of CAP 1.2 alerts (GET /alerts.atom), for
radio, TV and web sites to reuse: each entry links the authority's CAP document as received.

Only public warnings: Actual alerts that were sent, updated or cancelled, of scope Public (a
Restricted or Private alert names its addressees): the store picks them (``published``).
Never tests, drills or numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from xml.etree import ElementTree as ET

from smsgw.alerts.store import AlertRecord

ATOM = "http://www.w3.org/2005/Atom"
CAP_TYPE = "application/cap+xml"
FEED_TYPE = "application/atom+xml"


def feed(records: Sequence[AlertRecord], *, base: str, title: str, now: datetime) -> bytes:
    """The Atom document; ``base``: the gateway's URL as the client reached it."""
    ET.register_namespace("", ATOM)
    root = ET.Element(f"{{{ATOM}}}feed")
    _text(root, "id", f"{base}/alerts.atom")
    _text(root, "title", f"{title}: alerts")
    _text(root, "updated", _time(records[0].received_at if records else now))
    ET.SubElement(root, f"{{{ATOM}}}link", rel="self", type=FEED_TYPE, href=f"{base}/alerts.atom")
    author = ET.SubElement(root, f"{{{ATOM}}}author")
    _text(author, "name", title)
    for record in records:
        entry = ET.SubElement(root, f"{{{ATOM}}}entry")
        link = f"{base}/alerts/{record.id}.cap"
        _text(entry, "id", link)
        _text(entry, "title", record.headline or record.event)
        _text(entry, "updated", _time(record.received_at))
        _text(entry, "summary", f"{record.msg_type}: {record.event} ({record.sender})")
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", type=CAP_TYPE, href=link)
        ET.SubElement(entry, f"{{{ATOM}}}category", term=record.msg_type)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document


def _text(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, f"{{{ATOM}}}{tag}").text = text


def _time(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")
