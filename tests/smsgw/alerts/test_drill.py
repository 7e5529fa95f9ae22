"""``smsgw drill`` run as an operator runs it (a subprocess): on the built-in simulator with a
small audience at high TPS, and live against a gateway on the SMSC simulator with an
exercise list; what the report says is checked against what was set up and what the SMSC
received. Correctness only, never speed."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import struct
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from channels.simulator import Simulator
from channels.text import decode
from smsgw.access.tokens import Role
from smsgw.app import Gateway
from smsgw.storage.sqlite import SqliteStore
from subscriptions.models import Service, Source
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.broadcast_testbed import numbers, seed, sent_to, stop
from tests.smsgw.testbed import Client, bearer

REPO = Path(__file__).resolve().parents[3]
ENV = os.environ | {"PYTHONPATH": str(REPO)}
PNG = b"\x89PNG\r\n\x1a\n"

BIND = """
[[channels]]
name = "{name}"
carrier = "{carrier}"
host = "127.0.0.1"
port = 2775
system_id = "{name}"
password = "secret"
tps = {tps}
window = 20
prefixes = {prefixes}
"""
CONFIG = """
[gateway]
short_code = "1515"
default_region = "BZ"
data_dir = "data"

[database]
url = "sqlite:///base.db"
""" + "".join(
    BIND.format(name=name, carrier=carrier, tps=tps, prefixes=prefixes)
    for name, carrier, tps, prefixes in (
        ("btl-1", "btl", 400, '["+50160", "+50161"]'),
        ("btl-2", "btl", 400, '["+50160", "+50161"]'),
        ("smart-1", "smart", 500, '["+50165"]'),
    )
)
CAPS = {"btl-1": 400, "btl-2": 400, "smart-1": 500}


async def smsgw(*args: str, cwd: Path, limit_s: float = 60) -> tuple[int, str, str]:
    """The command as a user runs it: (exit code, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "smsgw", "--log-level", "warning", *args, cwd=cwd, env=ENV,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(limit_s):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR, after checking its signature."""
    data = path.read_bytes()
    assert data[:8] == PNG
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def base_database(path: Path) -> None:
    """The configured database: 20 on btl, 10 on smart, 1 no carrier serves, 1 under a STOP."""
    store = await SqliteStore.open(path)
    now = datetime.now(UTC)
    await store.catalogue.add_service(Service(keyword="HEALTH", ministry="health",
                                              names={"en": "Health"}))  # fmt: skip
    members = [*numbers("+50160", 12), *numbers("+50161", 8), *numbers("+50165", 10),
               "+5017000001", "+5016099999"]  # fmt: skip
    await store.subscriptions.join_many(
        [(n, None) for n in members], "HEALTH", at=now, source=Source.IMPORT, consent="test"
    )
    await store.subscriptions.stop_all("+5016099999", at=now, source=Source.SMS, consent="t")
    await store.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_a_simulator_drill_reports_what_its_smscs_received(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG)
    await base_database(tmp_path / "base.db")
    before = digest(tmp_path / "base.db")
    code, out, err = await smsgw(
        "drill", "--audience", "3000", "--response-ms", "5", "--receipt-delay", "0.05",
        "--out", "report", cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, err
    # the configured database only read (SQLite's read-only connection may leave an empty
    # WAL beside it, as a running gateway's is there anyway)
    assert digest(tmp_path / "base.db") == before
    wal = tmp_path / "base.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    report: dict[str, Any] = json.loads((tmp_path / "report" / "report.json").read_text())
    figures = report["figures"]
    assert report["mode"] == "simulator"
    assert report["alert"]["status"] == "Actual"
    assert report["alert"]["action"] == "sent"
    assert report["audience"] == {"btl": 1500, "smart": 1500}
    assert (report["segments"], figures["expected"], figures["accepted"]) == (1, 3000, 3000)
    assert report["finished"]
    assert figures["all_submitted_s"] >= figures["first_submit_s"] > 0
    outcomes = report["outcomes"]
    assert outcomes["pending"] == 0
    assert outcomes["delivered"] + outcomes["failed"] + outcomes["expired"] == 3000
    assert figures["delivery_rate"] == pytest.approx(outcomes["delivered"] / 3000)
    carriers = {c["carrier"]: c for c in figures["carriers"]}
    assert {c: carriers[c]["submits"] for c in carriers} == {"btl": 1500, "smart": 1500}
    assert (carriers["btl"]["contracted"], carriers["smart"]["contracted"]) == (800, 500)
    for carrier in carriers.values():
        assert 0 < carrier["rate"] <= carrier["contracted"]
        assert carrier["of_contracted"] == pytest.approx(carrier["rate"] / carrier["contracted"])
    binds = {b["name"]: b for b in figures["binds"]}
    assert {name: b["cap"] for name, b in binds.items()} == CAPS
    assert sum(b["submits"] for b in binds.values()) == 3000
    # as the SMSC counts: more than the cap in a second only where it refused the extra
    over = [name for name, b in binds.items() if b["most_in_1s"] > b["cap"]]
    assert figures["over_cap"] == over
    assert all(binds[name]["throttled"] > 0 for name in over)
    assert all(b["most_in_1s"] > 0 for b in binds.values())
    assert sum(sum(row) for row in figures["per_second"].values()) == 3000
    # the whole base: the database's active subscribers by carrier, at the contracted rates
    base = report["base"]
    assert (base["subscribers"], base["unrouted"]) == ({"btl": 20, "smart": 10}, 1)
    assert base["seconds_at_contracted"] == {"btl": 20 / 800, "smart": 10 / 500}
    assert base["total_s_at_contracted"] == 20 / 800  # the slower carrier
    assert png_size(tmp_path / "report" / "submits-per-second.png") == (1000, 500)
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "| btl | 2 | 800 | 1,500 | 1,500 |" in markdown
    assert "![Submits per second per carrier](submits-per-second.png)" in markdown
    assert "3,000/3,000 submits accepted" in out
    assert "+501" not in out + err + markdown  # no number in the output


async def test_base_option_spreads_the_base_evenly_over_the_carriers(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG)
    code, _, err = await smsgw(
        "drill", "--audience", "30", "--carriers", "smart", "--base", "100000",
        "--response-ms", "0", "--receipt-delay", "0", "--out", "report", cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, err
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["audience"] == {"smart": 30}
    assert [b["name"] for b in report["figures"]["binds"]] == ["smart-1"]
    base = report["base"]
    assert base["subscribers"] == {"btl": 50_000, "smart": 50_000}
    assert base["seconds_at_contracted"] == {"btl": 62.5, "smart": 100.0}
    assert base["total_s_at_contracted"] == 100.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--audience", "0"], "must be at least 1, not 0"),
        (["--audience", "10", "--carriers", "btl", "digicel"], "no carrier digicel"),
        ([], "drill needs --audience N"),
        (["--live", "--token", "x"], "exercise_numbers is empty"),
        (["--live", "--audience", "10", "--token", "x"], "--audience and --carriers are for"),
    ],
    ids=["audience-0", "unknown-carrier", "no-audience", "live-without-list", "live-audience"],
)
async def test_bad_input_exits_2_with_a_clear_message(
    tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "config.toml").write_text(CONFIG)
    code, _, err = await smsgw("drill", *args, cwd=tmp_path)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "base.db").exists()  # nothing made


LIVE = """
[alerts]
exercise_numbers = ["+5016001001", "+5016501002", "+5016001004"]

[[alerts.routes]]
event = "Hurricane Warning"
service = "HURRICANE"
"""


@pytest.mark.parametrize("settings", [LIVE], indirect=True)
async def test_a_live_drill_texts_the_exercise_list_only(
    client: Client, gateway: Gateway, simulator: Simulator, tmp_path: Path
) -> None:
    await add_service(gateway, keyword="HURRICANE", aliases=["HURACAN"], ministry="nemo")
    audience = numbers("+50160", 5)
    await seed(gateway, "HURRICANE", [*audience, "+5016001001"], language="en")
    await stop(gateway, "+5016001004")  # under a STOP: left out
    token = (await bearer(gateway, Role.ADMIN))["Authorization"].removeprefix("Bearer ")
    code, out, err = await smsgw(
        "drill", "--live", "--url", str(client.make_url("")), "--token", token,
        "--out", "live", "--base", "1000", "--wait", "30", cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, err
    assert sent_to(simulator) == {"+5016001001": 1, "+5016501002": 1}
    texts = {decode(s.short_message, s.data_coding) for s in simulator.submits}
    assert all(text.startswith("EXERCISE ") for text in texts), texts
    report = json.loads((tmp_path / "live" / "report.json").read_text())
    assert (report["mode"], report["alert"]["status"], report["alert"]["action"]) == (
        "live", "Exercise", "exercise")  # fmt: skip
    assert report["audience"] == {"btl": 2, "smart": 1}
    assert report["figures"]["expected"] == report["figures"]["accepted"] == 2
    assert report["finished"]
    assert report["outcomes"] == {"delivered": 2}
    carriers = {c["carrier"]: c["submits"] for c in report["figures"]["carriers"]}
    assert carriers == {"btl": 1, "smart": 1}
    assert png_size(tmp_path / "live" / "submits-per-second.png") == (1000, 500)
    assert "drill (live)" in out
