"""The change counter and the hash-chained audit trail, written inside each write transaction,
with the chain's head anchored (store.anchor) so that a truncated or rewritten chain shows."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import bindparam, select, text, update
from sqlalchemy.orm import Session

from .anchor import Anchor, Head, LogCheck, anchor_of, pending, sign, signed_by
from .bulk import Bulk
from .db import hold_write_lock
from .models import AuditEvent, AuditHead, Meta, utcnow

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
    """Append events to the chain and move its head. The caller has already called begin_write.
    A bulk command writes tens of thousands at once: the rows go to the driver as tuples, and the
    head is read, signed and written once per call."""
    head, newest = _head(session)
    if head is None:
        raise LookupError("the audit head is missing from the store: it was altered (`socialdesk audit verify`)")
    prev = newest or GENESIS
    at = utcnow()
    bulk = Bulk(session.connection())
    stored_at, at_text = bulk.time(at), at.isoformat()
    rows = []
    for event in events:
        details = orjson.dumps(event.details, option=_DETAILS, default=str).decode()
        digest = _digest(prev, at_text, actor, event, details)
        rows.append((stored_at, actor, event.action, event.object_type, event.object_id, details, prev, digest))
        prev = digest
    if not rows:
        return
    bulk.insert("audit_events", COLUMNS, rows)
    key = anchor_of(session).key
    # Sign only on top of a head this key vouches for: a forged or unsigned head (or one that
    # does not match the chain) is never made to look genuine by the next write.
    vouched = key is not None and head.hash == (newest or GENESIS) and (head.events == 0 or signed_by(key, head))
    moved = Head(head.events + len(rows), prev, sign(key, head.events + len(rows), prev) if vouched else None)
    _move(session, moved)


# Built once: a write transaction reads and moves the head with no statement to build or compile.
_READ_HEAD = select(AuditHead.events, AuditHead.hash, AuditHead.mac,
                    select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1).scalar_subquery()
                    ).where(AuditHead.id == 1)
_MOVE_HEAD = update(AuditHead).where(AuditHead.id == 1).values(
    events=bindparam("to_events"), hash=bindparam("to_hash"), mac=bindparam("to_mac"))


def _head(session: Session) -> tuple[Head | None, str | None]:
    """The head row (None if it was deleted) and the newest event's hash, in one statement."""
    row = session.connection().execute(_READ_HEAD).one_or_none()
    return (Head(row[0], row[1], row[2]), row[3]) if row is not None else (None, None)


def _move(session: Session, head: Head) -> None:
    session.connection().execute(_MOVE_HEAD, {"to_events": head.events, "to_hash": head.hash, "to_mac": head.mac})
    pending(session, head)


def _walk(session: Session, wanted: Collection[int] = (),
          log: LogCheck | None = None) -> tuple[int, int | None, dict[int, str]]:
    """(events checked, id of the first broken event or None, the hashes at the `wanted` counts);
    `log` is shown every hash on the way."""
    prev = GENESIS
    count = 0
    hashes = {0: GENESIS}
    for row in session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().yield_per(5000):
        event = Event(row.action, row.object_type, row.object_id)
        if row.prev_hash != prev or _digest(prev, row.at.isoformat(), row.actor, event, row.details) != row.hash:
            return count, row.id, hashes
        prev = row.hash
        count += 1
        if count in wanted:
            hashes[count] = row.hash
        if log is not None:
            log.walked(count, row.hash)
    return count, None, hashes


def verify(session: Session) -> tuple[int, int | None]:
    """Walk the chain; return (events checked, id of the first broken event or None)."""
    count, broken, _ = _walk(session)
    return count, broken


@dataclass(frozen=True)
class Report:
    """What `socialdesk audit verify` says. `unsigned`: the head lacks this key's signature
    (the one finding `sign_head` may put right)."""

    checked: int
    broken_at: int | None = None
    problems: tuple[str, ...] = ()
    unsigned: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def intact(self) -> bool:
        return self.broken_at is None and not self.problems and self.unsigned is None


def check(session: Session, anchor: Anchor) -> Report:
    """Walk the chain and hold it against its head in the store and the heads in the log."""
    logged = LogCheck(anchor.log, anchor.key) if anchor.log else None  # before the snapshot: all committed
    if session.get_bind().dialect.name == "postgresql" and not session.in_transaction():
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})  # one snapshot
    head, _ = _head(session)
    count, broken, hashes = _walk(session, {head.events} if head else (), logged)
    if broken is not None:
        return Report(count, broken)
    if head is None:
        return Report(count, None, ("the chain's head is missing from the store: it was deleted",))
    problems = [_against(head, count, hashes, "its head in the store")]
    if head.events < count:
        problems.append(f"{count - head.events} events after its head in the store: written around socialdesk")
    notes: list[str] = []
    if logged is not None:
        found, notes = logged.finish(count)
        problems += found
    unsigned = None
    if anchor.key is None:
        notes.append("no audit key here: the head's signature is not checked")
    elif head.events and not signed_by(anchor.key, head):
        why = ("a process without the key wrote, or the head was altered" if head.mac is None
               else "it was altered, or signed with another key")
        unsigned = (f"the head in the store is not signed with the audit key ({why}); when every process has "
                    "the key and nothing else is reported, `socialdesk audit sign` signs it")
    return Report(count, None, tuple(p for p in problems if p), unsigned, tuple(notes))


def _against(head: Head, count: int, hashes: dict[int, str], where: str) -> str | None:
    if head.events > count:
        return f"chain truncated: {where} records {head.events} events, {count} remain"
    if hashes.get(head.events) != head.hash:
        return f"chain rewritten: its event no. {head.events} is not the one {where} records"
    return None


def sign_head(session: Session, anchor: Anchor) -> Report:
    """Sign the head with the anchor's key, only if the chain checks out against it and the log
    (the head was merely unsigned, or signed with another key). Returns the check."""
    if anchor.key is None:
        raise ValueError("no audit key to sign with")
    begin_write(session)
    report = check(session, anchor)
    head, _ = _head(session)
    if head is not None and report.broken_at is None and not report.problems:
        _move(session, Head(head.events, head.hash, sign(anchor.key, head.events, head.hash)))
    return report
