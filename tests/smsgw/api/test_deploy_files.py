"""The deploy files: the Grafana dashboard and the alerts read only metrics the gateway serves;
the systemd unit runs it hardened."""

from __future__ import annotations

import configparser
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
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


ALERTS = DASHBOARD.parents[1] / "prometheus" / "alerts.yml"
UNIT = DASHBOARD.parents[1] / "systemd" / "smsgw.service"


async def test_every_alert_reads_a_metric_that_metrics_serves(client: Client) -> None:
    text = await (await client.get("/metrics")).text()
    served = {family.name for family in text_string_to_metric_families(text)}
    rules = [
        rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]
    ]
    assert {rule["alert"] for rule in rules} >= {
        "SmsgwBindDown", "SmsgwStorageFailing", "SmsgwEmergencyBacklog",
        "SmsgwQueueNotDraining", "SmsgwReceiptsMissing",
    }  # fmt: skip
    wanted = {
        (rule["alert"], _family(name)) for rule in rules for name in _METRIC.findall(rule["expr"])
    }
    assert [(alert, name) for alert, name in sorted(wanted) if name not in served] == []
    assert all(rule["labels"]["severity"] in ("page", "ticket") for rule in rules)


def _promtool() -> str:
    """The venv's (`make test` puts it there), else one on PATH; never skipped."""
    beside = Path(sys.executable).parent / "promtool"
    found = str(beside) if beside.exists() else shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is missing: `make test` puts it in .venv/bin")
    return found


@pytest.mark.parametrize(
    "command", [["check", "rules", ALERTS.name], ["test", "rules", "alerts_test.yml"]]
)
def test_promtool_checks_the_alerts_and_their_unit_tests_pass(command: list[str]) -> None:
    """alerts_test.yml feeds each alert the series of its trouble (and of near misses) and says
    when it must fire: an expression that can never match fails here."""
    done = subprocess.run(  # noqa: S603 - our own files, no shell
        [_promtool(), *command], cwd=ALERTS.parent, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_systemd_unit_runs_the_gateway_hardened() -> None:
    unit = configparser.ConfigParser(strict=True, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    unit.read_string(UNIT.read_text(encoding="utf-8"))
    service = unit["Service"]
    assert service["ExecStart"].split()[1:3] == ["run", "--config"]
    assert service["User"] == "smsgw"
    assert service["RestartPreventExitStatus"] == "2"  # a bad config is not restarted into
    hardening = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
                 "PrivateTmp": "yes", "UMask": "0077", "StateDirectoryMode": "0700"}  # fmt: skip
    assert {key: service.get(key) for key in hardening} == hardening
