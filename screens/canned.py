"""Pick a canned response: a modal list, Enter inserts it, Escape cancels."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from socialdesk.rules.canned import Template
from socialdesk.text import terminal_safe


class CannedPicker(ModalScreen[str | None]):
    DEFAULT_CSS = """
    CannedPicker { align: center middle; }
    CannedPicker > OptionList { width: 80%; max-width: 90; height: auto; max-height: 70%; border: round $accent; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="canned.cancel")]

    def __init__(self, templates: list[Template]) -> None:
        super().__init__()
        self.templates = templates

    def compose(self) -> ComposeResult:
        options = []
        for template in self.templates:
            label = Text(terminal_safe(template.title or template.name, single_line=True), style="bold")
            if template.language:
                label.append(f" [{template.language}]", style="dim")
            label.append("\n" + terminal_safe(template.text, single_line=True)[:160], style="dim")
            options.append(Option(label, id=template.name))
        yield OptionList(*options)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
