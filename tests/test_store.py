"""The store's promises: idempotent ingest, threads, keyset paging, search, safe assignment,
audit in the same transaction, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update

from socialdesk.store import audit, commands, queries, queue
from socialdesk.store.ingest import IngestItem, write_batch
from socialdesk.store.models import AuditEvent, Message
from socialdesk.services.commands import Assign, Resolve, Selection
from socialdesk.services.desk import Desk
from socialdesk.store.queue import SearchError
from socialdesk.store.views import OutboundRoute, QueueFilter
from seed import T0, seed_conversations


def item(pid: str, **kw) -> IngestItem:
    base = dict(platform_id=pid, kind="mention", visibility="public", text=f"text {pid}",
                published_at=T0 + timedelta(seconds=int(pid) if pid.isdigit() else 0),
                author_id="u1", author_handle="ann")
    base.update(kw)
    return IngestItem(**base)


@pytest.fixture
def channel(store) -> int:
    with store.begin() as s:
        return commands.ensure_channel(s, "demo", "simulator")


def ingest(store, channel, items, cursor=None):
    with store.begin() as s:
        return write_batch(s, channel, items, cursor=("mentions", cursor) if cursor else None)


def count(store, model) -> int:
    with store() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def test_a_page_stored_twice_changes_nothing(store, channel):
    first = ingest(store, channel, [item("1"), item("2"), item("2")], cursor="2")
    again = ingest(store, channel, [item("1"), item("2")], cursor="2")
    assert (first.stored, first.duplicates, first.new_conversations) == (2, 1, 2)
    assert (again.stored, again.duplicates) == (0, 2)
    assert count(store, Message) == 2
    with store() as s:
        assert queries.cursor(s, channel, "mentions") == "2"


def test_cursor_moves_only_with_its_rows(store, channel):
    """A failure inside the transaction leaves neither the messages nor the cursor behind."""
    with pytest.raises(RuntimeError):
        with store.begin() as s:
            write_batch(s, channel, [item("1")], cursor=("mentions", "1"))
            raise RuntimeError("crash before commit")
    with store() as s:
        assert queries.cursor(s, channel, "mentions") is None
    assert count(store, Message) == 0


def test_replies_join_their_thread_and_dms_join_the_open_private_conversation(store, channel):
    ingest(store, channel, [item("1"), item("2", in_reply_to="1"), item("3", in_reply_to="2")])
    ingest(store, channel, [item("4", in_reply_to="3"), item("5", author_id="u2", author_handle="bob")])
    ingest(store, channel, [item("6", visibility="private", kind="dm", author_id="u3", author_handle="cy")])
    ingest(store, channel, [item("7", visibility="private", kind="dm", author_id="u3", author_handle="cy")])
    with store() as s:
        convs = dict(s.execute(select(Message.platform_id, Message.conversation_id)).all())
    assert convs["1"] == convs["2"] == convs["3"] == convs["4"]
    assert convs["5"] != convs["1"]
    assert convs["6"] == convs["7"] != convs["5"]
    with store() as s:
        detail = queries.conversation_detail(s, convs["1"])
    assert [m.platform_id for m in detail.messages] == ["1", "2", "3", "4"]


def test_a_reply_reopens_a_resolved_conversation(store, channel):
    ingest(store, channel, [item("1")])
    with store() as s:
        cid = s.execute(select(Message.conversation_id)).scalar_one()
    Desk(store, "alice").run(Resolve("answered"), Selection((cid,)))
    ingest(store, channel, [item("2", in_reply_to="1")])
    with store() as s:
        assert queries.conversation_detail(s, cid).status == "open"


def test_keyset_pages_match_offset_pages_across_priorities(desk):
    seed_conversations(desk, 300)
    flt = QueueFilter()
    with desk.sessions() as s:
        everything = queue.queue_page(s, flt, 0, 300)
        walked, after = [], None
        while len(walked) < len(everything):
            page = queue.queue_page(s, flt, len(walked), 37, after=after)
            assert page, "keyset paging stopped early"
            walked += page
            after = page[-1]
    assert [r.id for r in walked] == [r.id for r in everything]
    keys = [(-r.priority, r.published_at, r.id) for r in everything]
    assert keys == sorted(keys)


def test_search_finds_words_and_prefixes_and_ignores_punctuation(desk):
    seed_conversations(desk, 50)
    assert desk.queue_count(QueueFilter(search="refund")) == 10
    assert desk.queue_count(QueueFilter(search="refu")) == 10
    assert desk.queue_count(QueueFilter(search="password reset")) == 10
    assert desk.queue_count(QueueFilter(search='"); DROP TABLE messages; --')) == 0
    with pytest.raises(SearchError, match="nothing to search for in '!!!'"):
        desk.queue_count(QueueFilter(search="!!!"))
    assert desk.queue_count(QueueFilter()) == 50


def test_two_agents_never_take_the_same_conversation(desk):
    seed_conversations(desk, 1)
    cid = desk.queue_page(QueueFilter(), 0, 1)[0].id
    bob = Desk(desk.sessions, "bob")
    assert desk.run(Assign("me"), Selection((cid,))).count == 1
    assert bob.run(Assign("me"), Selection((cid,))).count == 0
    assert desk.conversation(cid).assignee == "alice"
    assert desk.queue_count(QueueFilter(assignee="me")) == 1


def test_every_change_is_audited_and_the_chain_detects_tampering(desk):
    seed_conversations(desk, 3)
    before = desk.change_counter()
    cid = desk.queue_page(QueueFilter(), 0, 1)[0].id
    desk.run(Assign("me"), Selection((cid,)))
    desk.reply(cid, "On it!", "public")
    desk.run(Resolve("answered"), Selection((cid,)))
    assert desk.change_counter() == before + 3
    with desk.sessions() as s:
        actions = s.execute(select(AuditEvent.action).where(AuditEvent.object_id == cid,
                                                            AuditEvent.object_type == "conversation")).scalars().all()
        assert actions == ["assign", "reply.queued", "resolve"]
        assert audit.verify(s) == (4, None)  # one ingest event for the page, three changes
    with desk.sessions.begin() as s:
        victim = s.execute(select(AuditEvent.id).where(AuditEvent.action == "reply.queued")).scalar_one()
        s.execute(update(AuditEvent).where(AuditEvent.id == victim).values(details='{"edited":true}'))
    with desk.sessions() as s:
        assert audit.verify(s)[1] == victim


def test_outbox_entries_in_doubt_are_reclaimed_once(desk):
    seed_conversations(desk, 1)
    cid = desk.queue_page(QueueFilter(), 0, 1)[0].id
    desk.reply(cid, "hello", "private")
    with desk.sessions.begin() as s:
        (claim,) = commands.claim_outbox(s)
    assert not claim.in_doubt and claim.visibility == "private" and claim.recipient
    with desk.sessions.begin() as s:
        assert commands.claim_outbox(s) == []  # taken, and not yet in doubt
    with desk.sessions.begin() as s:
        (again,) = commands.claim_outbox(s, in_doubt_after=timedelta(0))
    assert again.in_doubt and again.idempotency_key == claim.idempotency_key and again.attempts == 2
    with desk.sessions.begin() as s:
        commands.mark_sent(s, claim.id, "p-1", None, T0, "@x hello")
        commands.mark_sent(s, claim.id, "p-1", None, T0, "@x hello")
    detail = desk.conversation(cid)
    assert [m.direction for m in detail.messages] == ["in", "out"]
    assert detail.outbox[0].state == "sent" and detail.status == "pending"


def test_hostile_text_round_trips_on_every_backend(store, channel):
    hostile = "zalgo Z\u0351\u0352\u0353 rtl \u202eabc [b]x[/b] emoji 👩‍👩‍👧"
    ingest(store, channel, [item("1", text=hostile, author_handle="[red]x[/red]")])
    with store() as s:
        assert s.execute(select(Message.text)).scalar_one() == hostile


def test_status_change_does_not_reindex_text(store, channel):
    """Search stays right after an edit of the text (the FTS update trigger) on SQLite."""
    ingest(store, channel, [item("1", text="parcel lost")])
    with store.begin() as s:
        audit.begin_write(s)
        s.execute(update(Message).values(text="parcel found"))
    with store() as s:
        assert queue.queue_count(s, QueueFilter(search="found")) == 1
        assert queue.queue_count(s, QueueFilter(search="lost")) == 0


def test_migrations_are_idempotent(database_url):
    from alembic.script import ScriptDirectory

    from socialdesk.store.db import alembic_config, open_store

    open_store(database_url)[0].dispose()
    engine, sessions = open_store(database_url)
    with sessions() as s:
        head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
        assert s.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head
    engine.dispose()


def test_noise_is_kept_out_of_the_open_queue_but_searchable(store, channel):
    ingest(store, channel, [item("1", text="RT great deal", status="closed", tags=("noise",)),
                            replace(item("2"), text="real question")])
    with store() as s:
        assert queue.queue_count(s, QueueFilter()) == 1
        assert queue.queue_count(s, QueueFilter(status="all", search="deal")) == 1


def test_the_sla_clock_stops_when_answered_and_restarts_when_the_customer_writes(store, channel):
    ingest(store, channel, [item("1", sla_minutes=60)])
    with store() as s:
        cid = s.execute(select(Message.conversation_id)).scalar_one()
        assert queries.conversation_detail(s, cid).sla_due_at == T0 + timedelta(seconds=1, minutes=60)
    with store.begin() as s:
        entry = commands.queue_reply(s, cid, "on it", OutboundRoute("demo", "public", "reply", "1", "ann"),
                                     actor="alice")
    with store.begin() as s:
        commands.mark_sent(s, entry.id, "out-1", None, T0 + timedelta(minutes=5), "@ann on it")
    with store() as s:
        answered = queries.conversation_detail(s, cid)
    assert answered.status == "pending" and answered.sla_due_at is None
    ingest(store, channel, [item("700", in_reply_to="out-1", sla_minutes=60)])
    with store() as s:
        again = queries.conversation_detail(s, cid)
    assert again.status == "open" and again.sla_due_at == T0 + timedelta(seconds=700, minutes=60)
