"""The whole pipeline against the simulator on loopback: poll → ingest → store, outbox → sender
→ adapter, across faults, crashes and restarts."""

from __future__ import annotations

import itertools
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from socialdesk.adapters.base import AdapterError
from socialdesk.adapters.mastodon import MastodonAdapter
from socialdesk.adapters.simulator import Simulator
from socialdesk.config import ChannelConfig, Config
from socialdesk.services.desk import Desk
from socialdesk.services.ingest import ChannelRef, Ingestor
from socialdesk.services.outbox import Sender
from socialdesk.services.poller import ChannelPoller
from socialdesk.services.rules import build_ruleset
from socialdesk.services.runtime import Runtime
from socialdesk.store import commands
from socialdesk.store.models import Message
from socialdesk.store.views import QueueFilter


@pytest.fixture
def simulator():
    sim = Simulator(rate=0, seed=7, followup_probability=0.0)
    sim.start()
    yield sim
    sim.stop()


def poller_for(store, sim: Simulator, **adapter_kw) -> ChannelPoller:
    with store.begin() as s:
        channel_id = commands.ensure_channel(s, "demo", "simulator")
    adapter = MastodonAdapter(sim.base_url, "simulator", **adapter_kw)
    # A clock that leaps an hour per reading: back-off never holds a test up.
    ingestor = Ingestor(store, build_ruleset(Config(), sentiment=False), ChannelRef(channel_id, "demo", "simulator"))
    return ChannelPoller("demo", channel_id, adapter, ingestor, store, initial_cursor="0",
                         clock=itertools.count(step=3600).__next__)


def stored_ids(store) -> list[str]:
    with store() as s:
        return sorted(s.execute(select(Message.platform_id).where(Message.direction == "in")).scalars())


def generated_ids(sim: Simulator) -> list[str]:
    return sorted(n["status"]["id"] for n in sim.mentions if n.get("status"))


def test_every_mention_is_stored_once_across_polls_and_pages(store, simulator):
    simulator.generate(250)
    poller = poller_for(store, simulator, page_limit=40)
    assert poller.run() > 0
    assert poller.run() == 0  # nothing new: nothing stored again
    simulator.generate(30)
    poller.run()
    assert stored_ids(store) == generated_ids(simulator)
    health = Desk(store, "alice").channel_health()[0]
    assert health.last_success_at is not None and health.rate_remaining is not None


def test_faults_never_lose_or_duplicate_a_mention(store):
    sim = Simulator(rate=0, seed=3, faults=0.35, followup_probability=0.0, slow_seconds=0.3)
    sim.start()
    try:
        sim.generate(400)
        poller = poller_for(store, sim, page_limit=40, timeout=0.2)
        for _ in range(200):
            poller.run()
            if stored_ids(store) == generated_ids(sim):
                break
        assert sim.faults_injected, "the simulator injected no fault"
        assert stored_ids(store) == generated_ids(sim)
        errors = Desk(store, "alice").channel_health()[0]
        assert errors.last_error  # the failures showed in the channel's health
    finally:
        sim.stop()


def test_a_crash_mid_send_still_posts_exactly_one_reply(store, simulator):
    simulator.generate(5)
    poller_for(store, simulator).run()
    desk = Desk(store, "alice")
    row = desk.queue_page(QueueFilter(), 0, 1)[0]
    desk.reply(row.id, "We are on it", "public")
    adapter = MastodonAdapter(simulator.base_url, "simulator")

    class DiesAfterPosting:
        """The process dies after the platform accepted the post, before the store heard of it."""

        def send(self, message):
            adapter.send(message)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Sender(store, {"demo": DiesAfterPosting()}).run_once()
    assert len(simulator.sent) == 1
    assert desk.conversation(row.id).outbox[0].state == "sending"

    restarted = Sender(store, {"demo": adapter}, in_doubt_after=timedelta(0))
    assert restarted.run_once() == 1
    assert len(simulator.sent) == 1
    detail = desk.conversation(row.id)
    assert detail.outbox[0].state == "sent"
    assert [m.direction for m in detail.messages][-1] == "out"


def test_a_crash_before_the_post_sends_it_on_restart(store, simulator):
    simulator.generate(3)
    poller_for(store, simulator).run()
    desk = Desk(store, "alice")
    row = desk.queue_page(QueueFilter(), 0, 1)[0]
    desk.reply(row.id, "Could you DM us your order number?", "private")

    class DiesBeforePosting:
        def send(self, message):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Sender(store, {"demo": DiesBeforePosting()}).run_once()
    Sender(store, {"demo": MastodonAdapter(simulator.base_url, "simulator")}, in_doubt_after=timedelta(0)).run_once()
    (posted,) = simulator.sent
    assert posted["visibility"] == "direct"
    assert posted["text"].startswith("@") and "order number" in posted["text"]


def test_a_lost_response_is_retried_without_a_second_post(store, simulator):
    simulator.generate(3)
    poller_for(store, simulator).run()
    desk = Desk(store, "alice")
    row = desk.queue_page(QueueFilter(), 0, 1)[0]
    desk.reply(row.id, "Thanks for your patience", "public")
    adapter = MastodonAdapter(simulator.base_url, "simulator")

    class ResponseLost:
        def send(self, message):
            adapter.send(message)
            raise AdapterError("connection reset while reading the response")

    Sender(store, {"demo": ResponseLost()}).run_once()
    assert desk.conversation(row.id).outbox[0].state == "queued"
    with store.begin() as s:  # the retry is due now rather than after the back-off
        s.execute(commands.Outbox.__table__.update().values(next_attempt_at=commands.utcnow()))
    Sender(store, {"demo": adapter}).run_once()
    assert len(simulator.sent) == 1
    assert desk.conversation(row.id).outbox[0].state == "sent"


def test_a_restarted_runtime_resumes_where_it_stopped(store, simulator):
    """Stop the pipeline mid-stream and start a new one on the same store: nothing is lost and
    nothing is stored twice."""
    config = Config(channels=[ChannelConfig(name="demo", kind="simulator", base_url=simulator.base_url, interval=1)])
    simulator.generate(120)
    first = Runtime(config, store)
    first.start()
    time.sleep(1.5)
    first.stop()
    simulator.generate(80)
    second = Runtime(config, store)
    second.start()
    deadline = time.monotonic() + 10
    while stored_ids(store) != generated_ids(simulator) and time.monotonic() < deadline:
        time.sleep(0.2)
    second.stop()
    assert stored_ids(store) == generated_ids(simulator)
    with store() as s:
        assert s.execute(select(func.count()).select_from(Message)).scalar_one() == len(generated_ids(simulator))


def test_a_channel_without_credentials_says_what_to_do(store):
    config = Config(channels=[ChannelConfig(name="brand", kind="mastodon", base_url="https://example.invalid")])
    runtime = Runtime(config, store)
    runtime.build()
    (health,) = Desk(store, "alice").channel_health()
    assert "no token" in health.last_error or "keyring" in health.last_error
    assert "SOCIALDESK_TOKEN_BRAND" in health.last_error
    assert runtime.pollers == {}


class CutShort:
    """An adapter whose every poll stores two pages, then meets a fault (a flaky server)."""

    def __init__(self, adapter: MastodonAdapter):
        self.adapter = adapter

    def poll(self, cursor, stream="mentions"):
        for number, page in enumerate(self.adapter.poll(cursor, stream)):
            if number == 2:
                raise AdapterError("HTTP 500 from the server", retryable=True)
            yield page


def test_a_poll_that_stored_pages_before_a_fault_backs_off_only_a_little(store, simulator):
    simulator.generate(400)
    poller = poller_for(store, simulator, page_limit=40)
    poller.adapter = CutShort(poller.adapter)
    now = [0.0]
    poller._clock = lambda: now[0]
    delays = []
    for _ in range(5):
        poller.run()
        delays.append(poller.not_before - now[0])
        now[0] = poller.not_before
    assert stored_ids(store) == generated_ids(simulator)  # two pages of 40 a poll: each one was progress
    assert max(delays) < 3.0, delays  # not 2, 4, 8, 16, 32 s as for polls that got nowhere
    poller.adapter = poller.adapter.adapter
    simulator.inject("500", "500")  # now polls fail before any page
    poller.run()
    now[0] = poller.not_before
    poller.run()
    assert poller.failures == 2  # no progress: the back-off grows as before
