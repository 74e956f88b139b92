"""Frozen read models: what store queries return, so no ORM object ever reaches a screen."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

OPEN_STATUSES = ("new", "open", "pending")
DONE_STATUSES = ("resolved", "closed")
STATUSES = ("new", "open", "pending", "resolved", "closed")


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """Which conversations the queue shows. `status="open"` means new, open and pending."""

    status: str = "open"
    search: str = ""
    assignee: str | None = None
    channel: str | None = None


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


@dataclass(frozen=True, slots=True)
class ContactView:
    id: int
    channel: str
    handle: str
    display_name: str
    followers: int
    verified: bool
    location: str | None


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


@dataclass(frozen=True, slots=True)
class AlertView:
    id: int
    at: datetime
    kind: str
    message: str
    conversation_id: int | None


@dataclass(frozen=True, slots=True)
class ChannelHealth:
    name: str
    kind: str
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    rate_remaining: int | None
