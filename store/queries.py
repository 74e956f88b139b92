"""Reads for the screens and services. Each returns frozen views from store/views.py."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import orjson

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, aliased

from .models import (
    OPEN_SQL,
    Agent,
    Alert,
    Channel,
    Contact,
    Conversation,
    Cursor,
    Customer,
    Message,
    Meta,
    Outbox,
    StreamHealth,
    Tag,
    Team,
    agent_teams,
)
from .views import (
    AlertView,
    ChannelHealth,
    ContactView,
    ConversationDetail,
    MessageView,
    OutboxView,
)
from .notes import notes_of
from .queue import tags_for
from .views import StreamHealth as StreamHealthView

_OPEN = text(f"conversations.{OPEN_SQL}")


def change_counter(session: Session) -> int:
    return session.execute(select(Meta.value).where(Meta.key == "changes")).scalar_one()


def outbox_view(o: Outbox, channel: str = "") -> OutboxView:
    return OutboxView(id=o.id, text=o.text, visibility=o.visibility, state=o.state, attempts=o.attempts,
                      last_error=o.last_error, created_at=o.created_at, sent_at=o.sent_at, message_id=o.message_id,
                      approval_reason=o.approval_reason, kind=o.kind, channel=channel, recipient=o.recipient,
                      purpose=o.purpose, in_reply_to=o.in_reply_to)


def conversation_detail(session: Session, conversation_id: int) -> ConversationDetail | None:
    conv = session.get(Conversation, conversation_id)
    if conv is None:
        return None
    contact = session.get(Contact, conv.contact_id)
    channels = dict(session.execute(select(Channel.id, Channel.name)).all())
    assignee = session.get(Agent, conv.assignee_id) if conv.assignee_id else None
    team = session.get(Team, conv.team_id) if conv.team_id else None
    author = aliased(Contact)
    messages = tuple(
        MessageView(id=m.id, direction=m.direction, kind=m.kind, visibility=m.visibility,
                    channel=channels.get(m.channel_id, "?"),
                    author_handle=handle or (agent or ""), author_name=name or "",
                    text=m.text, published_at=m.published_at, platform_id=m.platform_id, url=m.url,
                    edited_at=m.edited_at, deleted_at=m.deleted_at)
        for m, handle, name, agent in session.execute(
            select(Message, author.handle, author.display_name, Agent.name)
            .outerjoin(author, author.id == Message.author_contact_id)
            .outerjoin(Agent, Agent.id == Message.agent_id)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.published_at, Message.id)))
    outbox = tuple(outbox_view(o, channels.get(o.channel_id, "?")) for o in session.execute(
        select(Outbox).where(Outbox.conversation_id == conversation_id).order_by(Outbox.id)).scalars())
    assert contact is not None
    return ConversationDetail(
        id=conv.id, status=conv.status, priority=conv.priority, published_at=conv.published_at,
        sla_due_at=conv.sla_due_at, assignee=assignee.name if assignee else None,
        team=team.name if team else None, tags=tags_for(session, [conv.id]).get(conv.id, ()),
        resolution_code=conv.resolution_code, version=conv.version,
        contact=ContactView(id=contact.id, channel=channels.get(contact.channel_id, "?"), handle=contact.handle,
                            display_name=contact.display_name, followers=contact.followers,
                            verified=contact.verified, location=contact.location,
                            wrote_privately=session.execute(select(Conversation.id).where(
                                Conversation.contact_id == contact.id, Conversation.private.is_(True)).limit(1)
                            ).first() is not None),
        messages=messages, outbox=outbox,
        reasons=tuple((label, points) for label, points in orjson.loads(conv.reasons)) if conv.reasons else (),
        sensitive=tuple(conv.sensitive.split(",")) if conv.sensitive else (), sentiment=conv.sentiment,
        language=conv.language, region=conv.region,
        key_customer=bool(contact.customer_id and session.get(Customer, contact.customer_id).key_customer),
        notes=notes_of(session, conv.id), cluster_id=conv.cluster_id,
        assigned_at=conv.assigned_at, first_response_at=conv.first_response_at, resolved_at=conv.resolved_at,
        customer_id=contact.customer_id, previous_id=conv.previous_id, csat=conv.csat,
        csat_asked_at=conv.csat_asked_at, csat_comment=conv.csat_comment,
        channel_kind=session.execute(select(Channel.kind).where(Channel.id == conv.channel_id)).scalar_one())


def alerts_after(session: Session, alert_id: int, limit: int = 20) -> list[AlertView]:
    """Alerts newer than `alert_id`, oldest first."""
    return [AlertView(a.id, a.at, a.kind, a.message, a.conversation_id) for a in session.execute(
        select(Alert).where(Alert.id > alert_id).order_by(Alert.id).limit(limit)).scalars()]


def latest_alert_id(session: Session) -> int:
    return session.execute(select(func.coalesce(func.max(Alert.id), 0))).scalar_one()


def pending_approvals(session: Session) -> list[tuple[int, int, str, str]]:
    """(outbox id, conversation id, text, reason) of replies waiting for a supervisor."""
    return [tuple(r) for r in session.execute(
        select(Outbox.id, Outbox.conversation_id, Outbox.text, Outbox.approval_reason)
        .where(Outbox.state == "approval").order_by(Outbox.id))]


def channel_health(session: Session) -> list[ChannelHealth]:
    streams: dict[int, list[StreamHealthView]] = defaultdict(list)
    for h in session.execute(select(StreamHealth).order_by(StreamHealth.stream)).scalars():
        streams[h.channel_id].append(StreamHealthView(
            h.stream, h.last_success_at, h.last_error, h.last_error_at, h.rate_limit, h.rate_remaining,
            h.rate_reset_at))
    return [ChannelHealth(name=c.name, kind=c.kind, streams=tuple(streams[c.id]))
            for c in session.execute(select(Channel).order_by(Channel.name)).scalars()]


def cursor(session: Session, channel_id: int, stream: str) -> str | None:
    return session.execute(select(Cursor.value).where(
        Cursor.channel_id == channel_id, Cursor.stream == stream)).scalar()


@dataclass(frozen=True, slots=True)
class AuthorMemory:
    """What the store remembers of an author for the rules (see rules.model.AuthorContext)."""

    key_customer: bool
    last_message_at: datetime | None
    recent: tuple[str, ...]
    acknowledged_at: datetime | None


def author_memory(session: Session, channel_id: int, author_ids: set[str]) -> dict[str, AuthorMemory]:
    if not author_ids:
        return {}
    rows = session.execute(
        select(Contact.platform_user_id, func.coalesce(Customer.key_customer, False), Contact.last_message_at,
               Contact.recent, Contact.acknowledged_at)
        .outerjoin(Customer, Customer.id == Contact.customer_id)
        .where(Contact.channel_id == channel_id, Contact.platform_user_id.in_(author_ids)))
    return {pid: AuthorMemory(bool(key), last, tuple(orjson.loads(recent)) if recent else (), acked)
            for pid, key, last, recent, acked in rows}


@dataclass(frozen=True, slots=True)
class AgentLoad:
    name: str
    teams: tuple[str, ...]
    skills: tuple[str, ...]
    status: str
    load: int
    cap: int


def agent_loads(session: Session) -> list[AgentLoad]:
    """Every agent with the number of open conversations assigned to them (for routing)."""
    load = dict(session.execute(
        select(Conversation.assignee_id, func.count()).where(_OPEN, Conversation.assignee_id.is_not(None))
        .group_by(Conversation.assignee_id)).all())
    teams: dict[int, list[str]] = defaultdict(list)
    for agent_id, team in session.execute(
            select(agent_teams.c.agent_id, Team.name).join(Team, Team.id == agent_teams.c.team_id)):
        teams[agent_id].append(team)
    return [AgentLoad(a.name, tuple(teams.get(a.id, ())), tuple(a.skills or ()), a.status, load.get(a.id, 0), a.cap)
            for a in session.execute(select(Agent).order_by(Agent.name)).scalars()]


@dataclass(frozen=True, slots=True)
class Waiting:
    """An open conversation nobody has answered yet, for the overflow and overdue checks."""

    id: int
    team: str | None
    assignee: str | None
    tags: tuple[str, ...]
    published_at: datetime
    sla_due_at: datetime | None
    priority: int
    reasons: str | None


def unanswered(session: Session, *, published_before: datetime, limit: int = 5000) -> list[Waiting]:
    team = aliased(Team)
    rows = session.execute(
        select(Conversation.id, team.name, Agent.name, Conversation.published_at, Conversation.sla_due_at,
               Conversation.priority, Conversation.reasons)
        .outerjoin(team, team.id == Conversation.team_id).outerjoin(Agent, Agent.id == Conversation.assignee_id)
        .where(_OPEN, Conversation.first_response_at.is_(None), Conversation.published_at < published_before)
        .order_by(Conversation.published_at).limit(limit)).all()
    tags = tags_for(session, [r[0] for r in rows])
    return [Waiting(r[0], r[1], r[2], tags.get(r[0], ()), r[3], r[4], r[5], r[6]) for r in rows]


def inbound_per_minute(session: Session, *, after_id: int | None, posted_since: datetime
                       ) -> tuple[int, list[tuple[datetime, int]]]:
    """Inbound messages stored after message `after_id` (or, the first time, posted since
    `posted_since`), counted by the minute they were posted; and the last id seen."""
    stmt = select(Message.id, Message.published_at).where(Message.direction == "in")
    stmt = stmt.where(Message.id > after_id) if after_id is not None else stmt.where(Message.published_at >= posted_since)
    counts: dict[datetime, int] = defaultdict(int)
    last = after_id or 0
    for message_id, at in session.execute(stmt):
        counts[at.replace(second=0, microsecond=0)] += 1
        last = max(last, message_id)
    if after_id is None and not counts:
        last = session.execute(select(func.coalesce(func.max(Message.id), 0))).scalar_one()
    return last, sorted(counts.items())


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """Who is signed in, as the store knows them (see services.commands.Actor)."""

    id: int
    name: str
    role: str
    teams: tuple[str, ...]
    team_ids: tuple[int, ...]


def agent_profile(session: Session, name: str) -> AgentProfile | None:
    agent = session.execute(select(Agent).where(Agent.name == name)).scalar()
    if agent is None:
        return None
    teams = sorted((t.name, t.id) for t in agent.teams)
    return AgentProfile(agent.id, agent.name, agent.role, tuple(n for n, _ in teams), tuple(i for _, i in teams))


@dataclass(frozen=True, slots=True)
class Names:
    """Every name a command or a query may use."""

    channels: tuple[str, ...]
    teams: dict[str, int]
    agents: dict[str, int]
    tags: tuple[str, ...]


def names(session: Session) -> Names:
    def ids(model) -> dict[str, int]:
        return dict(session.execute(select(model.name, model.id).order_by(model.name)).all())

    return Names(tuple(ids(Channel)), ids(Team), ids(Agent), tuple(ids(Tag)))


def recent_signatures(session: Session, since: datetime) -> list[tuple[int, bytes, datetime]]:
    """(id, signature, first message time) of conversations started since `since`, oldest
    first: what the incident-cluster index is rebuilt from after a restart."""
    return [tuple(r) for r in session.execute(
        select(Conversation.id, Conversation.signature, Conversation.published_at)
        .where(Conversation.published_at >= since, Conversation.signature.is_not(None))
        .order_by(Conversation.published_at, Conversation.id))]
