"""One conversation: the whole thread, the contact, and a composer for the reply."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static, TextArea

from socialdesk.screens import format as fmt
from socialdesk.screens.base import DeskScreen, PaletteCommand
from socialdesk.screens.messages import ActionDone, ConversationLoaded, ReplyQueued, ReplyRefused
from socialdesk.screens.widgets.timeline import Timeline
from socialdesk.services.desk import Desk, ReplyRejected
from socialdesk.store.views import ConversationDetail
from socialdesk.text import terminal_safe


class ConversationScreen(DeskScreen):
    BINDINGS = [
        Binding("escape", "back", "Back", id="conversation.back", tooltip="Back to the queue (keeps a draft first)"),
        Binding("ctrl+s", "send", "Send", id="conversation.send", tooltip="Queue the reply for sending"),
        Binding("ctrl+t", "toggle_visibility", "Public/DM", id="conversation.visibility",
                tooltip="Switch the reply between public and private"),
        Binding("w", "write", "Write", id="conversation.write", tooltip="Move to the composer"),
        Binding("a", "assign", "Assign", id="conversation.assign", tooltip="Assign this conversation to me"),
        Binding("ctrl+r", "resolve", "Resolve", id="conversation.resolve", tooltip="Mark the conversation resolved"),
    ]

    def __init__(self, conversation_id: int, *, desk: Desk | None = None) -> None:
        super().__init__(desk)
        self.conversation_id = conversation_id
        self.detail: ConversationDetail | None = None
        self.visibility: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(f"#{self.conversation_id} · loading…", id="conversation-title", markup=False)
        yield Static("", id="conversation-contact", markup=False)
        yield Timeline(id="timeline")
        yield Static("", id="composer-bar", markup=False)
        yield TextArea(id="composer", placeholder="Write a reply… (ctrl+s sends, ctrl+t public/private)")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(Timeline).focus()
        self._show_counter()
        self.reload()

    @property
    def composer(self) -> TextArea:
        return self.query_one("#composer", TextArea)

    # Loading ----------------------------------------------------------------------------------------
    def reload(self, *, live: bool = False) -> None:
        self._load(self.conversation_id)

    @work(thread=True, exclusive=True, group="conversation-load", exit_on_error=False)
    def _load(self, conversation_id: int) -> None:
        self.post_message(ConversationLoaded(conversation_id, self.desk.conversation(conversation_id)))

    @on(ConversationLoaded)
    async def _loaded(self, message: ConversationLoaded) -> None:
        detail = message.detail
        if detail is None:
            self.query_one("#conversation-title", Static).update(f"#{message.conversation_id} · not found")
            return
        if detail == self.detail:
            return
        self.detail = detail
        if self.visibility is None:
            inbound = [m for m in detail.messages if m.direction == "in"]
            self.visibility = inbound[-1].visibility if inbound else "public"
        self.query_one("#conversation-title", Static).update(self._title(detail))
        self.query_one("#conversation-contact", Static).update(self._contact(detail))
        self._show_counter()
        await self.query_one(Timeline).show(detail)

    def _title(self, detail: ConversationDetail) -> Text:
        at = fmt.now()
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append(f"#{detail.id} ", style="bold")
        title.append(detail.status, style="bold reverse" if detail.status in ("resolved", "closed") else "bold")
        title.append(f" · {fmt.priority_label(detail.priority)}")
        title.append(" · ")
        if detail.assignee:
            title.append("owner " + terminal_safe(detail.assignee, single_line=True))
        else:
            title.append("unassigned", style="italic")
        if detail.sla_due_at is not None:
            state = fmt.sla_state(detail.sla_due_at, at)
            style = {"late": "bold red", "soon": "yellow"}.get(state, "")
            label = "SLA late" if state == "late" else "SLA " + fmt.age(at, fmt.aware(detail.sla_due_at)) + " left"
            title.append(" · ")
            title.append(label, style=style)
        if detail.resolution_code:
            title.append(" · " + terminal_safe(detail.resolution_code, single_line=True))
        if detail.tags:
            title.append(" · " + terminal_safe(" ".join(detail.tags), single_line=True), style="dim")
        return title

    def _contact(self, detail: ConversationDetail) -> Text:
        contact = detail.contact
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(terminal_safe(contact.handle, single_line=True), style="bold")
        if contact.verified:
            line.append(" ✓", style="green")
        if contact.display_name:
            line.append(" · " + terminal_safe(contact.display_name, single_line=True))
        line.append(f" · {fmt.followers_label(contact.followers)} followers", style="dim")
        if contact.location:
            line.append(" · " + terminal_safe(contact.location, single_line=True), style="dim")
        line.append(" · " + terminal_safe(contact.channel, single_line=True), style="dim")
        return line

    @on(TextArea.Changed, "#composer")
    def _show_counter(self) -> None:
        visibility = self.visibility or "public"
        count = len(self.composer.text.strip())
        limit = self.desk.max_length(self.detail.contact.channel) if self.detail else None
        bar = Text(no_wrap=True)
        if limit:
            bar.append(f"{count}/{limit}", style="bold red" if count > limit else "bold" if count else "dim")
        else:
            bar.append(f"{count} chars", style="bold" if count else "dim")
        bar.append(" · ")
        bar.append(visibility, style="bold magenta" if visibility == "private" else "bold")
        bar.append("  (ctrl+t to switch)", style="dim")
        self.query_one("#composer-bar", Static).update(bar)

    # Actions ----------------------------------------------------------------------------------------
    def action_back(self) -> None:
        if self.composer.has_focus and self.composer.text.strip():
            self.query_one(Timeline).focus()
            self.notify("Draft kept; press escape again to go back.", markup=False)
            return
        self.dismiss()

    def action_write(self) -> None:
        self.composer.focus()

    def action_toggle_visibility(self) -> None:
        self.visibility = "private" if self.visibility == "public" else "public"
        self._show_counter()

    def action_send(self) -> None:
        self._send(self.conversation_id, self.composer.text, self.visibility or "public")

    @work(thread=True, exclusive=True, group="conversation-send", exit_on_error=False)
    def _send(self, conversation_id: int, text: str, visibility: str) -> None:
        try:
            self.post_message(ReplyQueued(self.desk.reply(conversation_id, text, visibility)))
        except ReplyRejected as rejected:
            self.post_message(ReplyRefused(str(rejected)))

    @on(ReplyQueued)
    def _reply_queued(self, message: ReplyQueued) -> None:
        self.composer.clear()
        self.notify(f"Reply queued ({message.outbox.visibility}).", markup=False)
        self.reload()

    @on(ReplyRefused)
    def _reply_refused(self, message: ReplyRefused) -> None:
        self.notify(terminal_safe(message.reason), title="Reply not sent", severity="error", markup=False)

    def action_assign(self) -> None:
        self._change("assigned")

    def action_resolve(self) -> None:
        self._change("resolved")

    @work(thread=True, group="conversation-change", exit_on_error=False)
    def _change(self, what: str) -> None:
        if what == "assigned":
            ok = self.desk.assign(self.conversation_id)
        else:
            ok = self.desk.set_status(self.conversation_id, what)
        self.post_message(ActionDone(what, self.conversation_id, ok))

    @on(ActionDone)
    def _action_done(self, message: ActionDone) -> None:
        if message.ok:
            self.notify(f"#{message.conversation_id} {message.what}.", markup=False)
        else:
            self.notify(f"#{message.conversation_id} was not {message.what}: someone else has it.",
                        severity="warning", markup=False)
        self.reload()

    def palette_commands(self) -> list[PaletteCommand]:
        return [
            ("Assign to me", "Take this conversation", self.action_assign),
            ("Resolve", "Mark this conversation resolved", self.action_resolve),
            ("Send reply", "Queue the reply in the composer", self.action_send),
            ("Switch public/private", "Change the reply's visibility", self.action_toggle_visibility),
            ("Back to the queue", "Close this conversation", self.dismiss),
        ]
