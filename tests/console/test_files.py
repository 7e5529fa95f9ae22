"""How the console's files are served and packaged (no browser)."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

import pytest

from smsgw import console
from tests.smsgw.testbed import Client

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted(console.CONTENT_TYPES))
async def test_each_file_is_served_with_a_strict_policy(client: Client, name: str) -> None:
    path = "/console/" if name == "index.html" else f"/console/{name}"
    response = await client.get(path)
    assert response.status == 200
    assert response.headers["Content-Type"] == console.CONTENT_TYPES[name]
    policy = response.headers["Content-Security-Policy"]
    assert policy.startswith("default-src 'self';")
    assert "unsafe" not in policy
    assert await response.read() == (console.FOLDER / name).read_bytes()


async def test_the_files_are_compressed_and_revalidated(client: Client) -> None:
    response = await client.get("/console/app.js", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert await response.read() == (console.FOLDER / "app.js").read_bytes()  # unzipped
    again = await client.get("/console/app.js", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status == 304
    assert again.headers["Content-Security-Policy"] == console.HEADERS["Content-Security-Policy"]
    assert await again.read() == b""
    assert (await client.get("/console/app.js")).status == 200  # the connection is still sound


@pytest.mark.parametrize("path", ["/console/app.py", "/console/__init__.py", "/console/x.js",
                                  "/console/..%2fapp.py", "/console/%2e%2e/app.py"])  # fmt: skip
async def test_nothing_else_is_served(client: Client, path: str) -> None:
    assert (await client.get(path)).status == 404


async def test_the_console_s_address_without_its_slash_redirects(client: Client) -> None:
    response = await client.get("/console", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/console/"


def test_every_file_is_listed_and_packaged() -> None:
    files = {p.name for p in console.FOLDER.iterdir() if p.suffix != ".py" and p.is_file()}
    assert files == set(console.CONTENT_TYPES)
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    patterns = setup["setuptools"]["package-data"]["smsgw.console"]
    assert all(any(fnmatch.fnmatch(name, p) for p in patterns) for name in files)


def test_the_page_has_no_inline_script_or_style() -> None:
    """What a Content-Security-Policy of default-src 'self' would block."""
    page = (console.FOLDER / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=", page)


async def test_the_page_tells_browsers_no_base_no_foreign_form_posts_no_referrer(
    client: Client,
) -> None:
    response = await client.get("/console/")
    policy = response.headers["Content-Security-Policy"]
    assert "base-uri 'none'" in policy
    assert "form-action 'self'" in policy
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Server"] == "smsgw"  # no software versions for a scanner


async def test_the_root_leads_to_the_console(client: Client) -> None:
    response = await client.get("/", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/console/"
