"""State changes. Each runs inside the caller's transaction, starts with audit.begin_write and
records its audit events in that same transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, literal, or_, select, text, update
from sqlalchemy.orm import Session, aliased

from . import audit, search_index, states
from . import routes
from .db import hold_write_lock, upsert
from .models import (Agent, Alert, Channel, Contact, Conversation, Customer, Message, Outbox, StreamHealth, Team,
                     UTCDateTime, utcnow)
from .queries import outbox_view
from .views import OutboundRoute, OutboxView

IN_DOUBT_AFTER = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class OutboxClaim:
    """An entry the sender now owns. `in_doubt`: an earlier attempt may have reached the platform."""

    id: int
    channel: str
    idempotency_key: str
    text: str
    visibility: str
    in_reply_to: str | None
    recipient: str | None
    attempts: int
    in_doubt: bool
    recipient_id: str | None = None  # the answered message's author, as the platform knows them
    reply_to_kind: str | None = None
    reply_to_at: datetime | None = None
    reply_ref: str | None = None
    automatic: bool = False


def ensure_channel(session: Session, name: str, kind: str, handle: str | None = None) -> int:
    stmt = upsert(session)(Channel).values(name=name, kind=kind, handle=handle, created_at=utcnow())
    session.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"kind": kind, "handle": handle}))
    return session.execute(select(Channel.id).where(Channel.name == name)).scalar_one()


def agent_id(session: Session, name: str) -> int:
    """The agent's id, creating a plain agent row the first time a name signs in."""
    hold_write_lock(session)  # it may write after reading: on SQLite, queue behind the other writers first
    found = session.execute(select(Agent.id).where(Agent.name == name)).scalar()
    if found is None:
        session.execute(upsert(session)(Agent).values(name=name, display_name=name, skills=[])
                        .on_conflict_do_nothing(index_elements=["name"]))
        found = session.execute(select(Agent.id).where(Agent.name == name)).scalar_one()
    return found


def set_agent_role(session: Session, agent: int, role: str) -> None:
    """agent | supervisor | admin (from the config, or for the demo's person at the keyboard)."""
    audit.begin_write(session)
    if session.execute(update(Agent).where(Agent.id == agent, Agent.role != role).values(role=role)).rowcount:
        audit.record(session, "config", [audit.Event("agent.role", "agent", agent, {"role": role})])


def queue_reply(session: Session, conversation_id: int, body: str, route: OutboundRoute, *, actor: str,
                approval_reason: str | None = None, purpose: str | None = None) -> OutboxView:
    """Put a reply in the outbox on the route the services decided (services.routes): the store
    records it and never re-decides it. With an `approval_reason` it waits (state "approval")
    until a supervisor approves it."""
    audit.begin_write(session)
    channel_id = session.execute(select(Channel.id).where(Channel.name == route.channel)).scalar()
    if channel_id is None:
        raise LookupError(f"no channel {route.channel!r} to send on")
    me = agent_id(session, actor)
    entry = Outbox(conversation_id=conversation_id, channel_id=channel_id,
                   idempotency_key=uuid.uuid4().hex, text=body, visibility=route.visibility,
                   in_reply_to=route.in_reply_to, recipient=route.recipient, kind=route.kind,
                   reply_ref=route.reply_ref, purpose=purpose,
                   state="approval" if approval_reason else "queued", approval_reason=approval_reason,
                   agent_id=me, next_attempt_at=utcnow())
    session.add(entry)
    session.flush()
    events = [audit.Event("reply.queued", "conversation", conversation_id,
                          {"outbox": entry.id, "visibility": route.visibility, "route": route.kind,
                           "channel": route.channel, "approval": approval_reason, "purpose": purpose})]
    # Whoever answers an unassigned conversation owns it (still a conditional update).
    now = utcnow()
    taken = session.execute(update(Conversation).where(
        Conversation.id == conversation_id, Conversation.assignee_id.is_(None)).values(
        assignee_id=me, assigned_at=now, status=text(states.case_sql("assign")),
        version=Conversation.version + 1, updated_at=now)).rowcount == 1
    if taken:
        events.append(audit.Event("assign", "conversation", conversation_id, {"agent": actor, "by": "reply"}))
    audit.record(session, actor, events)
    return outbox_view(entry, route.channel)


def mark_survey(session: Session, conversation_id: int) -> bool:
    """The satisfaction question is going out for this conversation: True the first time only (a
    conditional update, so two resolutions never ask twice), for whoever owns it now."""
    return session.execute(update(Conversation).where(
        Conversation.id == conversation_id, Conversation.csat_asked_at.is_(None)).values(
        csat_asked_at=utcnow(), csat_agent_id=Conversation.assignee_id)).rowcount == 1


def _due(now: datetime, in_doubt_after: timedelta):
    return or_(and_(Outbox.state == "queued", Outbox.next_attempt_at <= now),
               and_(Outbox.state == "sending", Outbox.claimed_at <= now - in_doubt_after))


def outbox_due(session: Session, *, in_doubt_after: timedelta = IN_DOUBT_AFTER) -> bool:
    """A cheap read, so an idle sender does not take the write lock every second."""
    return session.execute(select(Outbox.id).where(_due(utcnow(), in_doubt_after)).limit(1)).first() is not None


def approve(session: Session, outbox_id: int, *, actor: str) -> bool:
    """A supervisor lets a waiting reply go; False if it was not waiting."""
    audit.begin_write(session)
    entry = session.get(Outbox, outbox_id)
    if entry is None or entry.state != "approval":
        return False
    entry.state, entry.approved_by, entry.next_attempt_at = "queued", actor, utcnow()
    audit.record(session, actor, [audit.Event("reply.approved", "conversation", entry.conversation_id,
                                              {"outbox": outbox_id})])
    return True


def cancel_replies(session: Session, outbox_ids: list[int], *, actor: str) -> int:
    """Withdraw replies not yet handed to the sender (queued or waiting for approval); how many."""
    if not outbox_ids:
        return 0
    audit.begin_write(session)
    rows = session.execute(select(Outbox.id, Outbox.conversation_id, Outbox.purpose).where(
        Outbox.id.in_(outbox_ids), Outbox.state.in_(("queued", "approval")))).all()
    if rows:
        session.execute(update(Outbox).where(Outbox.id.in_([r[0] for r in rows])).values(state="cancelled"))
        surveys = [cid for _, cid, purpose in rows if purpose == "csat"]
        if surveys:  # a survey withdrawn was never asked: it may be asked when it is resolved again
            session.execute(update(Conversation).where(Conversation.id.in_(surveys)).values(
                csat_asked_at=None, csat_agent_id=None))
        audit.record(session, actor, [audit.Event("reply.cancelled", "conversation", cid, {"outbox": oid})
                                      for oid, cid, _ in rows])
    return len(rows)


def claim_outbox(session: Session, *, limit: int = 20, now: datetime | None = None,
                 in_doubt_after: timedelta = IN_DOUBT_AFTER) -> list[OutboxClaim]:
    """Take due entries: queued ones whose retry time has come, and ones left 'sending' by a
    sender that stopped mid-send (in doubt: the sender must look before it posts again)."""
    now = now or utcnow()
    audit.begin_write(session)
    answered = aliased(Message)
    rows = session.execute(
        select(Outbox, Channel.name, answered.kind, answered.published_at, answered.reply_ref,
               Contact.platform_user_id)
        .join(Channel, Channel.id == Outbox.channel_id)
        .outerjoin(answered, and_(answered.channel_id == Outbox.channel_id, answered.platform_id == Outbox.in_reply_to))
        .outerjoin(Contact, Contact.id == answered.author_contact_id)
        .where(_due(now, in_doubt_after)).order_by(Outbox.id).limit(limit)).all()
    claims = []
    for entry, channel, kind, published_at, reply_ref, recipient_id in rows:
        claims.append(OutboxClaim(entry.id, channel, entry.idempotency_key, entry.text, entry.visibility,
                                  entry.in_reply_to, entry.recipient, entry.attempts + 1,
                                  in_doubt=entry.state == "sending" or entry.in_doubt, recipient_id=recipient_id,
                                  reply_to_kind=kind, reply_to_at=published_at,
                                  reply_ref=entry.reply_ref or reply_ref, automatic=entry.automatic))
        entry.state, entry.claimed_at, entry.attempts = "sending", now, entry.attempts + 1
    return claims


def unclaim(session: Session, outbox_ids: list[int]) -> None:
    """Claimed entries the sender stopped before attempting: queued again, as they were."""
    if not outbox_ids:
        return
    audit.begin_write(session)
    session.execute(update(Outbox).where(Outbox.id.in_(outbox_ids), Outbox.state == "sending").values(
        state="queued", attempts=Outbox.attempts - 1, claimed_at=None))


def mark_sent(session: Session, outbox_id: int, platform_id: str, url: str | None, sent_at: datetime,
              posted_text: str) -> None:
    """Record a delivered reply as an outbound message of its conversation."""
    audit.begin_write(session)
    entry = session.get(Outbox, outbox_id)
    if entry is None or entry.state == "sent":
        return
    kind = entry.kind or ("reply" if entry.visibility == "public" else "dm")
    stmt = upsert(session)(Message).values(
        conversation_id=entry.conversation_id, channel_id=entry.channel_id, platform_id=platform_id,
        direction="out", visibility=entry.visibility, kind=kind,
        text=posted_text, agent_id=entry.agent_id, in_reply_to=entry.in_reply_to, url=url,
        published_at=sent_at, created_at=utcnow())
    session.execute(stmt.on_conflict_do_nothing(index_elements=["channel_id", "platform_id"]))
    message_id = session.execute(select(Message.id).where(
        Message.channel_id == entry.channel_id, Message.platform_id == platform_id)).scalar_one()
    search_index.reindex(session, [entry.conversation_id])
    _remember_route(session, entry, kind, platform_id)
    entry.state, entry.sent_at, entry.message_id, entry.last_error = "sent", sent_at, message_id, None
    answered = literal(sent_at, UTCDateTime()) if entry.purpose != "csat" else None  # a survey answers nothing
    session.execute(update(Conversation).where(Conversation.id == entry.conversation_id).values(
        message_count=Conversation.message_count + 1, last_message_at=sent_at,
        first_response_at=func.coalesce(Conversation.first_response_at, answered),
        sla_due_at=None,  # answered: the clock stops until the customer writes again
        status=text(states.case_sql("reply_sent")),
        version=Conversation.version + 1, updated_at=utcnow()))
    audit.record(session, "sender", [audit.Event("reply.sent", "conversation", entry.conversation_id,
                                                 {"outbox": outbox_id, "platform_id": platform_id})])


def _remember_route(session: Session, entry: Outbox, kind: str, platform_id: str) -> None:
    """A private reply opens (or continues) the route the customer's answer will come back on."""
    if kind == "email":
        routes.remember(session, entry.channel_id, routes.mail_key(platform_id), entry.conversation_id)
    elif entry.visibility == "private" and entry.in_reply_to:
        author = session.execute(select(Contact.platform_user_id).join(
            Message, Message.author_contact_id == Contact.id).where(
            Message.channel_id == entry.channel_id, Message.platform_id == entry.in_reply_to)).scalar()
        if author:
            routes.remember(session, entry.channel_id, routes.dm_key(author), entry.conversation_id)


def mark_failed(session: Session, outbox_id: int, error: str, *, retry_in: float | None,
                maybe_sent: bool = False) -> None:
    """Put an entry back for a later try (`retry_in` seconds), or fail it for good (None).
    `maybe_sent`: this attempt may have reached the platform, so every later one looks first."""
    audit.begin_write(session)
    entry = session.get(Outbox, outbox_id)
    if entry is None or entry.state == "sent":
        return
    entry.last_error = error
    entry.in_doubt = entry.in_doubt or maybe_sent
    if retry_in is None:
        entry.state = "failed"
    else:
        entry.state, entry.next_attempt_at = "queued", utcnow() + timedelta(seconds=retry_in)
    audit.record(session, "sender", [audit.Event(
        "reply.failed" if retry_in is None else "reply.retry", "conversation", entry.conversation_id,
        {"outbox": outbox_id, "error": error, "retry_in": retry_in})])


def record_poll(session: Session, channel_id: int, stream: str, *, error: str | None = None,
                rate: tuple[int | None, int | None, datetime | None] | None = None) -> None:
    """A stream's health as the screens show it: last success, last error, the rate limit
    (limit, remaining, reset time). Not a change of anyone's work: neither audited nor counted."""
    hold_write_lock(session)
    now = utcnow()
    values: dict = {"last_error": error, "last_error_at": now} if error else {"last_success_at": now}
    if rate is not None:
        values["rate_limit"], values["rate_remaining"], values["rate_reset_at"] = rate
    stmt = upsert(session)(StreamHealth).values(channel_id=channel_id, stream=stream, **values)
    session.execute(stmt.on_conflict_do_update(index_elements=["channel_id", "stream"], set_=values))


def clear_health(session: Session, channel_id: int, stream: str) -> None:
    """Forget a stream's health (a channel that could not start and now has)."""
    hold_write_lock(session)
    session.execute(delete(StreamHealth).where(StreamHealth.channel_id == channel_id, StreamHealth.stream == stream))


@dataclass(frozen=True, slots=True)
class TeamSpec:
    name: str
    skills: tuple[str, ...] = ()
    overflow: str | None = None


@dataclass(frozen=True, slots=True)
class AgentSpec:
    name: str
    display_name: str = ""
    role: str = "agent"
    teams: tuple[str, ...] = ()
    skills: tuple[str, ...] = ()
    cap: int = 20


def sync_people(session: Session, teams: list[TeamSpec], agents: list[AgentSpec]) -> None:
    """Make the teams and agents declared in the config exist as declared. An agent's status
    (available, away, offline) is theirs to set; a new agent starts offline."""
    audit.begin_write(session)
    by_name: dict[str, Team] = {t.name: t for t in session.execute(select(Team)).scalars()}
    for spec in teams:
        team = by_name.get(spec.name) or Team(name=spec.name)
        team.skills = list(spec.skills)
        session.add(team)
        by_name[spec.name] = team
    session.flush()
    for spec in teams:
        by_name[spec.name].overflow_team_id = by_name[spec.overflow].id if spec.overflow else None
    for spec in agents:
        agent = session.execute(select(Agent).where(Agent.name == spec.name)).scalar() or Agent(
            name=spec.name, status="offline")
        agent.display_name, agent.role, agent.cap = spec.display_name or spec.name, spec.role, spec.cap
        agent.skills = list(spec.skills)
        agent.teams = [by_name[t] for t in spec.teams if t in by_name]
        session.add(agent)


def set_agent_status(session: Session, name: str, status: str) -> None:
    """available | away | offline: only available agents are given new conversations."""
    audit.begin_write(session)
    aid = agent_id(session, name)
    session.execute(update(Agent).where(Agent.id == aid).values(status=status))
    audit.record(session, name, [audit.Event("agent.status", "agent", aid, {"status": status})])


def reprioritise(session: Session, changes: list[tuple[int, int, str]], *, actor: str = "rules") -> None:
    """(conversation id, new priority, reasons JSON) for each; one audit event each."""
    if not changes:
        return
    audit.begin_write(session)
    for cid, priority, reasons in changes:
        session.execute(update(Conversation).where(Conversation.id == cid).values(
            priority=priority, reasons=reasons, version=Conversation.version + 1, updated_at=utcnow()))
    audit.record(session, actor, [audit.Event("priority", "conversation", cid, {"priority": p})
                                  for cid, p, _ in changes])


def reroute(session: Session, changes: list[tuple[int, str | None, str | None, str]], *, actor: str = "rules") -> None:
    """(conversation id, team, agent, why) for each: overflow after a wait."""
    if not changes:
        return
    audit.begin_write(session)
    teams = dict(session.execute(select(Team.name, Team.id)).all())
    agents = dict(session.execute(select(Agent.name, Agent.id)).all())
    now = utcnow()
    for cid, team, agent, _ in changes:
        session.execute(update(Conversation).where(Conversation.id == cid).values(
            team_id=teams.get(team), assignee_id=agents.get(agent), assigned_at=now if agent else None,
            version=Conversation.version + 1, updated_at=now))
    audit.record(session, actor, [audit.Event("route", "conversation", cid, {"team": team, "agent": agent,
                                                                             "why": why})
                                  for cid, team, agent, why in changes])


def raise_alert(session: Session, kind: str, message: str, conversation_id: int | None = None) -> None:
    audit.begin_write(session)
    session.add(Alert(kind=kind, message=message, conversation_id=conversation_id, at=utcnow()))
