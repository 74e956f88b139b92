"""Internal notes: words for colleagues on a conversation, never sent to the customer."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from . import audit
from .models import Agent, Note, utcnow
from .views import NoteView


def add_notes(session: Session, conversation_ids: list[int], text: str, *, agent_id: int, actor: str) -> list[int]:
    """The same note on each conversation; their ids."""
    audit.begin_write(session)
    now = utcnow()
    ids = list(session.execute(insert(Note).returning(Note.id), [
        {"conversation_id": cid, "agent_id": agent_id, "text": text, "created_at": now}
        for cid in conversation_ids]).scalars())
    audit.record(session, actor, [audit.Event("note", "conversation", cid, {"note": nid})
                                  for cid, nid in zip(conversation_ids, ids)])
    return ids


def notes_of(session: Session, conversation_id: int) -> tuple[NoteView, ...]:
    return tuple(NoteView(nid, name or "", text, at) for nid, name, text, at in session.execute(
        select(Note.id, Agent.name, Note.text, Note.created_at).outerjoin(Agent, Agent.id == Note.agent_id)
        .where(Note.conversation_id == conversation_id).order_by(Note.created_at, Note.id)))
