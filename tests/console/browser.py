"""What the console tests share: Chromium's path, a token's secret, and a tab on the console
that records every error the page or the network shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from playwright.async_api import ConsoleMessage, Page, Request, Response, expect

from smsgw.access.tokens import Role, issue
from smsgw.app import Gateway

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package (Playwright's own builds never come)


async def secret(
    gateway: Gateway, role: Role, *, ministry: str = "health", person: str | None = None
) -> str:
    """A new token's secret, as a user pastes it (officers and supervisors act for
    ``ministry``; ``person``: whom it belongs to, as tickets are assigned)."""
    scoped = role in (Role.OFFICER, Role.SUPERVISOR)
    token_secret, token = issue(role, now=datetime.now(UTC), ministry=ministry if scoped else None,
                                expires_days=1, person=person)  # fmt: skip
    await gateway.store.tokens.add_token(token)
    return token_secret


@dataclass
class Console:
    page: Page
    url: str
    artefacts: Path
    problems: list[str] = field(default_factory=list)  # console errors, failed requests

    @classmethod
    def watching(cls, page: Page, url: str, artefacts: Path) -> Console:
        console = cls(page, url, artefacts)
        page.on("console", console._console)
        page.on("pageerror", lambda error: console.problems.append(f"page error: {error}"))
        page.on("requestfailed", console._failed)
        page.on("response", console._response)
        return console

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text}")

    def _failed(self, request: Request) -> None:
        if request.url.endswith("/icon.svg") and request.failure == "net::ERR_ABORTED":
            return  # the tab icon's load, cut short by a reload (log out): nothing a person sees
        self.problems.append(f"failed: {request.method} {request.url} {request.failure}")

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self.problems.append(f"{response.status}: {response.request.method} {response.url}")

    async def open(self, route: str = "") -> None:
        await self.page.goto(self.url + route)

    async def log_in(self, token: str, *, lands_on: str = "New broadcast") -> None:
        """``lands_on``: the heading of the first view (an operator's is "Operator")."""
        await self.open()
        await self.page.get_by_label("API token").fill(token)
        await self.page.get_by_role("button", name="Log in").click()
        await expect(self.page.get_by_role("heading", name=lands_on)).to_be_visible()
        if lands_on == "New broadcast":
            await expect(self.page.get_by_role("tab").first).to_be_visible()  # services loaded

    async def shot(self, name: str) -> Path:
        path = self.artefacts / f"{name}.png"
        await self.page.screenshot(path=path, full_page=True)
        return path
