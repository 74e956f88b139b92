"""The one object the screens talk to: reads and commands over the store, by the signed-in agent.

Every method is synchronous and opens its own short session; screens call them from thread
workers, never from the event loop.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from socialdesk.store import commands, queries
from socialdesk.store.views import (
    ChannelHealth,
    ConversationDetail,
    OutboxView,
    QueueFilter,
    QueueRow,
)


class ReplyRejected(Exception):
    """The reply cannot be queued as written; the message says why and what to do."""


class Desk:
    def __init__(self, sessions: sessionmaker[Session], agent: str, max_lengths: dict[str, int] | None = None):
        self.sessions = sessions
        self.agent = agent
        self._max_lengths = max_lengths or {}

    def max_length(self, channel: str) -> int | None:
        """The longest reply the channel takes (in memory: safe on the UI thread)."""
        return self._max_lengths.get(channel)

    # Reads -------------------------------------------------------------------------------------
    def change_counter(self) -> int:
        with self.sessions() as s:
            return queries.change_counter(s)

    def queue_count(self, flt: QueueFilter) -> int:
        with self.sessions() as s:
            return queries.queue_count(s, flt, me=self.agent)

    def queue_page(
        self, flt: QueueFilter, offset: int, limit: int, after: QueueRow | None = None
    ) -> list[QueueRow]:
        """Rows `offset`..`offset+limit` in queue order; `after` (the row at offset-1) lets the
        store page by keyset instead of OFFSET."""
        with self.sessions() as s:
            return queries.queue_page(s, flt, offset, limit, after=after, me=self.agent)

    def conversation(self, conversation_id: int) -> ConversationDetail | None:
        with self.sessions() as s:
            return queries.conversation_detail(s, conversation_id)

    def channel_health(self) -> list[ChannelHealth]:
        with self.sessions() as s:
            return queries.channel_health(s)

    # Commands ----------------------------------------------------------------------------------
    def reply(self, conversation_id: int, text: str, visibility: str) -> OutboxView:
        text = text.strip()
        if not text:
            raise ReplyRejected("The reply is empty: write something first.")
        detail = self.conversation(conversation_id)
        if detail is None:
            raise ReplyRejected("That conversation no longer exists.")
        limit = self.max_length(detail.contact.channel)
        if limit and len(text) > limit:
            raise ReplyRejected(
                f"The reply is {len(text)} characters; {detail.contact.channel} allows {limit}. Shorten it.")
        # A write transaction of its own that writes first (see store.audit.begin_write): on
        # SQLite a transaction that read before writing cannot wait for the lock, it fails.
        with self.sessions.begin() as s:
            return commands.queue_reply(s, conversation_id, text, visibility, actor=self.agent)

    def assign(self, conversation_id: int, agent: str | None = None) -> bool:
        """Take (or hand over) a conversation; False if someone else already has it."""
        with self.sessions.begin() as s:
            return commands.assign(s, conversation_id, agent or self.agent, actor=self.agent)

    def set_status(self, conversation_id: int, status: str, resolution_code: str | None = None) -> bool:
        with self.sessions.begin() as s:
            return commands.set_status(s, conversation_id, status, resolution_code, actor=self.agent)
