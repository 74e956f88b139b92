"""The one object the screens talk to: reads and commands over the store, by the signed-in agent.

Every method that touches the store is synchronous and opens its own short session; screens
call those from thread workers, never from the event loop. `max_length`, `role` and `count`
are in memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from socialdesk.adapters.base import Capabilities
from socialdesk.rules.canned import Rendered, Template, case_reference
from socialdesk.rules.engine import RuleSet
from socialdesk.rules.length import count
from socialdesk.store import commands, queries
from socialdesk.store.views import (
    AlertView,
    ChannelHealth,
    ConversationDetail,
    OutboxView,
    QueueFilter,
    QueueRow,
)


class ReplyRejected(Exception):
    """The reply cannot be queued as written; the message says why and what to do.
    `go_private`: sending it privately instead would be fine (the privacy guard's offer)."""

    def __init__(self, message: str, *, go_private: bool = False):
        super().__init__(message)
        self.go_private = go_private


@dataclass(frozen=True)
class ChannelLimits:
    """What a channel takes: its reply length (the config's override, else the platform's), how
    it is counted, and the routes and windows its adapter declares."""

    max_length: int
    counting: str = "chars"  # chars | weighted | utf16 | bytes | graphemes
    capabilities: Capabilities | None = field(default=None, compare=False)

    def longest(self, visibility: str) -> int:
        private = self.capabilities.private_max_length if self.capabilities else None
        return private if visibility == "private" and private else self.max_length


def _span(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.0f} days" if hours >= 48 else f"{hours:.0f} hours"


def route_problem(channel: str, caps: Capabilities, visibility: str, answered_kind: str,
                  answered_at: datetime, now: datetime) -> str | None:
    """Why `channel` cannot take this reply (the route it lacks, a window that has closed), or
    None. From the adapter's declared capabilities: no platform is named here."""
    public_message = answered_kind in ("mention", "comment", "reply")
    age = now - answered_at
    if visibility == "public":
        if not caps.public_reply or not public_message:
            return f"{channel} has no public reply to this message: press ctrl+t to answer privately."
        return None
    if public_message:
        if not caps.private_reply:
            return f"{channel} cannot answer a public message privately: press ctrl+t to answer in public."
        if caps.private_reply_window and age > caps.private_reply_window:
            return (f"{channel} allows a private reply to a public message only within "
                    f"{_span(caps.private_reply_window)} of it; this one is {_span(age)} old. Answer in public "
                    "(ctrl+t), and invite the customer to write privately.")
        return None
    if caps.dm_window and age > caps.dm_window:
        return (f"{channel} lets the brand write privately only within {_span(caps.dm_window)} of the customer's "
                f"last message; theirs was {_span(age)} ago. Wait for them to write again, or reach them "
                "on another channel.")
    return None


class Desk:
    def __init__(self, sessions: sessionmaker[Session], agent: str, *, limits: dict[str, ChannelLimits] | None = None,
                 rules: RuleSet | None = None, role: str = "agent", brand: str = "", opening_hours: str = "",
                 response_window: str = ""):
        self.sessions = sessions
        self.agent = agent
        self.role = role
        self.rules = rules
        self.availability = "offline"
        self._limits = limits or {}
        self._variables = {"brand": brand, "opening_hours": opening_hours, "response_window": response_window}

    def max_length(self, channel: str, visibility: str = "public") -> int | None:
        """The longest reply the channel takes, publicly or privately."""
        limit = self._limits.get(channel)
        return limit.longest(visibility) if limit else None

    def count(self, channel: str, text: str) -> int:
        """A reply's length the channel's way (X counts weighted, others characters)."""
        limit = self._limits.get(channel)
        return count(text, limit.counting if limit else "chars")

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

    def latest_alert_id(self) -> int:
        with self.sessions() as s:
            return queries.latest_alert_id(s)

    def alerts_after(self, alert_id: int) -> list[AlertView]:
        with self.sessions() as s:
            return queries.alerts_after(s, alert_id)

    # Canned responses ----------------------------------------------------------------------------
    def canned(self, detail: ConversationDetail) -> list[Template]:
        """The canned responses that fit the conversation's channel, its language first."""
        if self.rules is None:
            return []
        return self.rules.canned.choices(channel_kind=detail.channel_kind, language=detail.language)

    def render_canned(self, name: str, detail: ConversationDetail) -> Rendered:
        assert self.rules is not None
        limit = self._limits.get(detail.contact.channel)
        variables = {**self._variables, "customer_name": detail.contact.display_name or detail.contact.handle,
                     "customer_handle": detail.contact.handle, "agent_name": self.agent,
                     "case_ref": case_reference(detail.id)}
        return self.rules.canned.render(name, variables, length_method=limit.counting if limit else "chars",
                                        max_length=limit.max_length if limit else None)

    # Commands ----------------------------------------------------------------------------------
    def reply(self, conversation_id: int, text: str, visibility: str) -> OutboxView:
        """Queue a reply after the checks a public reply must pass: not empty, not too long for
        the channel, no private data in public (the privacy guard), approval where a rule asks."""
        text = text.strip()
        if not text:
            raise ReplyRejected("The reply is empty: write something first.")
        detail = self.conversation(conversation_id)
        if detail is None:
            raise ReplyRejected("That conversation no longer exists.")
        answered = next((m for m in reversed(detail.messages) if m.direction == "in"), None)
        channel = answered.channel if answered else detail.contact.channel
        caps = self._limits[channel].capabilities if channel in self._limits else None
        if caps is not None and answered is not None:
            problem = route_problem(channel, caps, visibility, answered.kind, answered.published_at,
                                    datetime.now(UTC))
            if problem:
                raise ReplyRejected(problem)
        limit = self.max_length(channel, visibility)
        if limit and self.count(channel, text) > limit:
            raise ReplyRejected(f"The reply is {self.count(channel, text)} long; {channel} allows {limit}"
                                f"{' in private' if visibility == 'private' else ''}. Shorten it.")
        approval = None
        if self.rules is not None:
            problem = self.rules.reply_problem(text, visibility)
            if problem:
                raise ReplyRejected(problem, go_private=True)
            approval = self.rules.approval_reason(agent=self.agent, text=text, tags=detail.tags)
        # A write transaction of its own that writes first (see store.audit.begin_write): on
        # SQLite a transaction that read before writing cannot wait for the lock, it fails.
        with self.sessions.begin() as s:
            return commands.queue_reply(s, conversation_id, text, visibility, actor=self.agent,
                                        approval_reason=approval)

    def approve(self, outbox_id: int) -> bool:
        if self.role not in ("supervisor", "admin"):
            return False
        with self.sessions.begin() as s:
            return commands.approve(s, outbox_id, actor=self.agent)

    def assign(self, conversation_id: int, agent: str | None = None) -> bool:
        """Take (or hand over) a conversation; False if someone else already has it."""
        with self.sessions.begin() as s:
            return commands.assign(s, conversation_id, agent or self.agent, actor=self.agent)

    def set_status(self, conversation_id: int, status: str, resolution_code: str | None = None) -> bool:
        with self.sessions.begin() as s:
            return commands.set_status(s, conversation_id, status, resolution_code, actor=self.agent)

    def set_availability(self, status: str) -> None:
        """available | away | offline: routing gives new conversations to available agents only."""
        with self.sessions.begin() as s:
            commands.set_agent_status(s, self.agent, status)
        self.availability = status

    def flag_key_customer(self, conversation_id: int, flag: bool) -> None:
        with self.sessions.begin() as s:
            commands.set_key_customer(s, conversation_id, flag, actor=self.agent)
