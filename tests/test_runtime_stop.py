"""Quitting is quick and clean: a long poll does not hold the exit up, the send under way
finishes, and replies claimed but not yet attempted go back to the queue (not in doubt)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from fakes.telegram import FakeTelegram
from socialdesk.adapters.base import Capabilities, Outbound, SendResult
from socialdesk.config import Config
from socialdesk.services.credentials import Credentials
from socialdesk.services.desk import Desk
from socialdesk.services.outbox import Sender
from socialdesk.services.runtime import Runtime
from socialdesk.store import commands
from socialdesk.store.ingest import IngestItem, write_batch
from socialdesk.store.models import Outbox
from socialdesk.store.views import QueueFilter


def test_a_long_poll_does_not_hold_up_quitting(store):
    with FakeTelegram() as fake:
        config = Config.model_validate({"channels": [{"name": "tg", "kind": "telegram", "base_url": fake.base_url,
                                                      "long_poll": 20, "interval": 1}]})
        runtime = Runtime(config, store, credentials=Credentials(env={"SOCIALDESK_TOKEN_TG": fake.token}))
        fake.generate(2)  # the first poll takes these at once; the next one waits on Telegram
        runtime.start()
        desk = Desk(store, "alice")
        deadline = time.monotonic() + 10
        while not desk.channel_health()[0].last_success_at and time.monotonic() < deadline:
            time.sleep(0.1)
        assert desk.channel_health()[0].last_success_at is not None
        time.sleep(1.5)  # the second poll is now waiting on Telegram for up to 20 s
        started = time.monotonic()
        runtime.stop()
        assert time.monotonic() - started < 3
        (health,) = desk.channel_health()
        assert health.ok and health.streams  # the interrupted poll is not reported as a failure


class Slow:
    capabilities = Capabilities(public_reply=True, private_reply=True, dm=True, email=False, max_length=500)

    def __init__(self) -> None:
        self.sending = threading.Event()
        self.sent: list[str] = []

    def send(self, message: Outbound) -> SendResult:
        self.sending.set()
        time.sleep(0.5)
        self.sent.append(message.text)
        return SendResult(f"p{len(self.sent)}", None, datetime.now(UTC), message.text)

    def find_sent(self, message: Outbound) -> SendResult | None:
        return None


def test_stopping_the_sender_finishes_the_send_under_way_and_requeues_the_rest(store):
    with store.begin() as s:
        channel = commands.ensure_channel(s, "brand", "mastodon")
        write_batch(s, channel, [IngestItem(platform_id=str(i), kind="mention", visibility="public", text=f"hi {i}",
                                            published_at=datetime.now(UTC) - timedelta(minutes=i), author_id=str(i),
                                            author_handle=f"c{i}") for i in range(3)])
    desk = Desk(store, "alice")
    for row in desk.queue_page(QueueFilter(), 0, 10):
        desk.reply(row.id, f"reply to #{row.id}", "public")
    adapter = Slow()
    sender = Sender(store, {"brand": adapter})
    worker = threading.Thread(target=sender.run_once)
    worker.start()
    assert adapter.sending.wait(5)
    sender.stop()  # returns once the send under way is done
    worker.join(5)
    assert len(adapter.sent) == 1
    with store() as s:
        states = sorted((o.state, o.attempts) for o in s.execute(select(Outbox)).scalars())
    assert states == [("queued", 0), ("queued", 0), ("sent", 1)]
    assert sender.run_once() == 0  # a stopped sender sends nothing more


def test_new_mail_is_fetched_at_once_through_idle_not_at_the_next_interval(store):
    from fakes.mail import FakeMail

    with FakeMail() as fake:
        config = Config.model_validate({"channels": [{
            "name": "mail", "kind": "email", "address": fake.address, "interval": 300,
            "imap_host": "127.0.0.1", "imap_port": fake.proxy.port, "imap_security": "plain",
            "smtp_host": "127.0.0.1", "smtp_port": fake.smtp_port, "smtp_security": "plain"}]})
        runtime = Runtime(config, store, credentials=Credentials(env={"SOCIALDESK_TOKEN_MAIL": fake.password}))
        runtime.start()
        try:
            desk = Desk(store, "alice")
            deadline = time.monotonic() + 10
            while not desk.channel_health()[0].last_success_at and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1)  # the watcher is in IDLE now; the next interval poll is 5 minutes away
            fake.generate(1)
            deadline = time.monotonic() + 5
            while desk.queue_count(QueueFilter(status="all")) == 0 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert desk.queue_count(QueueFilter(status="all")) == 1
        finally:
            started = time.monotonic()
            runtime.stop()
            assert time.monotonic() - started < 5  # the watcher leaves IDLE when asked
