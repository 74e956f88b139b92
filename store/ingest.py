"""Write one page of inbound messages: contacts, conversations, messages, tags, cursor and audit
in a single transaction, idempotent on (channel, platform id). Set-based Core statements only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from . import audit
from .models import OPEN_SQL, Contact, Conversation, Cursor, Message, conversation_tags, utcnow
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


@dataclass(frozen=True, slots=True)
class IngestResult:
    stored: int
    duplicates: int
    new_conversations: int
    conversation_ids: tuple[int, ...] = field(default=(), repr=False)


def _upsert(session: Session):
    return (postgresql if session.get_bind().dialect.name == "postgresql" else sqlite).insert


def save_cursor(session: Session, channel_id: int, stream: str, value: str | None) -> None:
    stmt = _upsert(session)(Cursor).values(channel_id=channel_id, stream=stream, value=value, updated_at=utcnow())
    session.execute(stmt.on_conflict_do_update(
        index_elements=["channel_id", "stream"], set_={"value": value, "updated_at": utcnow()}))


def _contact_ids(session: Session, channel_id: int, items: list[IngestItem]) -> dict[str, int]:
    latest = {it.author_id: it for it in items}
    now = utcnow()
    rows = [{"channel_id": channel_id, "platform_user_id": it.author_id, "handle": it.author_handle,
             "display_name": it.author_name, "followers": it.followers, "verified": it.verified,
             "bot": it.bot, "location": it.location, "updated_at": now} for it in latest.values()]
    stmt = _upsert(session)(Contact)
    stmt = stmt.on_conflict_do_update(
        index_elements=["channel_id", "platform_user_id"],
        set_={k: getattr(stmt.excluded, k) for k in
              ("handle", "display_name", "followers", "verified", "bot", "location", "updated_at")})
    session.execute(stmt, rows)
    found = session.execute(
        select(Contact.platform_user_id, Contact.id).where(
            Contact.channel_id == channel_id, Contact.platform_user_id.in_(list(latest)))
    ).all()
    return dict(found)


def write_batch(
    session: Session, channel_id: int, items: list[IngestItem], *,
    cursor: tuple[str, str | None] | None = None, actor: str = "ingest",
) -> IngestResult:
    """Store a page. The caller's transaction commits it; run it inside `sessions.begin()`."""
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
        result = _store_fresh(session, channel_id, fresh, duplicates=len(items) - len(fresh))
    if cursor is not None:
        save_cursor(session, channel_id, *cursor)
    audit.record(session, actor, [audit.Event("ingest", "channel", channel_id, {
        "stored": result.stored, "duplicates": result.duplicates,
        "new_conversations": list(result.conversation_ids), "cursor": cursor[1] if cursor else None})])
    return result


def _store_fresh(session: Session, channel_id: int, fresh: list[IngestItem], duplicates: int) -> IngestResult:
    contacts = _contact_ids(session, channel_id, fresh)
    parents = {it.in_reply_to for it in fresh if it.in_reply_to}
    thread_of: dict[str, int] = {}
    if parents:
        thread_of = dict(session.execute(select(Message.platform_id, Message.conversation_id).where(
            Message.channel_id == channel_id, Message.platform_id.in_(parents))).all())
    private_contacts = {contacts[it.author_id] for it in fresh if it.visibility == "private"}
    open_private: dict[int, int] = {}
    if private_contacts:
        for cid, contact_id in session.execute(
            select(Conversation.id, Conversation.contact_id).where(
                Conversation.contact_id.in_(private_contacts), Conversation.private.is_(True),
                text(f"conversations.{OPEN_SQL}")).order_by(Conversation.id)):
            open_private[contact_id] = cid

    # Decide each message's conversation: ("old", id) joins a stored one, ("new", i) the i-th new one.
    home: dict[str, tuple[str, int]] = {pid: ("old", cid) for pid, cid in thread_of.items()}
    dm_home: dict[int, tuple[str, int]] = {contact: ("old", cid) for contact, cid in open_private.items()}
    new_convs: list[dict] = []
    placement: list[tuple[IngestItem, tuple[str, int]]] = []
    for it in fresh:
        contact_id = contacts[it.author_id]
        place = home.get(it.in_reply_to) if it.in_reply_to else None
        if place is None and it.visibility == "private":
            place = dm_home.get(contact_id)
        if place is None:
            place = ("new", len(new_convs))
            new_convs.append({
                "status": it.status, "priority": it.priority, "contact_id": contact_id,
                "channel_id": channel_id, "private": it.visibility == "private",
                "snippet": " ".join(it.text.split())[:300], "message_count": 0,
                "language": it.language, "published_at": it.published_at,
                "last_message_at": it.published_at, "version": 1,
                "sla_due_at": it.published_at + timedelta(minutes=it.sla_minutes) if it.sla_minutes else None})
        if it.visibility == "private":
            dm_home.setdefault(contact_id, place)
        home[it.platform_id] = place
        placement.append((it, place))
        if place[0] == "new":
            conv = new_convs[place[1]]
            conv["message_count"] += 1
            conv["last_message_at"] = max(conv["last_message_at"], it.published_at)

    new_ids: list[int] = []
    if new_convs:
        new_ids = list(session.execute(
            insert(Conversation).returning(Conversation.id, sort_by_parameter_order=True), new_convs
        ).scalars())

    fts = session.get_bind().dialect.name == "sqlite"
    first_id = session.execute(text("SELECT coalesce(max(id), 0) FROM messages")).scalar_one() if fts else 0
    rows = []
    touched: dict[int, tuple[int, datetime]] = {}
    for it, (age, ref) in placement:
        conv_id = new_ids[ref] if age == "new" else ref
        if age == "old":
            n, last = touched.get(conv_id, (0, it.published_at))
            touched[conv_id] = (n + 1, max(last, it.published_at))
        rows.append({
            "conversation_id": conv_id, "channel_id": channel_id, "platform_id": it.platform_id,
            "direction": "in", "visibility": it.visibility, "kind": it.kind, "text": it.text,
            "author_contact_id": contacts[it.author_id], "in_reply_to": it.in_reply_to, "url": it.url,
            "language": it.language, "published_at": it.published_at, "likes": it.likes,
            "reposts": it.reposts, "replies": it.replies, "is_repost": it.is_repost, "raw": it.raw})
    session.execute(insert(Message), rows)
    if fts:
        session.execute(text("INSERT INTO messages_fts(rowid, text) SELECT id, text FROM messages WHERE id > :f"),
                        {"f": first_id})

    # Stored conversations that got a message: count it, and reopen them if they were done.
    if touched:
        session.connection().execute(
            update(Conversation).where(Conversation.id == bindparam("cid")).values(
                message_count=Conversation.message_count + bindparam("n"),
                last_message_at=bindparam("last"),
                status=text("CASE WHEN status IN ('new', 'open') THEN status ELSE 'open' END"),
                version=Conversation.version + 1, updated_at=utcnow()),
            [{"cid": cid, "n": n, "last": last} for cid, (n, last) in touched.items()])

    new_tags: dict[int, tuple[str, ...]] = {}
    for it, (age, ref) in placement:
        if age == "new" and it.tags:
            new_tags.setdefault(new_ids[ref], it.tags)
    if new_tags:
        ids = tag_ids(session, {name for names in new_tags.values() for name in names})
        tag_rows = [{"conversation_id": cid, "tag_id": ids[name]} for cid, names in new_tags.items()
                    for name in dict.fromkeys(names)]
        session.execute(insert(conversation_tags), tag_rows)
    return IngestResult(len(rows), duplicates, len(new_ids), tuple(new_ids))
