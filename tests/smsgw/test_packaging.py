"""smsgw as a sysadmin installs it: the built wheel in a fresh virtualenv, run from a folder
with no checkout and no config.toml. It must carry the citizens' texts and a default config."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from smsgw import __version__

REPO = Path(__file__).resolve().parents[2]


def run(*args: str | Path, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own commands, fixed arguments
        [str(arg) for arg in args], cwd=cwd, capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip


@pytest.mark.timeout(300)  # builds a wheel (pip fetches setuptools for an isolated build)
def test_the_wheel_installs_and_its_demo_runs_from_anywhere(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, REPO,
                cwd=tmp_path)  # fmt: skip
    assert built.returncode == 0, built.stderr
    [wheel] = wheels.glob("smsgw-*.whl")

    target = tmp_path / "venv"
    venv.create(target, with_pip=False)
    # --ignore-installed: never uninstall the smsgw of the environment running the tests
    installed = run(sys.executable, "-m", "pip", "install", "--no-deps", "--ignore-installed",
                    "-q", "--prefix", target, wheel, cwd=tmp_path)  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    assert (Path(sys.executable).parent / "smsgw").exists()  # this environment's is still there
    python = target / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))",
                    cwd=tmp_path).stdout.strip())  # fmt: skip
    # the dependencies from this environment (a path line: its editable smsgw is not loaded)
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run(python, "-c", "import smsgw; print(smsgw.__file__)", cwd=elsewhere)
    assert where.stdout.startswith(str(target)), where.stdout + where.stderr
    assert run(python, "-m", "smsgw", "--version", cwd=elsewhere).stdout.strip() == (
        f"smsgw {__version__}"
    )
    demo = run(python, "-m", "smsgw", "demo", "--check", cwd=elsewhere, timeout=60)
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert "smsgw demo check: ok" in demo.stdout
    assert (elsewhere / "data" / "demo.db").exists()  # its data where it was run
