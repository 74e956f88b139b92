"""One customer, one conversation: a public mention answered privately and by email stays one
conversation; the route of every reply is decided once and recorded as it went."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from socialdesk.adapters.base import Capabilities
from socialdesk.services.commands import ChannelLimits, Refused, Reply, ReplyRejected, Selection, real_address
from socialdesk.services.desk import Desk
from socialdesk.store import commands
from socialdesk.store.ingest import IngestItem, write_batch
from socialdesk.store.models import Message, Outbox
from socialdesk.store.views import QueueFilter

X = Capabilities(public_reply=True, private_reply=True, dm=True, email=False, max_length=280)
MAIL = Capabilities(public_reply=False, private_reply=False, dm=False, email=True, max_length=100_000)
NOW = datetime.now(UTC)


def limits() -> dict[str, ChannelLimits]:
    return {"brand-x": ChannelLimits(280, "chars", X), "brand-mail": ChannelLimits(100_000, "chars", MAIL)}


@pytest.fixture
def setup(store):
    with store.begin() as s:
        x = commands.ensure_channel(s, "brand-x", "x")
        mail = commands.ensure_channel(s, "brand-mail", "email")
        write_batch(s, x, [IngestItem(platform_id="t1", kind="mention", visibility="public",
                                      text="@brand my card was charged twice", published_at=NOW - timedelta(minutes=5),
                                      author_id="u-ann", author_handle="ann")])
    desk = Desk(store, "alice", limits=limits(), brand="Acme")
    return desk, x, mail, desk.queue_page(QueueFilter(), 0, 1)[0].id


def deliver(store, platform_id: str) -> Outbox:
    """The sender's part: claim the one queued entry and record it as sent."""
    with store.begin() as s:
        (claim,) = commands.claim_outbox(s)
        commands.mark_sent(s, claim.id, platform_id, None, datetime.now(UTC), claim.text)
    with store() as s:
        return s.get(Outbox, claim.id)


def conversations(store) -> set[int]:
    with store() as s:
        return set(s.execute(select(Message.conversation_id)).scalars())


def test_a_dm_to_a_public_mention_brings_the_customers_dm_back_to_the_same_conversation(store, setup):
    desk, x, _, cid = setup
    desk.reply(cid, "Sorry! Sending you a DM", "public")
    assert deliver(store, "t-out-1").kind == "reply"
    desk.reply(cid, "Could you tell us the last 4 digits?", "private")
    assert deliver(store, "dm-out-1").kind == "dm"
    with store.begin() as s:
        write_batch(s, x, [IngestItem(platform_id="dm-in-1", kind="dm", visibility="private", text="It's 4242",
                                      published_at=datetime.now(UTC), author_id="u-ann", author_handle="ann")])
    assert conversations(store) == {cid}
    kinds = [(m.direction, m.kind, m.visibility) for m in desk.conversation(cid).messages]
    assert kinds == [("in", "mention", "public"), ("out", "reply", "public"), ("out", "dm", "private"),
                     ("in", "dm", "private")]


def test_an_email_from_a_social_conversation_starts_a_thread_the_customers_reply_joins(store, setup):
    desk, _, mail, cid = setup
    route = desk.email_route(cid, "Ann Lee <ann@example.com>")
    assert (route.channel, route.kind, route.address, route.answered) == ("brand-mail", "email", "ann@example.com",
                                                                           None)
    assert route.subject == f"Your message to Acme [SD-{cid:06d}]"
    desk.run(Reply("Please send the details here.", route=route), Selection((cid,)))
    with store() as s:
        (entry,) = s.execute(select(Outbox)).scalars()
    assert (entry.kind, entry.recipient, entry.in_reply_to) == ("email", "ann@example.com", None)
    assert json.loads(entry.reply_ref) == {"subject": f"Your message to Acme [SD-{cid:06d}]"}
    deliver(store, "<abc123@acme.example>")
    with store.begin() as s:  # her reply, threaded by In-Reply-To
        write_batch(s, mail, [IngestItem(platform_id="<r1@example.com>", kind="email", visibility="private",
                                         text="Subject: Re: Your message\n\nHere you are", in_reply_to="<abc123@acme.example>",
                                         published_at=datetime.now(UTC), author_id="ann@example.com",
                                         author_handle="ann@example.com")])
    assert conversations(store) == {cid}
    later = desk.email_route(cid, "ann@example.com")  # her thread now: answered in it, no new subject
    assert later.answered is not None and later.answered.platform_id == "<r1@example.com>" and later.subject is None


def test_a_case_reference_in_a_subject_finds_the_conversation_when_threading_does_not(store, setup):
    _, _, mail, cid = setup
    with store.begin() as s:
        write_batch(s, mail, [IngestItem(platform_id="<new@example.com>", kind="email", visibility="private",
                                         text=f"Subject: About case [SD-{cid:06d}]\n\nFrom my other address",
                                         published_at=datetime.now(UTC), author_id="ann2@example.com",
                                         author_handle="ann2@example.com", case_id=cid)])
    assert conversations(store) == {cid}


def test_routes_offer_every_channel_and_say_why_one_is_closed(store, setup):
    desk, _, _, cid = setup
    labels = [(r.label, r.problem) for r in desk.routes(cid, addresses=("ann@example.com",))]
    assert labels == [("public reply on brand-x", None), ("direct message to @ann on brand-x", None),
                      ("email to ann@example.com (brand-mail)", None)]
    nomail = Desk(store, "alice", limits={"brand-x": limits()["brand-x"]})
    (email,) = [r for r in nomail.routes(cid, addresses=("ann@example.com",)) if r.kind == "email"]
    assert "No email channel is configured" in email.problem
    with pytest.raises(ReplyRejected, match="No email channel is configured"):
        nomail.run(Reply("hi", route=email), Selection((cid,)))


@pytest.mark.parametrize(("typed", "address"), [
    ("ann@example.com", "ann@example.com"),
    ("Ann Lee <ann@example.com>", "ann@example.com"),
    ("alice@x.com <bob@y.com>", "bob@y.com"),  # the display name is not where it goes
    ('"alice@x.com" <bob@y.com>', "bob@y.com"),
])
def test_the_real_address_is_the_one_in_brackets(typed, address):
    assert real_address(typed) == address


@pytest.mark.parametrize("typed", ["ann", "ann@", "@example.com", "ann@example", "a@b.com, c@d.com", "",
                                   "ann@exa mple.com", "<>"])
def test_what_is_not_one_address_gets_no_email(typed):
    with pytest.raises(Refused, match="is not an email address"):
        real_address(typed)


def test_metas_one_private_reply_per_comment_is_refused_once_used_before_anything_is_queued(store):
    meta = Capabilities(public_reply=True, private_reply=True, dm=True, email=False, max_length=8000,
                        private_reply_window=timedelta(days=7), private_kind="private_reply")
    with store.begin() as s:
        fb = commands.ensure_channel(s, "brand-fb", "facebook")
        write_batch(s, fb, [IngestItem(platform_id="c1", kind="comment", visibility="public", text="charged twice",
                                       published_at=NOW - timedelta(hours=1), author_id="u1", author_handle="ann")])
    desk = Desk(store, "alice", limits={"brand-fb": ChannelLimits(8000, "chars", meta)})
    desk.reply(1, "Sorry! Let's look at it in private.", "private")
    (private,) = [r for r in desk.routes(1) if r.visibility == "private"]
    assert private.kind == "private_reply" and "one private reply per comment" in private.problem
    with pytest.raises(ReplyRejected, match="one private reply per comment"):
        desk.reply(1, "And another thing", "private")
    with store() as s:
        assert len(s.execute(select(Outbox)).scalars().all()) == 1
