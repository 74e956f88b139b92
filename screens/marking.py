"""The queue's marks (neomutt's and aerc's habits): space marks one, V a range, T every match of
a search, C an incident cluster, M clears them; `;` makes the next command act on them all.
Marks are conversation ids with the version each had when marked, so a command skips the ones
that changed since; they follow their rows through live updates and scrolling."""

from __future__ import annotations

from textual import on, work
from textual.binding import Binding

from socialdesk.screens.acting import ActingScreen, Target
from socialdesk.screens.messages import MarksAdded
from socialdesk.screens.widgets.command_line import CommandLine
from socialdesk.services.commands import Outcome, Selection
from socialdesk.services.query import describe
from socialdesk.store.views import QueueFilter
from socialdesk.text import terminal_safe


class MarkingScreen(ActingScreen):
    """Marks over the queue list; the queue screen provides `queue_list`, `filter`, `view_name`,
    `_parse` and `_show_summary`."""

    BINDINGS = [
        Binding("V", "mark_range", "Mark range", show=False, id="queue.mark_range",
                tooltip="Mark every row from here to where you press V again"),
        Binding("T", "mark_pattern", "Mark matching", show=False, id="queue.mark_pattern",
                tooltip="Mark every conversation a search matches, not only the rows on screen"),
        Binding("C", "mark_cluster", "Mark cluster", show=False, id="queue.mark_cluster",
                tooltip="Mark every open conversation of the highlighted row's incident cluster"),
        Binding("M", "clear_marks", "Unmark all", show=False, id="queue.clear_marks", tooltip="Clear every mark"),
    ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._range_from: int | None = None

    def target(self) -> Target | None:
        marked = self.queue_list.marked
        if self.on_marked:
            if marked:
                return Target(f"{len(marked):,} marked", Selection.of(dict(marked)), len(marked))
            return Target(f"the whole view ({self.view_name})", Selection.matching(self.filter))
        row = self.queue_list.highlighted
        return Target(f"#{row.id}", Selection((row.id,), (row.version,)), 1) if row else None

    def action_mark(self) -> None:
        self.queue_list.toggle_mark()
        self.queue_list.action_move(1)
        self._show_summary()

    def action_mark_range(self) -> None:
        cursor = self.queue_list.cursor
        if self._range_from is None:
            self._range_from = cursor
            self.notify("Range starts here: move to its other end and press V again.", markup=False, timeout=4)
            return
        first, last = sorted((self._range_from, cursor))
        self._range_from = None
        loaded = self.queue_list.loaded_between(first, last)
        if loaded is not None:
            self._marks_added(MarksAdded(loaded, f"rows {first + 1}–{last + 1}"))
        else:
            self._mark_rows(self.filter, first, last - first + 1)

    @work(thread=True, group="queue-marks", exit_on_error=False)
    def _mark_rows(self, flt: QueueFilter, offset: int, count: int) -> None:
        rows = self.desk.queue_page(flt, offset, count)
        self.post_message(MarksAdded({r.id: r.version for r in rows}, f"rows {offset + 1}–{offset + count}"))

    def action_mark_pattern(self) -> None:
        self.query_one(CommandLine).open("mark " + describe(self.filter), "mark every match :")

    def _mark_matching(self, query: str) -> None:
        flt = self._parse(query, "")
        if flt is not None:
            self._mark_filter(flt, query or "every open conversation")

    @work(thread=True, group="queue-marks", exit_on_error=False)
    def _mark_filter(self, flt: QueueFilter, what: str) -> None:
        self.post_message(MarksAdded(self.desk.matching(flt), f"matching “{what}”"))

    def action_mark_cluster(self) -> None:
        row = self.queue_list.highlighted
        if row is None or row.cluster_id is None:
            self.notify("This conversation is in no incident cluster.", markup=False)
            return
        self._mark_cluster(row.cluster_id)

    @work(thread=True, group="queue-marks", exit_on_error=False)
    def _mark_cluster(self, cluster_id: int) -> None:
        self.post_message(MarksAdded(self.desk.cluster_members(cluster_id), f"in cluster {cluster_id}"))

    @on(MarksAdded)
    def _marks_added(self, message: MarksAdded) -> None:
        before = len(self.queue_list.marked)
        self.queue_list.add_marks(message.marks)
        added = len(self.queue_list.marked) - before
        self.notify(terminal_safe(f"Marked {added:,} more {message.what}; ; then a command acts on all "
                                  f"{len(self.queue_list.marked):,}."), markup=False, timeout=5)
        self._show_summary()

    def action_clear_marks(self) -> None:
        count = len(self.queue_list.marked)
        self.queue_list.clear_marks()
        self._range_from = None
        self.notify(f"Unmarked {count:,}.", markup=False, timeout=3)
        self._show_summary()

    def after_command(self, outcome: Outcome) -> None:
        if outcome.changes is not None:
            marked = self.queue_list.marked
            for row in outcome.changes.rows:  # marks keep up with what the command changed
                if row[0] in marked:
                    marked[row[0]] = row[1]
