"""Cells of the queue list: which columns fit at a width, how wide each is, and row text made safe.

The snippet takes whatever is left; narrower terminals drop tags first, then the channel and
the assignee, so the list stays readable at 80 columns and below.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from rich.cells import cell_len, set_cell_size

from socialdesk.store.views import QueueRow
from socialdesk.text import terminal_safe

CLOCK_COLUMNS = frozenset({"published", "assigned"})
MIN_SNIPPET = 8

HEADINGS = {
    "mark": "",
    "priority": "Pr",
    "published": "Age",
    "assigned": "Asg",
    "channel": "Channel",
    "author": "Author",
    "snippet": "Message",
    "tags": "Tags",
    "assignee": "Assignee",
}

# (minimum width, channel, author, tags, assignee); 0 drops the column.
_TIERS = (
    (140, 14, 22, 22, 14),
    (110, 11, 18, 16, 11),
    (96, 9, 15, 12, 9),
    (70, 9, 15, 0, 9),
    (56, 0, 14, 0, 8),
    (0, 0, 12, 0, 0),
)


@lru_cache(maxsize=32)
def layout_columns(width: int) -> tuple[tuple[str, int], ...]:
    """(column, width) pairs, one space between columns, filling `width` exactly when possible."""
    _, channel, author, tags, assignee = next(tier for tier in _TIERS if width >= tier[0])
    before = [("mark", 1), ("priority", 2), ("published", 4), ("assigned", 4)]
    if channel:
        before.append(("channel", channel))
    before.append(("author", author))
    after = [(name, size) for name, size in (("tags", tags), ("assignee", assignee)) if size]
    used = sum(size for _, size in before + after) + len(before) + len(after)
    snippet = max(MIN_SNIPPET, width - used)
    return tuple(before + [("snippet", snippet)] + after)


def fit(text: str, width: int, *, right: bool = False) -> str:
    """`text` padded or cut (with an ellipsis) to exactly `width` cells."""
    if width <= 0:
        return ""
    length = cell_len(text)
    if length > width:
        return set_cell_size(text, width - 1) + "…"
    if right:
        return " " * (width - length) + text
    return set_cell_size(text, width)


@dataclass(frozen=True, slots=True)
class SafeRow:
    """A row with its customer text already made terminal-safe (done once, not per frame)."""

    row: QueueRow
    channel: str
    author: str
    snippet: str
    tags: str
    assignee: str


def safe_row(row: QueueRow) -> SafeRow:
    return SafeRow(
        row,
        terminal_safe(row.channel, single_line=True),
        terminal_safe(row.author_handle, single_line=True),
        terminal_safe(row.snippet, single_line=True),
        terminal_safe(" ".join(row.tags), single_line=True),
        terminal_safe(row.assignee or "", single_line=True),
    )
