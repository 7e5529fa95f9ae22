"""The web console: one HTML page with hash routes and its static files, served at /console/.

The browser does the rest against the public API, as a person logged in (the session cookie
and its CSRF token) or with a system's token pasted, so the console needs no state of its own.
No inline script or style: a strict Content-Security-Policy can forbid everything that is not
one of these files.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from aiohttp import web

FOLDER = Path(__file__).resolve().parent
PATH = "/console/"
CONTENT_TYPES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "page.js": "text/javascript; charset=utf-8",
    "text.js": "text/javascript; charset=utf-8",
    "inbox.js": "text/javascript; charset=utf-8",
    "polls.js": "text/javascript; charset=utf-8",
    "login.js": "text/javascript; charset=utf-8",
    "people.js": "text/javascript; charset=utf-8",
    "tokens.js": "text/javascript; charset=utf-8",
    "audit.js": "text/javascript; charset=utf-8",
    "messages.js": "text/javascript; charset=utf-8",
    "report.js": "text/javascript; charset=utf-8",
    "calendar.js": "text/javascript; charset=utf-8",
    "scroll.js": "text/javascript; charset=utf-8",
    "services.js": "text/javascript; charset=utf-8",
    "subscribers.js": "text/javascript; charset=utf-8",
    "import.js": "text/javascript; charset=utf-8",
    "i18n.js": "text/javascript; charset=utf-8",
    "charts.js": "text/javascript; charset=utf-8",
    "operator.js": "text/javascript; charset=utf-8",
    "kpis.js": "text/javascript; charset=utf-8",
    "uplot.esm.js": "text/javascript; charset=utf-8",  # uPlot 1.6.32, MIT (its header)
    "uplot.css": "text/css; charset=utf-8",
    "en.json": "application/json; charset=utf-8",
    "es.json": "application/json; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "icon.svg": "image/svg+xml",
}  # the only files served: a fixed list, so no path can reach anything else
HEADERS = {
    # no framing, no <base> or form posts elsewhere
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none';"
    " form-action 'self'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",  # revalidated each time (304): an upgrade shows at once
}


@functools.cache
def _file(name: str) -> tuple[bytes, str]:
    """A file's bytes and ETag, read once: they change only with the installed package."""
    body = (FOLDER / name).read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


async def console_file(request: web.Request) -> web.Response:
    name = request.match_info["name"] or "index.html"
    if name not in CONTENT_TYPES:
        raise web.HTTPNotFound()
    body, etag = _file(name)
    headers = {**HEADERS, "ETag": etag}
    if etag in request.headers.get("If-None-Match", ""):
        raise web.HTTPNotModified(headers=headers)
    response = web.Response(body=body, headers={**headers, "Content-Type": CONTENT_TYPES[name]})
    # gzip when the browser takes it: about a third of the bytes on a slow link (a 304 has
    # no body to compress: aiohttp would write a stray compressed trailer after it)
    response.enable_compression()
    return response


async def to_console(_request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(PATH)  # relative links in the page need the trailing slash


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", to_console)
    app.router.add_get("/console", to_console)
    app.router.add_get(PATH + "{name:[a-z0-9.]*}", console_file)
