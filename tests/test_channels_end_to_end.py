"""Each channel kind as an admin sets it up: a [[channels]] block in socialdesk.toml pointed at
the platform's fake, its secret outside the file, then the real runtime polls it, the queue shows
what came in, and agents answer publicly and privately where the platform allows."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from fakes.bluesky import APP_PASSWORD, BRAND_HANDLE
from fakes import FAKES, fake_class
from test_fault_injection import stored_ids
from socialdesk.config import Config
from socialdesk.services.commands import ReplyRejected
from socialdesk.services.credentials import Credentials
from socialdesk.services.runtime import Runtime
from socialdesk.store.views import QueueFilter


def channel_settings(kind: str, fake) -> tuple[dict, str]:
    """The [[channels]] keys and the secret an admin would give for this fake."""
    if kind == "mastodon":
        return {"base_url": fake.base_url}, fake.simulator.token
    if kind == "x":
        return {"base_url": fake.base_url}, fake.credentials
    if kind in ("facebook", "instagram"):
        return {"base_url": fake.base_url}, fake.token
    if kind == "bluesky":
        return {"base_url": fake.base_url, "handle": BRAND_HANDLE}, APP_PASSWORD
    if kind == "telegram":
        return {"base_url": fake.base_url, "long_poll": 0}, fake.token
    return {"address": fake.address, "imap_host": "127.0.0.1", "imap_port": fake.proxy.port,
            "imap_security": "plain", "smtp_host": "127.0.0.1", "smtp_port": fake.smtp_port,
            "smtp_security": "plain"}, fake.password


def poke(runtime: Runtime) -> None:
    """Run every poller now rather than at its interval (X reads DMs once a minute)."""
    for job in runtime.scheduler.get_jobs():
        if job.id.startswith("poll:"):
            job.modify(next_run_time=datetime.now())


def wait(predicate, runtime: Runtime | None = None, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if runtime is not None:
            poke(runtime)
        time.sleep(0.2)
    return predicate()


@pytest.mark.parametrize("kind", list(FAKES))
def test_a_configured_channel_is_polled_shown_and_answered(store, kind):
    fake = fake_class(kind)(seed=3).start()
    try:
        settings, secret = channel_settings(kind, fake)
        config = Config.model_validate({"channels": [{"name": "brand", "kind": kind, "interval": 1, **settings}]})
        runtime = Runtime(config, store, credentials=Credentials(env={"SOCIALDESK_TOKEN_BRAND": secret}))
        runtime.start()
        try:
            desk = runtime.desk("alice")
            # The first poll ever marks where "now" is, on every stream.
            assert wait(lambda: all(s.last_success_at for h in desk.channel_health() for s in h.streams)
                        and len(desk.channel_health()[0].streams) == len(runtime.adapters["brand"].streams)), \
                desk.channel_health()
            fake.generate(8, private_share=0.5)
            assert wait(lambda: set(stored_ids(store)) >= fake.expected_ids(), runtime), \
                (sorted(fake.expected_ids() - set(stored_ids(store))), desk.channel_health())
            rows = desk.queue_page(QueueFilter(status="all"), 0, 100)
            assert {r.channel for r in rows} == {"brand"} and {r.channel_kind for r in rows} == {kind}
            caps = runtime.adapters["brand"].capabilities
            public = next((r for r in rows if not r.private), None)
            private = next((r for r in rows if r.private), None)
            queued = []
            if public is not None and caps.public_reply:
                queued.append(desk.reply(public.id, "Thanks, we are looking into it (pub).", "public"))
            if caps.private_reply and public is not None:
                try:
                    queued.append(desk.reply(public.id, "Could you send us your order number? (dm1)", "private"))
                except ReplyRejected as rejected:
                    # A platform may let the brand write privately only to someone who wrote to it
                    # privately first (a Telegram bot): said before anything is queued.
                    assert caps.private_needs_invite and "has to write to you privately first" in str(rejected)
            if private is not None:
                queued.append(desk.reply(private.id, "Here is what we found (dm2).", "private"))
            assert queued, "nothing to answer"
            def outcomes():
                return {o.id: o for c in {r.id for r in rows} for o in desk.conversation(c).outbox}

            assert wait(lambda: all(o.state in ("sent", "failed") for o in outcomes().values()), timeout=20), \
                outcomes()
            texts = [s.text for s in fake.sent()]
            for entry in queued:
                outcome, marker = outcomes()[entry.id], entry.text[-4:-1]
                assert sum(marker in t for t in texts) == 1, (marker, texts)
                assert [s.visibility for s in fake.sent() if marker in s.text] == [entry.visibility]
            assert all(o.state == "sent" for o in outcomes().values())
            assert desk.channel_health()[0].ok
        finally:
            runtime.stop()
    finally:
        fake.stop()
