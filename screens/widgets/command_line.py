"""The `:` command line: one input line above the footer, with a label saying what the command
will act on, history (up/down) and completion (tab). It only posts what was typed; the screen
decides what it means (services.command_line)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Static

from socialdesk.services.command_line import Words, complete

HISTORY = 50


class CommandInput(Input):
    BINDINGS = [
        Binding("tab", "complete", "Complete", show=False, id="command_line.complete"),
        Binding("up", "history(-1)", "Previous", show=False, id="command_line.previous"),
        Binding("down", "history(1)", "Next", show=False, id="command_line.next"),
        Binding("escape", "cancel", "Cancel", id="command_line.cancel"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(compact=True, select_on_focus=False, **kwargs)
        self.words = Words()
        self.history: list[str] = []
        self._at = 0

    def action_complete(self) -> None:
        found = complete(self.value, self.words)
        if found is not None:
            self.value = found
            self.cursor_position = len(found)

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        self._at = max(0, min(len(self.history), self._at + step))
        self.value = self.history[self._at] if self._at < len(self.history) else ""
        self.cursor_position = len(self.value)

    def action_cancel(self) -> None:
        self.post_message(CommandLine.Cancelled())

    def remember(self, line: str) -> None:
        if line and (not self.history or self.history[-1] != line):
            self.history = (self.history + [line])[-HISTORY:]
        self._at = len(self.history)


class CommandLine(Horizontal):
    """Hidden until opened; `open(text, label)` shows it with `text` typed and focuses it."""

    DEFAULT_CSS = """
    CommandLine { display: none; height: 1; background: $boost; }
    CommandLine.open { display: block; }
    CommandLine > #command-label { width: auto; max-width: 50%; padding: 0 1; text-style: bold; }
    CommandLine > CommandInput { width: 1fr; }
    """

    class Submitted(Message):
        def __init__(self, line: str) -> None:
            super().__init__()
            self.line = line

    class Cancelled(Message):
        pass

    def compose(self) -> ComposeResult:
        yield Static(":", id="command-label", markup=False)
        yield CommandInput(id="command-input")

    @property
    def input(self) -> CommandInput:
        return self.query_one(CommandInput)

    def open(self, text: str = "", label: str = ":") -> None:
        self.query_one("#command-label", Static).update(label)
        self.add_class("open")
        self.input.value = text
        self.input.cursor_position = len(text)
        self.input.focus()

    def close(self) -> None:
        self.remove_class("open")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        line = event.value.strip()
        self.input.remember(line)
        self.close()
        self.post_message(self.Submitted(line))
