"""Running the gateway as a process: the event loop (uvloop when installed), signals, serving."""

from __future__ import annotations

import asyncio
import contextlib
import resource
import signal
from collections.abc import Awaitable, Callable, Coroutine
from http import HTTPStatus
from typing import Any, TypeVar

import structlog
from aiohttp import web, web_protocol

from smsgw.api.errors import ApiError, error_response

_log = structlog.get_logger(__name__)
T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` on uvloop when it is installed, else on the standard loop."""
    try:
        import uvloop  # optional: a faster event loop, same behaviour
    except ImportError:
        loop_factory = None
    else:
        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(main)


async def until_signalled() -> None:
    """Return on SIGINT or SIGTERM (Ctrl-C, systemd, docker stop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    _log.info("shutdown_requested")


async def serve(
    app: web.Application,
    host: str,
    port: int,
    *,
    on_ready: Callable[[str], Awaitable[None]] | None = None,
    idle_timeout_s: float = 15.0,
    once: bool = False,
) -> None:
    """Start ``app`` (its clean-up contexts start the gateway), listen, and stop cleanly on a
    signal. ``on_ready`` gets the base URL once the gateway is up and listening."""
    _more_open_files()
    # keepalive_timeout also bounds a request head still arriving (slowloris): aiohttp closes
    # a connection whose next request is not whole by then
    runner = _Runner(app, access_log=None, handle_signals=False, keepalive_timeout=idle_timeout_s)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        url = f"http://{bound_host}:{bound_port}"
        _log.info("http_listening", url=url)
        if on_ready is not None:
            await on_ready(url)
        if not once:  # once: stop as soon as it is up (a check)
            await until_signalled()
    finally:
        with contextlib.suppress(asyncio.CancelledError):
            await runner.cleanup()


def _more_open_files() -> None:
    """Raise the soft limit of open files to the hard one: with a distribution's 256 or 1024,
    a few hundred idle or slow clients would leave no descriptor for /healthz or a bind."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65_536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        _log.info("open_files_limit_raised", was=soft, now=wanted)


class _JsonErrors(web_protocol.RequestHandler):
    """aiohttp answers a request it could not parse (bare LF, an 8 KB header) by itself, before
    any middleware: in plain text that echoes the request head (a token, a number) back, with
    its version in Server. Answer it in the API's JSON error format instead."""

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        super().handle_error(request, status, exc, message)  # logs it; refuses if half-sent
        reason = HTTPStatus(status).phrase
        response = error_response(ApiError(status, reason.lower().replace(" ", "_"), reason))
        response.headers["Server"] = "smsgw"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        response.force_close()
        return response


class _Server(web.Server):
    def __call__(self) -> web_protocol.RequestHandler:
        return _JsonErrors(self, loop=self._loop, **self._kwargs)


class _Runner(web.AppRunner):
    """An AppRunner whose connections answer aiohttp's own errors as JSON (aiohttp has no
    option for the handler class: its Server is rebuilt around the app's)."""

    async def _make_server(self) -> web.Server:
        made = await super()._make_server()
        return _Server(
            made.request_handler,
            request_factory=made.request_factory,
            handler_cancellation=made.handler_cancellation,
            loop=asyncio.get_running_loop(),
            **made._kwargs,
        )
