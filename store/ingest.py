"""Write one page of inbound messages: contacts, conversations, messages, tags, cursor and audit
in a single transaction, idempotent on (channel, platform id). Set-based Core statements only."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson
from sqlalchemy import bindparam, case, select, text, update
from sqlalchemy.orm import Session

from . import audit, routes, search_index, states
from .models import (
    OPEN_SQL,
    Agent,
    Alert,
    Cluster,
    Contact,
    Conversation,
    Cursor,
    Message,
    Team,
    UTCDateTime,
    utcnow,
)
from .bulk import Bulk
from .placement import Placed, place_messages
from .db import upsert
from .tags import tag_ids


@dataclass(frozen=True, slots=True)
class IngestItem:
    """One inbound message as the store takes it, classified by the rules."""

    platform_id: str
    kind: str
    visibility: str
    text: str
    published_at: datetime
    author_id: str
    author_handle: str
    author_name: str = ""
    followers: int = 0
    verified: bool = False
    bot: bool = False
    location: str | None = None
    in_reply_to: str | None = None
    language: str | None = None
    url: str | None = None
    likes: int = 0
    reposts: int = 0
    replies: int = 0
    is_repost: bool = False
    raw: str | None = None
    priority: int = 0
    tags: tuple[str, ...] = ()
    status: str = "new"
    sla_minutes: int | None = None
    reasons: tuple[tuple[str, int], ...] = ()  # why this priority, for the agent
    team: str | None = None
    assignee: str | None = None  # chosen by routing
    sentiment: int | None = None
    region: str | None = None
    sensitive: tuple[str, ...] = ()
    alerts: tuple[str, ...] = ()
    author_recent: str | None = None  # JSON: the author's last texts after this message
    acknowledgement: str | None = None  # an automated out-of-hours reply to queue
    reply_ref: str | None = None  # the adapter's note of how to answer it
    edited_at: datetime | None = None  # set when the platform says the text was changed
    signature: bytes | None = None  # for incident clusters (rules.clusters)
    case_id: int | None = None  # the conversation a case reference in it names ("[SD-000243]")
    score: int | None = None  # the 1-10 score it gives, should it answer the satisfaction question


@dataclass(frozen=True, slots=True)
class IngestResult:
    stored: int
    duplicates: int
    new_conversations: int
    conversation_ids: tuple[int, ...] = field(default=(), repr=False)
    edited: int = 0
    deleted: int = 0


def save_cursor(session: Session, channel_id: int, stream: str, value: str | None) -> None:
    stmt = upsert(session)(Cursor).values(channel_id=channel_id, stream=stream, value=value, updated_at=utcnow())
    session.execute(stmt.on_conflict_do_update(
        index_elements=["channel_id", "stream"], set_={"value": value, "updated_at": utcnow()}))


def set_clusters(session: Session, joined: list[tuple[int, int, datetime, datetime]], *,
                 stored: set[int] = frozenset()) -> None:
    """(conversation id, cluster head id, its time, the head's time) for new conversations that
    joined an incident cluster: a head stored earlier now points at its cluster too (those in
    `stored` already do), and the cluster's size and time span grow. Not a change anyone acts
    on: no version bump."""
    if not joined:
        return
    heads = {head for _, head, _, _ in joined} - stored
    if heads:
        session.connection().execute(
            update(Conversation).where(Conversation.id == bindparam("cid")).values(cluster_id=bindparam("cid")),
            [{"cid": head} for head in heads])
    grown: dict[int, list] = {}
    for _, head, at, head_at in joined:
        entry = grown.setdefault(head, [0, head_at, head_at])
        entry[0] += 1
        entry[2] = max(entry[2], at)
    stmt = upsert(session)(Cluster).values([
        {"id": head, "size": n + 1, "first_at": first, "last_at": last} for head, (n, first, last) in grown.items()])
    session.execute(stmt.on_conflict_do_update(index_elements=["id"], set_={
        "size": Cluster.size + stmt.excluded.size - 1,
        "last_at": case((stmt.excluded.last_at > Cluster.last_at, stmt.excluded.last_at), else_=Cluster.last_at)}))


SNIPPET = 160  # characters of the first message the queue shows (wider than any terminal row)


def snippet(text: str) -> str:
    """What the queue shows of a conversation's first message: one line, SNIPPET characters."""
    return " ".join(text[:400].split())[:SNIPPET]
CONTACT_COLUMNS = ("channel_id", "platform_user_id", "handle", "display_name", "followers", "verified",
                   "bot", "location", "updated_at", "last_message_at", "recent")
CONVERSATION_COLUMNS = ("id", "status", "priority", "contact_id", "channel_id", "private", "snippet",
                        "message_count", "language", "published_at", "last_message_at", "sla_due_at",
                        "version", "created_at", "updated_at", "team_id", "assignee_id", "assigned_at",
                        "sentiment", "region", "reasons", "sensitive", "signature", "cluster_id", "previous_id")
MESSAGE_COLUMNS = ("id", "conversation_id", "channel_id", "platform_id", "direction", "visibility", "kind",
                   "text", "author_contact_id", "in_reply_to", "url", "language", "published_at", "likes",
                   "reposts", "replies", "is_repost", "raw", "created_at", "reply_ref", "edited_at")


def _contact_ids(bulk: Bulk, channel_id: int, items: list[IngestItem]) -> dict[str, int]:
    """Upsert the authors (profiles change: the newest wins) and return their ids."""
    latest = {it.author_id: it for it in items}
    now = bulk.time(utcnow())
    return dict(bulk.upsert_returning(
        "contacts", CONTACT_COLUMNS,
        [(channel_id, it.author_id, it.author_handle, it.author_name, it.followers, it.verified, it.bot,
          it.location, now, bulk.time(it.published_at), it.author_recent) for it in latest.values()],
        conflict="channel_id, platform_user_id", updates=CONTACT_COLUMNS[2:], returning="platform_user_id, id"))


Place = Callable[[list[tuple[int, bytes, datetime]]], list[tuple[int, int, datetime, datetime]]]


def write_batch(
    session: Session, channel_id: int, items: list[IngestItem], *,
    cursor: tuple[str, str | None] | None = None, actor: str = "ingest", deleted: list[str] | None = None,
    place: Place | None = None, reopen_within: timedelta | None = None,
) -> IngestResult:
    """Store a page: new messages, edits of stored ones, deletions the platform reported, and
    the cursor. The caller's transaction commits it; run it inside `sessions.begin()`.
    `place` puts new conversations in incident clusters: given (id, signature, first message
    time) of those with a signature, it answers (id, cluster head id, time, head's time) for
    those that joined a cluster."""
    audit.begin_write(session)
    unique = list({it.platform_id: it for it in items}.values())
    unique.sort(key=lambda it: it.published_at)
    seen = set()
    if unique:
        seen = set(session.execute(select(Message.platform_id).where(
            Message.channel_id == channel_id,
            Message.platform_id.in_([it.platform_id for it in unique]))).scalars())
    fresh = [it for it in unique if it.platform_id not in seen]
    result = IngestResult(0, len(items) - len(fresh), 0)
    if fresh:
        result = _store_fresh(session, channel_id, fresh, duplicates=len(items) - len(fresh), cluster=place,
                              reopen_within=reopen_within)
    events = []
    edits = [it for it in unique if it.platform_id in seen and it.edited_at is not None]
    if edits:
        events += _apply_edits(session, channel_id, edits)
    if deleted:
        events += _apply_deletions(session, channel_id, deleted)
    if cursor is not None:
        save_cursor(session, channel_id, *cursor)
    audit.record(session, actor, [audit.Event("ingest", "channel", channel_id, {
        "stored": result.stored, "duplicates": result.duplicates,
        "new_conversations": list(result.conversation_ids), "cursor": cursor[1] if cursor else None}), *events])
    edited = sum(e.action == "message.edited" for e in events)
    return IngestResult(result.stored, result.duplicates - edited, result.new_conversations, result.conversation_ids,
                        edited=edited, deleted=len(events) - edited)


def _apply_edits(session: Session, channel_id: int, edits: list[IngestItem]) -> list[audit.Event]:
    """New text for stored messages the author changed (only a newer edit replaces an older
    one); the conversation's snippet follows when the edited message started it."""
    stored = {pid: (mid, cid, published, edited) for pid, mid, cid, published, edited in session.execute(
        select(Message.platform_id, Message.id, Message.conversation_id, Message.published_at, Message.edited_at)
        .where(Message.channel_id == channel_id, Message.direction == "in",
               Message.platform_id.in_([it.platform_id for it in edits])))}
    events = []
    for it in edits:
        found = stored.get(it.platform_id)
        if found is None or (found[3] is not None and found[3] >= it.edited_at):
            continue
        mid, cid, published, _ = found
        session.execute(update(Message).where(Message.id == mid).values(
            text=it.text, edited_at=it.edited_at, raw=it.raw, reply_ref=it.reply_ref or Message.reply_ref))
        session.execute(update(Conversation).where(Conversation.id == cid).values(
            snippet=case((Conversation.published_at == published, snippet(it.text)),
                         else_=Conversation.snippet),
            version=Conversation.version + 1, updated_at=utcnow()))
        events.append(audit.Event("message.edited", "conversation", cid, {"message": mid}))
    return events


def _apply_deletions(session: Session, channel_id: int, platform_ids: list[str]) -> list[audit.Event]:
    """Mark messages their authors deleted. The text stays: the team may have to answer for
    what was said, and the timeline shows it as deleted."""
    rows = session.execute(select(Message.id, Message.conversation_id).where(
        Message.channel_id == channel_id, Message.platform_id.in_(platform_ids),
        Message.deleted_at.is_(None))).all()
    if not rows:
        return []
    now = utcnow()
    session.execute(update(Message).where(Message.id.in_([mid for mid, _ in rows])).values(deleted_at=now))
    session.execute(update(Conversation).where(Conversation.id.in_({cid for _, cid in rows})).values(
        version=Conversation.version + 1, updated_at=now))
    return [audit.Event("message.deleted", "conversation", cid, {"message": mid}) for mid, cid in rows]


def _names_to_ids(session: Session, starters: list[IngestItem]) -> tuple[dict, dict]:
    """Team and agent names the rules chose, as ids (unknown names are left unset)."""
    teams = {it.team for it in starters if it.team}
    agents = {it.assignee for it in starters if it.assignee}
    return (dict(session.execute(select(Team.name, Team.id).where(Team.name.in_(teams))).all()) if teams else {},
            dict(session.execute(select(Agent.name, Agent.id).where(Agent.name.in_(agents))).all()) if agents else {})


def _alerts_and_acknowledgements(session: Session, bulk: Bulk, channel_id: int, placement, new_ids, contacts,
                                 now) -> None:
    """Alerts the rules raised, and out-of-hours acknowledgements, queued like any reply."""
    alert_rows, ack_rows, acked = [], [], []
    raised = {message for it, _, _ in placement for message in it.alerts}
    if raised:  # the same alert (an influencer posting again) at most once an hour
        raised -= set(session.execute(select(Alert.message).where(
            Alert.message.in_(raised), Alert.at >= utcnow() - timedelta(hours=1))).scalars())
    for it, is_new, ref in placement:
        conv_id = new_ids[ref] if is_new else ref
        for message in it.alerts:
            if message in raised:
                alert_rows.append((now, "rule", message, conv_id))
                raised.discard(message)
        if it.acknowledgement:
            ack_rows.append((conv_id, channel_id, uuid.uuid4().hex, it.acknowledgement, it.visibility,
                             it.platform_id, it.author_handle, "queued", 0, now, now, True))
            acked.append({"cid": contacts[it.author_id]})
    bulk.insert("alerts", ("at", "kind", "message", "conversation_id"), alert_rows)
    bulk.insert("outbox", ("conversation_id", "channel_id", "idempotency_key", "text", "visibility", "in_reply_to",
                           "recipient", "state", "attempts", "next_attempt_at", "created_at", "automatic"), ack_rows)
    if acked:
        session.connection().execute(
            update(Contact).where(Contact.id == bindparam("cid")).values(acknowledged_at=utcnow()), acked)


def _touch(session: Session, counts: dict[int, list], new: set[int], placed: Placed, *, sla: int | None) -> None:
    """Stored conversations that got a message: count it. One that was answered or finished
    reopens (its resolution is undone) and its SLA clock starts again from the customer's new
    message; one whose customer answered the satisfaction question with a score keeps its state
    and records the score; an answer that was no score is kept as their comment."""
    now = utcnow()
    touched = [{"cid": cid, "n": n, "last": last, "due": last + timedelta(minutes=sla) if sla else None}
               for cid, (n, last) in counts.items() if cid not in new and cid not in placed.answers]
    answered = [{"cid": cid, "n": n, "last": last, "score": placed.answers[cid]}
                for cid, (n, last) in counts.items() if cid in placed.answers]
    base = update(Conversation).where(Conversation.id == bindparam("cid"))
    counted = {"message_count": Conversation.message_count + bindparam("n"), "last_message_at": bindparam("last"),
               "version": Conversation.version + 1, "updated_at": now}
    if touched:
        # Literal SQL from the state machine: executemany takes no IN list.
        waiting_on_us = text(states.in_sql(states.WAITING_ON_US))
        done = text(states.in_sql(states.DONE))
        session.connection().execute(base.values(
            **counted,
            sla_due_at=case((waiting_on_us, Conversation.sla_due_at), else_=bindparam("due", type_=UTCDateTime())),
            resolution_code=case((done, None), else_=Conversation.resolution_code),
            resolved_at=case((done, None), else_=Conversation.resolved_at),
            status=text(states.case_sql("customer_wrote"))), touched)
    if answered:
        session.connection().execute(base.values(**counted, csat=bindparam("score"), csat_at=now), answered)
    if placed.comments:
        session.connection().execute(
            base.values(csat_comment=bindparam("comment")),
            [{"cid": cid, "comment": comment[:2000]} for cid, comment in placed.comments.items()])


def _store_fresh(session: Session, channel_id: int, fresh: list[IngestItem], duplicates: int,
                 cluster: Place | None = None, reopen_within: timedelta | None = None) -> IngestResult:
    bulk = Bulk(session.connection())
    contacts = _contact_ids(bulk, channel_id, fresh)
    placed = place_messages(session, channel_id, fresh, contacts, now=utcnow(), reopen_within=reopen_within)
    starters, placement = placed.starters, placed.placement
    new_ids = bulk.allocate_ids("conversations", len(starters))
    message_ids = bulk.allocate_ids("messages", len(placement))
    counts: dict[int, list] = {}  # conversation id -> [messages added, newest time]
    rows = []
    now = bulk.time(utcnow())
    for (it, is_new, ref), message_id in zip(placement, message_ids):
        conv_id = new_ids[ref] if is_new else ref
        seen = counts.setdefault(conv_id, [0, it.published_at])
        seen[0] += 1
        seen[1] = max(seen[1], it.published_at)
        rows.append((message_id, conv_id, channel_id, it.platform_id, "in", it.visibility, it.kind, it.text,
                     contacts[it.author_id], it.in_reply_to, it.url, it.language, bulk.time(it.published_at),
                     it.likes, it.reposts, it.replies, it.is_repost, it.raw, now, it.reply_ref,
                     bulk.time(it.edited_at) if it.edited_at else None))
    teams, agents = _names_to_ids(session, starters)
    joined = cluster([(cid, it.signature, it.published_at) for cid, it in zip(new_ids, starters)
                      if it.signature is not None]) if cluster else []
    cluster_of = {cid: head for cid, head, _, _ in joined} | {head: head for _, head, _, _ in joined}
    conversation_rows = [
        (conv_id, it.status, it.priority, contacts[it.author_id], channel_id, it.visibility == "private",
         snippet(it.text), counts[conv_id][0], it.language, bulk.time(it.published_at),
         bulk.time(counts[conv_id][1]),
         bulk.time(it.published_at + timedelta(minutes=it.sla_minutes)) if it.sla_minutes else None,
         1, now, now, teams.get(it.team), agents.get(it.assignee), now if agents.get(it.assignee) else None,
         it.sentiment, it.region, orjson.dumps(it.reasons).decode() if it.reasons else None,
         ",".join(it.sensitive) or None, it.signature, cluster_of.get(conv_id), placed.previous.get(index))
        for index, (conv_id, it) in enumerate(zip(new_ids, starters))]
    bulk.insert("conversations", CONVERSATION_COLUMNS, conversation_rows)
    bulk.insert("messages", MESSAGE_COLUMNS, rows)
    new_set = set(new_ids)
    if new_ids:
        search_index.index_new(session, new_ids[0])
    search_index.reindex(session, (cid for cid in counts if cid not in new_set))
    _touch(session, counts, new_set, placed, sla=next((it.sla_minutes for it in fresh if it.sla_minutes), None))
    _alerts_and_acknowledgements(session, bulk, channel_id, placement, new_ids, contacts, now)
    wanted = {name for it in starters for name in it.tags}
    if wanted:
        ids = tag_ids(session, wanted)
        bulk.insert("conversation_tags", ("conversation_id", "tag_id"), [
            (conv_id, ids[name]) for conv_id, it in zip(new_ids, starters) for name in dict.fromkeys(it.tags)])
    set_clusters(session, joined, stored=set(new_ids))
    return IngestResult(len(rows), duplicates, len(new_ids), tuple(new_ids))
