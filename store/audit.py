"""The change counter and the hash-chained audit trail, written inside each write transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from .bulk import Bulk
from .db import hold_write_lock
from .models import AuditEvent, Meta, utcnow

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class Event:
    action: str
    object_type: str
    object_id: int | None
    details: dict[str, Any] = field(default_factory=dict)


def begin_write(session: Session) -> int:
    """Bump the change counter. Called first in every write transaction: on SQLite it takes the
    write lock before anything is read; on PostgreSQL the row lock orders the audit chain."""
    hold_write_lock(session)
    value = session.execute(
        update(Meta).where(Meta.key == "changes").values(value=Meta.value + 1).returning(Meta.value)
    ).scalar_one()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("NOTIFY socialdesk_changes"))
    return value


def _digest(prev: str, at: str, actor: str, event: Event, details: str) -> str:
    """The hash of an event (`at` in ISO form) chained to the one before."""
    body = "\x1f".join((prev, at, actor, event.action, event.object_type, str(event.object_id), details))
    return hashlib.sha256(body.encode()).hexdigest()


COLUMNS = ("at", "actor", "action", "object_type", "object_id", "details", "prev_hash", "hash")
_DETAILS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def record(session: Session, actor: str, events: Iterable[Event]) -> None:
    """Append events to the chain. The caller has already called begin_write. A bulk command
    writes tens of thousands at once: the rows go to the driver as tuples."""
    prev = session.execute(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).scalar()
    prev = prev or GENESIS
    at = utcnow()
    bulk = Bulk(session.connection())
    stored_at, at_text = bulk.time(at), at.isoformat()
    rows = []
    for event in events:
        details = orjson.dumps(event.details, option=_DETAILS, default=str).decode()
        digest = _digest(prev, at_text, actor, event, details)
        rows.append((stored_at, actor, event.action, event.object_type, event.object_id, details, prev, digest))
        prev = digest
    bulk.insert("audit_events", COLUMNS, rows)


def verify(session: Session) -> tuple[int, int | None]:
    """Walk the chain; return (events checked, id of the first broken event or None)."""
    prev = GENESIS
    count = 0
    for row in session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().yield_per(5000):
        event = Event(row.action, row.object_type, row.object_id)
        if row.prev_hash != prev or _digest(prev, row.at.isoformat(), row.actor, event, row.details) != row.hash:
            return count, row.id
        prev = row.hash
        count += 1
    return count, None
