"""Typed SQLAlchemy models for the nouns in ARCHITECTURE.md.

Hot paths (ingest, bulk actions, the queue) use Core statements against these tables; the ORM
classes are the schema's single description and serve the less frequent commands.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from . import states

# The queue's "open" and "done" sets, written literally so that both SQLite and PostgreSQL match
# the partial indexes (SQLite's planner proves only identical predicates).
OPEN_SQL = states.in_sql(states.OPEN)
DONE_SQL = states.in_sql(states.DONE)
# Unassigned conversations (most new ones) stay out of the per-agent index; `assignee_id = ?`
# implies the NOT NULL term on both backends.
MINE_SQL = f"{OPEN_SQL} AND assignee_id IS NOT NULL"


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC on every backend, returned as an aware UTC datetime."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


agent_teams = Table(
    "agent_teams",
    Base.metadata,
    Column("agent_id", ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True),
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
)

conversation_tags = Table(
    "conversation_tags",
    Base.metadata,
    Column("conversation_id", ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_conversation_tags_tag", "tag_id"),
)


class Meta(Base):
    """Counters every writer bumps; `changes` tells screens something moved."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class Channel(Base):
    __tablename__ = "channels"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    handle: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StreamHealth(Base):
    """How each thing a channel polls is doing, as the screens show it. Stream "setup" holds a
    channel that could not start (no credentials, a bad setting)."""

    __tablename__ = "stream_health"
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True)
    stream: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    rate_limit: Mapped[int | None]
    rate_remaining: Mapped[int | None]
    rate_reset_at: Mapped[datetime | None]


class Cursor(Base):
    __tablename__ = "cursors"
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True)
    stream: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    key_customer: Mapped[bool] = mapped_column(Boolean, default=False)
    crm_id: Mapped[str | None] = mapped_column(String(100))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("channel_id", "platform_user_id", name="uq_contacts_channel_user"),
                      Index("ix_contacts_handle_lower", text("lower(handle)")))
    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    platform_user_id: Mapped[str] = mapped_column(String(200))
    handle: Mapped[str] = mapped_column(String(300))
    display_name: Mapped[str] = mapped_column(String(300), default="")
    followers: Mapped[int] = mapped_column(default=0)
    verified: Mapped[bool] = mapped_column(default=False)
    bot: Mapped[bool] = mapped_column(default=False)
    location: Mapped[str | None] = mapped_column(String(300))
    language: Mapped[str | None] = mapped_column(String(20))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # What the rules need to know of the author's past without reading their messages:
    last_message_at: Mapped[datetime | None]
    recent: Mapped[str | None] = mapped_column(Text)  # JSON: their last few texts (duplicate check)
    acknowledged_at: Mapped[datetime | None]  # last out-of-hours acknowledgement sent to them


class Team(Base):
    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    overflow_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))


class Agent(Base):
    __tablename__ = "agents"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20), default="agent")
    status: Mapped[str] = mapped_column(String(20), default="available")
    cap: Mapped[int] = mapped_column(default=20)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    teams: Mapped[list[Team]] = relationship(secondary=agent_teams)


class Tag(Base):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        # The default queue: open conversations by priority, oldest first (keyset-pageable).
        Index("ix_conversations_queue", text("priority DESC"), "published_at", "id",
              sqlite_where=text(OPEN_SQL), postgresql_where=text(OPEN_SQL)),
        Index("ix_conversations_mine", "assignee_id", text("priority DESC"), "published_at", "id",
              sqlite_where=text(MINE_SQL), postgresql_where=text(MINE_SQL)),
        Index("ix_conversations_order", text("priority DESC"), "published_at", "id"),
        Index("ix_conversations_contact", "contact_id", "private", "status"),
        Index("ix_conversations_cluster", "cluster_id", "id", sqlite_where=text("cluster_id IS NOT NULL"),
              postgresql_where=text("cluster_id IS NOT NULL")),
        Index("ix_conversations_published", "published_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="new")
    priority: Mapped[int] = mapped_column(default=0)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    private: Mapped[bool] = mapped_column(default=False)
    snippet: Mapped[str] = mapped_column(String(300), default="")
    message_count: Mapped[int] = mapped_column(default=0)
    sentiment: Mapped[int | None]
    language: Mapped[str | None] = mapped_column(String(20))
    region: Mapped[str | None] = mapped_column(String(40))
    sla_due_at: Mapped[datetime | None]
    published_at: Mapped[datetime]
    last_message_at: Mapped[datetime]
    assigned_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    resolution_code: Mapped[str | None] = mapped_column(String(40))
    csat: Mapped[int | None]
    csat_asked_at: Mapped[datetime | None]  # the survey went out (once: never asked twice)
    csat_agent_id: Mapped[int | None]  # whose conversation it was when asked
    csat_at: Mapped[datetime | None]  # when the answer came
    csat_comment: Mapped[str | None] = mapped_column(Text)  # an answer that was not a score
    previous_id: Mapped[int | None]  # the conversation this one follows (written after the reopen window)
    reasons: Mapped[str | None] = mapped_column(Text)  # JSON [[label, points], …]: why this priority
    sensitive: Mapped[str | None] = mapped_column(String(100))  # kinds of private data in a public post
    cluster_id: Mapped[int | None]  # the conversation that started its incident cluster
    signature: Mapped[bytes | None] = mapped_column(LargeBinary)  # MinHash of its first message
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Cluster(Base):
    """An incident cluster: near-duplicate mentions grouped as they arrive (rules.clusters).
    Its id is its first conversation's; every member's conversations.cluster_id points here."""

    __tablename__ = "clusters"
    id: Mapped[int] = mapped_column(primary_key=True)
    size: Mapped[int]
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel_id", "platform_id", name="uq_messages_channel_platform"),
        Index("ix_messages_conversation", "conversation_id", "published_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    platform_id: Mapped[str] = mapped_column(String(200))
    direction: Mapped[str] = mapped_column(String(3))
    visibility: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    author_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    in_reply_to: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(20))
    published_at: Mapped[datetime]
    likes: Mapped[int] = mapped_column(default=0)
    reposts: Mapped[int] = mapped_column(default=0)
    replies: Mapped[int] = mapped_column(default=0)
    is_repost: Mapped[bool] = mapped_column(default=False)
    raw: Mapped[str | None] = mapped_column(Text)
    reply_ref: Mapped[str | None] = mapped_column(Text)  # the adapter's note of how to answer it
    edited_at: Mapped[datetime | None]  # the author changed the text after posting
    deleted_at: Mapped[datetime | None]  # the author deleted it; the text stays for the record
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Note(Base):
    """An internal note on a conversation: for colleagues, never sent to the customer."""

    __tablename__ = "notes"
    __table_args__ = (Index("ix_notes_conversation", "conversation_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConversationRoute(Base):
    """Where a conversation continues on a channel: a private chat with someone ("dm:<their
    platform id>"), an email thread ("mail:<Message-ID>"). The customer's private answers and
    email replies join the conversation their route leads to."""

    __tablename__ = "conversation_routes"
    __table_args__ = (UniqueConstraint("channel_id", "route_key", name="uq_conversation_routes_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    route_key: Mapped[str] = mapped_column(String(300))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Outbox(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state", "state", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    text: Mapped[str] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(10))
    in_reply_to: Mapped[str | None] = mapped_column(String(200))
    recipient: Mapped[str | None] = mapped_column(String(300))
    kind: Mapped[str | None] = mapped_column(String(20))  # the route: reply | dm | private_reply | email
    purpose: Mapped[str | None] = mapped_column(String(20))  # None: an answer; closeout | csat | note
    reply_ref: Mapped[str | None] = mapped_column(Text)  # for a message that starts a thread (an email)
    state: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    approval_reason: Mapped[str | None] = mapped_column(Text)  # why it waits for a supervisor
    automatic: Mapped[bool] = mapped_column(default=False)  # an acknowledgement nobody typed
    in_doubt: Mapped[bool] = mapped_column(default=False)  # an earlier attempt may have reached the platform
    approved_by: Mapped[str | None] = mapped_column(String(80))
    claimed_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class Alert(Base):
    """Something a supervisor should see now: a keyword, an influencer or key customer, a spike."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_at", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(30))
    message: Mapped[str] = mapped_column(Text)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))


class AlertDelivery(Base):
    """One alert on its way to one target ("webhook" or "email"): queued, claimed (`sending`),
    then `sent`, or `failed` after the last attempt. Queued by the first sender that sees the
    alert; the `meta` row "alert_queue_from" holds the last alert raised before there was a queue."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (UniqueConstraint("alert_id", "target", name="uq_alert_deliveries_alert_target"),
                      Index("ix_alert_deliveries_state", "state", "next_attempt_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Append-only and hash-chained: each row's hash covers its content and the previous hash."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_object", "object_type", "object_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(30))
    object_id: Mapped[int | None]
    details: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's head, one row (id 1) updated with every event written: how many events, the
    newest hash, and an HMAC of both (store.anchor) when the writer holds the audit key."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(primary_key=True)
    events: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str | None] = mapped_column(String(64))
