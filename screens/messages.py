"""Past-tense messages that workers post when their Desk call has finished.

Handlers on the screens turn them into widget updates; no widget is ever touched from a thread.
"""

from __future__ import annotations

from textual.message import Message

from socialdesk.store.views import ChannelHealth, ConversationDetail, OutboxView, QueueFilter, QueueRow


class StoreChanged(Message):
    """The store's change counter moved. A burst collapses into the newest one."""

    def __init__(self, counter: int) -> None:
        super().__init__()
        self.counter = counter

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StoreChanged)


class QueueReloaded(Message):
    """A fresh snapshot of the queue: its size and the rows from `offset` on."""

    def __init__(self, flt: QueueFilter, total: int, offset: int, rows: list[QueueRow], keep_id: int | None) -> None:
        super().__init__()
        self.flt, self.total, self.offset, self.rows, self.keep_id = flt, total, offset, rows, keep_id


class WindowFetched(Message):
    def __init__(self, flt: QueueFilter, generation: int, offset: int, rows: list[QueueRow]) -> None:
        super().__init__()
        self.flt, self.generation, self.offset, self.rows = flt, generation, offset, rows


class HealthFetched(Message):
    def __init__(self, channels: list[ChannelHealth] | None, error: str | None = None) -> None:
        super().__init__()
        self.channels, self.error = channels, error


class ConversationLoaded(Message):
    def __init__(self, conversation_id: int, detail: ConversationDetail | None) -> None:
        super().__init__()
        self.conversation_id, self.detail = conversation_id, detail


class ReplyQueued(Message):
    def __init__(self, outbox: OutboxView) -> None:
        super().__init__()
        self.outbox = outbox


class ReplyRefused(Message):
    """The desk rejected the reply; `reason` is for the agent to read."""

    def __init__(self, reason: str, go_private: bool = False) -> None:
        super().__init__()
        self.reason = reason
        self.go_private = go_private


class ActionDone(Message):
    """An assign or status change finished; `ok` is False when someone else got there first."""

    def __init__(self, what: str, conversation_id: int, ok: bool) -> None:
        super().__init__()
        self.what, self.conversation_id, self.ok = what, conversation_id, ok


class NextChosen(Message):
    """The next conversation to work on, or None when the queue has nothing free."""

    def __init__(self, conversation_id: int | None) -> None:
        super().__init__()
        self.conversation_id = conversation_id
