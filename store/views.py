"""Frozen read models: what store queries return, so no ORM object ever reaches a screen."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from .states import DONE as DONE_STATUSES  # noqa: F401 (the status sets, for readers of views)
from .states import OPEN as OPEN_STATUSES  # noqa: F401
from .states import STATUSES  # noqa: F401

_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """Which conversations a queue view, a pattern mark or a bulk command selects. Every field
    narrows the set; the defaults select every open conversation.

    status: "open" (new, open and pending), "done" (resolved and closed), "all", or one status.
    assignee: "me", "none" (unassigned) or an agent's name. team: a name, "mine" (the agent's
    teams) or "none". tags: each is required; "-name" excludes it. priority and sentiment:
    inclusive (low, high) ranges. newer_than / older_than: seconds since the first message.
    outbox: "approval" or "failed": has a reply in that state. collapse: one row per incident
    cluster (its first open conversation)."""

    status: str = "open"
    search: str = ""
    assignee: str | None = None
    channel: str | None = None
    team: str | None = None
    tags: tuple[str, ...] = ()
    priority: tuple[int, int] | None = None
    language: str | None = None
    sentiment: tuple[int, int] | None = None
    newer_than: int | None = None
    older_than: int | None = None
    outbox: str | None = None
    cluster: int | None = None
    collapse: bool = False


@dataclass(frozen=True, slots=True)
class Selection:
    """What a command acts on: conversation ids (with the version each had when the person saw
    it, or None to skip that check), or every conversation a filter selects, resolved in the
    database when the command runs."""

    ids: tuple[int, ...] = ()
    versions: tuple[int | None, ...] = ()
    flt: QueueFilter | None = None

    @classmethod
    def of(cls, seen: dict[int, int | None]) -> Selection:
        return cls(tuple(seen), tuple(seen.values()))

    @classmethod
    def matching(cls, flt: QueueFilter) -> Selection:
        return cls(flt=flt)


@dataclass(frozen=True, slots=True)
class OutboundRoute:
    """How a reply goes out, decided by the services (services.routes), recorded as it is.
    `in_reply_to`: the platform id of the message answered on that channel, or None for a
    message that starts a thread (an email to the customer from a social conversation), which
    then carries `reply_ref` (what the adapter needs: {"subject": …}) and `recipient` (the
    address)."""

    channel: str
    visibility: str  # public | private
    kind: str  # reply | dm | private_reply | email
    in_reply_to: str | None = None
    recipient: str | None = None
    reply_ref: str | None = None


@dataclass(frozen=True, slots=True)
class QueueRow:
    id: int
    priority: int
    status: str
    published_at: datetime
    assigned_at: datetime | None
    sla_due_at: datetime | None
    channel: str
    channel_kind: str
    author_handle: str
    author_name: str
    followers: int
    key_customer: bool
    snippet: str
    tags: tuple[str, ...]
    assignee: str | None
    message_count: int
    private: bool
    version: int = 1
    team: str | None = None
    cluster_id: int | None = None
    cluster_size: int = 0  # conversations in its incident cluster, whatever their status
    outbox: str | None = None  # "failed" or "approval": a reply of it needs attention


@dataclass(frozen=True, slots=True)
class ContactView:
    id: int
    channel: str
    handle: str
    display_name: str
    followers: int
    verified: bool
    location: str | None
    wrote_privately: bool = False  # has ever written to the brand privately on this channel


@dataclass(frozen=True, slots=True)
class MessageView:
    id: int
    direction: Literal["in", "out"]
    kind: str
    visibility: str
    channel: str
    author_handle: str
    author_name: str
    text: str
    published_at: datetime
    platform_id: str
    url: str | None
    edited_at: datetime | None = None  # the author changed it after posting (the text is the new one)
    deleted_at: datetime | None = None  # the author deleted it on the platform


@dataclass(frozen=True, slots=True)
class OutboxView:
    id: int
    text: str
    visibility: str
    state: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    message_id: int | None = None  # the outbound message it became, once sent
    approval_reason: str | None = None  # set while it waits for a supervisor (state "approval")
    kind: str | None = None  # the route it takes: reply | dm | private_reply | email
    channel: str = ""
    recipient: str | None = None
    purpose: str | None = None  # None: an answer; closeout | csat | note
    in_reply_to: str | None = None  # the platform id of the message it answers


@dataclass(frozen=True, slots=True)
class NoteView:
    """An internal note: for colleagues, never sent."""

    id: int
    author: str
    text: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ConversationDetail:
    id: int
    status: str
    priority: int
    published_at: datetime
    sla_due_at: datetime | None
    assignee: str | None
    team: str | None
    tags: tuple[str, ...]
    resolution_code: str | None
    version: int
    contact: ContactView
    messages: tuple[MessageView, ...] = field(default_factory=tuple)
    outbox: tuple[OutboxView, ...] = field(default_factory=tuple)
    reasons: tuple[tuple[str, int], ...] = ()  # why this priority
    sensitive: tuple[str, ...] = ()  # private data found in the customer's public post
    sentiment: int | None = None
    language: str | None = None
    region: str | None = None
    key_customer: bool = False
    channel_kind: str = ""  # of the conversation's first channel (which canned responses fit)
    notes: tuple[NoteView, ...] = ()
    cluster_id: int | None = None
    assigned_at: datetime | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    customer_id: int | None = None  # the person behind the contact, once linked or flagged
    previous_id: int | None = None  # the conversation this one follows (written after the reopen window)
    csat: int | None = None
    csat_asked_at: datetime | None = None
    csat_comment: str | None = None


@dataclass(frozen=True, slots=True)
class AlertView:
    id: int
    at: datetime
    kind: str
    message: str
    conversation_id: int | None


@dataclass(frozen=True, slots=True)
class StreamHealth:
    """One polled stream of a channel (mentions, DMs…; "setup" when the channel cannot start)."""

    stream: str
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    rate_limit: int | None = None
    rate_remaining: int | None = None
    rate_reset_at: datetime | None = None

    @property
    def ok(self) -> bool:
        """No error, or a success since the last one."""
        if self.last_error is None:
            return True
        if self.last_success_at is None or self.last_error_at is None:
            return False
        return self.last_success_at > self.last_error_at


@dataclass(frozen=True, slots=True)
class ChannelHealth:
    """A channel's health: its streams', summed up for a status line."""

    name: str
    kind: str
    streams: tuple[StreamHealth, ...] = ()

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.streams)

    @property
    def last_success_at(self) -> datetime | None:
        return max((s.last_success_at for s in self.streams if s.last_success_at), default=None)

    @property
    def _failing(self) -> StreamHealth | None:
        failing = [s for s in self.streams if not s.ok]
        return max(failing, key=lambda s: s.last_error_at or _NEVER, default=None)

    @property
    def last_error(self) -> str | None:
        """The newest error of a failing stream (named when the channel polls several)."""
        failing = self._failing
        if failing is None:
            return None
        named = len(self.streams) > 1 and failing.stream != "setup"
        return f"{failing.stream}: {failing.last_error}" if named else failing.last_error

    @property
    def last_error_at(self) -> datetime | None:
        failing = self._failing
        return failing.last_error_at if failing else None

    @property
    def rate_remaining(self) -> int | None:
        """The tightest of the streams' remaining calls."""
        return min((s.rate_remaining for s in self.streams if s.rate_remaining is not None), default=None)


@dataclass(frozen=True, slots=True)
class IdentityView:
    """One of a customer's contacts: who they are on a channel."""

    contact_id: int
    channel: str
    handle: str
    display_name: str
    last_message_at: datetime | None


@dataclass(frozen=True, slots=True)
class PastConversation:
    id: int
    channel: str
    status: str
    resolution_code: str | None
    csat: int | None
    published_at: datetime
    last_message_at: datetime


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A contact that is probably the same person, and why."""

    contact_id: int
    channel: str
    handle: str
    display_name: str
    reason: str
    has_customer: bool  # linking it merges two customers: ask first


@dataclass(frozen=True, slots=True)
class CustomerView:
    """The person behind a conversation's contact (id None: not linked to anyone yet)."""

    id: int | None
    name: str
    key_customer: bool
    crm_id: str | None
    notes: str | None
    identities: tuple[IdentityView, ...]
    previous: tuple[PastConversation, ...]
    last_contact_at: datetime | None
    suggestions: tuple[Suggestion, ...] = ()
