"""CAP 1.2 (OASIS Common Alerting Protocol) documents from the alerting authorities: parsed
from untrusted bytes and checked against the standard's required elements and value lists.

Parsing goes through defusedxml: a DTD, an entity or an external reference is refused (no
"billion laughs", no XXE), whatever the document says. Each problem is a :class:`CapError`
naming the element at fault, which the API answers as a 400.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TypeVar
from xml.etree.ElementTree import Element, ParseError  # types only: parsed by defusedxml

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
_NS = f"{{{NAMESPACE}}}"
_E = TypeVar("_E", bound=StrEnum)
MAX_BYTES = 512 * 1024  # a CAP alert is a few kilobytes; a bigger body is refused unread


class Status(StrEnum):
    ACTUAL = "Actual"
    EXERCISE = "Exercise"
    SYSTEM = "System"
    TEST = "Test"
    DRAFT = "Draft"


class MsgType(StrEnum):
    ALERT = "Alert"
    UPDATE = "Update"
    CANCEL = "Cancel"
    ACK = "Ack"
    ERROR = "Error"


class Scope(StrEnum):
    PUBLIC = "Public"
    RESTRICTED = "Restricted"
    PRIVATE = "Private"


CATEGORIES = frozenset({"Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env",
                        "Transport", "Infra", "CBRNE", "Other"})  # fmt: skip
URGENCIES = frozenset({"Immediate", "Expected", "Future", "Past", "Unknown"})
SEVERITIES = frozenset({"Extreme", "Severe", "Moderate", "Minor", "Unknown"})
CERTAINTIES = frozenset({"Observed", "Likely", "Possible", "Unlikely", "Unknown"})

# CAP 1.2 §3.3.2: dateTime with an explicit offset ("-00:00" for UTC), no "Z"
_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d")
# identifier and sender: no spaces, commas nor restricted characters (& <)
_TOKEN = re.compile(r"[^\s,&<]+")


class CapError(ValueError):
    """The document is not a CAP 1.2 alert we can act on; ``element`` names what is wrong."""

    def __init__(self, element: str, message: str) -> None:
        super().__init__(f"{element}: {message}")
        self.element = element
        self.message = message


@dataclass(frozen=True, slots=True)
class Reference:
    """One of ``references``: an earlier alert, by sender, identifier and sent."""

    sender: str
    identifier: str
    sent: str  # as written (the key an update or a cancel names)


@dataclass(frozen=True, slots=True)
class Area:
    description: str  # areaDesc
    geocodes: tuple[tuple[str, str], ...] = ()  # (valueName, value)


@dataclass(frozen=True, slots=True)
class Info:
    language: str  # as given, "en-US" when absent (CAP's default)
    categories: tuple[str, ...]
    event: str
    urgency: str
    severity: str
    certainty: str
    headline: str = ""
    description: str = ""
    instruction: str = ""
    sender_name: str = ""
    expires: datetime | None = None
    parameters: tuple[tuple[str, str], ...] = ()  # (valueName, value), in document order
    areas: tuple[Area, ...] = ()

    def parameter(self, name: str) -> str | None:
        """The first parameter called ``name`` (case-insensitive), if any."""
        wanted = name.casefold()
        return next((v for n, v in self.parameters if n.casefold() == wanted), None)


@dataclass(frozen=True, slots=True)
class Alert:
    identifier: str
    sender: str
    sent: datetime
    sent_text: str  # as written: part of the alert's key, and of references to it
    status: Status
    msg_type: MsgType
    scope: Scope
    addresses: str = ""
    references: tuple[Reference, ...] = ()
    infos: tuple[Info, ...] = field(default=())

    @property
    def key(self) -> tuple[str, str, str]:
        """What makes an alert the same one (CAP: sender, identifier, sent)."""
        return self.sender, self.identifier, self.sent_text

    @property
    def expires(self) -> datetime | None:
        """The latest ``expires`` of its infos (None: none says)."""
        found = [info.expires for info in self.infos if info.expires is not None]
        return max(found) if found else None


def parse(document: bytes) -> Alert:
    """The alert in ``document``, checked; raises CapError naming the element at fault."""
    if len(document) > MAX_BYTES:
        raise CapError("alert", f"the document is over {MAX_BYTES} bytes")
    try:
        root = fromstring(document, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise CapError("alert", f"refused: {type(exc).__name__} (no DTD or entities)") from None
    except (ParseError, ValueError) as exc:
        raise CapError("alert", f"not well-formed XML: {exc}") from None
    if root.tag != f"{_NS}alert":
        raise CapError("alert", f"the root element must be <alert> in namespace {NAMESPACE}")
    status = _choice(root, "status", Status)
    msg_type = _choice(root, "msgType", MsgType)
    scope = _choice(root, "scope", Scope)
    addresses = _text(root, "addresses")
    if scope is Scope.PRIVATE and not addresses:
        raise CapError("addresses", "required when scope is Private")
    references = _references(_text(root, "references"))
    if msg_type in (MsgType.UPDATE, MsgType.CANCEL) and not references:
        raise CapError("references", f"required for msgType {msg_type}")
    sent_text = _required(root, "sent")
    return Alert(
        identifier=_token(root, "identifier"),
        sender=_token(root, "sender"),
        sent=_datetime("sent", sent_text),
        sent_text=sent_text,
        status=status,
        msg_type=msg_type,
        scope=scope,
        addresses=addresses,
        references=references,
        infos=tuple(_info(element) for element in root.findall(f"{_NS}info")),
    )


def _info(element: Element) -> Info:
    categories = tuple(_all(element, "category"))
    if not categories:
        raise CapError("info/category", "required")
    for category in categories:
        _one_of("info/category", category, CATEGORIES)
    expires = _text(element, "expires")
    return Info(
        language=_text(element, "language") or "en-US",
        categories=categories,
        event=_required(element, "event", "info/event"),
        urgency=_one_of("info/urgency", _required(element, "urgency", "info/urgency"), URGENCIES),
        severity=_one_of(
            "info/severity", _required(element, "severity", "info/severity"), SEVERITIES
        ),
        certainty=_one_of(
            "info/certainty", _required(element, "certainty", "info/certainty"), CERTAINTIES
        ),
        headline=_text(element, "headline"),
        description=_text(element, "description"),
        instruction=_text(element, "instruction"),
        sender_name=_text(element, "senderName"),
        expires=_datetime("info/expires", expires) if expires else None,
        parameters=tuple(_pairs(element, "parameter")),
        areas=tuple(_area(area) for area in element.findall(f"{_NS}area")),
    )


def _area(element: Element) -> Area:
    return Area(
        description=_required(element, "areaDesc", "info/area/areaDesc"),
        geocodes=tuple(_pairs(element, "geocode")),
    )


def _pairs(element: Element, name: str) -> list[tuple[str, str]]:
    """valueName / value pairs (parameter, geocode)."""
    pairs = []
    for pair in element.findall(f"{_NS}{name}"):
        pairs.append((_text(pair, "valueName"), _text(pair, "value")))
    return pairs


def _references(text: str) -> tuple[Reference, ...]:
    found = []
    for triple in text.split():
        parts = triple.split(",")
        if len(parts) != 3 or not all(parts):
            raise CapError("references", f"{triple!r} is not sender,identifier,sent")
        _datetime("references", parts[2])
        found.append(Reference(*parts))
    return tuple(found)


def _all(element: Element, name: str) -> list[str]:
    return [(child.text or "").strip() for child in element.findall(f"{_NS}{name}")]


def _text(element: Element, name: str) -> str:
    child = element.find(f"{_NS}{name}")
    return "" if child is None else (child.text or "").strip()


def _required(element: Element, name: str, path: str | None = None) -> str:
    value = _text(element, name)
    if not value:
        raise CapError(path or name, "required")
    return value


def _token(element: Element, name: str) -> str:
    value = _required(element, name)
    if not _TOKEN.fullmatch(value):
        raise CapError(name, "must not contain spaces, commas, & or <")
    return value


def _choice(element: Element, name: str, kind: type[_E]) -> _E:
    value = _required(element, name)
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise CapError(name, f"{value!r} is not one of {allowed}") from None


def _one_of(path: str, value: str, allowed: frozenset[str]) -> str:
    if value not in allowed:
        raise CapError(path, f"{value!r} is not one of {', '.join(sorted(allowed))}")
    return value


def _datetime(path: str, value: str) -> datetime:
    if not _DATETIME.fullmatch(value):
        raise CapError(path, f"{value!r} is not a CAP dateTime (e.g. 2026-10-01T14:00:00-06:00)")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise CapError(path, f"{value!r} is not a valid date and time") from None
