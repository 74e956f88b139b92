"""The rules as an agent meets them on screen: why a conversation is P1, the privacy guard's
one-key offer, canned responses, approvals and alerts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from ui import screen_text, settle, wait_for

from socialdesk.adapters.base import Contact, Inbound, Page
from socialdesk.app import SocialdeskApp
from socialdesk.config import AgentConfig, Config, RulesConfig, TeamConfig
from socialdesk.config.rules import CannedConfig, KeywordTableConfig
from socialdesk.services.ingest import ChannelRef, Ingestor
from socialdesk.services.rules import build_ruleset
from socialdesk.services.runtime import Runtime
from socialdesk.store import commands
from socialdesk.store.views import QueueFilter

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CONFIG = Config(
    teams=[TeamConfig(name="support", tags=["customer-service"])],
    agents=[AgentConfig(name="alice", teams=["support"]), AgentConfig(name="carol", role="supervisor"),
            AgentConfig(name="tim", in_training=True)],
    rules=RulesConfig(
        keywords=[KeywordTableConfig(name="legal", tag="legal", keywords=["lawsuit"], weight=30)],
        canned=[CannedConfig(name="sorry", title="Apologise", text="Sorry {customer_name}! Ref {case_ref}")]))


@pytest.fixture
def runtime(store):
    runtime = Runtime(CONFIG, store)
    runtime.build()
    with store.begin() as s:
        channel_id = commands.ensure_channel(s, "demo", "simulator")
    ingestor = Ingestor(store, build_ruleset(CONFIG, sentiment=False), ChannelRef(channel_id, "demo", "simulator"),
                        clock=lambda: NOW)
    ingestor.ingest_page(Page([Inbound(
        platform_id="1", kind="mention", visibility="public", text="I will start a lawsuit over my refund",
        published_at=NOW, author=Contact(platform_id="u1", handle="dana", display_name="Dana", followers=40_000),
        language="en")], cursor="1"))
    return runtime


async def open_first(pilot) -> None:
    await settle(pilot)
    await pilot.press("enter")
    await wait_for(pilot, lambda: "dana" in screen_text(pilot.app))


async def test_the_conversation_says_why_it_has_its_priority(runtime):
    app = SocialdeskApp(runtime.desk("alice"))
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await open_first(pilot)
        text = screen_text(app)
        assert "P1" in text and "keyword 'lawsuit'" in text and "influencer" in text


async def test_a_card_number_in_public_is_held_and_ctrl_t_sends_it_privately(runtime):
    desk = runtime.desk("alice")
    app = SocialdeskApp(desk)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await open_first(pilot)
        await pilot.press("w")
        app.screen.composer.text = "Your card 4111 1111 1111 1111 is refunded"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "ctrl+t to send it as a private message" in screen_text(app))
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: "Reply queued: dm on demo." in screen_text(app))
        detail = desk.conversation(app.screen.conversation_id)
        assert [(o.visibility, o.state) for o in detail.outbox] == [("private", "queued")]


async def test_a_canned_response_fills_the_composer(runtime):
    app = SocialdeskApp(runtime.desk("alice"))
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await open_first(pilot)
        await pilot.press("ctrl+k")
        await wait_for(pilot, lambda: "Apologise" in screen_text(app))
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.composer.text.startswith("Sorry Dana! Ref SD-")


async def test_a_trainees_reply_waits_and_a_supervisor_approves_it(runtime):
    trainee = runtime.desk("tim")
    cid = trainee.queue_page(QueueFilter(), 0, 1)[0].id
    trainee.reply(cid, "We are on it", "public")
    app = SocialdeskApp(runtime.desk("carol"))
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await open_first(pilot)
        assert "waiting for a supervisor: agent in training" in screen_text(app)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: "Approved 1 reply" in screen_text(app))
    assert runtime.desk("carol").conversation(cid).outbox[0].state == "queued"


async def test_an_alert_shows_and_rings(runtime, store):
    app = SocialdeskApp(runtime.desk("alice"))
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await wait_for(pilot, lambda: app._last_alert is not None)
        bells = []
        app.bell = lambda: bells.append(1)  # the terminal bell, counted
        with store.begin() as s:
            commands.raise_alert(s, "spike", "Spike: 140 mentions in 5 min, 6x the usual 23")
        await wait_for(pilot, lambda: "Spike: 140 mentions" in screen_text(app))
        assert bells == [1]
