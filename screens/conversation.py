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
from socialdesk.screens.customer import Answer, CustomerScreen
from socialdesk.screens.customer import summary as customer_summary
from socialdesk.screens.messages import (
    ConversationLoaded,
    ReplyQueued,
    ReplyRefused,
    RouteChosen,
    RoutesLoaded,
)
from socialdesk.screens.routes import EMAIL, Picked, RoutePicker
from socialdesk.screens.widgets.command_line import CommandLine
from socialdesk.screens.widgets.timeline import Timeline
from socialdesk.services.commands import (
    Approve,
    EditCustomer,
    Refused,
    Reply,
    ReplyRejected,
    ReplyRoute,
    Selection,
)
from socialdesk.services.desk import Desk
from socialdesk.store.views import ConversationDetail, CustomerView
from socialdesk.text import terminal_safe


def clocks(detail: ConversationDetail, at) -> str:
    """Both clocks: since published and since assigned; stopped at the resolution once resolved."""
    end = fmt.aware(detail.resolved_at) if detail.resolved_at and detail.status in ("resolved", "closed") else at
    text = f"{fmt.age(fmt.aware(detail.published_at), end)} since posted"
    if detail.assigned_at is not None:
        text += f", {fmt.age(fmt.aware(detail.assigned_at), end)} since assigned"
    if detail.first_response_at is not None:
        text += f", answered in {fmt.age(fmt.aware(detail.published_at), fmt.aware(detail.first_response_at))}"
    return text


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
        Binding("c", "customer", "Customer", id="conversation.customer",
                tooltip="The customer: identities on every channel, earlier conversations, links to make"),
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
        self.public_note = False  # the private route was picked with n: a public note goes with the reply
        self.customer: CustomerView | None = None

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
        detail = self.desk.conversation(conversation_id)
        customer = self.desk.customer(conversation_id) if detail is not None else None
        self.post_message(ConversationLoaded(conversation_id, detail, customer))

    @on(ConversationLoaded)
    async def _loaded(self, message: ConversationLoaded) -> None:
        detail = message.detail
        if detail is None:
            self.query_one("#conversation-title", Static).update(f"#{message.conversation_id} · not found")
            return
        if detail == self.detail and message.customer == self.customer:
            return
        self.detail, self.customer = detail, message.customer
        self.load_words()
        if self.visibility is None:
            inbound = [m for m in detail.messages if m.direction == "in"]
            self.visibility = inbound[-1].visibility if inbound else "public"
        self.query_one("#conversation-title", Static).update(self._title(detail))
        self.query_one("#conversation-contact", Static).update(self._contact(detail, self.customer))
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
        title.append(" · " + clocks(detail, at))
        if detail.sla_due_at is not None:
            state = fmt.sla_state(detail.sla_due_at, at)
            style = {"late": "bold red", "soon": "yellow"}.get(state, "")
            label = "SLA late" if state == "late" else "SLA " + fmt.age(at, fmt.aware(detail.sla_due_at)) + " left"
            title.append(" · ")
            title.append(label, style=style)
        if detail.resolution_code:
            title.append(" · " + terminal_safe(detail.resolution_code, single_line=True))
        if detail.csat is not None:
            title.append(f" · CSAT {detail.csat}", style="bold")
        elif detail.csat_asked_at is not None:
            title.append(" · survey sent")
        if detail.tags:
            title.append(" · " + terminal_safe(" ".join(detail.tags), single_line=True), style="dim")
        return title

    def _contact(self, detail: ConversationDetail, customer: CustomerView | None) -> Text:
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
        about = customer_summary(customer)
        if about:
            line.append(" · " + about, style="bold")
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
        if self.public_note and route is not None:
            bar.append(" + a public note under the post", style="bold")
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
        self.route, self.public_note = None, False
        self.visibility = "private" if self.visibility == "public" else "public"
        self._show_counter()
        if self.offer_private and self.visibility == "private":
            self.offer_private = False
            self.action_send()

    def action_send(self) -> None:
        self._send(self.conversation_id, Reply(self.composer.text, self.visibility or "public", self.route,
                                               self.public_note))

    @work(thread=True, exclusive=True, group="conversation-send", exit_on_error=False)
    def _send(self, conversation_id: int, reply: Reply) -> None:
        try:
            outcome = self.desk.run(reply, Selection((conversation_id,)))
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
        def chosen(choice: Picked | str | None) -> None:
            if choice == EMAIL:
                self.query_one(CommandLine).open("email ", "reply by email to :")
            elif isinstance(choice, tuple):
                self._use_route(*choice)

        self.app.push_screen(RoutePicker(message.routes), chosen)

    def _use_route(self, route: ReplyRoute, public_note: bool = False) -> None:
        if route.problem:
            self.notify(terminal_safe(route.problem), title="Not this route", severity="warning", markup=False)
            return
        self.route, self.public_note = route, public_note
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
        self.public_note = False
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
            self.execute(EditCustomer(key_customer=not self.detail.key_customer))

    def action_customer(self) -> None:
        def answered(answer: Answer) -> None:
            if isinstance(answer, int):
                self.app.push_screen(ConversationScreen(answer, desk=self.desk))
            elif isinstance(answer, str):
                self.action_prompt(answer)
            elif answer is not None:
                self.execute(answer)

        self.app.push_screen(CustomerScreen(self.desk, self.conversation_id), answered)

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
            ("Customer", "Identities, earlier conversations, links to make (c)", self.action_customer),
            ("Back to the queue", "Close this conversation", self.dismiss),
        ]
