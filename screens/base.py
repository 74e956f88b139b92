"""What every socialdesk screen shares: the Desk, and live reloads when the store changes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import on
from textual.events import ScreenResume
from textual.screen import Screen
from textual.signal import Signal
from textual.worker import Worker, WorkerState

from socialdesk.screens.messages import ActionDone, StoreChanged
from socialdesk.text import terminal_safe

if TYPE_CHECKING:
    from socialdesk.services.desk import Desk

PaletteCommand = tuple[str, str, Any]
"""(name, help, callback) offered in the command palette while the screen is active."""


class DeskScreen(Screen[None]):
    """A screen over the Desk. Subclasses implement `reload` (start a worker that refetches what
    the screen shows) and `palette_commands`; worker failures all end in `_worker_failed`.

    The app owns a `store_changed` Signal; each screen turns it into a `StoreChanged` message on
    its own queue, so a burst of changes collapses into one reload, and a screen that is not on
    top only reloads when it becomes current again.
    """

    def __init__(self, desk: Desk | None = None, *, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self._desk = desk
        self._stale = False

    @property
    def desk(self) -> Desk:
        return self._desk if self._desk is not None else self.app.desk  # type: ignore[attr-defined]

    def on_mount(self) -> None:
        signal: Signal[int] | None = getattr(self.app, "store_changed", None)
        if signal is not None:
            signal.subscribe(self, self._store_signalled, immediate=True)

    def _store_signalled(self, counter: int) -> None:
        self.post_message(StoreChanged(counter))

    @on(StoreChanged)
    def _store_changed(self, message: StoreChanged) -> None:
        if self.is_current:
            self.reload(live=True)
        else:
            self._stale = True

    @on(ScreenResume)
    def _resumed(self) -> None:
        if self._stale:
            self._stale = False
            self.reload(live=True)

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """Every failed worker of a screen ends here, as a notification (never markup)."""
        error = event.worker.error
        if event.state == WorkerState.ERROR and error is not None:
            self.notify(terminal_safe(f"{type(error).__name__}: {error}"), title="Something went wrong",
                        severity="error", markup=False)

    @on(ActionDone)
    def _action_done(self, message: ActionDone) -> None:
        """One report for every command on a conversation (assign, resolve, approve, …)."""
        if message.ok:
            text, severity = f"#{message.conversation_id} {message.what}.", "information"
        else:
            text, severity = f"#{message.conversation_id} was not {message.what}: someone else changed it first.", "warning"
        self.notify(text, severity=severity, markup=False)
        self.reload(live=True)

    def reload(self, *, live: bool = False) -> None:
        """Refetch what the screen shows (in a worker); `live` keeps cursor and scroll."""

    def palette_commands(self) -> list[PaletteCommand]:
        return []
