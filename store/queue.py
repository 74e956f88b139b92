"""The queue's reads: which conversations a filter selects, their rows page by page in queue order
(priority high first, then oldest first), their number, and their ids for marks and commands.

Order and paging: open conversations walk the partial queue index, everything else the full
order index; pages after the first go by keyset (equality on priority plus a row-value
comparison, then the lower priorities), so page n costs what page 1 costs. Counting is never on
the path to a page: screens ask for it apart.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

import orjson

from sqlalchemy import Select, exists, func, literal, or_, select, text, tuple_
from sqlalchemy.orm import Session, aliased

from .models import (
    OPEN_SQL,
    Agent,
    Channel,
    Cluster,
    Contact,
    Conversation,
    Customer,
    Message,
    Outbox,
    Tag,
    Team,
    UTCDateTime,
    agent_teams,
    conversation_tags,
    utcnow,
)
from .views import OPEN_STATUSES, STATUSES, QueueFilter, QueueRow

_OPEN = text(f"conversations.{OPEN_SQL}")
_WORD = re.compile(r"\w+", re.UNICODE)
ORDER = (Conversation.priority.desc(), Conversation.published_at, Conversation.id)
DRIVE_MAX = 5000  # a filter selecting at most this many conversations drives the query
REVERSE = (Conversation.priority.asc(), Conversation.published_at.desc(), Conversation.id.desc())


class SearchError(ValueError):
    """A search that cannot be run; the message says why, for the person who typed it."""


def search_words(words: str) -> list[str]:
    """The words full-text search looks for: letters and digits, punctuation and operators
    ignored (so no FTS syntax can be injected or break the query)."""
    return _WORD.findall(words)


@dataclass(frozen=True, slots=True)
class SearchHits:
    """The conversations a search's words find: how many, and on SQLite their ids in ascending
    order as a JSON array (the form SQLite hands them over in and takes them back in: no Python
    object per id, so 100,000 hits cost a string, not 10 MB of ints). On PostgreSQL the ids stay
    in the server: `tsquery` is joined where they are needed, and `count` is not taken (-1): a
    page needs none, and the view's count finds them anyway."""

    count: int
    listed: str = "[]"
    tsquery: str | None = None


def search_hits(session: Session, words: str) -> SearchHits:
    """The conversations whose messages hold every word of `words` (the last one as a prefix).
    Computed once per search and reused for its pages, count and marks (services.desk keeps it
    while the store stays still). SQLite answers from its index of conversations (migration
    0005), PostgreSQL from each message's tsvector."""
    tokens = search_words(words)
    if not tokens:
        raise SearchError(f"nothing to search for in {words.strip()!r}: use letters or digits")
    if session.get_bind().dialect.name == "sqlite":
        # One row holding every id: fetching 100,000 rows one by one would hand the GIL back and
        # forth 100,000 times with the TUI's own thread (seconds, while it draws).
        match = (" ".join(f'"{t}"' for t in tokens[:-1]) + f' "{tokens[-1]}"*').strip()
        count, listed = session.execute(text("SELECT count(*), json_group_array(rowid) FROM conversations_fts "
                                             "WHERE conversations_fts MATCH :match"), {"match": match}).one()
        return SearchHits(count, listed)
    return SearchHits(-1, tsquery=" & ".join(tokens[:-1] + [tokens[-1] + ":*"]))


def _matches(tsquery: str):
    return text("messages.search @@ to_tsquery('simple', :tsq)").bindparams(tsq=tsquery)


def _id_of(session: Session, model, name: str) -> int:
    return session.execute(select(model.id).where(model.name == name)).scalar() or -1


def _capped_count(session: Session, stmt: Select) -> int:
    """How many rows `stmt` gives, counting no further than DRIVE_MAX + 1 (cheap either way)."""
    return session.execute(select(func.count()).select_from(stmt.limit(DRIVE_MAX + 1).subquery())).scalar_one()


def _in_hits(session: Session, hits: SearchHits):
    """`conversations.id` among a search's hits, passed as one JSON parameter. When they are
    many (dense in the view) SQLite is kept on the queue index, probing the list per row,
    instead of fetching every hit and sorting them all for one page."""
    if not hits.count:
        return literal(False)
    if hits.tsquery is not None:
        return Conversation.id.in_(select(Message.conversation_id).where(_matches(hits.tsquery)))
    column_sql = "+conversations.id" if hits.count > DRIVE_MAX else "conversations.id"
    return text(f"{column_sql} IN (SELECT value FROM json_each(:ids))").bindparams(ids=hits.listed)


def _sparse(session: Session, drive: Select) -> bool:
    return _capped_count(session, drive) <= DRIVE_MAX


def filtered(session: Session, stmt: Select, flt: QueueFilter, me: str | None,
             hits: SearchHits | None = None) -> Select:
    """The filter's WHERE. The open set repeats its partial index's predicate word for word so
    the planner walks that index in queue order (models.OPEN_SQL). A filter that selects few
    conversations (a rare tag, the last minutes, a cluster, a rare word) drives instead: its
    rows are fetched and sorted, rather than the whole queue walked to find them. `hits`: the
    search's conversations, if the caller has them already."""
    if flt.status in ("open", *OPEN_STATUSES):
        stmt = stmt.where(_OPEN)
    elif flt.status == "done":
        stmt = stmt.where(Conversation.status.in_(("resolved", "closed")))
    if flt.status in STATUSES and flt.status not in ("open",):  # "open" names the whole open set
        stmt = stmt.where(Conversation.status == flt.status)
    if flt.assignee == "none":
        stmt = stmt.where(Conversation.assignee_id.is_(None))
    elif flt.assignee:
        stmt = stmt.where(Conversation.assignee_id == _id_of(session, Agent, me if flt.assignee == "me" else flt.assignee))
    if flt.team == "none":
        stmt = stmt.where(Conversation.team_id.is_(None))
    elif flt.team == "mine":
        mine = select(agent_teams.c.team_id).join(Agent, Agent.id == agent_teams.c.agent_id).where(Agent.name == me)
        stmt = stmt.where(Conversation.team_id.in_(list(session.execute(mine).scalars()) or [-1]))
    elif flt.team:
        stmt = stmt.where(Conversation.team_id == _id_of(session, Team, flt.team))
    if flt.channel:
        stmt = stmt.where(Conversation.channel_id == _id_of(session, Channel, flt.channel))
    for tag in flt.tags:
        stmt = stmt.where(_tagged(session, tag.lstrip("-"), negate=tag.startswith("-")))
    if flt.priority:
        stmt = stmt.where(Conversation.priority.between(*flt.priority))
    if flt.language:
        stmt = stmt.where(Conversation.language == flt.language)
    if flt.sentiment:
        stmt = stmt.where(Conversation.sentiment.between(*flt.sentiment))
    now = utcnow()
    if flt.newer_than is not None:
        since = literal(now - timedelta(seconds=flt.newer_than), UTCDateTime())
        recent = select(Conversation.id).where(Conversation.published_at >= since)
        stmt = stmt.where(Conversation.id.in_(recent) if _sparse(session, recent) else Conversation.published_at >= since)
    if flt.older_than is not None:
        stmt = stmt.where(Conversation.published_at < literal(now - timedelta(seconds=flt.older_than), UTCDateTime()))
    if flt.outbox:
        stmt = stmt.where(Conversation.id.in_(select(Outbox.conversation_id).where(Outbox.state == flt.outbox)))
    if flt.cluster is not None:
        stmt = stmt.where(Conversation.cluster_id == flt.cluster)
    if flt.collapse:
        earlier = aliased(Conversation)
        stmt = stmt.where(or_(Conversation.cluster_id.is_(None), ~exists().where(
            earlier.cluster_id == Conversation.cluster_id, earlier.id < Conversation.id,
            earlier.status.in_(OPEN_STATUSES))))
    if flt.search.strip():
        stmt = stmt.where(_in_hits(session, search_hits(session, flt.search) if hits is None else hits))
    return stmt


def _tagged(session: Session, name: str, *, negate: bool):
    tag = _id_of(session, Tag, name)
    with_tag = select(conversation_tags.c.conversation_id).where(conversation_tags.c.tag_id == tag)
    if negate:
        return ~exists().where(conversation_tags.c.conversation_id == Conversation.id, conversation_tags.c.tag_id == tag)
    if _sparse(session, with_tag):
        return Conversation.id.in_(with_tag)
    return exists().where(conversation_tags.c.conversation_id == Conversation.id, conversation_tags.c.tag_id == tag)


Hits = SearchHits | None


def queue_count(session: Session, flt: QueueFilter, me: str | None = None, hits: Hits = None) -> int:
    return session.execute(filtered(session, select(func.count()).select_from(Conversation), flt, me,
                                    hits)).scalar_one()


def matching_ids(session: Session, flt: QueueFilter, me: str | None = None, hits: Hits = None) -> dict[int, int]:
    """id -> version of every conversation the filter selects (pattern marks). On SQLite as two
    JSON arrays in one row (see search_hits: tens of thousands of rows, fetched without the GIL)."""
    if session.get_bind().dialect.name != "sqlite":
        return dict(session.execute(filtered(session, select(Conversation.id, Conversation.version), flt, me,
                                             hits)).all())
    stmt = filtered(session, select(func.json_group_array(Conversation.id), func.json_group_array(Conversation.version))
                    .select_from(Conversation), flt, me, hits)
    ids, versions = session.execute(stmt).one()
    return dict(zip(orjson.loads(ids), orjson.loads(versions)))


def queue_page(session: Session, flt: QueueFilter, offset: int, limit: int, *,
               after: QueueRow | None = None, me: str | None = None, hits: Hits = None) -> list[QueueRow]:
    """Rows `offset`..`offset+limit`. With `after` (the row just before this page) by keyset;
    without it by OFFSET (only for a jump to an arbitrary place)."""
    keys = filtered(session, select(Conversation.id), flt, me, hits)
    if after is None:
        ids = list(session.execute(keys.order_by(*ORDER).offset(offset).limit(limit)).scalars())
    else:
        same = keys.where(Conversation.priority == after.priority,
                          tuple_(Conversation.published_at, Conversation.id) > tuple_(
                              literal(after.published_at, Conversation.published_at.type), literal(after.id)))
        ids = list(session.execute(same.order_by(*ORDER[1:]).limit(limit)).scalars())
        if len(ids) < limit:
            lower = keys.where(Conversation.priority < after.priority).order_by(*ORDER)
            ids += session.execute(lower.limit(limit - len(ids))).scalars()
    return rows_for(session, ids)


def queue_tail(session: Session, flt: QueueFilter, limit: int, me: str | None = None,
               hits: Hits = None) -> list[QueueRow]:
    """The last `limit` rows in queue order (the End key), read backwards along the index."""
    keys = filtered(session, select(Conversation.id), flt, me, hits)
    ids = list(session.execute(keys.order_by(*REVERSE).limit(limit)).scalars())
    return rows_for(session, ids[::-1])


def rows_for(session: Session, ids: list[int]) -> list[QueueRow]:
    """The queue rows of `ids`, in that order: joins run for these rows only."""
    if not ids:
        return []
    assignee, team = aliased(Agent), aliased(Team)
    details = {r[0]: r for r in session.execute(
        select(Conversation.id, Conversation.priority, Conversation.status, Conversation.published_at,
               Conversation.assigned_at, Conversation.sla_due_at, Channel.name, Channel.kind,
               Contact.handle, Contact.display_name, Contact.followers,
               func.coalesce(Customer.key_customer, False), Conversation.snippet, assignee.name,
               Conversation.message_count, Conversation.private, Conversation.version, team.name,
               Conversation.cluster_id, Cluster.size)
        .join(Channel, Channel.id == Conversation.channel_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .outerjoin(Customer, Customer.id == Contact.customer_id)
        .outerjoin(assignee, assignee.id == Conversation.assignee_id)
        .outerjoin(team, team.id == Conversation.team_id)
        .outerjoin(Cluster, Cluster.id == Conversation.cluster_id)
        .where(Conversation.id.in_(ids)))}
    tags = tags_for(session, ids)
    outbox = _outbox_states(session, ids)
    return [QueueRow(id=r[0], priority=r[1], status=r[2], published_at=r[3], assigned_at=r[4],
                     sla_due_at=r[5], channel=r[6], channel_kind=r[7], author_handle=r[8],
                     author_name=r[9], followers=r[10], key_customer=bool(r[11]), snippet=r[12],
                     tags=tags.get(r[0], ()), assignee=r[13], message_count=r[14], private=r[15],
                     version=r[16], team=r[17], cluster_id=r[18], cluster_size=r[19] or 0,
                     outbox=outbox.get(r[0]))
            for r in (details[i] for i in ids if i in details)]


def tags_for(session: Session, ids: list[int]) -> dict[int, tuple[str, ...]]:
    if not ids:
        return {}
    found: dict[int, list[str]] = defaultdict(list)
    for cid, name in session.execute(
        select(conversation_tags.c.conversation_id, Tag.name).join(Tag, Tag.id == conversation_tags.c.tag_id)
        .where(conversation_tags.c.conversation_id.in_(ids)).order_by(Tag.name)):
        found[cid].append(name)
    return {cid: tuple(names) for cid, names in found.items()}


def _outbox_states(session: Session, ids: list[int]) -> dict[int, str]:
    """"failed" or "approval" for conversations with a reply in that state (failed wins)."""
    found: dict[int, str] = {}
    for cid, state in session.execute(select(Outbox.conversation_id, Outbox.state).where(
            Outbox.conversation_id.in_(ids), Outbox.state.in_(("failed", "approval")))):
        if found.get(cid) != "failed":
            found[cid] = state
    return found


def cluster_members(session: Session, cluster_id: int) -> dict[int, int]:
    """id -> version of the open conversations of an incident cluster (to mark them all)."""
    return dict(session.execute(select(Conversation.id, Conversation.version).where(
        Conversation.cluster_id == cluster_id, _OPEN)).all())


def first_free(session: Session, flt: QueueFilter, me: str, limit: int = 50) -> int | None:
    """The first conversation of the view that is unassigned or the agent's own."""
    agent = _id_of(session, Agent, me)
    stmt = filtered(session, select(Conversation.id), flt, me).where(
        or_(Conversation.assignee_id.is_(None), Conversation.assignee_id == agent))
    return session.execute(stmt.order_by(*ORDER).limit(1)).scalar()


__all__ = ["ORDER", "SearchError", "cluster_members", "filtered", "first_free", "matching_ids", "queue_count",
           "queue_page", "queue_tail", "rows_for", "search_words", "tags_for"]
