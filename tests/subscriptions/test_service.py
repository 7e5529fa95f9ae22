"""The subscription service: citizen texts → consent changes in SQLite → reply texts."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from channels.text import text_info
from smsgw.storage.sqlite import SqliteStore
from subscriptions.models import Action, Service, Source
from subscriptions.service import IncomingText, SubscriptionService
from subscriptions.templates import Templates
from subscriptions.words import Verb

TEMPLATES = Path(__file__).parents[2] / "templates"
CITIZEN = "+5016012345"
HEALTH = Service(
    "HEALTH",
    "health",
    {"en": "Health alerts", "es": "Alertas de salud"},
    aliases=("SALUD",),
    welcome={"en": "Welcome to Health alerts. Reply STOP HEALTH to leave."},
)
WEATHER = Service("WEATHER", "met", {"en": "Weather", "es": "El tiempo"}, aliases=("CLIMA",))
FISHERIES = Service("FISHERIES", "agri", {"en": "Fishing seasons"}, active=False)


def fits_one_sms(text: str) -> bool:
    return text_info(text).segments == 1


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = await SqliteStore.open(tmp_path / "subscriptions.db")
    for service in (HEALTH, WEATHER, FISHERIES):
        await store.catalogue.add_service(service)
    yield store
    await store.close()


@pytest.fixture
async def service(store: SqliteStore) -> SubscriptionService:
    service = SubscriptionService(
        store.catalogue,
        store.subscriptions,
        Templates.load(TEMPLATES),
        programme="Gov BZ Info",
        contact="0-800-466-4636",
        fits_one_sms=fits_one_sms,
    )
    await service.refresh()
    return service


_ids = itertools.count(1)
_clock = itertools.count(0)


def text(body: str, msisdn: str = CITIZEN) -> IncomingText:
    at = datetime(2026, 11, 26, 12, tzinfo=UTC) + timedelta(seconds=next(_clock))
    return IncomingText(msisdn, body, f"mo-{next(_ids)}", at)


async def test_joining_by_keyword_replies_with_the_welcome_and_records_consent(service, store):
    handled = await service.handle(text("join health!"))

    assert handled.replies == ("Welcome to Health alerts. Reply STOP HEALTH to leave.",)
    [subscription] = await store.subscriptions.subscriptions(CITIZEN)
    assert subscription.service == "HEALTH"
    assert subscription.source is Source.SMS
    join, language = await store.subscriptions.history(CITIZEN)
    assert (join.action, join.service, join.consent) == (Action.JOIN, "HEALTH", "mo-1")
    assert (language.action, language.detail) == (Action.LANGUAGE, "en")  # they wrote English


async def test_spanish_command_word_joins_and_answers_in_spanish(service, store):
    handled = await service.handle(text("Suscribir salud"))

    assert handled.language == "es"
    assert "Alertas de salud" in handled.replies[0]
    subscriber = await store.subscriptions.subscriber(CITIZEN)
    assert subscriber is not None
    assert subscriber.language == "es"


async def test_an_alias_of_no_known_language_tells_none_so_the_service_default_answers(service):
    handled = await service.handle(text("Salud"))  # HEALTH's SALUD: its language not given

    assert handled.command.service == "HEALTH"
    assert handled.language == "en"


HURRICANE = Service(
    "HURRICANE",
    "nemo",
    {"en": "Hurricane alerts", "es": "Alertas de huracan"},
    aliases=("HURACAN", "STORM"),
    alias_languages={"HURACAN": "es", "STORM": "en"},
    welcome={"en": "Welcome to Hurricane alerts.", "es": "Bienvenido a Alertas de huracan."},
)


@pytest.fixture
async def hurricane(service: SubscriptionService, store: SqliteStore) -> SubscriptionService:
    await store.catalogue.add_service(HURRICANE)
    await service.refresh()
    return service


async def test_a_spanish_alias_alone_joins_in_spanish_and_a_new_subscriber_keeps_it(
    hurricane, store
):
    handled = await hurricane.handle(text("Huracán"))

    assert (handled.command.verb, handled.command.service) == (Verb.JOIN, "HURRICANE")
    assert (handled.language, handled.replies) == ("es", ("Bienvenido a Alertas de huracan.",))
    subscriber = await store.subscriptions.subscriber(CITIZEN)
    assert subscriber is not None
    assert subscriber.language == "es"  # as after UNIR HEALTH: they wrote Spanish
    later = await hurricane.handle(text("HEALTH"))  # a keyword tells none: theirs is used
    assert later.language == "es"


async def test_a_spanish_alias_answers_in_spanish_but_keeps_a_language_already_known(
    hurricane, store
):
    await hurricane.handle(text("JOIN HEALTH"))  # English remembered
    handled = await hurricane.handle(text("ALTO HURACAN"))

    assert (handled.command.verb, handled.language) == (Verb.LEAVE, "es")
    assert "Alertas de huracan" in handled.replies[0]
    subscriber = await store.subscriptions.subscriber(CITIZEN)
    assert subscriber is not None
    assert subscriber.language == "en"


@pytest.mark.parametrize(
    ("body", "language"),
    [("STORM", "en"), ("UNIR HURACAN", "es"), ("JOIN STORM", "en"), ("JOIN HURACAN", None)],
)
async def test_the_words_of_a_join_tell_its_language_unless_they_disagree(
    hurricane, store, body, language
):
    handled = await hurricane.handle(text(body))

    assert handled.command.language == language
    reply = HURRICANE.welcome[language or HURRICANE.default_language]
    assert (handled.language, handled.replies) == (language or "en", (reply,))
    subscriber = await store.subscriptions.subscriber(CITIZEN)
    assert subscriber is not None
    assert subscriber.language == language  # JOIN HURACAN: none told, none stored


@pytest.mark.parametrize(
    ("texts", "reply_has"),
    [
        (["HEALTH", "HEALTH"], "already"),
        (["HEALTH", "STOP HEALTH"], "left Health alerts"),
        (["STOP WEATHER"], "not subscribed to Weather"),
        (["HEALTH", "STOP"], "left all"),
        (["HELP"], "0-800-466-4636"),
        (["HEALHT"], "Did you mean HEALTH"),
        (["FISHERIES"], "not open"),
        (["blah blah"], "did not understand"),
        (["HEALTH", "MY"], "Health alerts"),
        (["MY"], "not subscribed to any"),
    ],
    ids=["twice", "leave", "leave-unknown", "stop-all", "help", "near-miss", "inactive",
         "gibberish", "my", "my-none"],
)  # fmt: skip
async def test_each_command_gets_its_reply(service, texts, reply_has):
    for body in texts:
        handled = await service.handle(text(body))

    assert reply_has in handled.replies[-1]
    assert all(fits_one_sms(reply) for reply in handled.replies)


async def test_join_leave_rejoin_keeps_the_whole_consent_history(service, store):
    for body in ("JOIN HEALTH", "STOP HEALTH", "HEALTH"):
        await service.handle(text(body))

    history = [
        e for e in await store.subscriptions.history(CITIZEN) if e.action is not Action.LANGUAGE
    ]
    assert [(e.action, e.service) for e in history] == [
        (Action.JOIN, "HEALTH"),
        (Action.LEAVE, "HEALTH"),
        (Action.JOIN, "HEALTH"),
    ]
    assert [e.consent for e in history] == sorted({e.consent for e in history}, key=history_order)


def history_order(consent: str) -> int:
    return int(consent.removeprefix("mo-"))


async def test_stop_then_start_rejoins_what_the_stop_left(service, store):
    for body in ("HEALTH", "WEATHER", "STOP", "START"):
        handled = await service.handle(text(body))

    assert "Health alerts" in handled.replies[0]
    assert {s.service for s in await store.subscriptions.subscriptions(CITIZEN)} == {
        "HEALTH",
        "WEATHER",
    }


async def test_stop_from_a_number_never_seen_is_honoured(service, store):
    handled = await service.handle(text("ALTO"))

    assert handled.command.verb is Verb.STOP_ALL
    subscriber = await store.subscriptions.subscriber(CITIZEN)
    assert subscriber is not None
    assert subscriber.opted_out_at is not None


async def test_language_choice_changes_later_replies(service, store):
    await service.handle(text("LANG ES"))
    handled = await service.handle(text("HEALTH"))  # a keyword tells no language

    assert handled.language == "es"
    subscriber = await store.subscriptions.subscriber(CITIZEN)
    assert subscriber is not None
    assert subscriber.language == "es"


async def test_list_names_every_active_service_in_as_few_sms_as_possible(service):
    handled = await service.handle(text("LIST"))

    together = " ".join(handled.replies)
    assert "HEALTH" in together
    assert "WEATHER" in together
    assert "FISHERIES" not in together
    assert len(handled.replies) == 1


async def test_a_text_in_another_language_is_answered_in_that_language(service, store):
    await service.handle(text("JOIN HEALTH"))  # English words: English remembered
    handled = await service.handle(text("AYUDA"))

    assert handled.language == "es"
    subscriber = await store.subscriptions.subscriber(CITIZEN)
    assert subscriber is not None
    assert subscriber.language == "en"  # what broadcasts use changes only by LANG


async def test_a_join_in_english_keeps_a_chosen_spanish(service, store):
    await service.handle(text("LANG ES"))
    handled = await service.handle(text("JOIN HEALTH"))

    assert handled.language == "en"  # answered in the words' language
    subscriber = await store.subscriptions.subscriber(CITIZEN)
    assert subscriber is not None
    assert subscriber.language == "es"  # broadcasts keep the language chosen
