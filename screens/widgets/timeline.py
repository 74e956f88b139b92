"""A conversation's thread as one timeline: messages from every channel and the outbox, by time.

All customer text is made terminal-safe and shown as `Text`, never parsed as markup.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from socialdesk.screens import format as fmt
from socialdesk.store.views import ConversationDetail, MessageView, NoteView, OutboxView
from socialdesk.text import terminal_safe

OUTBOX_STATE_STYLES = {"queued": "yellow", "sending": "cyan", "sent": "green", "failed": "bold red",
                       "approval": "bold yellow"}


def _safe(text: str | None) -> str:
    return terminal_safe(text or "", single_line=True)


PURPOSES = {"closeout": "public close-out", "csat": "satisfaction survey", "note": "public note on the move"}


def message_text(message: MessageView, at: datetime, purpose: str | None = None) -> Text:
    inbound = message.direction == "in"
    head = Text(no_wrap=True, overflow="ellipsis")
    head.append("◀ " if inbound else "▶ ", style="bold cyan" if inbound else "bold green")
    head.append(_safe(message.author_handle), style="bold")
    if message.author_name and message.author_name != message.author_handle:
        head.append(" " + _safe(message.author_name))
    head.append(f" · {_safe(message.channel)} · {_safe(message.kind)} · ", style="dim")
    head.append(_safe(message.visibility), style="magenta" if message.visibility == "private" else "dim")
    if purpose in PURPOSES:
        head.append(f" · {PURPOSES[purpose]}", style="bold")
    when = fmt.age(message.published_at, at)
    head.append(f" · {when} ago" if inbound else f" · sent {when} ago", style="dim")
    if message.edited_at is not None:
        head.append(f" · edited {fmt.age(message.edited_at, at)} ago", style="yellow")
    if message.deleted_at is not None:
        head.append(" · deleted by the author", style="bold red")
    body = Text(terminal_safe(message.text), style="strike dim" if message.deleted_at is not None else "")
    return Text("\n").join([head, body])


def outbox_text(entry: OutboxView, at: datetime) -> Text:
    head = Text(no_wrap=True, overflow="ellipsis")
    head.append("⇢ outbox · ", style="bold")
    head.append(entry.state, style=OUTBOX_STATE_STYLES.get(entry.state, "bold"))
    route = entry.kind or entry.visibility
    if entry.purpose in PURPOSES:
        route = f"{PURPOSES[entry.purpose]}: {route}"
    if entry.channel:
        route += f" on {entry.channel}"
    if entry.kind == "email" and entry.recipient:
        route += f" to {entry.recipient}"
    head.append(f" · {_safe(route)} · {_safe(entry.visibility)} · {fmt.age(entry.created_at, at)} ago", style="dim")
    if entry.attempts:
        head.append(f" · {entry.attempts} attempt{'s' if entry.attempts != 1 else ''}", style="dim")
    lines = [head]
    if entry.last_error and entry.state != "sent":
        lines.append(Text("error: " + _safe(entry.last_error), style="red"))
    if entry.state == "approval" and entry.approval_reason:
        lines.append(Text("waiting for a supervisor: " + _safe(entry.approval_reason), style="yellow"))
    lines.append(Text(terminal_safe(entry.text)))
    return Text("\n").join(lines)


def note_text(note: NoteView, at: datetime) -> Text:
    head = Text(no_wrap=True, overflow="ellipsis")
    head.append("✎ internal note", style="bold")
    head.append(f" · {_safe(note.author)} · {fmt.age(note.created_at, at)} ago · never sent", style="dim")
    return Text("\n").join([head, Text(terminal_safe(note.text), style="italic")])


class Timeline(VerticalScroll, can_focus=True):
    """The messages and outbox entries of one conversation, oldest first."""

    DEFAULT_CSS = """
    Timeline { height: 1fr; padding: 0 1; }
    Timeline > .entry { margin-bottom: 1; padding-left: 1; border-left: tall $primary-muted; }
    Timeline > .inbound { border-left: tall $accent; }
    Timeline > .outbound { border-left: tall $success; margin-left: 4; }
    Timeline > .outbox { border-left: tall $warning; margin-left: 4; color: $text-muted; }
    Timeline > .failed { border-left: tall $error; }
    Timeline > .note { border-left: dashed $secondary; margin-left: 8; }
    Timeline > .empty { color: $text-muted; }
    """

    async def show(self, detail: ConversationDetail) -> None:
        """Rebuild the entries; stays at the bottom when it was there (or on the first show)."""
        at = fmt.now()
        follow = not self.children or self.scroll_y >= self.max_scroll_y
        items: list[tuple[datetime, Static]] = []
        purposes = {entry.message_id: entry.purpose for entry in detail.outbox if entry.message_id}
        for message in detail.messages:
            classes = "entry " + ("inbound" if message.direction == "in" else "outbound")
            text = message_text(message, at, purposes.get(message.id))
            items.append((fmt.aware(message.published_at), Static(text, classes=classes)))
        shown = {m.id for m in detail.messages}
        for entry in detail.outbox:
            if entry.message_id in shown:
                continue  # it shows as the outbound message it became
            classes = "entry outbox" + (" failed" if entry.state == "failed" else "")
            items.append((fmt.aware(entry.created_at), Static(outbox_text(entry, at), classes=classes)))
        for note in detail.notes:
            items.append((fmt.aware(note.created_at), Static(note_text(note, at), classes="entry note")))
        items.sort(key=lambda item: item[0])
        with self.app.batch_update():
            await self.remove_children()
            if items:
                await self.mount_all([widget for _, widget in items])
            else:
                await self.mount(Static("No messages.", classes="empty"))
        if follow:
            self.scroll_end(animate=False, immediate=True)
