"""[[alerts.feeds]]: an authority's feed served by a local aiohttp server that changes between
polls and fails now and then; each alert is taken once, across a restart of the gateway."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from channels.simulator import Simulator
from smsgw.access.tokens import Role
from smsgw.alerts.feeds import FeedError, _entries
from smsgw.app import GATEWAY, build_app
from smsgw.config import Settings, load
from tests.smsgw.alerts.cap_testbed import alert, info
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.broadcast_testbed import numbers, seed
from tests.smsgw.testbed import WriteConfig, bearer, eventually, on_simulator

ATOM = "http://www.w3.org/2005/Atom"


def _cap(identifier: str) -> bytes:
    return alert(info(expires="2099-01-01T00:00:00-06:00"), identifier=identifier)


@dataclass
class Authority:
    """The authority's web server: its feed lists ``entries`` (newest first); ``failing``
    requests of the feed answer 500 and the first fetch of each of ``flaky`` answers 503."""

    entries: list[str] = field(default_factory=list)
    failing: int = 0
    flaky: set[str] = field(default_factory=set)
    hits: Counter[str] = field(default_factory=Counter)

    async def feed(self, _request: web.Request) -> web.Response:
        self.hits["feed"] += 1
        if self.failing:
            self.failing -= 1
            return web.Response(status=500)
        parts = []
        for name in self.entries:
            if name.startswith("inline-"):  # the CAP inside the entry
                body = f'<content type="application/cap+xml">{_cap(name).decode()}</content>'
            else:
                body = f'<link rel="alternate" type="application/cap+xml" href="cap/{name}"/>'
            parts.append(f"<entry><id>urn:nms:{name}</id><updated>2026-10-01T14:00:00-06:00"
                         f"</updated><title>{name}</title>{body}</entry>")  # fmt: skip
        text = f'<feed xmlns="{ATOM}"><id>urn:nms</id><title>NMS</title>{"".join(parts)}</feed>'
        return web.Response(text=text, content_type="application/atom+xml")

    async def cap(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.hits[name] += 1
        if name in self.flaky:
            self.flaky.discard(name)
            return web.Response(status=503)
        return web.Response(body=_cap(name), content_type="application/cap+xml")


@pytest.fixture
async def authority() -> AsyncIterator[tuple[Authority, str]]:
    state = Authority()
    app = web.Application()
    app.router.add_get("/feed.atom", state.feed)
    app.router.add_get("/cap/{name}", state.cap)
    async with TestServer(app) as server:
        yield state, str(server.make_url("/feed.atom"))


@pytest.fixture
def settings(
    simulator: Simulator, write_config: WriteConfig, authority: tuple[Authority, str]
) -> Settings:
    feed = f"""
[[alerts.routes]]
event = "Hurricane Warning"
service = "HURRICANE"

[[alerts.feeds]]
name = "nms"
url = "{authority[1]}"
every_s = 0.05
"""
    return load(write_config(on_simulator(simulator.port) + feed))


async def test_each_alert_of_a_changing_failing_feed_is_taken_once_across_a_restart(
    settings: Settings, authority: tuple[Authority, str], simulator: Simulator
) -> None:
    state, _ = authority
    async with TestClient(TestServer(build_app(settings))) as client:
        gateway = client.app[GATEWAY]
        await add_service(gateway, keyword="HURRICANE", ministry="nemo")
        await seed(gateway, "HURRICANE", numbers("+50160", 3), language="en")
        admin = await bearer(gateway, Role.ADMIN)

        async def taken() -> list[str]:
            """The alerts acted on: a pending one (claimed) may not have its broadcast yet."""
            body = await (await client.get("/api/v1/alerts", headers=admin)).json()
            return sorted(a["alert"] for a in body["alerts"] if a["action"] != "pending")

        state.entries = ["A"]
        await eventually(lambda: _has(taken, ["A"]))
        state.failing = 3  # the feed fails three polls running
        state.flaky = {"B"}  # and B's first fetch fails
        state.entries = ["inline-C", "B", "A"]
        await eventually(lambda: _has(taken, ["A", "B", "inline-C"]))
        assert state.hits["B"] == 2
        broadcasts = await (await client.get("/api/v1/broadcasts", headers=admin)).json()
        assert len(broadcasts["broadcasts"]) == 3
        entries = (await (await client.get("/api/v1/audit", headers=admin)).json())["entries"]
        received = [e for e in entries if e["action"] == "alert_received"]
        assert {e["actor"] for e in received} == {"feed:nms"}
        polls = state.hits["feed"]
        await eventually(lambda: state.hits["feed"] >= polls + 3)
        assert (state.hits["A"], state.hits["B"]) == (1, 2)  # taken: not fetched again
    fetched = state.hits["A"]
    async with TestClient(TestServer(build_app(settings))) as client:  # the gateway restarted
        gateway = client.app[GATEWAY]
        admin = await bearer(gateway, Role.ADMIN)
        await eventually(lambda: state.hits["A"] > fetched)  # read again after the restart
        polls = state.hits["feed"]
        await eventually(lambda: state.hits["feed"] >= polls + 2)
        broadcasts = await (await client.get("/api/v1/broadcasts", headers=admin)).json()
        assert len(broadcasts["broadcasts"]) == 3  # a repeat: nothing sent again
        await eventually(lambda: simulator.submit_total >= 9)
    got = Counter("+" + s.destination_addr for s in simulator.submits)
    assert got == dict.fromkeys(numbers("+50160", 3), 3)  # A, B and C once each


async def _has(taken: Callable[[], Awaitable[list[str]]], wanted: list[str]) -> bool:
    return await taken() == wanted


def test_rss_items_and_a_single_cap_are_read_and_a_dtd_is_refused() -> None:
    rss = (b'<rss version="2.0"><channel><title>NEMO</title>'
           b'<item><guid>n-2</guid><enclosure url="/cap/2.xml" type="application/cap+xml"/></item>'
           b"<item><guid>n-1</guid><link>https://nemo.gov.bz/cap/1.xml</link></item>"
           b"</channel></rss>")  # fmt: skip
    entries = _entries(rss, "https://nemo.gov.bz/feed.rss")
    assert [(e.key, e.link) for e in entries] == [
        ("n-1", "https://nemo.gov.bz/cap/1.xml"),
        ("n-2", "https://nemo.gov.bz/cap/2.xml"),
    ]
    single = _entries(_cap("X"), "https://nemo.gov.bz/now.xml")
    assert [(e.key, e.inline) for e in single] == [("https://nemo.gov.bz/now.xml", _cap("X"))]
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]>'
              b"<rss><channel><item><link>&lol;</link></item></channel></rss>")  # fmt: skip
    with pytest.raises(FeedError, match="not a feed"):
        _entries(laughs, "https://nemo.gov.bz/feed.rss")
    with pytest.raises(FeedError, match="neither Atom"):
        _entries(b"<html/>", "https://nemo.gov.bz/")
