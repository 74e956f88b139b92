"""The virtual queue list: renders only the visible rows of a queue of any length.

The list holds no more than a few windows of rows, keyed by their offset in the queue. When a
visible line has no row yet it draws a placeholder and posts `WindowWanted` once per frame; the
screen fetches that window in a worker and hands it back with `load`. `replace` swaps in a fresh
snapshot (a new filter, or the store changed) and bumps a generation so late windows from the
previous snapshot are dropped.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.events import Click
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from socialdesk.screens import format as fmt
from socialdesk.screens.widgets.queue_columns import CLOCK_COLUMNS, HEADINGS, SafeRow, fit, layout_columns, safe_row
from socialdesk.store.views import QueueRow

CLOCK_TICK = 30.0


def _flags(row: QueueRow) -> str:
    """What a row's message cell starts with: a failed or held reply, the incident cluster's size."""
    flags = {"failed": "✗ send failed · ", "approval": "⌛ approval · "}.get(row.outbox or "", "")
    return flags + (f"⧉{row.cluster_size} " if row.cluster_size > 1 else "")


class QueueList(ScrollView, can_focus=True):
    """Line 0 is the column heading; line n shows the queue row at offset scroll_y + n - 1."""

    BINDINGS = [
        Binding("down,j", "move(1)", "Down", show=False, id="queue.down"),
        Binding("up,k", "move(-1)", "Up", show=False, id="queue.up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="queue.page_down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="queue.page_up"),
        Binding("home", "jump(0)", "First", show=False, id="queue.first"),
        Binding("end", "jump(-1)", "Last", show=False, id="queue.last"),
    ]
    COMPONENT_CLASSES = {
        "queue-list--heading", "queue-list--cursor", "queue-list--placeholder", "queue-list--mark",
        "queue-list--late", "queue-list--soon", "queue-list--p1", "queue-list--p2",
        "queue-list--dim", "queue-list--author-mark",
    }
    DEFAULT_CSS = """
    QueueList { overflow-x: hidden; scrollbar-size-vertical: 1; }
    QueueList > .queue-list--heading { text-style: bold; color: $text-muted; }
    QueueList > .queue-list--cursor { background: $surface-lighten-1; }
    QueueList:focus > .queue-list--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }
    QueueList > .queue-list--placeholder { color: $text-disabled; }
    QueueList > .queue-list--mark { color: $accent; text-style: bold; }
    QueueList > .queue-list--late { color: $error; text-style: bold; }
    QueueList > .queue-list--soon { color: $warning; }
    QueueList > .queue-list--p1 { color: $error; text-style: bold; }
    QueueList > .queue-list--p2 { color: $warning; }
    QueueList > .queue-list--dim { color: $text-muted; }
    QueueList > .queue-list--author-mark { color: $secondary; }
    """

    cursor: reactive[int] = reactive(0, repaint=False)

    class WindowWanted(Message):
        """Rows offset..offset+limit of snapshot `generation` are needed; `after` is the row at
        offset-1 when the list has it (for keyset paging); `tail`: they are the last rows (read
        backwards from the end rather than counted off from the start)."""

        def __init__(self, generation: int, offset: int, limit: int, after: QueueRow | None,
                     tail: bool = False) -> None:
            super().__init__()
            self.generation, self.offset, self.limit, self.after, self.tail = generation, offset, limit, after, tail

    class Highlighted(Message):
        def __init__(self, row: QueueRow | None) -> None:
            super().__init__()
            self.row = row

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.total = 0
        self.generation = 0
        self.marked: dict[int, int] = {}  # conversation id -> its version when marked
        self._entries: dict[int, SafeRow] = {}
        self._in_flight: tuple[int, int, int] | None = None
        self._fetch_scheduled = False

    def on_mount(self) -> None:
        self.set_interval(CLOCK_TICK, self.refresh)  # the clocks move even when the data does not

    # Data ---------------------------------------------------------------------------------------
    @property
    def rows_held(self) -> int:
        return len(self._entries)

    @property
    def highlighted(self) -> QueueRow | None:
        entry = self._entries.get(self.cursor)
        return entry.row if entry else None

    def row_at(self, offset: int) -> QueueRow | None:
        entry = self._entries.get(offset)
        return entry.row if entry else None

    def replace(
        self, total: int | None, offset: int, rows: list[QueueRow], keep_id: int | None = None, *,
        reset: bool = False, limit: int = 0,
    ) -> None:
        """Show a fresh snapshot and forget the old windows. The cursor follows `keep_id` when that
        row is in `rows`, else keeps its offset (clamped); `reset` puts it back at the top.
        `total` None: not counted yet (see `set_total`); the list then knows what it was given."""
        self.generation += 1
        self._in_flight = None
        if total is None:
            total = self._guess_total(offset, len(rows), limit, reset)
        old, self._entries = self._entries, {}
        changed: list[int] = []
        for i, row in enumerate(rows):  # a row that did not change keeps its prepared cells
            kept = old.get(offset + i)
            self._entries[offset + i] = kept if kept is not None and kept.row == row else safe_row(row)
            if self._entries[offset + i] is not kept:
                changed.append(offset + i)
            if row.id in self.marked:  # marks follow the rows as they change
                self.marked[row.id] = row.version
        resized = total != self.total
        self.total = total
        if resized:
            self.virtual_size = Size(0, total + 1)
        if reset:
            self.scroll_to(y=0, animate=False)
        fallback = 0 if reset else self.cursor
        target = next((offset + i for i, row in enumerate(rows) if row.id == keep_id), fallback)
        self.move_to(target, force_event=True)
        if reset or resized:
            self.refresh()
        else:  # only the lines whose row changed
            top = int(self.scroll_y)
            for index in changed:
                if top <= index < top + self.size.height:
                    self.refresh_line(index - top + 1)

    def _guess_total(self, offset: int, count: int, limit: int, reset: bool) -> int:
        """Before the count: a window that came back short ends the queue; a full one says
        there is at least one row more."""
        seen = offset + count
        if limit and count < limit:
            return seen
        return seen + 1 if reset else max(self.total, seen + 1)

    def set_total(self, total: int) -> None:
        """The count arrived (it is fetched apart from the rows, never before the first frame)."""
        if total != self.total:
            self.total = total
            self.virtual_size = Size(0, total + 1)
            if self.cursor >= total:
                self.move_to(total - 1)
            self.refresh()

    def load(self, generation: int, offset: int, rows: list[QueueRow]) -> None:
        """A window asked for with `WindowWanted` arrived (empty when the fetch failed: the next
        scroll asks again, nothing retries in a loop)."""
        if generation != self.generation:
            return
        self._in_flight = None
        if not rows:
            return
        for i, row in enumerate(rows):
            self._entries[offset + i] = safe_row(row)
            if row.id in self.marked:
                self.marked[row.id] = row.version
        self._forget_far_rows()
        if offset <= self.cursor < offset + len(rows):
            self.post_message(self.Highlighted(self.highlighted))
        self.refresh()

    def _forget_far_rows(self) -> None:
        """Keep only rows within a few screens of the viewport."""
        height = max(self.size.height, 10)
        if len(self._entries) <= 8 * height:
            return
        low, high = int(self.scroll_y) - 3 * height, int(self.scroll_y) + 4 * height
        self._entries = {i: e for i, e in self._entries.items() if low <= i < high or i == self.cursor}

    def _request_window(self) -> None:
        """Ask for the missing rows of the viewport plus one screen either side."""
        self._fetch_scheduled = False
        height = max(self.size.height - 1, 1)
        top = int(self.scroll_y)
        visible = [i for i in range(top, min(top + height, self.total)) if i not in self._entries]
        if not visible:
            return
        flight = self._in_flight
        if flight and flight[0] == self.generation and flight[1] <= visible[0] and visible[-1] < flight[2]:
            return
        low, high = max(0, top - height), min(self.total, top + 2 * height)
        missing = [i for i in range(low, high) if i not in self._entries]
        start, end = missing[0], missing[-1] + 1
        self._in_flight = (self.generation, start, end)
        after = self.row_at(start - 1)
        tail = after is None and end == self.total and start > 0
        self.post_message(self.WindowWanted(self.generation, start, end - start, after, tail))

    # Cursor and marks ------------------------------------------------------------------------------
    def move_to(self, offset: int, *, force_event: bool = False) -> None:
        offset = max(0, min(offset, self.total - 1))
        changed = offset != self.cursor
        self.cursor = offset
        self.scroll_to_cursor()
        if force_event and not changed:
            self.post_message(self.Highlighted(self.highlighted))

    def scroll_to_cursor(self) -> None:
        height = max(self.size.height - 1, 1)
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False)

    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh_line(old + 1)
        self.refresh_line(new + 1)
        self.post_message(self.Highlighted(self.highlighted))

    def toggle_mark(self) -> None:
        row = self.highlighted
        if row is not None:
            if self.marked.pop(row.id, None) is None:
                self.marked[row.id] = row.version
            self.refresh_line(self.cursor + 1)

    def loaded_between(self, first: int, last: int) -> dict[int, int] | None:
        """id -> version of the rows first..last (offsets), or None if some are not loaded."""
        rows = [self._entries.get(i) for i in range(first, last + 1)]
        if any(entry is None for entry in rows):
            return None
        return {entry.row.id: entry.row.version for entry in rows}

    def add_marks(self, marks: dict[int, int]) -> None:
        self.marked.update(marks)
        self.refresh()

    def clear_marks(self) -> None:
        self.marked.clear()
        self.refresh()

    def action_move(self, delta: int) -> None:
        self.move_to(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        height = max(self.size.height - 1, 1)
        self.scroll_to(y=self.scroll_y + direction * height, animate=False)
        self.move_to(self.cursor + direction * height)

    def action_jump(self, offset: int) -> None:
        self.move_to(offset if offset >= 0 else self.total - 1)

    def on_click(self, event: Click) -> None:
        offset = int(self.scroll_y) + event.y - 1
        if event.y >= 1 and offset < self.total:
            self.move_to(offset)

    # Rendering -------------------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if y == 0:
            return self._render_cells(HEADINGS, width, base + self._part("queue-list--heading"), {})
        offset = int(self.scroll_y) + y - 1
        if offset >= self.total:
            if y == 1:  # say why the list is empty
                note = "  Loading…" if self.generation == 0 else "  No conversations match."
                return Strip([Segment(fit(note, width), base + self._part("queue-list--placeholder"))], width)
            return Strip.blank(width, base)
        if offset == self.cursor:
            base = base + self._part("queue-list--cursor")
        entry = self._entries.get(offset)
        if entry is None:
            if not self._fetch_scheduled:
                self._fetch_scheduled = True
                self.call_later(self._request_window)
            return Strip([Segment(fit("  …", width), base + self._part("queue-list--placeholder"))], width)
        return self._render_entry(entry, width, base)

    def _part(self, name: str) -> Style:
        return self.get_component_rich_style(name, partial=True)

    def _render_entry(self, entry: SafeRow, width: int, base: Style) -> Strip:
        row, at = entry.row, fmt.now()
        sla = fmt.sla_state(row.sla_due_at, at)
        clock_style = self._part(f"queue-list--{sla}") if sla != "ok" else Style()
        marks = fmt.author_marks(row.followers, row.key_customer, row.private)
        priority = fmt.priority_label(row.priority)
        cells = {
            "mark": "●" if row.id in self.marked else " ",
            "priority": priority,
            "published": fmt.age(row.published_at, at),
            "assigned": fmt.age(row.assigned_at, at) or "–",
            "channel": entry.channel,
            "author": (marks + " " if marks else "") + entry.author,
            "snippet": _flags(row) + entry.snippet,
            "tags": entry.tags,
            "assignee": entry.assignee,
        }
        styles = {
            "mark": self._part("queue-list--mark"),
            "priority": self._part(f"queue-list--{priority.lower()}") if priority in ("P1", "P2") else Style(),
            "published": clock_style,
            "assigned": clock_style if row.assigned_at else self._part("queue-list--dim"),
            "channel": self._part("queue-list--dim"),
            "tags": self._part("queue-list--dim"),
        }
        strip = self._render_cells(cells, width, base, styles)
        if marks:
            return self._style_author_marks(strip, width, len(marks), base)
        return strip

    def _render_cells(self, cells: dict[str, str], width: int, base: Style, styles: dict[str, Style]) -> Strip:
        segments: list[Segment] = []
        for name, size in layout_columns(width):
            if segments:
                segments.append(Segment(" ", base))
            text = fit(cells.get(name, ""), size, right=name in CLOCK_COLUMNS)
            segments.append(Segment(text, base + styles[name] if name in styles else base))
        return Strip(segments).adjust_cell_length(width, base)

    def _style_author_marks(self, strip: Strip, width: int, count: int, base: Style) -> Strip:
        """Colour the ★♦✉ marks at the start of the author column."""
        start = sum(size + 1 for name, size in layout_columns(width)[: self._author_index(width)])
        if start + count > width:
            return strip
        head, marks, tail = strip.divide([start, start + count, width])
        coloured = Strip([Segment(seg.text, (seg.style or base) + self._part("queue-list--author-mark")) for seg in marks])
        return Strip.join([head, coloured, tail])

    @staticmethod
    def _author_index(width: int) -> int:
        return [name for name, _ in layout_columns(width)].index("author")
