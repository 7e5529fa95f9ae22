"""The sample Grafana dashboard reads only metrics the gateway serves."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.smsgw.testbed import Client

DASHBOARD = Path(__file__).resolve().parents[3] / "deploy" / "grafana" / "smsgw-dashboard.json"
_METRIC = re.compile(r"\b((?:smsgw|process|python)_[a-z0-9_]+)")
_SUFFIXES = ("_total", "_bucket", "_sum", "_count", "_created")


def _family(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


async def test_every_panel_reads_a_metric_that_metrics_serves(client: Client) -> None:
    text = await (await client.get("/metrics")).text()
    served = {family.name for family in text_string_to_metric_families(text)}
    panels = json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]
    wanted = {
        (panel["title"], _family(name))
        for panel in panels
        for target in panel["targets"]
        for name in _METRIC.findall(target["expr"])
    }
    assert {title for title, _ in wanted} >= {
        "Database writable (0 = writable, 1 = failing: disk full or locked)",
        "Gateway memory (RSS) and open files",
    }
    assert [(title, name) for title, name in sorted(wanted) if name not in served] == []
    assert {"process_resident_memory_bytes", "process_open_fds", "smsgw_build_info"} <= served
