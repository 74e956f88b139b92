"""After a resolution: the public close-out after a private talk, the satisfaction survey asked once
and its answer read back, and the reopen window (within it the conversation reopens; after it, a
new conversation linked to the old one)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from socialdesk.adapters.base import Capabilities
from socialdesk.config import Config
from socialdesk.services.rules import build_ruleset
from socialdesk.services.commands import ChannelLimits, DeskSettings, Reply, Resolve, Selection
from socialdesk.services.desk import Desk
from socialdesk.store import commands
from socialdesk.store.ingest import IngestItem, write_batch
from socialdesk.store.models import AuditEvent, Conversation, Outbox

X = Capabilities(public_reply=True, private_reply=True, dm=True, email=False, max_length=280)
CONFIG = Config.model_validate({"rules": {"canned": [
    {"name": "closeout", "text": "Glad we sorted it out in private, {customer_name}! ({case_ref})"},
    {"name": "csat", "text": "How did we do? Reply with a score from 1 to 10. ({case_ref})"},
    {"name": "moved", "text": "We've sent you a DM, {customer_name}."}]},
    "resolve": {"closeout": "closeout", "survey": "csat"}, "desk": {"move_note": "moved"}})
WEEK = timedelta(days=7)


@pytest.fixture
def journey(store):
    with store.begin() as s:
        x = commands.ensure_channel(s, "brand-x", "x")
        write_batch(s, x, [mention("t1", "@brand my card was charged twice", minutes_ago=30)])
    settings = DeskSettings({"fixed": "Problem solved"}, move_note="moved", closeout="closeout", survey="csat")
    desk = Desk(store, "alice", limits={"brand-x": ChannelLimits(280, "chars", X)},
                rules=build_ruleset(CONFIG, sentiment=False), settings=settings)
    with store() as s:
        cid = s.execute(select(Conversation.id)).scalar_one()
    return desk, x, cid


def mention(pid: str, text: str, *, minutes_ago: float = 0, kind: str = "mention", visibility: str = "public",
            in_reply_to: str | None = None, score: int | None = None) -> IngestItem:
    return IngestItem(platform_id=pid, kind=kind, visibility=visibility, text=text, author_id="u-ann",
                      author_handle="ann", published_at=datetime.now(UTC) - timedelta(minutes=minutes_ago),
                      in_reply_to=in_reply_to, score=score)


def dm(pid: str, text: str, score: int | None = None) -> IngestItem:
    return mention(pid, text, kind="dm", visibility="private", score=score)


def deliver_all(store) -> list[Outbox]:
    with store.begin() as s:
        claims = commands.claim_outbox(s)
        for claim in claims:
            commands.mark_sent(s, claim.id, f"out-{claim.id}", None, datetime.now(UTC), claim.text)
    with store() as s:
        return [s.get(Outbox, c.id) for c in claims]


def resolve(desk: Desk, cid: int):
    return desk.run(Resolve("fixed"), Selection((cid,)))


def conversation(store, cid: int) -> Conversation:
    with store() as s:
        return s.get(Conversation, cid)


def test_resolving_after_a_private_talk_closes_out_in_public_and_asks_for_a_score_privately(store, journey):
    desk, x, cid = journey
    desk.run(Reply("Sorry! Let's take this to DM."), Selection((cid,)))
    desk.run(Reply("What are the last 4 digits?", "private"), Selection((cid,)))
    deliver_all(store)
    with store.begin() as s:
        write_batch(s, x, [dm("d1", "4242")])
    outcome = resolve(desk, cid)
    assert outcome.summary == "Resolved 1 conversation. Public close-out queued. Satisfaction survey queued."
    closeout, survey = deliver_all(store)
    assert (closeout.purpose, closeout.kind, closeout.visibility, closeout.in_reply_to) == (
        "closeout", "reply", "public", "t1")  # on the original post
    assert closeout.text == f"Glad we sorted it out in private, ann! (SD-{cid:06d})"
    assert (survey.purpose, survey.kind, survey.visibility, survey.in_reply_to) == ("csat", "dm", "private", "d1")
    conv = conversation(store, cid)
    assert conv.status == "resolved" and conv.csat_asked_at is not None and conv.csat_agent_id is not None


def test_a_public_only_conversation_gets_the_survey_but_no_close_out(store, journey):
    desk, _, cid = journey
    desk.run(Reply("Refunded, sorry!"), Selection((cid,)))
    deliver_all(store)
    assert resolve(desk, cid).summary == "Resolved 1 conversation. Satisfaction survey queued."
    (survey,) = deliver_all(store)
    assert (survey.purpose, survey.visibility, survey.in_reply_to) == ("csat", "public", "t1")


def test_the_score_is_stored_and_the_conversation_stays_resolved(store, journey):
    desk, x, cid = journey
    resolve(desk, cid)
    deliver_all(store)
    with store.begin() as s:
        write_batch(s, x, [mention("t2", "@brand 9 thanks!", in_reply_to="out-1", score=9)], reopen_within=WEEK)
    conv = conversation(store, cid)
    assert (conv.status, conv.csat, conv.csat_comment, conv.message_count) == ("resolved", 9, None, 3)
    assert conv.csat_at is not None


def test_an_answer_that_is_not_a_score_is_kept_as_a_comment_and_reopens(store, journey):
    desk, x, cid = journey
    resolve(desk, cid)
    deliver_all(store)
    with store.begin() as s:
        write_batch(s, x, [mention("t2", "@brand it is still charged twice", in_reply_to="out-1")], reopen_within=WEEK)
    conv = conversation(store, cid)
    assert (conv.status, conv.csat, conv.csat_comment) == ("open", None, "@brand it is still charged twice")
    assert conv.resolution_code is None and conv.resolved_at is None


def test_the_survey_is_never_asked_twice(store, journey):
    desk, x, cid = journey
    resolve(desk, cid)
    deliver_all(store)
    with store.begin() as s:  # reopened by a new message, then resolved again
        write_batch(s, x, [mention("t2", "@brand one more thing", in_reply_to="t1")], reopen_within=WEEK)
    assert conversation(store, cid).status == "open"
    assert resolve(desk, cid).summary == "Resolved 1 conversation."
    with store() as s:
        assert s.execute(select(Outbox.purpose)).scalars().all() == ["csat"]


def test_undoing_a_resolution_withdraws_what_it_queued_and_the_survey_can_be_asked_later(store, journey):
    desk, _, cid = journey
    outcome = resolve(desk, cid)
    assert outcome.outbox_ids
    assert desk.undo(outcome) == "Undone on 1 conversation. Withdrew 1 reply."
    conv = conversation(store, cid)
    assert (conv.status, conv.csat_asked_at) == ("new", None)
    assert resolve(desk, cid).summary == "Resolved 1 conversation. Satisfaction survey queued."


def test_after_the_reopen_window_a_new_message_starts_a_linked_conversation(store, journey):
    desk, x, cid = journey
    resolve(desk, cid)
    with store.begin() as s:  # resolved 8 days ago
        s.get(Conversation, cid).resolved_at = datetime.now(UTC) - timedelta(days=8)
    with store.begin() as s:
        write_batch(s, x, [mention("t2", "@brand charged twice again!", in_reply_to="t1"),
                           mention("t3", "@brand hello??", in_reply_to="t2")], reopen_within=WEEK)
    with store() as s:
        rows = s.execute(select(Conversation.id, Conversation.status, Conversation.previous_id,
                                Conversation.message_count).order_by(Conversation.id)).all()
    assert [tuple(r) for r in rows] == [(cid, "resolved", None, 1), (rows[1][0], "new", cid, 2)]


def test_within_the_reopen_window_the_conversation_reopens(store, journey):
    desk, x, cid = journey
    resolve(desk, cid)
    with store.begin() as s:
        write_batch(s, x, [mention("t2", "@brand charged twice again!", in_reply_to="t1")], reopen_within=WEEK)
    conv = conversation(store, cid)
    assert (conv.status, conv.message_count, conv.previous_id) == ("open", 2, None)
    with store() as s:
        actions = s.execute(select(AuditEvent.action).where(AuditEvent.object_id == cid)).scalars().all()
    assert "resolve" in actions and "reply.queued" in actions


def test_a_move_to_private_can_leave_a_public_note_under_the_post(store, journey):
    desk, _, cid = journey
    outcome = desk.run(Reply("What are the last 4 digits?", "private", public_note=True), Selection((cid,)))
    assert outcome.summary == "Reply queued. With a public note."
    dm_, note = deliver_all(store)
    assert (dm_.kind, dm_.visibility, dm_.purpose) == ("dm", "private", None)
    assert (note.kind, note.visibility, note.purpose, note.in_reply_to, note.text) == (
        "reply", "public", "note", "t1", "We've sent you a DM, ann.")
