"""What the console tests share: Chromium's path, a person to log in as (or a system's token),
and a tab on the console that records every error the page or the network shows."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import ConsoleMessage, Page, Request, Response, expect

from smsgw.access import totp
from smsgw.access.accounts import Accounts
from smsgw.access.audit import CLI, AuditAction, AuditEntry
from smsgw.access.passwords import Passwords
from smsgw.access.people import SCOPED, Totp
from smsgw.access.tokens import Role, issue
from smsgw.app import Gateway

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package (Playwright's own builds never come)
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"  # axe-core, for the tests only
# Counts the page's fetches and the reading of their bodies, each done a task after it settles
# (the script's next fetch starts before): 0 once the view has what it asked for, whatever the
# view. An init script, run through the DevTools protocol: the console's CSP does not apply.
FETCHES = """(() => {
  let busy = 0;
  const track = (promise) => {
    busy += 1;
    const done = () => setTimeout(() => { busy -= 1; });
    promise.then(done, done);
    return promise;
  };
  const fetching = window.fetch;
  window.fetch = (...args) => track(fetching(...args));
  for (const read of ["json", "text", "blob"]) {
    const reading = Response.prototype[read];
    Response.prototype[read] = function () { return track(reading.call(this)); };
  }
  Object.defineProperty(window, "fetching", { get: () => busy });
})()"""
# WCAG 2.1 levels A and AA; a violation this serious or worse fails the test
AXE_RUN = """async (include) => {
  const found = await axe.run(include ? { include: [include] } : document, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
    resultTypes: ["violations"],
  });
  return found.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({
      id: v.id, impact: v.impact, help: v.help, count: v.nodes.length,
      targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
      why: (v.nodes[0].any[0] ?? v.nodes[0].all[0] ?? v.nodes[0].none[0] ?? {}).message ?? "",
    }));
}"""
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
    counting: bool = False  # FETCHES installed: settled() can tell

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
        if not self.counting:  # from the first load on, every load of this tab
            await self.page.add_init_script(FETCHES)
            self.counting = True
        await self.page.goto(self.url + route)

    async def settled(self) -> None:
        """Waits until the view has what it asked the API for (none of its reads in flight)."""
        await self.page.wait_for_function("() => window.fetching === 0")

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
        # its every read done (the composer's districts): a test's next step (a reload, a
        # log-out, the clock moved on) meets the view it sees, not one still loading
        await self.settled()

    async def log_out(self) -> None:
        """Logs out, and waits for the log-in (a person's session has ended by then)."""
        await self.page.get_by_role("button", name="Log out", exact=True).click()
        await expect(self.page.get_by_role("heading", name="Log in")).to_be_visible()

    async def accessible(self, *, include: str | None = None) -> None:
        """No serious or critical violation of WCAG 2.1 A or AA that axe-core finds in the page
        as it shows now (``include``: only in the part this CSS selector picks)."""
        # axe's text is evaluated through the DevTools protocol, which the console's CSP
        # (default-src 'self') does not govern: add_script_tag would insert an inline <script>
        # the CSP rightly blocks, and bypass_csp on the context would hide the console's own
        # CSP mistakes from every test. A reload forgets axe: injected again when missing.
        if not await self.page.evaluate("typeof window.axe === 'object'"):
            await self.page.evaluate(_axe())
        # the page as drawn: what observers of its layout do (a wide table's box made
        # focusable, scroll.js) happens in a frame's rendering, after the data came
        await self.page.evaluate(
            "new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"
        )
        found = await self.page.evaluate(AXE_RUN, include)
        where = f" in {include}" if include else ""
        report = [
            f"{v['id']} ({v['impact']}, {v['count']}x): {v['help']}; {v['why']}\n"
            + "".join(f"    at {target}\n" for target in v["targets"])
            for v in found
        ]
        if report:
            pytest.fail(f"accessibility of {self.page.url}{where}:\n" + "".join(report))

    async def shot(self, name: str) -> Path:
        path = self.artefacts / f"{name}.png"
        await self.page.screenshot(path=path, full_page=True)
        return path


@functools.cache
def _axe() -> str:
    """axe-core's script, read once (650 kB)."""
    return AXE.read_text(encoding="utf-8")
