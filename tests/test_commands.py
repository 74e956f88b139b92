"""The command layer: policy, conditional set-based changes, one audit event per conversation,
exact undo. Called directly, as the TUI and the CLI call it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import replace

import pytest
from seed import seed_conversations
from sqlalchemy import func, select

from socialdesk.rules.canned import CannedResponses, Template
from socialdesk.services.commands import (
    Approve,
    Assign,
    CloseNoise,
    DeskSettings,
    HoldingReply,
    Note,
    Refused,
    Reopen,
    Resolve,
    Selection,
    SetPriority,
    Tag,
    Untag,
)
from socialdesk.services.desk import Desk
from socialdesk.services.rules import build_ruleset
from socialdesk.config import Config
from socialdesk.store import audit, commands, queries
from socialdesk.store.models import AuditEvent, Outbox
from socialdesk.store.views import QueueFilter

CODES = {"answered": "Question answered", "fixed": "Problem solved"}


def events(desk: Desk, action: str) -> list[int]:
    with desk.sessions() as s:
        return list(s.execute(select(AuditEvent.object_id).where(AuditEvent.action == action)
                              .order_by(AuditEvent.id)).scalars())


def one(desk: Desk, **filters) -> tuple[int, int]:
    row = desk.queue_page(QueueFilter(**filters), 0, 1)[0]
    return row.id, row.version


def test_bulk_tag_by_query_changes_each_once_and_undo_restores_exactly(desk):
    seed_conversations(desk, 60)
    refunds = QueueFilter(search="refund")
    assert desk.selection_size(Selection.matching(refunds)) == 12
    done = desk.run(Tag("+outage"), Selection.matching(refunds))
    assert done.count == 12 and done.summary == "Tagged 12 conversations."
    assert desk.queue_count(QueueFilter(tags=("outage",))) == 12
    assert len(events(desk, "tag")) == 12
    again = desk.run(Tag("outage"), Selection.matching(refunds))  # a known tag now, and all have it
    assert again.count == 0 and "12 already so" in again.summary

    # Someone else moves two of them on; undo leaves those two alone.
    moved = desk.queue_page(QueueFilter(tags=("outage",)), 0, 2)
    Desk(desk.sessions, "bob").run(SetPriority("P1"), Selection(tuple(r.id for r in moved)))
    message = desk.undo(done)
    assert message == "Undone on 10 conversations. 2 changed since and were left as they are."
    assert desk.queue_count(QueueFilter(tags=("outage",))) == 2
    assert len(events(desk, "undo")) == 10
    with desk.sessions() as s:
        assert audit.verify(s)[1] is None


def test_typing_ahead_never_resolves_the_same_conversation_twice(desk):
    seed_conversations(desk, 3)
    cid, seen = one(desk)
    first = desk.run(Resolve(), Selection((cid,), (seen,)))
    second = desk.run(Resolve(), Selection((cid,), (seen,)))  # the same key again, from the old row
    assert first.count == 1 and second.count == 0
    assert second.summary.startswith("Not resolved: it changed since you saw it")
    assert events(desk, "resolve") == [cid]
    assert desk.conversation(cid).status == "resolved" and desk.conversation(cid).assignee == "alice"


def test_close_as_noise_then_undo_puts_status_and_tags_back(desk):
    seed_conversations(desk, 8)
    cid, seen = one(desk)
    done = desk.run(CloseNoise(), Selection((cid,), (seen,)))
    detail = desk.conversation(cid)
    assert (detail.status, detail.resolution_code) == ("closed", "noise") and "noise" in detail.tags
    desk.undo(done)
    detail = desk.conversation(cid)
    assert (detail.status, detail.resolution_code) == ("new", None) and "noise" not in detail.tags
    assert desk.queue_count(QueueFilter()) == 8


def test_assign_to_a_team_leaves_it_for_anyone_there(store):
    with store.begin() as s:
        commands.sync_people(s, [commands.TeamSpec("billing")], [commands.AgentSpec("carol", role="supervisor")])
    desk = Desk(store, "alice")
    seed_conversations(desk, 2)
    cid, _ = one(desk)
    desk.run(Assign("me"), Selection((cid,)))
    Desk(store, "carol").run(Assign(team="billing"), Selection((cid,)))
    detail = desk.conversation(cid)
    assert (detail.team, detail.assignee, detail.status) == ("billing", None, "open")
    with pytest.raises(Refused, match=r"No team 'biling'. Teams: billing."):
        desk.run(Assign(team="biling"), Selection((cid,)))
    with pytest.raises(Refused, match=r"No agent 'zed'. Agents: alice, carol."):
        desk.run(Assign("zed"), Selection((cid,)))


def test_an_agent_cannot_take_over_someone_elses_conversation_but_a_supervisor_can(store):
    with store.begin() as s:
        commands.sync_people(s, [], [commands.AgentSpec("bob"), commands.AgentSpec("carol", role="supervisor")])
    alice, bob, carol = Desk(store, "alice"), Desk(store, "bob"), Desk(store, "carol")
    seed_conversations(alice, 1)
    cid, _ = one(alice)
    assert alice.run(Assign("me"), Selection((cid,))).count == 1
    assert bob.run(Assign("me"), Selection((cid,))).count == 0
    assert bob.run(Assign("bob"), Selection((cid,))).count == 0
    assert carol.run(Assign("bob"), Selection((cid,))).count == 1
    assert alice.conversation(cid).assignee == "bob"


def test_resolution_codes_are_required_and_checked(store):
    desk = Desk(store, "alice", settings=DeskSettings(CODES))
    seed_conversations(desk, 1)
    cid, _ = one(desk)
    with pytest.raises(Refused, match="Resolve with a code: answered, fixed."):
        desk.run(Resolve(), Selection((cid,)))
    with pytest.raises(Refused, match="No resolution code 'fixd'. Codes: answered, fixed."):
        desk.run(Resolve("fixd"), Selection((cid,)))
    assert desk.run(Resolve("fixed"), Selection((cid,))).count == 1
    assert desk.conversation(cid).resolution_code == "fixed"
    refusals = events(desk, "refused")
    assert refusals == [cid, cid]  # each refusal is in the audit trail too
    assert desk.run(Reopen(), Selection((cid,))).count == 1
    assert desk.conversation(cid).status == "open"


def test_unknown_tags_say_which_exist_and_a_plus_starts_a_new_one(desk):
    seed_conversations(desk, 3)
    cid, _ = one(desk)
    with pytest.raises(Refused, match=r"No tag 'outgae'. Tags: customer-service, marketing. "
                                      r"To start a new tag, write it with a leading '\+' \(\+outgae\)."):
        desk.run(Tag("outgae"), Selection((cid,)))
    assert desk.run(Tag("+outage"), Selection((cid,))).count == 1
    assert desk.run(Untag("outage"), Selection((cid,))).count == 1
    assert "outage" not in desk.conversation(cid).tags


def test_dry_run_counts_and_changes_nothing(desk):
    seed_conversations(desk, 20)
    before = desk.change_counter()
    dry = desk.run(SetPriority("1"), Selection.matching(QueueFilter(search="password")), dry_run=True)
    assert dry.count == 4 and dry.summary.startswith("Would have reprioritised 4 conversations")
    assert not dry.undoable
    assert desk.change_counter() == before and events(desk, "priority") == []


def test_an_agents_bulk_command_stays_within_their_teams(store):
    with store.begin() as s:
        commands.sync_people(s, [commands.TeamSpec("a"), commands.TeamSpec("b")],
                             [commands.AgentSpec("alice", teams=("a",)), commands.AgentSpec("carol", role="supervisor")])
    alice, carol = Desk(store, "alice"), Desk(store, "carol")
    seed_conversations(alice, 6)
    ids = [row.id for row in alice.queue_page(QueueFilter(), 0, 6)]
    carol.run(Assign(team="b"), Selection(tuple(ids[:2])))
    done = alice.run(SetPriority("P4"), Selection.matching(QueueFilter()))
    assert done.count == 4 and "2 already so or not allowed" in done.summary
    assert carol.run(SetPriority("P4"), Selection.matching(QueueFilter())).count == 2


def test_notes_stay_inside_and_are_audited(desk):
    seed_conversations(desk, 2)
    cid, _ = one(desk)
    with pytest.raises(Refused, match="The note is empty"):
        desk.run(Note("  "), Selection((cid,)))
    desk.run(Note("Called them; waiting on the courier"), Selection((cid,)))
    (note,) = desk.conversation(cid).notes
    assert (note.author, note.text) == ("alice", "Called them; waiting on the courier")
    assert events(desk, "note") == [cid]
    with desk.sessions() as s:
        assert s.execute(select(func.count()).select_from(Outbox)).scalar_one() == 0


def test_a_holding_reply_is_filled_in_per_customer_and_can_be_withdrawn(store):
    rules = replace(build_ruleset(Config(), sentiment=False), canned=CannedResponses.compile(
        [Template(name="hold", text="Hi {customer_name}, we are on it ({case_ref}).")]))
    desk = Desk(store, "alice", rules=rules)
    seed_conversations(desk, 12)
    held = desk.run(HoldingReply("hold"), Selection.matching(QueueFilter(search="refund")))
    assert held.count == 3 and len(held.outbox_ids) == 3
    rows = desk.queue_page(QueueFilter(search="refund"), 0, 5)
    texts = {o.text for row in rows for o in desk.conversation(row.id).outbox}
    assert texts == {f"Hi {row.author_name}, we are on it (SD-{row.id:06d})." for row in rows}
    assert desk.undo(held) == "Withdrew 3 replies."
    with store() as s:
        assert set(s.execute(select(Outbox.state)).scalars()) == {"cancelled"}
    with pytest.raises(Refused, match="No canned response 'nope'"):
        desk.run(HoldingReply("nope"), Selection.matching(QueueFilter(search="refund")))


def test_only_supervisors_approve(desk):
    seed_conversations(desk, 1)
    cid, _ = one(desk)
    with pytest.raises(Refused, match="Only a supervisor can approve replies; you are signed in as alice"):
        desk.run(Approve(), Selection((cid,)))


def test_a_command_while_the_pollers_write_waits_for_them_instead_of_failing(desk, monkeypatch):
    """On SQLite a transaction that has read cannot take the write lock once another writer has
    committed since: the command reads what it needs apart, and starts its transaction writing."""
    seed_conversations(desk, 4)
    cid, seen = one(desk)
    names = queries.names

    def names_while_a_poller_writes(session):
        found = names(session)
        seed_conversations(desk, 2, channel="busy")  # a poller commits meanwhile
        return found

    monkeypatch.setattr(queries, "names", names_while_a_poller_writes)
    assert desk.run(Tag("+outage"), Selection((cid,), (seen,))).count == 1


KILLED_MIDWAY = """
import sys, time
from pathlib import Path
from socialdesk.services.commands import Selection, Tag
from socialdesk.services.desk import Desk
from socialdesk.store import audit
from socialdesk.store.db import open_store
from socialdesk.store.views import QueueFilter

def stall(*args, **kwargs):  # the tags are in; the audit events are next: stop here
    Path(sys.argv[2]).write_text("tagged")
    time.sleep(60)

audit.record = stall
desk = Desk(open_store(sys.argv[1], migrate=False)[1], "alice")
desk.run(Tag("+outage"), Selection.matching(QueueFilter()))
"""


def test_a_bulk_command_killed_midway_leaves_nothing_of_itself(store, database_url, tmp_path):
    desk = Desk(store, "alice")
    seed_conversations(desk, 300)
    marker = tmp_path / "midway"
    child = subprocess.Popen([sys.executable, "-c", KILLED_MIDWAY, database_url, str(marker)])
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert child.poll() is None and time.monotonic() < deadline, "the command never got midway"
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    deadline = time.monotonic() + 10
    while True:  # PostgreSQL rolls the killed session back as soon as it sees it gone
        try:
            assert desk.queue_count(QueueFilter(tags=("outage",))) == 0
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert events(desk, "tag") == []
    assert desk.run(Tag("+outage"), Selection.matching(QueueFilter())).count == 300  # and the store goes on
    with desk.sessions() as s:
        assert audit.verify(s)[1] is None
