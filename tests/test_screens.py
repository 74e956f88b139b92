"""Pilot tests of the queue and conversation screens: what an agent sees and what the keys do."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from seed import T0, seed_conversations
from ui import CONTROL, frozen_clock, no_failed_workers, screen_lines, screen_text, settle, wait_for  # noqa: F401

from socialdesk.app import SocialdeskApp
from socialdesk.screens import ConversationScreen, QueueScreen
from socialdesk.screens.widgets import QueueList
from socialdesk.services.commands import Assign, DeskSettings, Selection
from socialdesk.services.query import Vocabulary
from socialdesk.services.desk import Desk
from socialdesk.store import commands
from socialdesk.store.ingest import IngestItem, write_batch
from socialdesk.store.views import ChannelHealth, QueueFilter, QueueRow

HOSTILE = "[bold]x[/] \x1b[31mred \u202eevil [link=https://evil.example]click[/link]"


async def test_queue_shows_rows_at_80x24(desk):
    seed_conversations(desk, 30)
    app = SocialdeskApp(desk)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        lines = screen_lines(app)
        assert "signed in as alice" in lines[0]
        assert all(len(line) <= 80 for line in lines)
        assert lines[1].split()[:4] == ["Pr", "Age", "Asg", "Channel"]
        assert "P1" in lines[2] and "customer0" in lines[2] and "My order #0" in lines[2]
        assert f"{desk.queue_count(QueueFilter()):,} in open" in lines[-2]
        assert "● demo" in lines[-2]
        assert "Open" in lines[-1] and "Search" in lines[-1]
        await pilot.resize_terminal(50, 16)
        await settle(pilot)
        assert "customer0" in screen_lines(app)[2] and "My" in screen_lines(app)[2]


async def test_j_k_and_enter_open_the_highlighted_conversation(desk):
    seed_conversations(desk, 30)
    app = SocialdeskApp(desk)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("j", "j", "j", "k")
        expected = app.screen.query_one(QueueList).highlighted
        assert expected is not None and "customer8" in screen_lines(app)[4]
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConversationScreen)
        assert app.screen.conversation_id == expected.id
        text = screen_text(app)
        assert f"#{expected.id} new" in text
        assert "customer8" in text and "reset my password" in text
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)


async def test_sending_a_reply_queues_it_and_shows_it_sent_once_delivered(desk):
    seed_conversations(desk, 3)
    app = SocialdeskApp(desk)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        conversation_id = app.screen.conversation_id
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "The reply is empty: write something first." in screen_text(app)
        await pilot.press("w", *"Thanks, on it", "ctrl+t", "ctrl+s")
        await settle(pilot)
        text = screen_text(app)
        assert "outbox · queued · reply on demo · public" in text and "Thanks, on it" in text
        assert "Reply queued: reply on demo." in text
        [entry] = desk.conversation(conversation_id).outbox
        assert entry.text == "Thanks, on it" and entry.visibility == "public"

        with desk.sessions.begin() as s:  # the sender delivers it
            [claim] = commands.claim_outbox(s)
            commands.mark_sent(s, claim.id, "p-sent-1", None, T0 + timedelta(hours=1), claim.text)
        await wait_for(pilot, lambda: "outbox · queued" not in screen_text(app))
        assert "sent 1h ago" in screen_text(app)


async def test_assign_resolve_and_escape_keeps_a_draft(desk):
    seed_conversations(desk, 3)
    app = SocialdeskApp(desk)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert "open · P1 · owner alice" in screen_lines(app)[0]
        await pilot.press("ctrl+r", "enter")
        await settle(pilot)
        assert "resolved · P1 · owner alice" in screen_lines(app)[0]
        await pilot.press("w", *"draft", "escape")
        assert isinstance(app.screen, ConversationScreen) and "Draft kept" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)
        assert "2 in open" in screen_lines(app)[-2]


async def test_search_narrows_the_list_and_escape_clears_it(desk):
    seed_conversations(desk, 40)
    app = SocialdeskApp(desk)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"refund", "enter")
        await settle(pilot)
        hits = desk.queue_count(QueueFilter(search="refund"))
        assert 0 < hits < 40
        lines = screen_lines(app)
        assert f"{hits:,} in open · “refund”" in lines[-2]
        rows = [line for line in lines[3:-2] if " P" in line[:4]]
        assert len(rows) == hits and all("Refund" in row for row in rows)
        await pilot.press("escape")
        await settle(pilot)
        assert f"{desk.queue_count(QueueFilter()):,} in open" in screen_lines(app)[-2]
        await pilot.press("slash", *"zebra", "enter")
        await settle(pilot)
        assert "No conversations match." in screen_lines(app)[3]


async def test_hostile_text_shows_literally_without_control_characters(desk):
    with desk.sessions.begin() as s:
        channel_id = commands.ensure_channel(s, "demo", "simulator")
        write_batch(s, channel_id, [IngestItem(
            platform_id="evil-1", kind="mention", visibility="public", text=HOSTILE, published_at=T0,
            author_id="e1", author_handle="[red]mallory[/]", author_name="\x1b]8;;x\x07Mal", priority=99,
            tags=("[b]tag[/b]",))])
        commands.record_poll(s, channel_id, "mentions", error="HTTP 429 [b]slow down[/b]\x1b[2J")
    app = SocialdeskApp(desk)
    async with app.run_test(size=(140, 30), notifications=True) as pilot:
        await settle(pilot)
        queue = screen_text(app)
        assert "✖ demo: HTTP 429 [b]slow down[/b] 0m ago" in screen_lines(app)[-2]
        assert "[red]mallory[/]" in queue and "[bold]x[/] red evil [link=" in queue
        await pilot.press("enter")
        await settle(pilot)
        detail = screen_text(app)
        assert "[bold]x[/] red evil [link=https://evil.example]click[/link]" in detail
        assert "[red]mallory[/]" in detail
        for text in (queue, detail):
            assert not CONTROL & set(text)


async def test_taking_a_conversation_someone_else_has_says_so(desk):
    seed_conversations(desk, 1)
    app = SocialdeskApp(desk)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        bob = Desk(desk.sessions, "bob")
        assert bob.run(Assign("me"), Selection((app.screen.conversation_id,))).count == 1  # bob got there first
        await pilot.press("a")
        await wait_for(pilot, lambda: "Not assigned: it changed since you saw it" in screen_text(app))
        assert "owner bob" in screen_lines(app)[0]


async def test_marks_then_assign_to_me_then_filter_mine(desk):
    seed_conversations(desk, 10)
    app = SocialdeskApp(desk)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        queue_list = app.screen.query_one(QueueList)
        first = queue_list.highlighted
        await pilot.press("space", "space")
        lines = screen_lines(app)
        assert lines[2].startswith("● P1") and lines[3].startswith("● P1") and not lines[4].startswith("●")
        assert "2 marked" in lines[-2] and first.id in queue_list.marked and queue_list.cursor == 2
        await pilot.press("k", "a")
        await settle(pilot)
        assert "alice" in screen_lines(app)[3]
        await pilot.press("m")
        await settle(pilot)
        lines = screen_lines(app)
        assert "1 in mine · 2 marked" in lines[-2] and "alice" in lines[2] and lines[3].strip() == ""


async def test_live_update_keeps_the_cursor_on_its_conversation(desk):
    seed_conversations(desk, 20)
    app = SocialdeskApp(desk)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("j", "j")
        queue_list = app.screen.query_one(QueueList)
        kept = queue_list.highlighted.id
        seed_conversations(desk, 5, channel="late", start=T0 - timedelta(days=1))  # sort ahead
        # Counts are spaced (every 3 s, or 100x what the last one took on a busy machine).
        await wait_for(pilot, lambda: queue_list.total == 25, timeout=15)
        assert queue_list.highlighted.id == kept and queue_list.cursor > 2
        assert "25 in open" in screen_lines(app)[-2]


async def test_end_shows_the_last_row_of_the_store(desk):
    seed_conversations(desk, 120)
    app = SocialdeskApp(desk)
    async with app.run_test(size=(100, 24), notifications=True) as pilot:
        await settle(pilot)
        total = desk.queue_count(QueueFilter())
        [last] = desk.queue_page(QueueFilter(), total - 1, 1)
        await pilot.press("end")
        await settle(pilot)
        assert last.author_handle in screen_lines(app)[-3]
        assert app.screen.query_one(QueueList).highlighted == last


async def test_keymap_rebinds_queue_keys(desk):
    seed_conversations(desk, 3)
    app = SocialdeskApp(desk, keymap={"queue.open": "o"})
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        assert isinstance(app.screen, QueueScreen)
        await pilot.press("o")
        await settle(pilot)
        assert isinstance(app.screen, ConversationScreen)
        await pilot.press("question_mark")
        assert app.screen.query("HelpPanel")


async def test_palette_offers_the_screens_commands(desk):
    seed_conversations(desk, 3)
    app = SocialdeskApp(desk)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p", *"take")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        first = desk.queue_page(QueueFilter(), 0, 1)[0]
        assert first.assignee == "alice"


class MillionDesk:
    """A queue of a million generated rows (seeding that many through the store takes minutes);
    it counts what the list asks for."""

    agent = "alice"
    views = {"open": ""}
    rules = None
    settings = DeskSettings({})
    availability = "available"

    def __init__(self, total: int = 1_000_000) -> None:
        self.total, self.fetched, self.pages = total, 0, 0

    def vocabulary(self) -> Vocabulary:
        return Vocabulary()

    def change_counter(self) -> int:
        return 0

    def channel_health(self) -> list[ChannelHealth]:
        return []

    def queue_count(self, flt: QueueFilter) -> int:
        return self.total

    def queue_page(self, flt, offset, limit, after=None) -> list[QueueRow]:
        rows = [self._row(i) for i in range(offset, min(self.total, offset + limit))]
        self.fetched, self.pages = self.fetched + len(rows), self.pages + 1
        return rows

    def queue_tail(self, flt, limit) -> list[QueueRow]:
        return self.queue_page(flt, self.total - limit, limit)

    def _row(self, i: int) -> QueueRow:
        at = datetime(2026, 11, 20, tzinfo=UTC)
        return QueueRow(i + 1, 99 - i * 100 // self.total, "open", at, None, None, "sim", "simulator",
                        f"user{i + 1}", "", 0, False, f"row number {i + 1}", (), None, 1, False)


async def test_a_million_rows_stay_instant():
    desk = MillionDesk()
    app = SocialdeskApp(desk)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        started = time.perf_counter()
        await pilot.press("end")
        await settle(pilot)
        assert "row number 1000000" in screen_lines(app)[-3]
        await pilot.press("pageup", "pageup", "k", "home")
        await settle(pilot)
        assert "row number 1 " in screen_lines(app)[2]
        assert time.perf_counter() - started < 2.0
        queue_list = app.screen.query_one(QueueList)
        assert queue_list.rows_held < 200 and desk.fetched < 500
        assert queue_list.virtual_size.height == 1_000_001


async def test_a_failing_store_call_is_one_notification(no_failed_workers):
    class LockedDesk(MillionDesk):
        def queue_count(self, flt):
            raise RuntimeError("database is locked [bold]")

    app = SocialdeskApp(LockedDesk())
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "Something went wrong" in text and "RuntimeError: database is locked" in text and "[bold]" in text
        assert no_failed_workers == ["RuntimeError: database is locked [bold]"]
        no_failed_workers.clear()
