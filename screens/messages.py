"""Past-tense messages that workers post when their Desk call has finished.

Handlers on the screens turn them into widget updates; no widget is ever touched from a thread.
"""

from __future__ import annotations

from textual.message import Message

from socialdesk.store.views import ChannelHealth, ConversationDetail, CustomerView, OutboxView, QueueFilter, QueueRow


class StoreChanged(Message):
    """The store's change counter moved. A burst collapses into the newest one."""

    def __init__(self, counter: int) -> None:
        super().__init__()
        self.counter = counter

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StoreChanged)


class QueueReloaded(Message):
    """A fresh snapshot of the queue: the rows from `offset` on (`limit` were asked for)."""

    def __init__(self, flt: QueueFilter, total: int | None, offset: int, rows: list[QueueRow], keep_id: int | None,
                 limit: int = 0) -> None:
        super().__init__()
        self.flt, self.total, self.offset, self.rows, self.keep_id, self.limit = flt, total, offset, rows, keep_id, limit


class QueueCounted(Message):
    """How many conversations the filter selects (counted apart from the rows)."""

    def __init__(self, flt: QueueFilter, total: int) -> None:
        super().__init__()
        self.flt, self.total = flt, total


class MarksAdded(Message):
    """Conversations to mark (id -> version), and how to say which they are."""

    def __init__(self, marks: dict[int, int], what: str) -> None:
        super().__init__()
        self.marks, self.what = marks, what


class WindowFetched(Message):
    def __init__(self, flt: QueueFilter, generation: int, offset: int, rows: list[QueueRow]) -> None:
        super().__init__()
        self.flt, self.generation, self.offset, self.rows = flt, generation, offset, rows


class HealthFetched(Message):
    def __init__(self, channels: list[ChannelHealth] | None, error: str | None = None) -> None:
        super().__init__()
        self.channels, self.error = channels, error


class ConversationLoaded(Message):
    def __init__(self, conversation_id: int, detail: ConversationDetail | None,
                 customer: CustomerView | None = None) -> None:
        super().__init__()
        self.conversation_id, self.detail, self.customer = conversation_id, detail, customer


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


class CommandDone(Message):
    """A command of the command layer finished; `outcome` says what it did."""

    def __init__(self, outcome) -> None:
        super().__init__()
        self.outcome = outcome


class CommandRefused(Message):
    """A command was refused or could not run; `reason` is for the person."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class NeedsConfirm(Message):
    """A command would change `count` conversations, more than the desk runs without asking."""

    def __init__(self, command, target, count: int) -> None:
        super().__init__()
        self.command, self.target, self.count = command, target, count


class NeedsMerge(Message):
    """Linking an identity would merge two customers: ask, then run it with merge=True."""

    def __init__(self, command, target, question: str) -> None:
        super().__init__()
        self.command, self.target, self.question = command, target, question


class Undone(Message):
    def __init__(self, summary: str) -> None:
        super().__init__()
        self.summary = summary


class WordsLoaded(Message):
    """The names the command line completes (tags, agents, teams, views, codes, canned)."""

    def __init__(self, words) -> None:
        super().__init__()
        self.words = words


class RoutesLoaded(Message):
    """The routes a conversation offers (services.commands.routes)."""

    def __init__(self, routes) -> None:
        super().__init__()
        self.routes = routes


class RouteChosen(Message):
    def __init__(self, route) -> None:
        super().__init__()
        self.route = route
