"""What the console tests share: Chromium's path, a person to log in as (or a system's token),
and a tab on the console that records every error the page or the network shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from playwright.async_api import ConsoleMessage, Page, Request, Response, expect

from smsgw.access import totp
from smsgw.access.accounts import Accounts
from smsgw.access.audit import CLI, AuditAction, AuditEntry
from smsgw.access.passwords import Passwords
from smsgw.access.people import SCOPED, Totp
from smsgw.access.tokens import Role, issue
from smsgw.app import Gateway

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package (Playwright's own builds never come)
PASSWORD = "correct horse battery"
NAMES = {Role.ADMIN: "Ada Admin", Role.SUPERVISOR: "Sam Supervisor", Role.OFFICER: "Olive Officer",
         Role.OPERATOR: "Otto Operator"}  # fmt: skip


@dataclass(frozen=True)
class Login:
    """A person's name and password; ``codes``: their unused recovery codes (one a log-in),
    for a person with TOTP enrolled."""

    name: str
    password: str = PASSWORD
    codes: list[str] = field(default_factory=list)


async def person(
    gateway: Gateway, role: Role, *, ministry: str = "health", name: str | None = None,
    enrol: bool | None = None,
) -> Login:  # fmt: skip
    """A person added as an admin adds one (officers and supervisors act for ``ministry``);
    ``enrol``: with TOTP enrolled already (by default, those who must: admins, supervisors),
    so that their log-ins take a recovery code."""
    name = name or NAMES[role]
    passwords = Passwords(gateway.settings.http.password_hash_memory_kib)
    accounts = Accounts(gateway.store.people, passwords)
    added, _ = await accounts.create(None, name=name, role=role,
                                     ministry=ministry if role in SCOPED else None,
                                     password=PASSWORD)  # fmt: skip
    must = added.totp is Totp.REQUIRED
    if not (must if enrol is None else enrol):
        return Login(name)
    secret, codes = totp.new_secret(), totp.recovery_codes()
    await gateway.store.people.start_totp(added.id, secret)
    enrolled = AuditEntry(datetime.now(UTC), CLI, None, None, AuditAction.TOTP_ENROLLED, name)
    hashes = [totp.recovery_hash(code) for code in codes]
    await gateway.store.people.confirm_totp(added.id, secret, step=0, recovery=hashes,
                                            audit=enrolled)  # fmt: skip
    return Login(name, codes=codes)


async def secret(
    gateway: Gateway, role: Role, *, ministry: str = "health", person: str | None = None
) -> str:
    """A new token's secret, as a system's keeper pastes it (officers and supervisors act for
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

    async def log_in(self, who: Login | str, *, lands_on: str = "New broadcast") -> None:
        """As a person, or with a token's secret; ``lands_on``: the heading of the first view
        (an operator's is "Operator")."""
        await self.open()
        page = self.page
        if isinstance(who, str):
            await page.get_by_text("Log in with an API token").click()
            await page.get_by_label("API token").fill(who)
            await page.get_by_role("button", name="Log in with the token").click()
        else:
            form = page.locator("#login-form")
            await form.get_by_label("Name").fill(who.name)
            await form.get_by_label("Password").fill(who.password)
            if who.codes:
                await form.get_by_label("Code").fill(who.codes.pop())
            await form.get_by_role("button", name="Log in").click()
        await expect(self.page.get_by_role("heading", name=lands_on)).to_be_visible()
        if lands_on == "New broadcast":  # services loaded: the first's tabs, or word of none
            said = self.page.locator("#compose-error:not([hidden])")
            await expect(self.page.get_by_role("tab").or_(said).first).to_be_visible()

    async def log_out(self) -> None:
        """Logs out, and waits for the log-in (a person's session has ended by then)."""
        await self.page.get_by_role("button", name="Log out").click()
        await expect(self.page.get_by_role("heading", name="Log in")).to_be_visible()

    async def shot(self, name: str) -> Path:
        path = self.artefacts / f"{name}.png"
        await self.page.screenshot(path=path, full_page=True)
        return path
