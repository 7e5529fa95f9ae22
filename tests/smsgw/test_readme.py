"""The README's "Trying it" commands work as written, pasted into a shell against `make demo`."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENV = os.environ | {"PYTHONPATH": str(REPO)}


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Trying it", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [command.strip() for command in block.replace("\\\n", " ").splitlines() if command]


@pytest.mark.timeout(120)
@pytest.mark.skipif(shutil.which("curl") is None, reason="the README's commands use curl")
async def test_the_readme_commands_work_as_written(tmp_path: Path) -> None:
    shutil.copy(REPO / "config.toml", tmp_path / "config.toml")
    demo = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "smsgw", "demo", cwd=tmp_path, env=ENV,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert demo.stdout is not None
    try:
        token, banner = "", ""
        async with asyncio.timeout(30):
            while not token:
                line = (await demo.stdout.readline()).decode()
                assert line, "the demo stopped before printing its token"
                banner += line
                found = re.search(r"admin token\s+(smsgw_\S+)", line)
                token = found.group(1) if found else ""
        # the console's people, as printed: each logs in with their password
        for name in ("Olive Officer", "Otto Operator", "Ada Admin"):
            found = re.search(rf"{name}\s+password (\S+)", banner)
            assert found, banner
            login = json.dumps({"name": name, "password": found.group(1)})
            curl = await asyncio.create_subprocess_exec(
                "curl", "-s", "-H", "Content-Type: application/json", "-d", login,
                "http://127.0.0.1:8080/api/v1/session", stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, _ = await curl.communicate()
            assert json.loads(out)["person"]["name"] == name, out
        message_id = ""
        for command in readme_commands():
            command = command.replace("<id>", message_id)
            shell = await asyncio.create_subprocess_exec(
                "bash", "-c", command, cwd=REPO, env=ENV | {"TOKEN": token},
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            async with asyncio.timeout(30):
                out, err = await shell.communicate()
            assert shell.returncode == 0, (command, err.decode())
            if command.startswith("curl"):
                answer = json.loads(out)
                assert not isinstance(answer.get("error"), dict), (command, answer)  # no error
                if command.endswith("/api/v1/messages"):  # the id the next command reads
                    message_id = answer["id"]
    finally:
        demo.terminate()
        async with asyncio.timeout(30):
            await demo.wait()
