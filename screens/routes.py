"""Pick how a reply goes out (p): every route the conversation offers, each with why it is closed
when it is (a window that has passed, a private reply already used), and an email to an address
the agent types. Enter picks, Escape keeps the current route."""

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


class RoutePicker(ModalScreen[ReplyRoute | str | None]):
    DEFAULT_CSS = """
    RoutePicker { align: center middle; }
    RoutePicker > OptionList { width: 80%; max-width: 90; height: auto; max-height: 70%; border: round $accent; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="routes.cancel")]

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
        self.dismiss(EMAIL if chosen == EMAIL else self.routes[int(chosen or 0)])

    def action_cancel(self) -> None:
        self.dismiss(None)
