"""Every adapter through a storm: each platform's fake on loopback injects 429s, 500s, timeouts,
connection resets, truncated bodies and malformed JSON (email: dropped connections and SMTP 4xx)
while mentions arrive and replies go out. In the end every mention is stored exactly once and
every queued reply reached the platform exactly once: a platform that cannot say whether an
ambiguous send arrived (Telegram) has that reply parked for a person, never posted twice."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from fakes import FAKES, fake_class
from socialdesk.config import Config
from socialdesk.services.commands import ChannelLimits
from socialdesk.services.desk import Desk
from socialdesk.services.ingest import ChannelRef, Ingestor
from socialdesk.services.outbox import Sender
from socialdesk.services.poller import ChannelPoller
from socialdesk.services.rules import build_ruleset
from socialdesk.store import commands
from socialdesk.store.models import Message, Outbox
from socialdesk.store.views import QueueFilter

MESSAGES = 30
FAULTS = 0.3


def stored_ids(store) -> list[str]:
    with store() as s:
        return sorted(s.execute(select(Message.platform_id).where(Message.direction == "in")).scalars())


def make_due(store) -> None:
    """Retries are due now rather than after their back-off (the test has no minutes to spare)."""
    with store.begin() as s:
        s.execute(update(Outbox).where(Outbox.state == "queued").values(next_attempt_at=commands.utcnow()))


def posted_counts(fake, markers) -> Counter:
    return Counter(marker for sent in fake.sent() for marker in markers if marker in sent.text)


@pytest.mark.parametrize("kind", list(FAKES))
def test_every_mention_once_and_every_reply_once_through_faults(store, kind):
    fake = fake_class(kind)(faults=FAULTS, seed=20261201, slow_seconds=0.6).start()
    try:
        adapter = fake.adapter(timeout=0.4)
        with store.begin() as s:
            channel_id = commands.ensure_channel(s, "brand", kind)
        ingestor = Ingestor(store, build_ruleset(Config(), sentiment=False), ChannelRef(channel_id, "brand", kind))
        leaping = itertools.count(step=3600).__next__  # back-off never holds the test up
        pollers = [ChannelPoller("brand", channel_id, adapter, ingestor, store, stream=stream.name,
                                 initial_cursor=None, clock=leaping) for stream in adapter.streams]
        for poller in pollers:  # the first poll ever: where "from now" is
            for _ in range(40):
                poller.run()
                if poller.failures == 0:
                    break
        fake.generate(MESSAGES)
        expected = sorted(fake.expected_ids())
        assert len(expected) >= MESSAGES
        for _ in range(400):
            for poller in pollers:
                poller.run()
            if stored_ids(store) == expected:
                break
        assert stored_ids(store) == expected  # every mention, none twice (the store's ids are unique)

        caps = adapter.capabilities
        desk = Desk(store, "alice", limits={"brand": ChannelLimits(caps.max_length, caps.length_counting, caps)})
        rows = desk.queue_page(QueueFilter(status="all"), 0, 500)
        markers = {}
        for i, row in enumerate(rows):
            marker = f"ref{i:03d}x"
            visibility = "private" if row.private or not caps.public_reply else "public"
            markers[marker] = desk.reply(row.id, f"Thanks for writing, we are on it ({marker}).", visibility).id
        sender = Sender(store, {"brand": adapter}, in_doubt_after=timedelta(0))
        for _ in range(300):
            sender.run_once()
            make_due(store)
            with store() as s:
                left = s.execute(select(func.count()).select_from(Outbox)
                                 .where(Outbox.state.in_(("queued", "sending")))).scalar_one()
            if not left:
                break
        posted = posted_counts(fake, markers)
        with store() as s:
            entries = {o.id: o for o in s.execute(select(Outbox)).scalars()}
        parked = 0
        for marker, outbox_id in markers.items():
            entry = entries[outbox_id]
            if entry.state == "sent":
                assert posted[marker] == 1, f"{marker} reached {kind} {posted[marker]} times"
            else:  # only a reply nobody can verify may stop short, and then it went out at most once
                assert entry.state == "failed", f"{marker} is still {entry.state}: {entry.last_error}"
                assert "not sent again" in entry.last_error, entry.last_error
                assert posted[marker] <= 1
                parked += 1
        assert parked <= len(markers) // 3, f"{parked} of {len(markers)} replies parked"
        assert sum(fake.faults_injected.values()) > 10, "the fake injected (almost) no faults"
    finally:
        fake.stop()


class Killed(BaseException):
    """The sender's process dies here: nothing after this point of its work runs."""


class Dying:
    """An adapter in a process that is killed now and then just before, or just after, a reply
    reaches the platform (then the entry stays `sending`, in doubt, for the next process)."""

    def __init__(self, adapter, rng: random.Random):
        self.adapter, self.rng = adapter, rng

    def __getattr__(self, name):
        return getattr(self.adapter, name)

    def send(self, message):
        if self.rng.random() < 0.1:
            raise Killed
        result = self.adapter.send(message)
        if self.rng.random() < 0.3:
            raise Killed
        return result


def test_a_sender_killed_mid_send_on_a_busy_account_never_posts_twice(store):
    """Mastodon forgets Idempotency-Keys (here at once) and the brand posts 45 other statuses
    between a kill and the restart, so the earlier attempt is pages back when the new sender
    looks for it: it must find it there (or park the reply), never post it again."""
    fake = fake_class("mastodon")(seed=20261202, idempotency_keys=False).start()
    try:
        adapter = fake.adapter(timeout=2.0)
        with store.begin() as s:
            channel_id = commands.ensure_channel(s, "brand", "mastodon")
        ingestor = Ingestor(store, build_ruleset(Config(), sentiment=False), ChannelRef(channel_id, "brand", "mastodon"))
        poller = ChannelPoller("brand", channel_id, adapter, ingestor, store, initial_cursor=None)
        poller.run()
        fake.generate(40)
        poller.run()
        caps = adapter.capabilities
        desk = Desk(store, "alice", limits={"brand": ChannelLimits(caps.max_length, caps.length_counting, caps)})
        markers = {f"ref{i:03d}x": desk.reply(row.id, f"Thanks, we are on it (ref{i:03d}x).",
                                                        "private" if row.private else "public").id
                   for i, row in enumerate(desk.queue_page(QueueFilter(status="all"), 0, 500))}
        assert len(markers) >= 30
        rng, kills = random.Random(7), 0
        for _ in range(200):  # each round is a new process: a fresh sender that finds entries in doubt
            sender = Sender(store, {"brand": Dying(adapter, rng)}, in_doubt_after=timedelta(0))
            try:
                sender.run_once()
            except Killed:
                kills += 1
                fake.busy(45)
            make_due(store)
            with store() as s:
                if not s.execute(select(func.count()).select_from(Outbox)
                                 .where(Outbox.state.in_(("queued", "sending")))).scalar_one():
                    break
        assert kills >= 8
        posted = posted_counts(fake, markers)
        assert [m for m in markers if posted[m] > 1] == []  # no reply twice
        with store() as s:
            entries = {o.id: o for o in s.execute(select(Outbox)).scalars()}
        for marker, outbox_id in markers.items():
            entry = entries[outbox_id]
            if entry.state != "sent":  # parked: the earlier attempt was beyond what find_sent reads
                assert entry.state == "failed" and "check on Mastodon" in entry.last_error, entry.last_error
                assert posted[marker] <= 1
            else:
                assert posted[marker] == 1, marker
        parked = sum(entry.state == "failed" for entry in entries.values())
        assert parked <= len(markers) // 4, f"{parked} of {len(markers)} replies parked"
    finally:
        fake.stop()
