"""One conversation: the whole thread, the contact, and a composer for the reply."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static, TextArea

from socialdesk.screens import format as fmt
from socialdesk.screens.acting import ActingScreen, Target
from socialdesk.screens.base import PaletteCommand
from socialdesk.screens.canned import CannedPicker
from socialdesk.screens.why import why
from socialdesk.screens.messages import (
    ActionDone,
    ConversationLoaded,
    ReplyQueued,
    ReplyRefused,
    RouteChosen,
    RoutesLoaded,
)
from socialdesk.screens.routes import EMAIL, RoutePicker
from socialdesk.screens.widgets.command_line import CommandLine
from socialdesk.screens.widgets.timeline import Timeline
from socialdesk.services.commands import Approve, Refused, Reply, ReplyRejected, ReplyRoute, Selection
from socialdesk.services.desk import Desk
from socialdesk.store.views import ConversationDetail
from socialdesk.text import terminal_safe


class ConversationScreen(ActingScreen):
    BINDINGS = [
        Binding("escape", "back", "Back", id="conversation.back", tooltip="Back to the queue (keeps a draft first)"),
        Binding("ctrl+s", "send", "Send", id="conversation.send", tooltip="Queue the reply for sending"),
        Binding("ctrl+t", "toggle_visibility", "Public/DM", id="conversation.visibility",
                tooltip="Switch the reply between public and private"),
        Binding("p", "pick_route", "Route", show=False, id="conversation.route",
                tooltip="How the reply goes out: public, a DM, a private reply, an email (with why one is closed)"),
        Binding("w", "write", "Write", id="conversation.write", tooltip="Move to the composer"),
        Binding("a", "take", "Take", id="conversation.assign", tooltip="Assign this conversation to me"),
        Binding("ctrl+r", "prompt('resolve ')", "Resolve", id="conversation.resolve",
                tooltip="Resolve the conversation, with a resolution code"),
        Binding("ctrl+k", "canned", "Canned", id="conversation.canned", tooltip="Insert a canned response"),
        Binding("K", "key_customer", "Key cust.", id="conversation.key_customer", show=False,
                tooltip="Flag or unflag the customer as a key customer"),
        Binding("ctrl+o", "approve", "Approve", id="conversation.approve", show=False,
                tooltip="Approve the replies waiting for a supervisor (supervisors only)"),
    ]

    def __init__(self, conversation_id: int, *, desk: Desk | None = None) -> None:
        super().__init__(desk)
        self.conversation_id = conversation_id
        self.detail: ConversationDetail | None = None
        self.visibility: str | None = None
        self.route: ReplyRoute | None = None  # chosen with p or :email; None: the default of `visibility`
        self.offer_private = False  # the privacy guard held a public reply: ctrl+t sends it privately

    def compose(self) -> ComposeResult:
        yield Static(f"#{self.conversation_id} · loading…", id="conversation-title", markup=False)
        yield Static("", id="conversation-contact", markup=False)
        yield Static("", id="conversation-why", markup=False)
        yield Timeline(id="timeline")
        yield Static("", id="composer-bar", markup=False)
        yield TextArea(id="composer", placeholder="Write a reply… (ctrl+s sends, ctrl+t public/private)")
        yield CommandLine(id="command-line")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        super().on_mount()
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
        self.load_words()
        if self.visibility is None:
            inbound = [m for m in detail.messages if m.direction == "in"]
            self.visibility = inbound[-1].visibility if inbound else "public"
        self.query_one("#conversation-title", Static).update(self._title(detail))
        self.query_one("#conversation-contact", Static).update(self._contact(detail))
        self.query_one("#conversation-why", Static).update(why(detail))
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
        route = self.route
        visibility = route.visibility if route else self.visibility or "public"
        latest = next((m for m in reversed(self.detail.messages) if m.direction == "in"), None) if self.detail else None
        channel = route.channel if route else latest.channel if latest else self.detail.contact.channel if self.detail else ""
        count = self.desk.count(channel, self.composer.text.strip())
        limit = self.desk.max_length(channel, visibility) if channel else None
        bar = Text(no_wrap=True)
        if limit:
            bar.append(f"{count}/{limit}", style="bold red" if count > limit else "bold" if count else "dim")
        else:
            bar.append(f"{count} chars", style="bold" if count else "dim")
        bar.append(" · ")
        bar.append(terminal_safe(route.label, single_line=True) if route else visibility,
                   style="bold magenta" if visibility == "private" else "bold")
        bar.append("  (ctrl+t public/private, p route)", style="dim")
        self.query_one("#composer-bar", Static).update(bar)

    # Actions ----------------------------------------------------------------------------------------
    def action_back(self) -> None:
        """Out of the composer first (keeping what is written), then back to the queue."""
        if self.composer.has_focus:
            self.query_one(Timeline).focus()
            if self.composer.text.strip():
                self.notify("Draft kept; press escape again to go back.", markup=False)
            return
        self.dismiss()

    def action_write(self) -> None:
        self.composer.focus()

    def action_toggle_visibility(self) -> None:
        self.route = None
        self.visibility = "private" if self.visibility == "public" else "public"
        self._show_counter()
        if self.offer_private and self.visibility == "private":
            self.offer_private = False
            self.action_send()

    def action_send(self) -> None:
        self._send(self.conversation_id, self.composer.text, self.visibility or "public", self.route)

    @work(thread=True, exclusive=True, group="conversation-send", exit_on_error=False)
    def _send(self, conversation_id: int, text: str, visibility: str, route: ReplyRoute | None) -> None:
        try:
            outcome = self.desk.run(Reply(text, visibility, route), Selection((conversation_id,)))
            self.post_message(ReplyQueued(outcome.detail))
        except ReplyRejected as rejected:
            self.post_message(ReplyRefused(str(rejected), rejected.go_private))
        except Refused as refused:
            self.post_message(ReplyRefused(str(refused)))

    # Routes -----------------------------------------------------------------------------------------
    def action_pick_route(self) -> None:
        self._load_routes(self.conversation_id)

    @work(thread=True, exclusive=True, group="conversation-routes", exit_on_error=False)
    def _load_routes(self, conversation_id: int) -> None:
        self.post_message(RoutesLoaded(self.desk.routes(conversation_id)))

    @on(RoutesLoaded)
    def _routes_loaded(self, message: RoutesLoaded) -> None:
        def chosen(choice: ReplyRoute | str | None) -> None:
            if choice == EMAIL:
                self.query_one(CommandLine).open("email ", "reply by email to :")
            elif isinstance(choice, ReplyRoute):
                self._use_route(choice)

        self.app.push_screen(RoutePicker(message.routes), chosen)

    def _use_route(self, route: ReplyRoute) -> None:
        if route.problem:
            self.notify(terminal_safe(route.problem), title="Not this route", severity="warning", markup=False)
            return
        self.route = route
        self._show_counter()
        self.composer.focus()

    def screen_verb(self, line) -> None:
        if line.verb == "email":
            self._email_route(self.conversation_id, line.argument)
        else:
            super().screen_verb(line)

    @work(thread=True, exclusive=True, group="conversation-routes", exit_on_error=False)
    def _email_route(self, conversation_id: int, typed: str) -> None:
        try:
            self.post_message(RouteChosen(self.desk.email_route(conversation_id, typed)))
        except Refused as refused:
            self.post_message(ReplyRefused(str(refused)))

    @on(RouteChosen)
    def _route_chosen(self, message: RouteChosen) -> None:
        self._use_route(message.route)

    @on(ReplyQueued)
    def _reply_queued(self, message: ReplyQueued) -> None:
        self.composer.clear()
        entry = message.outbox
        self.notify(terminal_safe(f"Reply queued: {entry.kind or entry.visibility} on {entry.channel}"
                                  + (f" to {entry.recipient}" if entry.kind == "email" else "") + "."), markup=False)
        self.reload()

    @on(ReplyRefused)
    def _reply_refused(self, message: ReplyRefused) -> None:
        self.offer_private = message.go_private and self.visibility == "public"
        hint = " Press ctrl+t to send it as a private message instead." if self.offer_private else ""
        self.notify(terminal_safe(message.reason) + hint, title="Reply not sent", severity="error", markup=False,
                    timeout=10)

    def action_canned(self) -> None:
        if self.detail is None:
            return
        detail = self.detail
        choices = self.desk.canned(detail)
        if not choices:
            self.notify("No canned responses fit this channel; add some under [[rules.canned]].", markup=False)
            return

        def chosen(name: str | None) -> None:
            if name:
                rendered = self.desk.render_canned(name, detail)
                self.composer.text = rendered.text
                self.composer.focus()
                if rendered.too_long:
                    warning = f"That response is {rendered.length} long; the channel allows {rendered.max_length}."
                    self.notify(warning, severity="warning", markup=False)

        self.app.push_screen(CannedPicker(choices), chosen)

    def action_approve(self) -> None:
        self.execute(Approve())

    def action_key_customer(self) -> None:
        if self.detail is not None:
            self._flag_key_customer(not self.detail.key_customer)

    @work(thread=True, group="conversation-change", exit_on_error=False)
    def _flag_key_customer(self, flag: bool) -> None:
        self.desk.flag_key_customer(self.conversation_id, flag)
        self.post_message(ActionDone("flagged as a key customer" if flag else "no longer a key customer",
                                     self.conversation_id, True))

    # Commands on this conversation ---------------------------------------------------------------
    def target(self) -> Target | None:
        if self.detail is None:
            return None
        return Target(f"#{self.conversation_id}", Selection((self.conversation_id,), (self.detail.version,)), 1)

    def action_apply_to_marked(self) -> None:
        self.notify("Marks are made in the queue: this screen acts on this conversation.", markup=False)

    def focus_main(self) -> None:
        self.query_one(Timeline).focus()

    def palette_commands(self) -> list[PaletteCommand]:
        return [
            *super().palette_commands(),
            ("Resolve", "With a resolution code (ctrl+r)", lambda: self.action_prompt("resolve ")),
            ("Send reply", "Queue the reply in the composer", self.action_send),
            ("Switch public/private", "Change the reply's visibility", self.action_toggle_visibility),
            ("Reply route", "Public, a DM, a private reply, an email: how the reply goes out (p)", self.action_pick_route),
            ("Reply by email", "To an address you type (:email name@example.com)",
             lambda: self.query_one(CommandLine).open("email ", "reply by email to :")),
            ("Canned response", "Insert a canned response into the composer", self.action_canned),
            ("Approve waiting replies", "Let this conversation's held replies go (supervisors)", self.action_approve),
            ("Key customer", "Flag or unflag this customer as a key customer", self.action_key_customer),
            ("Back to the queue", "Close this conversation", self.dismiss),
        ]
