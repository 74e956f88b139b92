"""Changes to many conversations at once, set-based, with one audit event per conversation and
an exact undo. The command layer (socialdesk.services.commands) decides what may change; this
module makes it so in the caller's transaction:

1. the selection (ids with the versions the person saw, or a filter resolved in SQL) goes into a
   temporary table;
2. the selected conversations' current values are read once: a row whose version moved since it
   was seen is *stale*, one the change would not alter (already tagged, already resolved, refused
   by the state machine or the command's own condition) is *unchanged*; the rest are *hit*;
3. the hit ids go into a second temporary table, and one UPDATE (plus one INSERT or DELETE for
   a tag) joins on it;
4. the returned ChangeSet holds each hit row's values from before and its version after, so
   `undo` can restore exactly those rows that nobody has changed since.

A change of tags alone leaves the conversations' rows (and versions) as they are: a label does
not make what someone is looking at stale, and not rewriting 50,000 scattered rows is what lets
a bulk tag of that many take about a second. Undo still sees anyone else's change since.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, Integer, MetaData, Table, bindparam, exists, func, insert, select, text, update
from sqlalchemy.orm import Session

from . import audit, states
from .bulk import Bulk
from .models import Conversation, conversation_tags, utcnow
from .queue import filtered
from .tags import tag_ids
from .views import Selection

_temp = MetaData()
SELECTED = Table("sd_selected", _temp, Column("id", Integer, primary_key=True), Column("version", Integer),
                 prefixes=["TEMPORARY"])
HIT = Table("sd_hit", _temp, Column("id", Integer, primary_key=True), Column("flag", Integer),
            prefixes=["TEMPORARY"])


@dataclass(frozen=True)
class Change:
    """What to do to every selected conversation.

    `values` are set as given (SQL expressions allowed, e.g. keep an assignee with coalesce);
    `event` moves the status through the state machine and limits the change to the statuses it
    applies to; `add_tag` / `remove_tag` name a tag; `allow` is the command's own condition over
    a row's current values (e.g. "still unassigned or mine"). `details` go into each audit event."""

    action: str
    values: Mapping[str, Any] = field(default_factory=dict)
    event: states.Event | None = None
    add_tag: str | None = None
    remove_tag: str | None = None
    allow: Callable[[dict[str, Any]], bool] | None = None
    reads: tuple[str, ...] = ()  # more columns `allow` looks at (not restored by undo)
    along: tuple[str, ...] = ()  # values that follow the others but alone are no change (reasons)
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns this change may alter (and undo restores)."""
        cols = tuple(self.values)
        return cols + ("status",) if self.event and "status" not in cols else cols

    @property
    def rewrites_rows(self) -> bool:
        """Whether the conversations' rows change (and their versions move): not for tags alone."""
        return bool(self.columns)


@dataclass(frozen=True)
class ChangeSet:
    """What a change did: per hit row (id, version after, *values before, tag flag)."""

    batch: str
    action: str
    columns: tuple[str, ...]
    rows: tuple[tuple, ...]
    tag_id: int | None = None
    tag_added: bool = True
    selected: int = 0
    stale: int = 0
    unchanged: int = 0

    @property
    def changed(self) -> int:
        return len(self.rows)

    @property
    def ids(self) -> list[int]:
        return [row[0] for row in self.rows]


@dataclass(frozen=True)
class UndoResult:
    restored: int
    skipped: int  # changed by someone (or something) since: left as they are now


def _fill(session: Session, table: Table, rows: list[tuple]) -> None:
    conn = session.connection()
    conn.execute(table.delete())
    Bulk(conn).insert(table.name, [c.name for c in table.columns], rows)
    if conn.dialect.name == "postgresql":  # a temporary table has no statistics until asked
        conn.exec_driver_sql(f"ANALYZE {table.name}")


def _ensure_temp_tables(session: Session) -> None:
    conn = session.connection()
    key = "sd_temp_tables"
    if conn.info.get(key):
        return
    if conn.dialect.name == "postgresql":
        for table in (SELECTED, HIT):
            cols = ", ".join(f"{c.name} {'bigint PRIMARY KEY' if c.primary_key else 'integer'}" for c in table.columns)
            conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {table.name} ({cols}) ON COMMIT DELETE ROWS")
    else:
        _temp.create_all(conn, checkfirst=True)
    conn.info[key] = True


def select_into(session: Session, selection: Selection, me: str | None = None) -> int:
    """Put the selection in the temporary table; the number of rows it names."""
    _ensure_temp_tables(session)
    if selection.flt is not None:
        session.connection().execute(SELECTED.delete())
        found = filtered(session, select(Conversation.id, text("NULL")), selection.flt, me)
        session.connection().execute(insert(SELECTED).from_select(["id", "version"], found))
        return session.execute(select(func.count()).select_from(SELECTED)).scalar_one()
    versions = selection.versions or (None,) * len(selection.ids)
    _fill(session, SELECTED, list(dict(zip(selection.ids, versions)).items()))
    return len(set(selection.ids))


def _seen_version(conv: Table):
    """The version the selection names for a conversation (a lookup by key: the selection drives
    these queries, never a scan of every conversation probing it)."""
    return select(SELECTED.c.version).where(SELECTED.c.id == conv.c.id).scalar_subquery()


def apply(session: Session, selection: Selection, change: Change, *, actor: str, me: str | None = None,
          dry_run: bool = False) -> ChangeSet:
    """Apply `change` to the selection (see the module's steps). With `dry_run`, say what would
    change and change nothing (the caller rolls back; no audit event is written)."""
    if not dry_run:
        audit.begin_write(session)
    selected = select_into(session, selection, me)
    tag_id = tag_ids(session, [change.add_tag or change.remove_tag])[change.add_tag or change.remove_tag] \
        if (change.add_tag or change.remove_tag) else None
    columns = change.columns
    reads = columns + tuple(c for c in change.reads if c not in columns)
    conv = Conversation.__table__
    has_tag = (exists().where(conversation_tags.c.conversation_id == conv.c.id, conversation_tags.c.tag_id == tag_id)
               if tag_id is not None else text("0"))
    current = session.execute(
        select(conv.c.id, conv.c.version, _seen_version(conv), *(conv.c[c] for c in reads), has_tag)
        .where(conv.c.id.in_(select(SELECTED.c.id)))).all()
    hit, stale, unchanged = [], 0, 0
    bump = int(change.rewrites_rows)
    for row in current:
        cid, version, seen, *values, tagged = row
        if seen is not None and seen != version:
            stale += 1
        elif _changes(change, dict(zip(reads, values)), bool(tagged)):
            hit.append((cid, version + bump, *values[:len(columns)], bool(tagged)))
        else:
            unchanged += 1
    batch = uuid.uuid4().hex[:12]
    result = ChangeSet(batch, change.action, columns, tuple(hit), tag_id, change.remove_tag is None,
                       selected=selected, stale=stale, unchanged=unchanged)
    if dry_run or not hit:
        return result
    _fill(session, HIT, [(row[0], int(row[-1])) for row in hit])
    hit_ids = select(HIT.c.id)
    now = utcnow()
    values = dict(change.values)
    if change.event:
        values["status"] = text(states.case_sql(change.event))
    if change.rewrites_rows:
        session.connection().execute(update(conv).where(conv.c.id.in_(hit_ids)).values(
            **values, version=conv.c.version + 1, updated_at=now))
    if change.add_tag:
        session.connection().execute(insert(conversation_tags).from_select(
            ["conversation_id", "tag_id"], select(HIT.c.id, text(str(tag_id))).where(HIT.c.flag == 0)))
    elif change.remove_tag:
        session.connection().execute(conversation_tags.delete().where(
            conversation_tags.c.tag_id == tag_id, conversation_tags.c.conversation_id.in_(hit_ids)))
    audit.record(session, actor, (
        audit.Event(change.action, "conversation", row[0],
                    {"batch": batch, **change.details, "before": _before(columns, row)}) for row in hit))
    return result


def _changes(change: Change, before: dict[str, Any], tagged: bool) -> bool:
    """Would the change alter this row, and may it?"""
    if change.event and not states.applies(change.event, before["status"]):
        return False
    if change.allow is not None and not change.allow(before):
        return False
    if change.event and states.next_status(change.event, before["status"]) != before["status"]:
        return True
    if change.add_tag and not tagged or change.remove_tag and tagged:
        return True
    plain = {k: v for k, v in change.values.items() if k not in change.along
             and not hasattr(v, "__clause_element__") and not hasattr(v, "compile")}
    return any(before[k] != v for k, v in plain.items())


def _before(columns: tuple[str, ...], row: tuple) -> dict[str, Any]:
    return {c: v for c, v in zip(columns, row[2:2 + len(columns)]) if c != "reasons"}


def undo(session: Session, changes: ChangeSet, *, actor: str) -> UndoResult:
    """Put back what `changes` altered, in the rows nobody has changed since (their version is
    still the one the change left), in one transaction, with an audit event each."""
    audit.begin_write(session)
    select_into(session, Selection(tuple(changes.ids), tuple(row[1] for row in changes.rows)))
    conv = Conversation.__table__
    untouched = set(session.execute(select(conv.c.id).where(
        conv.c.id.in_(select(SELECTED.c.id)), conv.c.version == _seen_version(conv))).scalars())
    rows = [row for row in changes.rows if row[0] in untouched]
    if not rows:
        return UndoResult(0, changes.changed)
    now = utcnow()
    conn = session.connection()
    if changes.columns:
        _restore(session, changes, rows, now)
    if changes.tag_id is not None:
        _fill(session, HIT, [(row[0], int(row[-1])) for row in rows])
        if changes.tag_added:  # take the tag off where this change put it on
            conn.execute(conversation_tags.delete().where(
                conversation_tags.c.tag_id == changes.tag_id,
                conversation_tags.c.conversation_id.in_(select(HIT.c.id).where(HIT.c.flag == 0))))
        else:  # put it back where this change took it off
            conn.execute(insert(conversation_tags).from_select(
                ["conversation_id", "tag_id"], select(HIT.c.id, text(str(changes.tag_id))).where(HIT.c.flag == 1)))
    audit.record(session, actor, (audit.Event("undo", "conversation", row[0],
                                              {"batch": changes.batch, "undoes": changes.action}) for row in rows))
    return UndoResult(len(rows), changes.changed - len(rows))


def _restore(session: Session, changes: ChangeSet, rows: list[tuple], now) -> None:
    """Each row's own values from before, and one version more."""
    conv = Conversation.__table__
    stmt = update(conv).where(conv.c.id == bindparam("cid")).values(
        **{c: bindparam(f"v_{c}", type_=conv.c[c].type) for c in changes.columns},
        version=conv.c.version + 1, updated_at=now)
    params = [{"cid": row[0], **{f"v_{c}": v for c, v in zip(changes.columns, row[2:])}} for row in rows]
    session.connection().execute(stmt, params)
