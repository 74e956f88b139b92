"""A spike from the keyboard, on the real screens: pattern marks, commands on the marked set,
clusters, undo, views, and type-ahead that never acts twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from seed import T0, seed_conversations
from sqlalchemy import select
from ui import frozen_clock, no_failed_workers, screen_lines, screen_text, settle, wait_for  # noqa: F401

from socialdesk.adapters.base import Contact, Inbound, Page
from socialdesk.app import SocialdeskApp
from socialdesk.config import Config
from socialdesk.rules.clusters import ClusterIndex
from socialdesk.screens import ConversationScreen, QueueScreen
from socialdesk.screens.confirm import Confirm
from socialdesk.screens.widgets import QueueList
from socialdesk.services.commands import DeskSettings
from socialdesk.services.desk import Desk
from socialdesk.services.ingest import ChannelRef, Ingestor
from socialdesk.services.rules import build_ruleset
from socialdesk.store import commands
from socialdesk.store.models import AuditEvent
from socialdesk.store.views import QueueFilter

SETTINGS = DeskSettings({"fixed": "Problem solved"}, require_resolution_code=False, confirm_above=20,
                        tags=("outage",))


@pytest.fixture
def supervisor(store) -> Desk:
    with store.begin() as s:
        commands.sync_people(s, [commands.TeamSpec("billing")], [commands.AgentSpec("carol", role="supervisor")])
    return Desk(store, "carol", settings=SETTINGS)


async def type_line(pilot, *keys: str) -> None:
    """Keys, then Enter (the command line takes them as typed)."""
    await pilot.press(*keys, "enter")
    await settle(pilot)


def audited(desk: Desk, action: str) -> list[int]:
    with desk.sessions() as s:
        return list(s.execute(select(AuditEvent.object_id).where(AuditEvent.action == action)).scalars())


async def test_mark_every_match_then_tag_and_assign_them_all_and_undo_one_step(supervisor):
    desk = supervisor
    seed_conversations(desk, 200)
    refunds = desk.queue_count(QueueFilter(search="refund"))
    app = SocialdeskApp(desk)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        queue_list = app.screen.query_one(QueueList)
        await pilot.press("T")
        assert "mark every match" in screen_text(app)
        await type_line(pilot, *"refund")
        await wait_for(pilot, lambda: f"{refunds} marked" in screen_lines(app)[-2])
        assert len(queue_list.marked) == refunds == 40  # the whole result, not the rows on screen

        await pilot.press("semicolon", "t", *"out", "tab")
        assert "tag outage" in screen_text(app) and "on 40 marked" in screen_text(app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Tag outage: 40 conversations (40 marked). Go ahead?" in screen_text(app))
        assert isinstance(app.screen, Confirm)
        await pilot.press("y")
        await wait_for(pilot, lambda: "Tagged 40 conversations.  (u: undo)" in screen_text(app))
        assert desk.queue_count(QueueFilter(tags=("outage",))) == 40

        await pilot.press("semicolon", "A", *"team=billing", "enter")
        await wait_for(pilot, lambda: "y or Enter: go ahead" in screen_text(app))
        await pilot.press("y")
        await wait_for(pilot, lambda: "Assigned 40 conversations." in screen_text(app))
        assert desk.queue_count(QueueFilter(team="billing")) == 40

        await pilot.press("u")
        await wait_for(pilot, lambda: "Undone on 40 conversations." in screen_text(app))
        assert desk.queue_count(QueueFilter(team="billing")) == 0
        assert desk.queue_count(QueueFilter(tags=("outage",))) == 40  # only the last step was undone
        assert len(audited(desk, "tag")) == 40 and len(audited(desk, "undo")) == 40


async def test_a_copy_paste_campaign_is_one_cluster_closed_as_noise_with_three_keys(supervisor, store):
    desk = supervisor
    with store.begin() as s:
        channel_id = commands.ensure_channel(s, "demo", "simulator")
    ingestor = Ingestor(store, build_ruleset(Config(), sentiment=False), ChannelRef(channel_id, "demo", "simulator"),
                        clusters=ClusterIndex())
    campaign = "@brand I was charged twice for my subscription and nobody answers. Refund now! #AcmeRefundNow"
    others = ["my parcel never arrived, tracking stuck in Leeds", "love the new app design", "how do I reset my password"]
    messages = [Inbound(platform_id=f"c{i}", kind="mention", visibility="public",
                        text=campaign if i % 4 else others[i // 4 % 3] + f" ({i})", published_at=T0 + timedelta(seconds=i),
                        author=Contact(platform_id=f"u{i}", handle=f"user{i}")) for i in range(40)]
    ingestor.ingest_page(Page(messages=messages, cursor="40"))
    app = SocialdeskApp(desk)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        assert "⧉30" in screen_text(app)
        await pilot.press("z")
        await settle(pilot)
        assert sum("⧉30" in line for line in screen_lines(app)) == 1  # folded: one row for the cluster
        row = next(i for i, line in enumerate(screen_lines(app)) if "⧉30" in line)
        queue_list = app.screen.query_one(QueueList)
        queue_list.move_to(row - 2)
        await pilot.press("C")
        await wait_for(pilot, lambda: "30 marked" in screen_lines(app)[-2])
        await pilot.press("semicolon", "x", "enter")
        await wait_for(pilot, lambda: "y or Enter: go ahead" in screen_text(app))
        await pilot.press("y")
        await wait_for(pilot, lambda: "Closed as noise 30 conversations." in screen_text(app))
        assert desk.queue_count(QueueFilter()) == 10
        assert desk.queue_count(QueueFilter(status="closed", tags=("noise",))) == 30


async def test_typing_ahead_resolves_each_conversation_once(supervisor):
    desk = supervisor
    seed_conversations(desk, 5)
    app = SocialdeskApp(desk)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        for _ in range(3):  # Enter, ctrl+r, Enter, Escape at four keys a second, three times
            for key in ("enter", "ctrl+r", "enter", "escape"):
                await pilot.press(key)
                await pilot.pause(0.25)
        await settle(pilot)
        resolved = audited(desk, "resolve")
        assert len(resolved) == len(set(resolved)) == 3
        assert isinstance(app.screen, QueueScreen)
        assert desk.queue_count(QueueFilter()) == 2


async def test_range_marks_survive_scrolling_and_live_updates_and_M_clears_them(supervisor):
    desk = supervisor
    seed_conversations(desk, 60)
    app = SocialdeskApp(desk)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        queue_list = app.screen.query_one(QueueList)
        await pilot.press("V", "j", "j", "j", "V")
        await wait_for(pilot, lambda: "4 marked" in screen_lines(app)[-2])
        marked = dict(queue_list.marked)
        await pilot.press("pagedown", "pagedown", "pageup", "pageup", "home")
        seed_conversations(desk, 5, channel="late", start=T0 - timedelta(days=1))
        await wait_for(pilot, lambda: queue_list.total == 65)
        assert set(queue_list.marked) == set(marked)
        assert sum(line.startswith("●") for line in screen_lines(app)) == 4
        await pilot.press("M")
        await settle(pilot)
        assert not queue_list.marked and "marked" not in screen_lines(app)[-2]


async def test_views_on_number_keys_and_a_search_with_filters(supervisor):
    desk = supervisor
    seed_conversations(desk, 30)
    app = SocialdeskApp(desk)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("2")  # mine
        await wait_for(pilot, lambda: "1 in mine" in screen_lines(app)[-2])
        assert "· mine ·" in screen_lines(app)[0]
        await pilot.press("4")  # unassigned
        await wait_for(pilot, lambda: "29 in unassigned" in screen_lines(app)[-2])
        await pilot.press("slash", *"refund p:1-2", "enter")
        hits = desk.queue_count(QueueFilter(search="refund", priority=(50, 100), assignee="none"))
        await wait_for(pilot, lambda: f"{hits} in unassigned · “refund p:1-2”" in screen_lines(app)[-2])
        await pilot.press("slash", *"refund chanel:demo", "enter")
        await wait_for(pilot, lambda: "unknown filter 'chanel'" in screen_text(app))


async def test_unknown_names_and_commands_say_what_exists(supervisor):
    desk = supervisor
    seed_conversations(desk, 3)
    app = SocialdeskApp(desk)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("t", *"outgae", "enter")
        await wait_for(pilot, lambda: "No tag 'outgae'. Tags:" in screen_text(app))
        assert "outage" in screen_text(app)
        await pilot.press("colon", *"resolve fixd", "enter")
        await wait_for(pilot, lambda: "No resolution code 'fixd'. Codes: fixed." in screen_text(app))
        await pilot.press("colon", *"frobnicate", "enter")
        await wait_for(pilot, lambda: "No command 'frobnicate'" in screen_text(app))


async def test_the_conversation_screen_tags_notes_and_resolves_with_a_code(supervisor):
    desk = supervisor
    seed_conversations(desk, 3)
    app = SocialdeskApp(desk)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        conversation_id = app.screen.conversation_id
        await pilot.press("t", *"outage", "enter")
        await wait_for(pilot, lambda: "outage" in screen_lines(app)[0])
        await pilot.press("n", *"Courier says Friday", "enter")
        await wait_for(pilot, lambda: "✎ internal note" in screen_text(app) and "Courier says Friday" in screen_text(app))
        await pilot.press("ctrl+r", *"fi", "tab", "enter")
        await wait_for(pilot, lambda: "resolved" in screen_lines(app)[0] and "fixed" in screen_lines(app)[0])
        assert isinstance(app.screen, ConversationScreen)
        detail = desk.conversation(conversation_id)
        assert (detail.status, detail.resolution_code, "outage" in detail.tags) == ("resolved", "fixed", True)
