"""LIST packing: as few SMS as possible, in order, marked (2/3) when more than one."""

from __future__ import annotations

import itertools

import pytest

from channels.text import text_info
from subscriptions.replies import pack

HEADER = "Government of Belize Info services. Send a keyword to join:"
SERVICES = [
    ("HEALTH", "Health alerts"),
    ("WEATHER", "Weather forecasts"),
    ("HURRICANE", "Hurricane and flood alerts"),
    ("EDUCATION", "School news"),
    ("AGRI", "Farm prices"),
    ("JOBS", "Job offers"),
]
FORTY = [f"{keyword}{n} {name}" for n in range(7) for keyword, name in SERVICES][:40]


def sms160(text: str) -> bool:
    return len(text) <= 160


def ucs2_70(text: str) -> bool:
    return len(text) <= 70


def body(message: str) -> list[str]:
    """The service lines of a message, without its marker and header."""
    lines = message.split("\n")
    return lines[1:] if lines[0].startswith(("(", HEADER)) else lines


@pytest.mark.parametrize("fits", [sms160, ucs2_70], ids=["gsm-160", "ucs2-70"])
def test_forty_services_fill_the_fewest_messages_in_order(fits):
    messages = pack(HEADER if fits is sms160 else "Services:", FORTY, fits)

    assert all(fits(message) for message in messages)
    assert [line for message in messages for line in body(message)] == FORTY
    total = len(messages)
    assert [m.split("\n")[0].split(" ")[0] for m in messages] == [
        f"({n}/{total})" for n in range(1, total + 1)
    ]
    # Greedy is optimal for an ordered list; it is greedy if no message could have taken the
    # next one's first line.
    for n, (message, following) in enumerate(itertools.pairwise(messages), 1):
        assert not fits(f"{message}\n{body(following)[0]}"), f"message {n} could take more"


def test_forty_services_take_eight_sms_at_160_and_twenty_at_70():
    # 1,039 characters of lines at 160 need at least 7 SMS; whole lines and markers make 8.
    assert len(pack(HEADER, FORTY, sms160)) == 8
    assert len(pack("Services:", FORTY, ucs2_70)) == 20


def test_a_short_list_is_one_message_without_a_marker():
    assert pack("Services:", ["HEALTH Health alerts", "JOBS Job offers"], sms160) == [
        "Services:\nHEALTH Health alerts\nJOBS Job offers"
    ]


def test_the_header_opens_only_the_first_message():
    messages = pack("Services:", ["A" * 100, "B" * 100, "C" * 100], sms160)
    assert messages == [
        "(1/3) Services:\n" + "A" * 100,
        "(2/3)\n" + "B" * 100,
        "(3/3)\n" + "C" * 100,
    ]


def test_a_line_too_long_for_any_sms_travels_alone():
    long = "X" * 200
    messages = pack("Services:", ["HEALTH Health alerts", long, "JOBS Job offers"], sms160)
    assert messages == [
        "(1/3) Services:\nHEALTH Health alerts",
        f"(2/3)\n{long}",
        "(3/3)\nJOBS Job offers",
    ]


def test_no_lines_gives_the_header_alone():
    assert pack("No services are open.", [], sms160) == ["No services are open."]


def test_markers_stay_right_when_the_count_reaches_two_digits():
    lines = [f"LINE{n:02} " + "x" * 40 for n in range(12)]  # 47 chars: one per message
    messages = pack("Services:", lines, ucs2_70)
    assert len(messages) == 12
    assert all(ucs2_70(message) for message in messages)
    assert messages[0].startswith("(1/12) Services:\nLINE00")
    assert messages[11].startswith("(12/12)\nLINE11")


def test_real_sms_limits_pack_spanish_names_with_accents_at_seventy():
    lines = [f"SALUD{n} Información de clínicas" for n in range(6)]  # í, á: UCS-2
    messages = pack("Servicios:", lines, lambda text: text_info(text).segments == 1)
    assert [(text_info(m).per_segment, text_info(m).segments) for m in messages] == [(70, 1)] * 4
    assert [len(body(message)) for message in messages] == [1, 2, 2, 1]  # the header costs one
