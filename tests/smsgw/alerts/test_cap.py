"""CAP 1.2 parsing and checks: what an authority's system sends, what an attacker sends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from smsgw.alerts.cap import CapError, MsgType, Reference, Scope, Status, parse
from tests.smsgw.alerts.cap_testbed import alert, info


def test_a_hurricane_warning_in_two_languages() -> None:
    found = parse(alert(
        info(language="en-US", parameters={"SMS": "Hurricane warning: go to a shelter."}),
        info(language="es-BZ", event="Aviso de huracan", headline="Aviso de huracán",
             instruction="Vaya a un refugio.", areas=("Toledo", "Stann Creek")),
    ))  # fmt: skip
    assert found.key == ("nms@hydromet.gov.bz", "NMS-2026-0042", "2026-10-01T14:00:00-06:00")
    assert found.sent == datetime(2026, 10, 1, 20, 0, tzinfo=UTC)
    assert (found.status, found.msg_type, found.scope) == (
        Status.ACTUAL, MsgType.ALERT, Scope.PUBLIC)  # fmt: skip
    english, spanish = found.infos
    assert english.parameter("sms") == "Hurricane warning: go to a shelter."
    assert (english.urgency, english.severity) == ("Immediate", "Extreme")
    assert spanish.headline == "Aviso de huracán"
    assert [a.description for a in spanish.areas] == ["Toledo", "Stann Creek"]
    assert found.expires == datetime(2026, 10, 2, 2, 0, tzinfo=UTC)


def test_an_info_without_a_language_is_en_us_as_cap_says() -> None:
    assert parse(alert(info(language=""))).infos[0].language == "en-US"


def test_an_update_names_what_it_updates() -> None:
    found = parse(alert(msg_type="Update", references=(
        "nms@hydromet.gov.bz,NMS-1,2026-10-01T12:00:00-06:00 "
        "nms@hydromet.gov.bz,NMS-2,2026-10-01T13:00:00-06:00")))  # fmt: skip
    assert found.references == (
        Reference("nms@hydromet.gov.bz", "NMS-1", "2026-10-01T12:00:00-06:00"),
        Reference("nms@hydromet.gov.bz", "NMS-2", "2026-10-01T13:00:00-06:00"),
    )


@pytest.mark.parametrize(
    ("document", "element"),
    [
        (alert(identifier=""), "identifier"),
        (alert(sender=""), "sender"),
        (alert(sent=""), "sent"),
        (alert(status=""), "status"),
        (alert(msg_type=""), "msgType"),
        (alert(scope=""), "scope"),
        (alert(identifier="two words"), "identifier"),
        (alert(sent="2026-10-01T14:00:00Z"), "sent"),  # CAP wants "-00:00", not "Z"
        (alert(sent="yesterday"), "sent"),
        (alert(sent="2026-02-30T14:00:00-06:00"), "sent"),
        (alert(status="Real"), "status"),
        (alert(msg_type="Alarm"), "msgType"),
        (alert(scope="Private"), "addresses"),
        (alert(msg_type="Update"), "references"),
        (alert(msg_type="Cancel"), "references"),
        (alert(msg_type="Cancel", references="NMS-1"), "references"),
        (alert(info(category="")), "info/category"),
        (alert(info(category="Weather")), "info/category"),
        (alert(info(event="")), "info/event"),
        (alert(info(urgency="")), "info/urgency"),
        (alert(info(urgency="Now")), "info/urgency"),
        (alert(info(severity="Bad")), "info/severity"),
        (alert(info(certainty="")), "info/certainty"),
        (alert(info(expires="tomorrow")), "info/expires"),
        (alert(info(areas=("",))), "info/area/areaDesc"),
        (b"<alert><identifier>x</identifier></alert>", "alert"),  # no namespace
        (b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'>", "alert"),  # not well-formed
        (b"", "alert"),
        (b"\xff\xfe<", "alert"),
    ],
)
def test_each_problem_names_its_element(document: bytes, element: str) -> None:
    with pytest.raises(CapError) as raised:
        parse(document)
    assert raised.value.element == element


_BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    ).replace("&lol0;", "&lol;")
    + "]>"
)
_XXE = '<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
_EXTERNAL_DTD = '<?xml version="1.0"?><!DOCTYPE alert SYSTEM "http://127.0.0.1:9/cap.dtd">'


@pytest.mark.parametrize(
    "document",
    [
        alert(info(headline="&lol9;"), head=_BILLION_LAUGHS),
        alert(info(headline="&xxe;"), head=_XXE),
        alert(head=_EXTERNAL_DTD),
        alert(head='<!DOCTYPE alert [<!ENTITY a "a">]>'),  # even a harmless one
    ],
    ids=["billion laughs", "xxe", "external dtd", "any entity"],
)
def test_dtds_and_entities_are_refused_unexpanded(document: bytes) -> None:
    with pytest.raises(CapError) as raised:
        parse(document)
    assert raised.value.element == "alert"
    assert "refused" in raised.value.message
    assert "root:" not in str(raised.value)  # nothing of /etc/passwd leaked into the answer


def test_an_oversized_document_is_refused_unread() -> None:
    padding = "<parameter><valueName>x</valueName><value>" + "y" * 600_000 + "</value></parameter>"
    with pytest.raises(CapError, match="bytes"):
        parse(alert(info(extra=padding)))
