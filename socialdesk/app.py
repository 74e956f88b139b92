"""The Textual App: global keys, the queue screen, the keymap, and the "store changed" signal.

Everything else lives in the screens (socialdesk.screens); the app only wires them to the Desk.
"""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.message import Message
from textual.signal import Signal

import socialdesk.screens as screens
from socialdesk.screens import DeskCommands, QueueScreen
from socialdesk.services.desk import Desk
from socialdesk.store.views import AlertView
from socialdesk.text import terminal_safe

POLL_INTERVAL = 0.5


class CounterPolled(Message):
    """The store's change counter as just read (None when the read failed), and the alerts
    raised since the last read."""

    def __init__(self, counter: int | None, alerts: list[AlertView]) -> None:
        super().__init__()
        self.counter = counter
        self.alerts = alerts


class SocialdeskApp(App[None]):
    CSS_PATH = Path(screens.__file__).with_name("app.tcss")
    COMMANDS = App.COMMANDS | {DeskCommands}
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True, tooltip="Quit socialdesk"),
        Binding("question_mark,f1", "help", "Help", id="app.help", tooltip="Show or hide the keys"),
    ]

    def __init__(
        self,
        desk: Desk,
        *,
        keymap: dict[str, str] | None = None,
        title: str = "socialdesk",
        health_interval: float = 2.0,
        bell: bool = True,
        notice: str | None = None,
    ) -> None:
        super().__init__()
        self.desk = desk
        self.title = title
        self.health_interval = health_interval
        self.store_changed: Signal[int] = Signal(self, "store-changed")
        self._last_counter: int | None = None
        self._last_alert: int | None = None
        self.bell_on_alert = bell
        self.notice = notice  # shown once at start (e.g. no channel is set up, and what to do)
        if keymap:
            self.set_keymap(keymap)

    def on_mount(self) -> None:
        self.push_screen(QueueScreen(self.desk, health_interval=self.health_interval))
        if self.notice:
            self.notify(self.notice, title="Nothing to poll", severity="warning", markup=False, timeout=30)
        self._poll_counter()

    def action_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    @work(thread=True, exclusive=True, group="store-poll", exit_on_error=False)
    def _poll_counter(self) -> None:
        alerts: list[AlertView] = []
        try:
            counter: int | None = self.desk.change_counter()
            if self._last_alert is None:
                self._last_alert = self.desk.latest_alert_id()  # start from now: no replay of old ones
            elif counter != self._last_counter:
                alerts = self.desk.alerts_after(self._last_alert)
                if alerts:
                    self._last_alert = alerts[-1].id
        except Exception:  # a locked or unreachable store: try again on the next tick
            counter = None
        self.post_message(CounterPolled(counter, alerts))

    @on(CounterPolled)
    def _counter_polled(self, message: CounterPolled) -> None:
        """Publish only real changes, then schedule the next poll (never two at once)."""
        for alert in message.alerts:
            self.notify(terminal_safe(alert.message), title="Alert", severity="warning", markup=False, timeout=8)
        if message.alerts and self.bell_on_alert:
            self.bell()
        if message.counter is not None:
            if self._last_counter is not None and message.counter != self._last_counter:
                self.store_changed.publish(message.counter)
            self._last_counter = message.counter
        self.set_timer(POLL_INTERVAL, self._poll_counter)
