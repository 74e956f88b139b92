"""The queue: every conversation the view and search select, in priority order, with live updates,
marks (space, V range, T pattern, C cluster) and commands on the highlighted row or the marks."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.events import ScreenResume
from textual.widgets import Footer, Input, Static

from socialdesk.screens.acting import BIG_COMMAND
from socialdesk.screens.marking import MarkingScreen
from socialdesk.screens.base import PaletteCommand
from socialdesk.screens.channels import ChannelsScreen
from socialdesk.screens.conversation import ConversationScreen
from socialdesk.screens.health import health_line
from socialdesk.screens.messages import (
    HealthFetched,
    NextChosen,
    QueueCounted,
    QueueReloaded,
    WindowFetched,
    WordsLoaded,
)
from socialdesk.screens.widgets.command_line import CommandLine
from socialdesk.screens.widgets.queue_list import QueueList
from socialdesk.services.command_line import Line
from socialdesk.services.commands import Outcome
from socialdesk.services.query import QueryError, Vocabulary, parse
from socialdesk.store.views import QueueFilter, QueueRow
from socialdesk.text import terminal_safe

if TYPE_CHECKING:
    from socialdesk.services.desk import Desk

COUNT_EVERY = 3.0  # seconds between two counts while the store keeps changing…
COUNT_COST_FACTOR = 100  # …or a hundred times what the last count took, if that is longer
VIEW_KEYS = [Binding(str(n), f"view({n})", f"View {n}", show=False, id=f"queue.view_{n}") for n in range(1, 10)]


class QueueScreen(MarkingScreen):
    BINDINGS = [
        Binding("enter", "open", "Open", id="queue.open", tooltip="Open the highlighted conversation"),
        Binding("slash", "search", "Search", id="queue.search",
                tooltip="Search and filter: words, channel:, tag:, p:1, age:<10m, is:unassigned…"),
        Binding("escape", "clear_search", "Clear search", id="queue.clear_search", tooltip="Show the whole view again"),
        Binding("a", "take", "Take", id="queue.assign", tooltip="Assign the highlighted conversation to me"),
        Binding("space", "mark", "Mark", id="queue.mark", tooltip="Mark or unmark the highlighted conversation"),
        Binding("z", "toggle_clusters", "Fold clusters", show=False, id="queue.clusters",
                tooltip="One row per incident cluster (near-duplicate mentions), or every row"),
        Binding("R", "prompt('resolve ')", "Resolve", show=False, id="queue.resolve", tooltip="Resolve with a code"),
        Binding("m", "toggle_mine", "Mine", show=False, id="queue.mine", tooltip="My conversations, or the view again"),
        Binding("r", "refresh", "Refresh", show=False, id="queue.refresh", tooltip="Reload the queue now"),
        Binding("c", "channels", "Channels", show=False, id="queue.channels",
                tooltip="Every channel's health: last success, last error, rate limit left"),
        *VIEW_KEYS,
    ]

    def __init__(self, desk: Desk | None = None, *, health_interval: float = 2.0) -> None:
        super().__init__(desk, id="queue")
        self.view_name = "open"
        self.view_query = ""
        self.search = ""
        self.filter = QueueFilter(status="open")
        self.health_interval = health_interval
        self.vocabulary = Vocabulary()
        self._shown_filter: QueueFilter | None = None
        self._total: int | None = None
        self._counted_filter: QueueFilter | None = None
        self._counted_at = 0.0
        self._count_seconds = 0.0
        self._count_timer = None
        self._started = False

    def compose(self) -> ComposeResult:
        yield Static(id="queue-title")
        yield Input(placeholder="Search: words, channel:x tag:y p:1 age:<10m is:unassigned (Enter applies, Escape clears)",
                    id="queue-search", compact=True)
        yield QueueList(id="queue-list")
        yield CommandLine(id="command-line")
        with Horizontal(id="queue-status"):
            yield Static(id="queue-summary", markup=False)
            yield Static(id="queue-health", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.queue_list.focus()
        views = list(self.desk.views.items())
        if views:
            self.view_name, self.view_query = views[0]
            self.filter = self._parse("", self.view_query) or self.filter
        self._show_title()
        self.reload()

    @property
    def queue_list(self) -> QueueList:
        return self.query_one(QueueList)

    def focus_main(self) -> None:
        self.queue_list.focus()

    # Loading ----------------------------------------------------------------------------------------
    def reload(self, *, live: bool = False) -> None:
        """Fetch the rows around the viewport, then (apart, and not too often while the store
        keeps changing) their count. `live` keeps the view where it is: it pages by keyset after
        the row just above the window, and keeps the cursor's row."""
        queue_list = self.queue_list
        height = max(queue_list.size.height, 24)
        offset = int(queue_list.scroll_y) if live else 0
        after = queue_list.row_at(offset - 1) if offset else None
        keep = queue_list.highlighted if live else None
        # A live reload fetches what is on screen (the list asks for more as it scrolls); a new
        # view fetches a screen either side too.
        self._reload(self.filter, offset, height + 2 if live else 3 * height, after, keep.id if keep else None)
        if live:
            self._schedule_count(at_once=False)  # a new view is counted once its rows are shown

    @work(thread=True, exclusive=True, group="queue-reload", exit_on_error=False)
    def _reload(self, flt: QueueFilter, offset: int, limit: int, after: QueueRow | None, keep_id: int | None) -> None:
        rows = self.desk.queue_page(flt, offset, limit, after=after) if after else []
        if not rows:
            offset = 0 if not after else offset
            rows = self.desk.queue_page(flt, offset, limit)
        self.post_message(QueueReloaded(flt, None, offset, rows, keep_id, limit))

    @on(QueueReloaded)
    def _reloaded(self, message: QueueReloaded) -> None:
        if message.flt != self.filter:
            return
        fresh = message.flt != self._shown_filter
        self._shown_filter = message.flt
        total = self._total if self._counted_filter == message.flt else None  # the count may come first
        self.queue_list.replace(total, message.offset, message.rows, message.keep_id, reset=fresh,
                                limit=message.limit)
        self._show_summary()
        if fresh and total is None:  # the rows first, then their number
            self.call_after_refresh(self._schedule_count, True)
        if not self._started:  # and then what else the screen shows
            self._started = True
            self.call_after_refresh(self._fetch_health)
            self.call_after_refresh(self.load_words)

    def _schedule_count(self, at_once: bool) -> None:
        # Counting a big view costs more than drawing it: while the store keeps changing, count
        # at most every COUNT_EVERY seconds, and less often when a count is slow.
        wait = max(COUNT_EVERY, COUNT_COST_FACTOR * self._count_seconds) - (time.monotonic() - self._counted_at)
        if at_once or wait <= 0:
            self._count_now()
        elif self._count_timer is None:
            self._count_timer = self.set_timer(wait, self._count_now)

    def _count_now(self) -> None:
        if self._count_timer is not None:
            self._count_timer.stop()
        self._count_timer = None
        self._counted_at = time.monotonic()
        self._count(self.filter)

    @work(thread=True, exclusive=True, group="queue-count", exit_on_error=False)
    def _count(self, flt: QueueFilter) -> None:
        started = time.perf_counter()
        total = self.desk.queue_count(flt)
        self._count_seconds = time.perf_counter() - started
        self.post_message(QueueCounted(flt, total))

    @on(QueueCounted)
    def _counted(self, message: QueueCounted) -> None:
        if message.flt == self.filter:
            self._total, self._counted_filter = message.total, message.flt
            if self._shown_filter == message.flt:
                self.queue_list.set_total(message.total)
            self._show_summary()
            if message.flt.search and message.total >= BIG_COMMAND:  # a big search was counted
                self.give_back()

    @on(QueueList.WindowWanted)
    def _window_wanted(self, message: QueueList.WindowWanted) -> None:
        if self._shown_filter is not None:
            self._fetch_window(self._shown_filter, message)

    @work(thread=True, exclusive=True, group="queue-window", exit_on_error=False)
    def _fetch_window(self, flt: QueueFilter, wanted: QueueList.WindowWanted) -> None:
        offset = wanted.offset
        try:
            if wanted.tail:
                rows = self.desk.queue_tail(flt, wanted.limit)
                offset = wanted.offset + wanted.limit - len(rows)
            else:
                rows = self.desk.queue_page(flt, offset, wanted.limit, after=wanted.after)
        except Exception:
            self.post_message(WindowFetched(flt, wanted.generation, offset, []))  # so the list may ask again
            raise
        self.post_message(WindowFetched(flt, wanted.generation, offset, rows))

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
            "[b]$title[/b] · $view · signed in as [b]$agent[/b]", title=self.app.title,
            view=terminal_safe(self.view_name, single_line=True), agent=agent))

    def _show_summary(self) -> None:
        count = f"{self._total:,}" if self._counted_filter == self.filter else "…"
        parts = [f"{count} in {self.view_name}"]
        if self.search:
            parts.append("“" + terminal_safe(self.search, single_line=True) + "”")
        if self.filter.collapse:
            parts.append("clusters folded")
        if self.queue_list.marked:
            parts.append(f"{len(self.queue_list.marked):,} marked")
        self.query_one("#queue-summary", Static).update(" · ".join(parts))

    def _parse(self, search: str, view_query: str) -> QueueFilter | None:
        try:
            return parse(search, parse(view_query, vocabulary=self.vocabulary), vocabulary=self.vocabulary)
        except QueryError as error:
            self.notify(terminal_safe(str(error)), title="Search not applied", severity="warning", markup=False,
                        timeout=10)
            return None

    def _set_filter(self, flt: QueueFilter) -> None:
        if flt != self.filter:
            self.filter = flt
            self._total, self._counted_filter = None, None
            self._show_title()
            self.reload()

    @on(WordsLoaded)
    def _vocabulary_loaded(self, message: WordsLoaded) -> None:
        words = message.words
        self.vocabulary = Vocabulary(channels=words.channels, teams=words.teams, agents=words.agents, tags=words.tags)

    # Views and search -------------------------------------------------------------------------------
    def action_view(self, number: int) -> None:
        views = list(self.desk.views)
        if number > len(views):
            self.notify(f"No view {number}: there are {len(views)} (see [views] in socialdesk.toml).", markup=False)
            return
        self._open_view(views[number - 1])

    def _open_view(self, name: str) -> None:
        if name not in self.desk.views:
            self.notify(f"No view {name!r}. Views: {', '.join(self.desk.views)}.", severity="warning", markup=False)
            return
        flt = self._parse(self.search, self.desk.views[name])
        if flt is not None:
            self.view_name, self.view_query = name, self.desk.views[name]
            self._set_filter(replace(flt, collapse=flt.collapse or self.filter.collapse))

    def action_toggle_mine(self) -> None:
        self._open_view("open" if self.filter.assignee == "me" and "open" in self.desk.views else "mine")

    def action_search(self) -> None:
        search = self.query_one("#queue-search", Input)
        search.value = self.search
        self.add_class("searching")
        search.focus()

    @on(Input.Submitted, "#queue-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        self._apply_search(event.value.strip())

    def _apply_search(self, text: str) -> None:
        flt = self._parse(text, self.view_query)
        if flt is None:
            return
        self.search = text
        if not text:
            self.remove_class("searching")
        self.queue_list.focus()
        self._set_filter(replace(flt, collapse=self.filter.collapse))

    def action_clear_search(self) -> None:
        self.query_one("#queue-search", Input).value = ""
        self.remove_class("searching")
        self._apply_search("")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_search":
            return self.has_class("searching") or bool(self.search)
        return True

    def screen_verb(self, line: Line) -> None:
        if line.verb == "view":
            self._open_view(line.argument)
        elif line.verb == "search":
            self._apply_search(line.argument)
        elif line.verb == "mark":
            self._mark_matching(line.argument)
        elif line.verb == "unmark":
            self.action_clear_marks()
        elif line.verb == "clusters":
            self.action_toggle_clusters()
        else:
            super().screen_verb(line)

    def action_toggle_clusters(self) -> None:
        self._set_filter(replace(self.filter, collapse=not self.filter.collapse))

    # Other actions ----------------------------------------------------------------------------------
    def action_open(self) -> None:
        row = self.queue_list.highlighted
        if row is not None:
            self._open(row.id)

    def _open(self, conversation_id: int) -> None:
        self.app.push_screen(ConversationScreen(conversation_id, desk=self.desk))

    @on(ScreenResume)
    def _count_on_return(self) -> None:
        if self._started:  # back from a conversation: its changes may have moved the count
            self._schedule_count(at_once=True)

    def after_command(self, outcome: Outcome) -> None:
        super().after_command(outcome)
        self._schedule_count(at_once=True)

    def action_refresh(self) -> None:
        self.desk.forget_searches()
        self.reload(live=True)
        self._schedule_count(at_once=True)

    def action_channels(self) -> None:
        self.app.push_screen(ChannelsScreen(self.desk))

    def action_open_next(self) -> None:
        self._choose_next(self.filter)

    @work(thread=True, exclusive=True, group="queue-next", exit_on_error=False)
    def _choose_next(self, flt: QueueFilter) -> None:
        self.post_message(NextChosen(self.desk.first_free(flt)))

    @on(NextChosen)
    def _next_chosen(self, message: NextChosen) -> None:
        if message.conversation_id is None:
            self.notify("Nothing free in this queue.", markup=False)
        else:
            self._open(message.conversation_id)

    def palette_commands(self) -> list[PaletteCommand]:
        views = [(f"View: {name}", f"{describe_view(query)} (key {n})" if n < 10 else describe_view(query),
                  lambda name=name: self._open_view(name))
                 for n, (name, query) in enumerate(self.desk.views.items(), start=1)]
        return [
            ("Open next conversation", "Open the first free conversation in this view", self.action_open_next),
            ("Search and filter", "Words, channel:, tag:, p:, age:, is:… (/)", self.action_search),
            *super().palette_commands(),
            ("Resolve", "With a resolution code (R)", lambda: self.action_prompt("resolve ")),
            ("Holding reply", "A canned reply to the highlighted or marked conversations",
             lambda: self.action_prompt("reply ")),
            ("Act on marked", "The next command acts on every marked conversation (;)", self.action_apply_to_marked),
            ("Mark matching", "Mark every conversation a search matches (T)", self.action_mark_pattern),
            ("Mark range", "From here to where V is pressed again (V)", self.action_mark_range),
            ("Mark cluster", "Every open conversation of this incident cluster (C)", self.action_mark_cluster),
            ("Unmark all", "Clear every mark (M)", self.action_clear_marks),
            ("Fold clusters", "One row per incident cluster, or every row (z)", self.action_toggle_clusters),
            *views,
            ("Refresh", "Reload the queue now (r)", self.action_refresh),
            ("Channel health", "Every channel's streams: last success, last error, rate limit left (c)",
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


def describe_view(query: str) -> str:
    return query or "every open conversation"
