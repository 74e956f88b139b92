"""The customer behind a conversation (c): who they are on every channel, their details, their
earlier conversations with outcome and satisfaction score, and the links worth making.

Enter on a suggestion links it (asking first when that merges two customers), on an identity
unlinks it, on an earlier conversation opens it; k flags a key customer, i sets the CRM id, e the
notes. The screen answers what to do; the conversation screen runs it as a command."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from socialdesk.screens import format as fmt
from socialdesk.services.commands import Command, EditCustomer, LinkIdentity, UnlinkIdentity
from socialdesk.store.views import CustomerView
from socialdesk.text import terminal_safe

# What the screen answers: a command to run on the conversation, an earlier conversation to open
# (its id), or a command line to open with this text.
Answer = Command | int | str | None


def _safe(text: str | None) -> str:
    return terminal_safe(text or "", single_line=True)


def _ago(at: datetime | None, now: datetime) -> str:
    return f"{fmt.age(fmt.aware(at), now)} ago" if at else "never"


def summary(customer: CustomerView | None) -> str:
    """For the conversation's contact line: "3 identities · 2 earlier (CSAT 9) · 1 to link (c)",
    empty when there is nothing to tell beyond the contact."""
    if customer is None:
        return ""
    parts = []
    if customer.crm_id:
        parts.append(f"CRM {_safe(customer.crm_id)}")
    if len(customer.identities) > 1:
        parts.append(f"{len(customer.identities)} identities")
    if customer.previous:
        scores = [p.csat for p in customer.previous if p.csat is not None]
        parts.append(f"{len(customer.previous)} earlier" + (f" (CSAT {scores[0]})" if scores else ""))
    if customer.suggestions:
        parts.append(f"{len(customer.suggestions)} to link")
    return " · ".join(parts) + " (c)" if parts else ""


class CustomerScreen(ModalScreen[Answer]):
    DEFAULT_CSS = """
    CustomerScreen { align: center middle; }
    CustomerScreen > Vertical { width: 90%; max-width: 110; height: auto; max-height: 90%; border: round $accent;
                                background: $surface; padding: 0 1; }
    CustomerScreen #customer-head { height: auto; }
    CustomerScreen OptionList, CustomerScreen OptionList:focus { height: auto; max-height: 16; border: none;
                                                                 padding: 0; }
    CustomerScreen #customer-keys { color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape", "dismiss_screen", "Close", id="customer.close"),
        Binding("k", "key_customer", "Key customer", id="customer.key"),
        Binding("i", "answer_prompt('crm ')", "CRM id", id="customer.crm"),
        Binding("e", "answer_prompt('profile ')", "Notes", id="customer.notes"),
    ]

    def __init__(self, desk, conversation_id: int) -> None:
        super().__init__()
        self.desk, self.conversation_id = desk, conversation_id
        self.customer: CustomerView | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("loading…", id="customer-head", markup=False)
            yield OptionList(id="customer-options")
            yield Static("Enter: link / unlink / open · k key customer · i CRM id · e notes · Escape: back",
                         id="customer-keys", markup=False)

    def on_mount(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _load(self) -> None:
        customer = self.desk.customer(self.conversation_id)
        self.app.call_from_thread(self._show, customer)

    def _show(self, customer: CustomerView | None) -> None:
        self.customer = customer
        if customer is None:
            self.query_one("#customer-head", Static).update("This conversation no longer exists.")
            return
        now = fmt.now()
        head = Text()
        head.append(_safe(customer.name), style="bold")
        if customer.key_customer:
            head.append(" ★ key customer", style="bold yellow")
        head.append(f" · CRM {_safe(customer.crm_id)}" if customer.crm_id else " · no CRM id")
        head.append(f" · last contact {_ago(customer.last_contact_at, now)}")
        if customer.notes:
            head.append("\n" + terminal_safe(customer.notes), style="italic")
        self.query_one("#customer-head", Static).update(head)
        options = self.query_one(OptionList)
        options.clear_options()
        found = self._options(customer, now)
        options.add_options(found)
        options.highlighted = next((i for i, o in enumerate(found) if o is not None and not o.disabled), None)
        options.focus()

    def _options(self, customer: CustomerView, now: datetime) -> list[Option | None]:
        found: list[Option | None] = [Option(Text("Identities", style="bold underline"), disabled=True)]
        for identity in customer.identities:
            label = f"  {_safe(identity.channel)} · {_safe(identity.handle)}"
            if identity.display_name and identity.display_name != identity.handle:
                label += f" ({_safe(identity.display_name)})"
            label += f" · wrote {_ago(identity.last_message_at, now)}"
            alone = len(customer.identities) == 1  # nothing to unlink it from
            found.append(Option(label, id=None if alone else f"unlink:{identity.contact_id}", disabled=alone))
        if customer.suggestions:
            found.append(Option(Text("Probably the same person (Enter links)", style="bold underline"),
                                disabled=True))
            for s in customer.suggestions:
                label = Text(f"  + {_safe(s.channel)} · {_safe(s.handle)}")
                label.append(f" — {_safe(s.reason)}" + (" (another customer's: merges)" if s.has_customer else ""),
                             style="dim")
                found.append(Option(label, id=f"link:{s.contact_id}"))
        found.append(Option(Text("Earlier conversations", style="bold underline"), disabled=True))
        if not customer.previous:
            found.append(Option("  none", disabled=True))
        for past in customer.previous:
            outcome = past.status + (f" ({_safe(past.resolution_code)})" if past.resolution_code else "")
            csat = f" · CSAT {past.csat}" if past.csat is not None else ""
            found.append(Option(f"  #{past.id} · {_safe(past.channel)} · {outcome}{csat} · "
                                f"{_ago(past.last_message_at, now)}", id=f"open:{past.id}"))
        return found

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        kind, _, value = (event.option.id or "").partition(":")
        if kind == "link":
            self.dismiss(LinkIdentity(int(value)))
        elif kind == "unlink":
            self.dismiss(UnlinkIdentity(int(value)))
        elif kind == "open":
            self.dismiss(int(value))

    def action_key_customer(self) -> None:
        if self.customer is not None:
            self.dismiss(EditCustomer(key_customer=not self.customer.key_customer))

    def action_answer_prompt(self, text: str) -> None:
        self.dismiss(text)

    def action_dismiss_screen(self) -> None:
        self.dismiss(None)
