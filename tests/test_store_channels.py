"""What the other channels need of the store, on SQLite and PostgreSQL: edits and deletions
reported by a platform, the adapter's reply reference handed back to the sender, health per
polled stream, automatic replies marked as such."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from socialdesk.services.desk import Desk
from socialdesk.store import audit, commands
from socialdesk.store.ingest import IngestItem, write_batch
from socialdesk.store.models import Message, Outbox
from socialdesk.store.views import QueueFilter
from seed import T0


def item(pid: str, **kw) -> IngestItem:
    base = dict(platform_id=pid, kind="comment", visibility="public", text=f"text {pid}", published_at=T0,
                author_id="u1", author_handle="ann", reply_ref=f'{{"cid": "c-{pid}"}}')
    base.update(kw)
    return IngestItem(**base)


def channel(store, name="fb", kind="facebook") -> int:
    with store.begin() as s:
        return commands.ensure_channel(s, name, kind)


def ingest(store, channel_id, items, deleted=None):
    with store.begin() as s:
        return write_batch(s, channel_id, items, deleted=deleted)


def search(store, words: str) -> list[int]:
    return [r.id for r in Desk(store, "alice").queue_page(QueueFilter(search=words), 0, 50)]


def test_an_edit_replaces_the_text_once_and_search_follows(store):
    fb = channel(store)
    ingest(store, fb, [item("1", text="my parcel is lost")])
    edited = replace(item("1", text="my parcel arrived broken"), edited_at=T0 + timedelta(minutes=5))
    result = ingest(store, fb, [edited])
    assert (result.stored, result.edited, result.duplicates) == (0, 1, 0)
    assert ingest(store, fb, [edited]).edited == 0  # the same edit again changes nothing
    older = replace(edited, text="stale", edited_at=T0 + timedelta(minutes=1))
    assert ingest(store, fb, [older]).edited == 0  # an older edit never wins over a newer one
    (conversation,) = search(store, "broken")
    assert search(store, "lost") == []
    detail = Desk(store, "alice").conversation(conversation)
    (message,) = detail.messages
    assert message.text == "my parcel arrived broken" and message.edited_at is not None
    row = Desk(store, "alice").queue_page(QueueFilter(), 0, 1)[0]
    assert row.snippet == "my parcel arrived broken"
    with store() as s:
        assert audit.verify(s)[1] is None
        actions = [a for (a,) in s.execute(select(audit.AuditEvent.action))]
    assert "message.edited" in actions


def test_an_edit_of_a_message_never_seen_is_stored_as_new(store):
    fb = channel(store)
    result = ingest(store, fb, [replace(item("9"), edited_at=T0 + timedelta(minutes=1))])
    assert (result.stored, result.edited) == (1, 0)


def test_a_deletion_marks_the_message_and_keeps_the_text(store):
    fb = channel(store)
    ingest(store, fb, [item("1", text="call me on 0612345678")])
    result = ingest(store, fb, [], deleted=["1", "never-seen"])
    assert result.deleted == 1
    assert ingest(store, fb, [], deleted=["1"]).deleted == 0
    (conversation,) = search(store, "call")
    (message,) = Desk(store, "alice").conversation(conversation).messages
    assert message.deleted_at is not None and message.text == "call me on 0612345678"


def test_the_sender_gets_the_answered_message_back(store):
    fb = channel(store)
    ingest(store, fb, [item("c1", author_id="psid-7", author_handle="Ann Lee")])
    (conversation,) = search(store, "c1")
    Desk(store, "bob").reply(conversation, "Sorry to hear that, Ann.", "private")
    with store.begin() as s:
        (claim,) = commands.claim_outbox(s)
    assert (claim.channel, claim.in_reply_to, claim.recipient_id, claim.reply_to_kind) == ("fb", "c1", "psid-7",
                                                                                          "comment")
    assert claim.reply_to_at == T0 and claim.reply_ref == '{"cid": "c-c1"}' and not claim.automatic


def test_health_is_kept_per_stream_and_a_failing_one_shows(store):
    x = channel(store, "brand-x", "x")
    with store.begin() as s:
        commands.record_poll(s, x, "mentions", rate=(450, 449, T0))
        commands.record_poll(s, x, "dms", error="X refused the credentials (HTTP 403)")
        commands.record_poll(s, x, "mentions", rate=(450, 448, T0))
    (health,) = Desk(store, "alice").channel_health()
    assert not health.ok
    assert health.last_error == "dms: X refused the credentials (HTTP 403)"
    assert health.rate_remaining == 448 and {s.stream for s in health.streams} == {"mentions", "dms"}
    with store.begin() as s:
        commands.record_poll(s, x, "dms")
    assert Desk(store, "alice").channel_health()[0].ok


def test_a_channel_that_could_not_start_is_healthy_once_it_does(store):
    x = channel(store, "brand-x", "x")
    with store.begin() as s:
        commands.record_poll(s, x, "setup", error="no secret stored")
    assert Desk(store, "alice").channel_health()[0].last_error == "no secret stored"
    with store.begin() as s:
        commands.clear_health(s, x, "setup")
        commands.record_poll(s, x, "mentions")
    assert Desk(store, "alice").channel_health()[0].ok


def test_out_of_hours_acknowledgements_are_marked_automatic(store):
    mail = channel(store, "mail", "email")
    ingest(store, mail, [item("<a@x>", kind="email", visibility="private", acknowledgement="We are closed.")])
    with store() as s:
        (entry,) = s.execute(select(Outbox)).scalars()
        assert entry.automatic and entry.in_reply_to == "<a@x>"
        assert s.execute(select(Message.reply_ref)).scalar_one() == '{"cid": "c-<a@x>"}'
