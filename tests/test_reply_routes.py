"""Replies the channel cannot carry are refused before they are queued, from the adapter's
declared capabilities; a reply the sender cannot verify is never posted a second time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from socialdesk.adapters.base import AdapterError, CannotVerify, Capabilities, Outbound, SendResult
from socialdesk.services.commands import ChannelLimits, ReplyRejected
from socialdesk.services.desk import Desk
from socialdesk.services.outbox import Sender
from socialdesk.store import commands
from socialdesk.store.ingest import IngestItem, write_batch
from socialdesk.store.models import Outbox
from socialdesk.store.views import QueueFilter

META = Capabilities(public_reply=True, private_reply=True, dm=True, email=False, max_length=8000,
                    length_counting="utf16", private_max_length=2000, private_reply_window=timedelta(days=7),
                    dm_window=timedelta(hours=24))
MAIL = Capabilities(public_reply=False, private_reply=False, dm=False, email=True, max_length=100_000)


def conversation(store, channel: str, caps: Capabilities, kind: str, age: timedelta) -> tuple[Desk, int]:
    with store.begin() as s:
        cid = commands.ensure_channel(s, channel, "facebook")
        write_batch(s, cid, [IngestItem(
            platform_id=f"{channel}-{kind}", kind=kind, visibility="private" if kind in ("dm", "email") else "public",
            text="hello there", published_at=datetime.now(UTC) - age, author_id="u1", author_handle="ann")])
    desk = Desk(store, "alice", limits={channel: ChannelLimits(caps.max_length, caps.length_counting, caps)})
    return desk, desk.queue_page(QueueFilter(), 0, 1)[0].id


def test_a_private_reply_to_a_comment_is_refused_after_seven_days(store):
    desk, conv = conversation(store, "fb", META, "comment", timedelta(days=9))
    with pytest.raises(ReplyRejected, match="only within 7 days of it; this one is 9 days old"):
        desk.reply(conv, "Let's take this to DM", "private")
    assert desk.reply(conv, "Sorry about that!", "public").state == "queued"


def test_a_dm_outside_the_messaging_window_is_refused_with_the_reason(store):
    desk, conv = conversation(store, "fb", META, "dm", timedelta(hours=30))
    with pytest.raises(ReplyRejected, match="within 24 hours of the customer's last message; theirs was 30 hours"):
        desk.reply(conv, "Following up", "private")
    with pytest.raises(ReplyRejected, match="no public reply to this message"):
        desk.reply(conv, "Following up", "public")


def test_a_private_reply_within_the_windows_uses_the_private_length(store):
    desk, conv = conversation(store, "fb", META, "comment", timedelta(hours=2))
    with pytest.raises(ReplyRejected, match="allows 2000 in private"):
        desk.reply(conv, "x" * 2001, "private")
    assert desk.reply(conv, "x" * 2000, "private").visibility == "private"
    assert desk.max_length("fb", "private") == 2000 and desk.max_length("fb") == 8000


def test_email_has_no_public_route(store):
    desk, conv = conversation(store, "mail", MAIL, "email", timedelta(days=30))
    with pytest.raises(ReplyRejected, match="press ctrl\\+t to answer privately"):
        desk.reply(conv, "Thanks for writing", "public")
    assert desk.reply(conv, "Thanks for writing", "private").state == "queued"


class Unverifiable:
    """A platform that cannot read back what was sent (Telegram's Bot API)."""

    capabilities = META

    def __init__(self) -> None:
        self.sent: list[Outbound] = []

    def send(self, message: Outbound) -> SendResult:
        self.sent.append(message)
        return SendResult("m1", None, datetime.now(UTC), message.text)

    def find_sent(self, message: Outbound) -> SendResult | None:
        raise CannotVerify("look in the chat and send it again by hand if it is missing")


def test_a_reply_in_doubt_that_cannot_be_checked_is_parked_not_resent(store):
    desk, conv = conversation(store, "fb", META, "comment", timedelta(hours=1))
    desk.reply(conv, "We are on it", "public")
    with store.begin() as s:
        commands.claim_outbox(s)  # a sender claims it, then dies mid-send
    adapter = Unverifiable()
    sender = Sender(store, {"fb": adapter}, in_doubt_after=timedelta(0))
    assert sender.run_once() == 1
    assert adapter.sent == []  # never posted a second time
    with store() as s:
        entry = s.execute(select(Outbox)).scalar_one()
    assert entry.state == "failed"
    assert "not sent again: an earlier attempt may have reached fb" in entry.last_error
    assert "look in the chat" in entry.last_error


class Flaky:
    """Posts, then loses the answer once; or is rate limited once (nothing posted)."""

    capabilities = META

    def __init__(self, first_failure: AdapterError) -> None:
        self.first_failure: AdapterError | None = first_failure
        self.posted: list[str] = []
        self.looked = 0

    def send(self, message: Outbound) -> SendResult:
        if self.first_failure is not None and self.first_failure.maybe_sent:
            self.posted.append(message.idempotency_key)
        failure, self.first_failure = self.first_failure, None
        if failure is not None:
            raise failure
        self.posted.append(message.idempotency_key)
        return SendResult("p1", None, datetime.now(UTC), message.text)

    def find_sent(self, message: Outbound) -> SendResult | None:
        self.looked += 1
        if message.idempotency_key in self.posted:
            return SendResult("p1", None, datetime.now(UTC), message.text)
        return None


@pytest.mark.parametrize("failure, looks, posts", [
    (AdapterError("read timeout", maybe_sent=True), 1, 1),  # it went out: found, not posted again
    (AdapterError("HTTP 429"), 0, 1),  # refused before anything happened: just try again
])
def test_a_retry_looks_first_only_when_the_failed_attempt_may_have_posted(store, failure, looks, posts):
    desk, conv = conversation(store, "fb", META, "comment", timedelta(hours=1))
    desk.reply(conv, "We are on it", "public")
    adapter = Flaky(failure)
    sender = Sender(store, {"fb": adapter})
    sender.run_once()
    with store.begin() as s:
        s.execute(Outbox.__table__.update().values(next_attempt_at=commands.utcnow()))
    sender.run_once()
    assert (adapter.looked, len(adapter.posted)) == (looks, posts)
    with store() as s:
        assert s.execute(select(Outbox.state)).scalar_one() == "sent"


class PostedThenUnreachable(Flaky):
    """An earlier process posted the reply and died; the first look fails (HTTP 503)."""

    def __init__(self, key: str) -> None:
        super().__init__(AdapterError("unused"))
        self.first_failure, self.posted, self.down = None, [key], True

    def find_sent(self, message: Outbound) -> SendResult | None:
        if self.down:
            self.down = False
            raise AdapterError("HTTP 503 while looking for an already sent reply")
        return super().find_sent(message)


def test_a_reply_in_doubt_stays_in_doubt_when_the_look_fails(store):
    desk, conv = conversation(store, "fb", META, "comment", timedelta(hours=1))
    desk.reply(conv, "We are on it", "public")
    with store.begin() as s:
        (claim,) = commands.claim_outbox(s)  # a sender claims it, posts it, then dies before it can say so
    key = claim.idempotency_key
    adapter = PostedThenUnreachable(key)
    sender = Sender(store, {"fb": adapter}, in_doubt_after=timedelta(0))
    sender.run_once()  # the look fails: back in the queue, still in doubt
    with store.begin() as s:
        s.execute(Outbox.__table__.update().values(next_attempt_at=commands.utcnow()))
    sender.run_once()
    assert (adapter.looked, adapter.posted) == (1, [key])  # found on the second look, never posted again
