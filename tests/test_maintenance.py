"""The clockwork: overdue conversations rise, unanswered ones overflow, spikes alert, and alerts
reach a webhook and a mailbox (real servers on loopback)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conftest import Hook
from sqlalchemy import select, update

from socialdesk.adapters.base import Contact, Inbound, Page
from socialdesk.config import AgentConfig, Config, RulesConfig, TeamConfig
from socialdesk.config.rules import AlertsConfig
from socialdesk.services.alert_sender import AlertSender
from socialdesk.services.ingest import ChannelRef, Ingestor
from socialdesk.services.maintenance import Maintenance
from socialdesk.services.rules import build_ruleset
from socialdesk.services.runtime import Runtime
from socialdesk.store import alert_queue, commands
from socialdesk.store.models import AlertDelivery
from socialdesk.store.views import QueueFilter

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def make(store, alerts: AlertsConfig | None = None):
    cfg = Config(teams=[TeamConfig(name="front", tags=["customer-service"], overflow="back", overflow_after_minutes=30),
                        TeamConfig(name="back")],
                 agents=[AgentConfig(name="fay", teams=["front"]), AgentConfig(name="bea", teams=["back"])],
                 rules=RulesConfig(sla_minutes=60, alerts=alerts or AlertsConfig()))
    Runtime(cfg, store).build()
    with store.begin() as s:
        channel_id = commands.ensure_channel(s, "demo", "simulator")
        commands.set_agent_status(s, "bea", "available")
        commands.set_agent_status(s, "fay", "available")
    rules = build_ruleset(cfg, sentiment=False)
    return cfg, rules, Ingestor(store, rules, ChannelRef(channel_id, "demo", "simulator"), clock=lambda: T0)


def mention(pid: str, text: str, at: datetime = T0) -> Inbound:
    return Inbound(platform_id=pid, kind="mention", visibility="public", text=text, published_at=at,
                   author=Contact(platform_id=f"u{pid}", handle=f"user{pid}"), language="en")


def test_overdue_conversations_rise_once_and_waiting_ones_overflow(store):
    cfg, rules, ingestor = make(store)
    ingestor.ingest_page(Page([mention("1", "where is my order?")], cursor="1"))
    desk = Runtime(cfg, store).desk("bea")
    (row,) = desk.queue_page(QueueFilter(), 0, 1)
    assert desk.conversation(row.id).team == "front" and row.assignee == "fay"

    clock = [T0 + timedelta(minutes=40)]
    job = Maintenance(store, rules, clock=lambda: clock[0])
    job.run_once()
    moved = desk.conversation(row.id)
    assert moved.team == "back" and moved.assignee == "bea"  # waited past 30 min: overflow
    assert moved.priority == row.priority  # not yet past the 60-minute SLA

    clock[0] = T0 + timedelta(minutes=75)
    job.run_once()
    job.run_once()
    late = desk.conversation(row.id)
    assert late.priority == row.priority + rules.priority.overdue_points  # risen once, not twice
    assert any(label.startswith("overdue: 15 min past SLA") for label, _ in late.reasons)


def test_a_spike_raises_one_alert(store):
    cfg, rules, ingestor = make(store, AlertsConfig(spike_min_count=20, window_minutes=5, baseline_minutes=60))
    clock = [T0]
    job = Maintenance(store, rules, clock=lambda: clock[0])
    desk = Runtime(cfg, store).desk("bea")
    before = desk.latest_alert_id()
    ingestor.ingest_page(Page([mention(f"b{i}", "backlog", T0 - timedelta(seconds=i)) for i in range(30)],
                              cursor="b"))
    job.run_once()  # start-up: the backlog read now is the baseline, not a spike
    clock[0] = T0 + timedelta(minutes=10)
    job.run_once()
    assert not [a for a in desk.alerts_after(before) if a.kind == "spike"]
    ingestor.ingest_page(Page([mention(str(i), f"is the site down? {i}", clock[0]) for i in range(60)], cursor="60"))
    job.run_once()
    job.run_once()
    spikes = [a for a in desk.alerts_after(before) if a.kind == "spike"]
    assert len(spikes) == 1 and "60" in spikes[0].message


def test_alerts_go_to_the_webhook_and_the_mailbox(store, webhook, mailbox):
    inbox, smtp = mailbox
    cfg, rules, ingestor = make(store, AlertsConfig(webhook=webhook, email="oncall@example.com", smtp=smtp))
    sender = AlertSender(store, cfg.rules.alerts)
    ingestor.ingest_page(Page([Inbound(
        platform_id="9", kind="mention", visibility="public", text="your app is broken", published_at=T0,
        author=Contact(platform_id="star", handle="star", followers=900_000), language="en")], cursor="9"))
    assert sender.run_once() == 2
    [(hook, headers)] = Hook.received
    assert hook["kind"] == "rule" and "star" in hook["message"] and headers["Idempotency-Key"] == hook["id"]
    (mail,) = inbox.messages
    assert "To: oncall@example.com" in mail and "Auto-Submitted: auto-generated" in mail and "star" in mail
    assert f"Message-ID: <{hook['id']}@socialdesk.invalid>" in mail
    assert sender.run_once() == 0
    assert len(Hook.received) == 1 and len(inbox.messages) == 1  # each alert goes out once


def test_a_refused_alert_is_tried_again_and_a_send_cut_off_repeats_under_its_key(store, webhook):
    cfg, rules, _ = make(store, AlertsConfig(webhook=webhook))
    sender = AlertSender(store, cfg.rules.alerts, in_doubt_after=timedelta(0))
    with store.begin() as s:
        commands.raise_alert(s, "keyword", "Keyword 'outage' from @ana")
    Hook.refusing = True
    assert sender.run_once() == 1 and Hook.received == []
    with store.begin() as s:  # the retry is due
        s.execute(update(AlertDelivery).values(next_attempt_at=datetime.now(UTC)))
    Hook.refusing = False
    with store.begin() as s:  # a process claims it, then dies before it is marked
        (cut_off,) = alert_queue.claim_alerts(s, ("webhook",), raised_since=T0)
    assert sender.run_once() == 1
    [(hook, headers)] = Hook.received
    assert hook["id"] == headers["Idempotency-Key"] == cut_off.key and hook["message"].startswith("Keyword")
    with store() as s:
        assert s.execute(select(AlertDelivery.state, AlertDelivery.attempts)).one() == ("sent", 3)
    assert sender.run_once() == 0
