"""The soak's traffic: citizens texting the short code through the SMSC simulator (which
redelivers what the gateway never stored), and officers' broadcasts through the HTTP API."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp

from channels.concatenation import parse_udh
from channels.simulator import NoReceiverError, Simulator, Submit
from channels.text import decode

LONG_EN = ("Hello, I would like to know how to get the weather forecast and the farm prices on "
           "this phone every week, and whether it costs anything. My neighbour says she gets "
           "them already. Thank you")  # fmt: skip
LONG_ES = ("Buenas tardes, quisiera saber cómo puedo recibir el pronóstico del tiempo y los "
           "precios agrícolas en este teléfono. ¿Tiene algún costo? Muchas gracias.")  # fmt: skip
# Never HEALTH or HURRICANE (the broadcast audiences stay the imported lists).
MIX = ("JOIN WEATHER", "clima", "MY", "HELP", "STOP WEATHER", "AYUDA", "LIST", "unir agro",
       "MIS SERVICIOS", "EDUCATION", "LANG ES", "JOBZ", "what is this", "STOP", LONG_EN,
       "idioma ingles", "baja empleo", LONG_ES, "Hola", "START")  # fmt: skip
MAX_DELIVERIES = 5  # an SMSC gives up redelivering at some point too
TAG = re.compile(r"#(\d+) ")
BROADCASTS = "/api/v1/broadcasts"


def numbers(prefix: str, count: int) -> list[str]:
    """``count`` Belizean mobile numbers under ``prefix`` ("+50160" → "+5016000000" …)."""
    return [f"{prefix}{i:05d}" for i in range(count)]


def carrier_mix(btl: str, smart: str, count: int) -> list[str]:
    """Two in three on btl, one in three on smart."""
    on_smart = count // 3
    return numbers(btl, count - on_smart) + numbers(smart, on_smart)


# ---------------------------------------------------------------- citizens


@dataclass(slots=True)
class Mo:
    sender: str
    text: str
    first_at: float  # time.monotonic() of its first injection
    last_at: float = 0.0
    deliveries: int = 0  # times written to a link: 1 + redeliveries
    answered_at: float | None = None  # its first reply's submit at the SMSC


StoredTexts = Callable[[Iterable[str]], Awaitable[dict[tuple[str, str], list[str]]]]


class Citizens:
    """Texts from a pool of numbers, each number's texts far apart (under the reply limit and
    the duplicate window); an SMSC that redelivers what the gateway never stored."""

    def __init__(self, simulator: Simulator, pool: int) -> None:
        self.simulator = simulator
        self.pool = carrier_mix("+50162", "+50167", pool)
        self.known = frozenset(self.pool)
        self.mos: list[Mo] = []
        self.waiting: list[Mo] = []  # no bind of its carrier was up: sent on the next pass
        self.redelivered = 0
        self._latest: dict[str, Mo] = {}
        self._turn = itertools.count()

    async def run(self, rate: float) -> None:
        started = time.monotonic()
        for k in itertools.count():
            if (wait := started + k / rate - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            sender = self.pool[k % len(self.pool)]
            mo = Mo(sender, MIX[(k + k // len(self.pool)) % len(MIX)], time.monotonic())
            self.mos.append(mo)
            self._latest[sender] = mo
            if not await self.send(mo):
                self.waiting.append(mo)

    async def send(self, mo: Mo) -> bool:
        """Written to a bind of the sender's carrier (SMSCs deliver on the account's binds)."""
        binds = ("smart-1", "smart-2") if mo.sender.startswith("+50167") else ("btl-1", "btl-2")
        first = next(self._turn) % 2
        for system_id in (binds[first], binds[1 - first]):
            try:
                await self.simulator.inject_mo(mo.sender, mo.text, system_id=system_id)
            except NoReceiverError:
                continue
            mo.deliveries += 1
            mo.last_at = time.monotonic()
            return True
        return False

    def replied(self, number: str, at: float) -> None:
        mo = self._latest.get(number)
        if mo is not None and mo.answered_at is None and at >= mo.first_at:
            mo.answered_at = at

    def unanswered(self) -> list[Mo]:
        return [mo for mo in self.mos if mo.answered_at is None]

    async def redeliver(self, stored: StoredTexts, after_s: float) -> None:
        """One pass: what waited for a bind, and what is unanswered after ``after_s`` and not
        in the gateway's store (it was never acknowledged: a real SMSC sends it again)."""
        waiting, self.waiting = self.waiting, []
        for mo in waiting:
            if not await self.send(mo):
                self.waiting.append(mo)
        now = time.monotonic()
        overdue = [
            mo for mo in self.mos
            if mo.answered_at is None and 0 < mo.deliveries < MAX_DELIVERIES
            and now - mo.last_at > after_s
        ]  # fmt: skip
        if not overdue:
            return
        found = await stored(mo.sender for mo in overdue)
        for mo in overdue:
            if (mo.sender, mo.text) not in found and await self.send(mo):
                self.redelivered += 1


# ---------------------------------------------------------------- broadcasts


@dataclass(slots=True)
class Sent:
    tag: int  # "#<tag> " opens each text: how the SMSC's log tells broadcasts apart
    id: int
    emergency: bool
    created_at: float
    done_at: float | None = None
    view: dict[str, Any] | None = None


def texts(tag: int, emergency: bool) -> dict[str, str]:
    if emergency:
        return {"en": f"#{tag} NEMO hurricane warning: move to a shelter now. Listen to the "
                      "radio for updates.",
                "es": f"#{tag} NEMO alerta de huracan: vaya a un refugio ahora."}  # fmt: skip
    return {"en": f"#{tag} Vaccination day Saturday 9am at all clinics. Bring your card.",
            "es": f"#{tag} Día de vacunación el sábado a las 9 en todas las clínicas. "
                  "Traiga su tarjeta."}  # fmt: skip  # UCS-2, two parts


class Broadcasts:
    """Officers' broadcasts every so often, every ``emergency_every``-th an emergency."""

    def __init__(
        self, session: aiohttp.ClientSession, url: str, headers: dict[str, str],
        services: tuple[str, str], emergency_every: int,
    ) -> None:  # fmt: skip
        self.session = session
        self.url = url + BROADCASTS
        self.headers = headers
        self.services = services  # (routine, emergency)
        self.emergency_every = emergency_every
        self.sent: list[Sent] = []
        self.refused: list[str] = []  # answers other than 201
        self.received: Counter[tuple[int, str]] = Counter()  # (tag, number) → first parts

    async def run(self, every_s: float) -> None:
        for k in itertools.count():
            await self.create(k % self.emergency_every == 1)
            await asyncio.sleep(every_s)

    async def create(self, emergency: bool) -> None:
        tag = len(self.sent) + len(self.refused) + 1
        body = {"service": self.services[emergency], "texts": texts(tag, emergency),
                "priority": "emergency" if emergency else "normal"}  # fmt: skip
        try:
            async with self.session.post(self.url, json=body, headers=self.headers) as response:
                if response.status != 201:
                    self.refused.append(f"{response.status} {await response.text()}")
                    return
                created = await response.json()
        except (aiohttp.ClientError, TimeoutError) as exc:  # the gateway is down: say so
            self.refused.append(repr(exc))
            return
        self.sent.append(Sent(tag, int(created["id"]), emergency, time.monotonic()))

    def unfinished(self) -> list[Sent]:
        return [sent for sent in self.sent if sent.done_at is None]

    async def watch(self) -> None:
        while True:
            for sent in self.unfinished():
                try:
                    await self._look(sent)
                except (aiohttp.ClientError, TimeoutError):
                    break  # the gateway is down or busy: next round
            await asyncio.sleep(2)

    async def _look(self, sent: Sent) -> None:
        async with self.session.get(f"{self.url}/{sent.id}", headers=self.headers) as response:
            view: dict[str, Any] = await response.json()
        sent.view = view
        if view.get("state") == "done":
            sent.done_at = time.monotonic()

    def on_submit(self, submit: Submit, number: str) -> bool:
        """Counts a broadcast's message; False if the submit is none of ours."""
        payload = submit.short_message
        if submit.esm_class & 0x40:
            concat, payload = parse_udh(payload)
            if concat is not None and concat.seq != 1:
                return True  # the tag is in the first part; count each message once
        match = TAG.match(decode(payload, submit.data_coding))
        if match is None:
            return False
        self.received[(int(match[1]), number)] += 1
        return True
