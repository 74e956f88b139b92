"""The queue: every conversation the filter selects, in priority order, with live updates."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataclasses import replace

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Footer, Input, Static

from socialdesk.screens.base import DeskScreen, PaletteCommand
from socialdesk.screens.channels import ChannelsScreen
from socialdesk.screens.conversation import ConversationScreen
from socialdesk.screens.health import health_line
from socialdesk.screens.messages import (
    ActionDone,
    HealthFetched,
    NextChosen,
    QueueReloaded,
    WindowFetched,
)
from socialdesk.screens.widgets.queue_list import QueueList
from socialdesk.store.views import QueueFilter, QueueRow
from socialdesk.text import terminal_safe

if TYPE_CHECKING:
    from socialdesk.services.desk import Desk

STATUS_LABELS = {"open": "open", "all": "in total"}


class QueueScreen(DeskScreen):
    BINDINGS = [
        Binding("enter", "open", "Open", id="queue.open", tooltip="Open the highlighted conversation"),
        Binding("slash", "search", "Search", id="queue.search", tooltip="Full-text search (Enter applies, Escape clears)"),
        Binding("escape", "clear_search", "Clear search", id="queue.clear_search", tooltip="Show the whole queue again"),
        Binding("a", "assign", "Assign", id="queue.assign", tooltip="Assign the highlighted conversation to me"),
        Binding("m", "toggle_mine", "Mine", id="queue.mine", tooltip="Switch between my conversations and all open ones"),
        Binding("space", "mark", "Mark", id="queue.mark", tooltip="Mark or unmark the highlighted conversation"),
        Binding("r", "refresh", "Refresh", id="queue.refresh", tooltip="Reload the queue now"),
        Binding("c", "channels", "Channels", id="queue.channels",
                tooltip="Every channel's health: last success, last error, rate limit left"),
    ]

    def __init__(self, desk: Desk | None = None, *, health_interval: float = 2.0) -> None:
        super().__init__(desk, id="queue")
        self.filter = QueueFilter(status="open")
        self.health_interval = health_interval
        self._shown_filter: QueueFilter | None = None
        self._total = 0

    def compose(self) -> ComposeResult:
        yield Static(id="queue-title")
        yield Input(placeholder="Search conversations", id="queue-search", compact=True)
        yield QueueList(id="queue-list")
        with Horizontal(id="queue-status"):
            yield Static(id="queue-summary", markup=False)
            yield Static(id="queue-health", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(QueueList).focus()
        self._show_title()
        self.reload()
        self._fetch_health()

    @property
    def queue_list(self) -> QueueList:
        return self.query_one(QueueList)

    # Loading ----------------------------------------------------------------------------------------
    def reload(self, *, live: bool = False) -> None:
        """Fetch the count and the rows around the viewport. `live` keeps the view where it is:
        it pages by keyset after the row just above the window, and keeps the cursor's row."""
        queue_list = self.queue_list
        height = max(queue_list.size.height, 24)
        offset = max(0, int(queue_list.scroll_y) - height) if live else 0
        after = queue_list.row_at(offset - 1) if offset else None
        keep = queue_list.highlighted if live else None
        self._reload(self.filter, offset, 3 * height, after, keep.id if keep else None)

    @work(thread=True, exclusive=True, group="queue-reload", exit_on_error=False)
    def _reload(self, flt: QueueFilter, offset: int, limit: int, after: QueueRow | None, keep_id: int | None) -> None:
        total = self.desk.queue_count(flt)
        rows = self.desk.queue_page(flt, offset, limit, after=after) if after and offset < total else []
        if not rows:
            offset = min(offset, max(0, total - limit))
            rows = self.desk.queue_page(flt, offset, limit)
        self.post_message(QueueReloaded(flt, total, offset, rows, keep_id))

    @on(QueueReloaded)
    def _reloaded(self, message: QueueReloaded) -> None:
        if message.flt != self.filter:
            return
        fresh = message.flt != self._shown_filter
        self._shown_filter, self._total = message.flt, message.total
        self.queue_list.replace(message.total, message.offset, message.rows, message.keep_id, reset=fresh)
        self._show_summary()

    @on(QueueList.WindowWanted)
    def _window_wanted(self, message: QueueList.WindowWanted) -> None:
        if self._shown_filter is not None:
            self._fetch_window(self._shown_filter, message.generation, message.offset, message.limit, message.after)

    @work(thread=True, exclusive=True, group="queue-window", exit_on_error=False)
    def _fetch_window(self, flt: QueueFilter, generation: int, offset: int, limit: int, after: QueueRow | None) -> None:
        try:
            rows = self.desk.queue_page(flt, offset, limit, after=after)
        except Exception:
            self.post_message(WindowFetched(flt, generation, offset, []))  # so the list may ask again
            raise
        self.post_message(WindowFetched(flt, generation, offset, rows))

    @on(WindowFetched)
    def _window_fetched(self, message: WindowFetched) -> None:
        if message.flt == self._shown_filter:
            self.queue_list.load(message.generation, message.offset, message.rows)

    @work(thread=True, exclusive=True, group="queue-health", exit_on_error=False)
    def _fetch_health(self) -> None:
        try:
            self.post_message(HealthFetched(self.desk.channel_health()))
        except Exception as error:  # shown in the status line; the next tick tries again
            self.post_message(HealthFetched(None, f"{type(error).__name__}: {error}"))

    @on(HealthFetched)
    def _health_fetched(self, message: HealthFetched) -> None:
        self.query_one("#queue-health", Static).update(health_line(message.channels, message.error))
        self.set_timer(self.health_interval, self._fetch_health)

    # Display ----------------------------------------------------------------------------------------
    def _show_title(self) -> None:
        agent = terminal_safe(str(self.desk.agent), single_line=True)
        self.query_one("#queue-title", Static).update(Content.from_markup(
            "[b]$title[/b] · queue · signed in as [b]$agent[/b]", title=self.app.title, agent=agent))

    def _show_summary(self) -> None:
        flt = self.filter
        parts = [f"{self._total:,} {STATUS_LABELS.get(flt.status, flt.status)}"]
        parts.append("mine" if flt.assignee else "all")
        if flt.search:
            parts.append("“" + terminal_safe(flt.search, single_line=True) + "”")
        if self.queue_list.marked:
            parts.append(f"{len(self.queue_list.marked)} marked")
        self.query_one("#queue-summary", Static).update(" · ".join(parts))

    def _set_filter(self, flt: QueueFilter) -> None:
        if flt != self.filter:
            self.filter = flt
            self.reload()

    # Actions ----------------------------------------------------------------------------------------
    def action_open(self) -> None:
        row = self.queue_list.highlighted
        if row is not None:
            self._open(row.id)

    def _open(self, conversation_id: int) -> None:
        self.app.push_screen(ConversationScreen(conversation_id, desk=self.desk))

    def action_search(self) -> None:
        search = self.query_one("#queue-search", Input)
        self.add_class("searching")
        search.focus()

    @on(Input.Submitted, "#queue-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            self.remove_class("searching")
        self._set_filter(replace(self.filter, search=text))
        self.queue_list.focus()

    def action_clear_search(self) -> None:
        self.query_one("#queue-search", Input).value = ""
        self.remove_class("searching")
        self.queue_list.focus()
        self._set_filter(replace(self.filter, search=""))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_search":
            return self.has_class("searching") or bool(self.filter.search)
        return True

    def action_toggle_mine(self) -> None:
        mine = None if self.filter.assignee else "me"
        self._set_filter(replace(self.filter, assignee=mine))

    def action_refresh(self) -> None:
        self.reload(live=True)

    def action_channels(self) -> None:
        self.app.push_screen(ChannelsScreen(self.desk))

    def action_mark(self) -> None:
        self.queue_list.toggle_mark()
        self.queue_list.action_move(1)
        self._show_summary()

    def action_assign(self) -> None:
        row = self.queue_list.highlighted
        if row is not None:
            self._change(row.id, "assigned")

    def action_resolve(self) -> None:
        row = self.queue_list.highlighted
        if row is not None:
            self._change(row.id, "resolved")

    @work(thread=True, group="queue-change", exit_on_error=False)
    def _change(self, conversation_id: int, what: str) -> None:
        if what == "assigned":
            ok = self.desk.assign(conversation_id)
        else:
            ok = self.desk.set_status(conversation_id, what)
        self.post_message(ActionDone(what, conversation_id, ok))

    def action_open_next(self) -> None:
        self._choose_next(self.filter)

    @work(thread=True, exclusive=True, group="queue-next", exit_on_error=False)
    def _choose_next(self, flt: QueueFilter) -> None:
        rows = self.desk.queue_page(flt, 0, 50)
        me = self.desk.agent
        chosen = next((row.id for row in rows if row.assignee in (None, me)), None)
        self.post_message(NextChosen(chosen))

    @on(NextChosen)
    def _next_chosen(self, message: NextChosen) -> None:
        if message.conversation_id is None:
            self.notify("Nothing free in this queue.", markup=False)
        else:
            self._open(message.conversation_id)

    def palette_commands(self) -> list[PaletteCommand]:
        return [
            ("Open next conversation", "Open the first free conversation in this queue", self.action_open_next),
            ("Search", "Full-text search in the queue", self.action_search),
            ("Filter: mine", "Only conversations assigned to me",
             lambda: self._set_filter(replace(self.filter, assignee="me"))),
            ("Filter: all open", "Every open conversation",
             lambda: self._set_filter(replace(self.filter, status="open", assignee=None))),
            ("Filter: any status", "Open, resolved and closed conversations",
             lambda: self._set_filter(replace(self.filter, status="all"))),
            ("Assign to me", "Take the highlighted conversation", self.action_assign),
            ("Resolve", "Resolve the highlighted conversation", self.action_resolve),
            ("Refresh", "Reload the queue now", self.action_refresh),
            ("Channel health", "Every channel's streams: last success, last error, rate limit left",
             self.action_channels),
            ("Set me away" if self.desk.availability == "available" else "Set me available",
             "Routing gives new conversations only to available agents", self.action_toggle_away),
        ]

    def action_toggle_away(self) -> None:
        self._availability("away" if self.desk.availability == "available" else "available")

    @work(thread=True, group="queue-change", exit_on_error=False)
    def _availability(self, status: str) -> None:
        self.desk.set_availability(status)
        self.app.call_from_thread(self.notify, f"You are {status}.", markup=False)
