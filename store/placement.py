"""Where each new inbound message goes: one customer, one conversation.

A message joins, in this order: the thread it replies to; for a private message, the conversation
its route leads to (we wrote to this person privately from there); the conversation its case
reference names ("[SD-000243]" in an email subject); its author's open private conversation; the
open conversation of the customer the author is linked to (Ann's email joins the case Ann opened
on X); else it starts a new conversation.

A message that lands on a finished conversation (resolved or closed):
- answers the satisfaction question when one is waiting and the message is a score: the score is
  kept and the conversation stays finished;
- after the reopen window, starts a new conversation linked to the old one (`previous_id`);
- else reopens it (the state machine's `customer_wrote`). An answer to the survey that is not a
  score is kept as the customer's comment.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, aliased

from . import routes, states
from .models import OPEN_SQL, Contact, Conversation, Message

if TYPE_CHECKING:
    from .ingest import IngestItem

Home = tuple[bool, int]  # (new, starter index) or (False, stored conversation id)


@dataclass
class Placed:
    placement: list[tuple[IngestItem, bool, int]] = field(default_factory=list)
    starters: list[IngestItem] = field(default_factory=list)
    previous: dict[int, int] = field(default_factory=dict)  # starter index -> the conversation it follows
    answers: dict[int, int] = field(default_factory=dict)  # conversation id -> satisfaction score
    comments: dict[int, str] = field(default_factory=dict)  # conversation id -> an answer that was no score


@dataclass(frozen=True, slots=True)
class _Finished:
    at: datetime  # resolved (or last written to, for those closed as they came in)
    awaiting_score: bool


def place_messages(session: Session, channel_id: int, fresh: list[IngestItem], contacts: dict[str, int], *,
          now: datetime, reopen_within: timedelta | None) -> Placed:
    private = [it for it in fresh if it.visibility == "private"]
    private_contacts = {contacts[it.author_id] for it in private}
    home: dict[str, Home] = {pid: (False, cid) for pid, cid in _threads(session, channel_id, fresh).items()}
    dm_home: dict[int, Home] = {c: (False, cid) for c, cid in _customer_open(session, private_contacts).items()}
    dm_home |= {c: (False, cid) for c, cid in _open_private(session, private_contacts).items()}
    routed = routes.lookup(session, channel_id, {routes.dm_key(it.author_id) for it in private})
    for it in private:  # a route is the newest private exchange: it wins over an older open conversation
        if routes.dm_key(it.author_id) in routed:
            dm_home[contacts[it.author_id]] = (False, routed[routes.dm_key(it.author_id)])
    cases = {it.case_id for it in fresh if it.case_id}
    if cases:
        cases = set(session.execute(select(Conversation.id).where(Conversation.id.in_(cases))).scalars())
    stored = {cid for is_new, cid in (*home.values(), *dm_home.values()) if not is_new} | cases
    finished = _finished(session, stored)
    horizon = now - reopen_within if reopen_within is not None else None

    placed = Placed()
    moved: dict[int, Home] = {}  # a finished conversation -> the one that follows it in this page
    for it in fresh:
        contact_id = contacts[it.author_id]
        found = home.get(it.in_reply_to) if it.in_reply_to else None
        if found is None and it.case_id in cases:
            found = (False, it.case_id)
        if found is None and it.visibility == "private":
            found = dm_home.get(contact_id)
        if found is not None and not found[0]:
            found = moved.get(found[1], found)
        if found is not None and not found[0] and found[1] in finished:
            found = _on_finished(it, found[1], finished, horizon, placed, moved)
        if found is None:
            found = (True, len(placed.starters))
            placed.starters.append(it)
        if it.visibility == "private":
            dm_home.setdefault(contact_id, found)
        home[it.platform_id] = found
        placed.placement.append((it, *found))
    return placed


def _on_finished(it: IngestItem, cid: int, finished: dict[int, _Finished], horizon: datetime | None,
                 placed: Placed, moved: dict[int, Home]) -> Home | None:
    done = finished[cid]
    if done.awaiting_score and cid not in placed.answers:
        if it.score is not None:
            placed.answers[cid] = it.score
            return (False, cid)  # stays finished
        placed.comments.setdefault(cid, it.text)
    if horizon is not None and done.at < horizon:
        new: Home = (True, len(placed.starters))
        placed.previous[new[1]] = cid
        placed.starters.append(it)
        moved[cid] = new
        return new
    del finished[cid]  # reopened: later messages of the page simply join it
    return (False, cid)


def _threads(session: Session, channel_id: int, fresh: list[IngestItem]) -> dict[str, int]:
    parents = {it.in_reply_to for it in fresh if it.in_reply_to}
    if not parents:
        return {}
    return dict(session.execute(select(Message.platform_id, Message.conversation_id).where(
        Message.channel_id == channel_id, Message.platform_id.in_(parents))).all())


def _open_private(session: Session, contact_ids: set[int]) -> dict[int, int]:
    """Each author's open private conversation (the newest when there are several)."""
    if not contact_ids:
        return {}
    return dict(session.execute(
        select(Conversation.contact_id, Conversation.id).where(
            Conversation.contact_id.in_(contact_ids), Conversation.private.is_(True),
            text(f"conversations.{OPEN_SQL}")).order_by(Conversation.id)).all())


def _customer_open(session: Session, contact_ids: set[int]) -> dict[int, int]:
    """For authors linked to a customer: that customer's latest open conversation, whichever of
    their identities it was on."""
    if not contact_ids:
        return {}
    author, other = aliased(Contact), aliased(Contact)
    rows = session.execute(
        select(author.id, Conversation.id)
        .join(other, (other.customer_id == author.customer_id) & (other.id != author.id))
        .join(Conversation, Conversation.contact_id == other.id)
        .where(author.id.in_(contact_ids), author.customer_id.is_not(None), text(f"conversations.{OPEN_SQL}"))
        .order_by(Conversation.last_message_at, Conversation.id)).all()
    return dict(rows)


def _finished(session: Session, ids: Iterable[int]) -> dict[int, _Finished]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = session.execute(select(
        Conversation.id, func.coalesce(Conversation.resolved_at, Conversation.last_message_at),
        Conversation.csat_asked_at.is_not(None) & Conversation.csat.is_(None),
    ).where(Conversation.id.in_(wanted), text(states.in_sql(states.DONE, "conversations.status")))).all()
    return {cid: _Finished(_aware(at), bool(waiting)) for cid, at, waiting in rows}


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)
