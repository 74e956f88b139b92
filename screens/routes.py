"""Pick how a reply goes out (p): every route the conversation offers, each with why it is closed
when it is (a window that has passed, a private reply already used), and an email to an address
the agent types. Enter picks, n picks a private route and leaves a public note under the post
([desk] move_note), Escape keeps the current route."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from socialdesk.services.commands import ReplyRoute
from socialdesk.text import terminal_safe

EMAIL = "email"  # what the picker answers for "an email to another address"


Picked = tuple[ReplyRoute, bool]  # the route, and whether a public note goes with it


class RoutePicker(ModalScreen[Picked | str | None]):
    DEFAULT_CSS = """
    RoutePicker { align: center middle; }
    RoutePicker > OptionList { width: 80%; max-width: 90; height: auto; max-height: 70%; border: round $accent; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="routes.cancel"),
                Binding("n", "with_note", "With a public note", id="routes.note",
                        tooltip="A private route, and a public note under the post that says where the talk went")]

    def __init__(self, routes: list[ReplyRoute]) -> None:
        super().__init__()
        self.routes = routes

    def compose(self) -> ComposeResult:
        options = []
        for index, route in enumerate(self.routes):
            label = Text(terminal_safe(route.label, single_line=True), style="bold" if not route.problem else "dim")
            if route.problem:
                label.append("\n✗ " + terminal_safe(route.problem, single_line=True), style="dim")
            options.append(Option(label, id=str(index), disabled=route.problem is not None))
        options.append(Option(Text("✉ email to another address… (type it)", style="bold"), id=EMAIL))
        yield OptionList(*options)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        chosen = event.option.id
        self.dismiss(EMAIL if chosen == EMAIL else (self.routes[int(chosen or 0)], False))

    def action_with_note(self) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is None:
            return
        chosen = options.get_option_at_index(options.highlighted).id
        if chosen == EMAIL or chosen is None:
            self.notify("Pick the address first (Enter), then send with the note from the composer.",
                        severity="warning", markup=False)
            return
        route = self.routes[int(chosen)]
        if route.visibility != "private":
            self.notify("A public note goes with a private route.", severity="warning", markup=False)
            return
        self.dismiss((route, True))

    def action_cancel(self) -> None:
        self.dismiss(None)
