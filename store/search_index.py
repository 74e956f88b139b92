"""The full-text index of conversations on SQLite (migration 0005): one row per conversation
holding its messages' text. Writers that add messages refresh it in their own transaction;
edits and deletions refresh it by trigger. PostgreSQL indexes each message (a generated tsvector)
and needs nothing here."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session

_TEXT = "SELECT conversation_id, group_concat(text, char(10)) FROM messages WHERE {where} GROUP BY conversation_id"


def index_new(session: Session, first_id: int) -> None:
    """Conversations numbered from `first_id` on, just created with their messages."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("INSERT INTO conversations_fts(rowid, text) " + _TEXT.format(where="conversation_id >= :f")),
                        {"f": first_id})


def reindex(session: Session, conversation_ids: Iterable[int]) -> None:
    """Conversations that gained a message."""
    ids = sorted(set(conversation_ids))
    if not ids or session.get_bind().dialect.name != "sqlite":
        return
    listed = ", ".join(str(int(i)) for i in ids)
    session.execute(text(f"DELETE FROM conversations_fts WHERE rowid IN ({listed})"))
    session.execute(text("INSERT INTO conversations_fts(rowid, text) "
                         + _TEXT.format(where=f"conversation_id IN ({listed})")))
