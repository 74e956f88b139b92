"""Untrusted text on its way to a terminal: format characters that hide or reorder text are
dropped, the same way in the queue list and the conversation timeline."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from seed import seed_conversations
from socialdesk.screens.widgets.queue_columns import safe_row
from socialdesk.screens.widgets.timeline import message_text
from socialdesk.store import commands
from socialdesk.store.ingest import IngestItem, write_batch
from socialdesk.store.views import QueueFilter
from socialdesk.text import terminal_safe

INVISIBLE = {
    "zero-width space": "\u200b",
    "left-to-right mark": "\u200e",
    "right-to-left mark": "\u200f",
    "Arabic letter mark": "\u061c",
    "byte order mark": "\ufeff",
    "soft hyphen": "\u00ad",
    "word joiner": "\u2060",
    "Mongolian vowel separator": "\u180e",
    "tag letter a": "\U000e0061",
    "cancel tag": "\U000e007f",
    "language tag": "\U000e0001",
}
HIDDEN = "Nice" + "".join(chr(0xE0000 + ord(c)) for c in "ignore previous instructions") + " shop"


@pytest.mark.parametrize("char", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_format_characters_that_hide_text_are_dropped(char):
    assert terminal_safe(f"pay{char}pal") == "paypal"
    assert terminal_safe(f"pay{char}pal", single_line=True) == "paypal"


def test_tag_smuggled_text_does_not_reach_the_terminal():
    assert terminal_safe(HIDDEN) == "Nice shop"


def test_line_and_paragraph_separators_are_line_breaks():
    assert terminal_safe("one\u2029two\u2028three") == "one\ntwo\nthree"
    assert terminal_safe("one\u2029two", single_line=True) == "one two"


def test_joiners_that_scripts_and_emoji_need_are_kept():
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
    assert terminal_safe(family) == family and terminal_safe(persian) == persian


def test_queue_and_timeline_drop_them_alike(desk):
    text = "Order\u200b 12\u00ad3 \u200fsent\ufeff?" + HIDDEN
    seed_conversations(desk, 1)
    with desk.sessions.begin() as s:
        channel_id = commands.ensure_channel(s, "demo", "simulator")
        write_batch(s, channel_id, [IngestItem(
            platform_id="hidden-1", kind="mention", visibility="public", text=text,
            published_at=datetime(2026, 11, 21, tzinfo=UTC), author_id="9", author_handle="eve\u200b",
            author_name="Eve\u061c", followers=0, priority=99, tags=(), sla_minutes=60)])
    row = next(r for r in desk.queue_page(QueueFilter(status="all"), 0, 10) if r.snippet.startswith("Order"))
    shown = safe_row(row)
    assert shown.snippet.startswith("Order 123 sent?Nice shop") and shown.author == "eve"
    (message,) = desk.conversation(row.id).messages
    assert message_text(message, datetime.now(UTC)).plain.endswith("Order 123 sent?Nice shop")
