"""The rules inside the running desk: what ingest stores, what a reply must pass, routing,
out-of-hours acknowledgements, alerts, and the `rules` commands."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from socialdesk.adapters.base import Contact, Inbound, Page
from socialdesk.config import AgentConfig, Config, RulesConfig, TeamConfig
from socialdesk.config.rules import AutoReplyConfig, HoursConfig, KeywordTableConfig
from socialdesk.services.commands import Approve, Refused, ReplyRejected, Selection
from socialdesk.services.ingest import ChannelRef, Ingestor
from socialdesk.services.rules import autoreply, build_ruleset
from socialdesk.services.runtime import Runtime
from socialdesk.store import commands
from socialdesk.store.views import QueueFilter

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # a Monday, noon


def config(**rules) -> Config:
    return Config(
        teams=[TeamConfig(name="support", tags=["customer-service"]),
               TeamConfig(name="legal-team", tags=["legal"])],
        agents=[AgentConfig(name="alice", teams=["support"]), AgentConfig(name="bob", teams=["support"]),
                AgentConfig(name="trainee", teams=["support"], in_training=True),
                AgentConfig(name="carol", role="supervisor", teams=["legal-team"])],
        rules=RulesConfig(keywords=[KeywordTableConfig(name="legal", tag="legal", keywords=["lawsuit"], weight=30)],
                          default_team="support", approvals={"risky_tags": ["legal"]}, **rules))


def inbound(pid: str, text: str, *, handle: str = "ann", followers: int = 10, visibility: str = "public",
            reply_to: str | None = None, repost: bool = False, at: datetime = NOW) -> Inbound:
    return Inbound(platform_id=pid, kind="dm" if visibility == "private" else "mention", visibility=visibility,
                   text=text, author=Contact(platform_id=f"id-{handle}", handle=handle, followers=followers),
                   published_at=at, in_reply_to=reply_to, language="en", is_repost=repost)


@pytest.fixture
def desk_and_ingest(store):
    cfg = config()
    runtime = Runtime(cfg, store)
    runtime.build()
    with store.begin() as s:
        channel_id = commands.ensure_channel(s, "demo", "simulator")
        for name in ("alice", "bob"):
            commands.set_agent_status(s, name, "available")
    ingestor = Ingestor(store, build_ruleset(cfg, sentiment=False), ChannelRef(channel_id, "demo", "simulator"),
                        clock=lambda: NOW)
    return runtime, ingestor


def ingest(ingestor, *messages: Inbound) -> None:
    ingestor.ingest_page(Page(messages=list(messages), cursor=messages[-1].platform_id))


def only(desk, flt=QueueFilter(status="all")):
    (row,) = desk.queue_page(flt, 0, 5)
    return desk.conversation(row.id)


def test_a_mention_is_tagged_prioritised_with_reasons_and_routed(desk_and_ingest):
    runtime, ingestor = desk_and_ingest
    ingest(ingestor, inbound("1", "My lawyer will file a lawsuit about this", followers=50_000))
    detail = only(runtime.desk("alice"))
    assert "legal" in detail.tags and "influencer" in detail.tags
    assert detail.team == "legal-team"
    labels = " ".join(label for label, _ in detail.reasons)
    assert "lawsuit" in labels and "influencer" in labels
    assert detail.priority == min(100, 20 + sum(points for _, points in detail.reasons))


def test_routing_gives_new_work_to_available_agents_with_room(desk_and_ingest):
    runtime, ingestor = desk_and_ingest
    ingest(ingestor, *[inbound(str(i), f"where is my order {i}? I need a refund", handle=f"c{i}") for i in range(6)])
    desk = runtime.desk("alice")
    owners = [row.assignee for row in desk.queue_page(QueueFilter(), 0, 10)]
    assert sorted(owners) == ["alice"] * 3 + ["bob"] * 3  # the trainee and carol are offline


def test_noise_stays_out_of_the_queue(desk_and_ingest):
    runtime, ingestor = desk_and_ingest
    ingest(ingestor, inbound("1", "RT @brand great deals, follow back", repost=True), inbound("2", "my order is late"))
    desk = runtime.desk("alice")
    assert desk.queue_count(QueueFilter()) == 1
    noise = desk.conversation(desk.queue_page(QueueFilter(status="closed"), 0, 1)[0].id)
    assert noise.tags.count("noise") == 1 and noise.reasons[0][0] == "noise: repost"
    assert desk.queue_count(QueueFilter(status="all", search="deals")) == 1


def test_the_privacy_guard_holds_a_public_reply_and_offers_a_private_one(desk_and_ingest):
    runtime, ingestor = desk_and_ingest
    ingest(ingestor, inbound("1", "my card was charged twice"))
    desk = runtime.desk("alice")
    cid = desk.queue_page(QueueFilter(), 0, 1)[0].id
    with pytest.raises(ReplyRejected) as held:
        desk.reply(cid, "Is your card 4111 1111 1111 1111?", "public")
    assert held.value.go_private and "card" in str(held.value).lower()
    assert desk.reply(cid, "Is your card 4111 1111 1111 1111?", "private").state == "queued"


def test_a_public_post_with_private_data_is_flagged(desk_and_ingest):
    runtime, ingestor = desk_and_ingest
    ingest(ingestor, inbound("1", "refund to GB82 WEST 1234 5698 7654 32 please"))
    detail = only(runtime.desk("alice"))
    assert "iban" in detail.sensitive and "sensitive" in detail.tags


def test_replies_wait_for_approval_from_trainees_and_on_risky_tags(desk_and_ingest):
    runtime, ingestor = desk_and_ingest
    ingest(ingestor, inbound("1", "where is my parcel"), inbound("2", "this is a lawsuit", handle="zed"))
    trainee, alice, carol = runtime.desk("trainee"), runtime.desk("alice"), runtime.desk("carol")
    parcel, lawsuit = sorted(row.id for row in alice.queue_page(QueueFilter(), 0, 5))
    assert trainee.reply(parcel, "On its way!", "public").state == "approval"
    held = alice.reply(lawsuit, "We are sorry to hear that", "public")
    assert held.state == "approval" and "legal" in held.approval_reason
    with pytest.raises(Refused, match="Only a supervisor can approve replies"):
        alice.run(Approve(), Selection((lawsuit,)))
    assert carol.run(Approve(), Selection((lawsuit,))).count == 1
    assert carol.conversation(lawsuit).outbox[0].state == "queued"


def test_out_of_hours_each_customer_gets_one_acknowledgement(store):
    cfg = config(hours=HoursConfig(timezone="UTC"), autoreply=AutoReplyConfig(enabled=True))
    Runtime(cfg, store).build()
    with store.begin() as s:
        channel_id = commands.ensure_channel(s, "demo", "simulator")
    night = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)
    ingestor = Ingestor(store, build_ruleset(cfg, sentiment=False), ChannelRef(channel_id, "demo", "simulator"),
                        autoreply=autoreply(cfg), clock=lambda: night)
    ingest(ingestor, inbound("1", "hello? my order", at=night), inbound("2", "anyone there?", at=night))
    ingest(ingestor, inbound("3", "RT @brand promo", handle="bot", repost=True, at=night))
    desk = Runtime(cfg, store).desk("alice")
    outbox = [o for row in desk.queue_page(QueueFilter(status="all"), 0, 10) for o in desk.conversation(row.id).outbox]
    assert len(outbox) == 1  # one per customer, none to noise
    assert "closed" in outbox[0].text and "Mon" in outbox[0].text


def test_alerts_are_raised_for_influencers(desk_and_ingest):
    runtime, ingestor = desk_and_ingest
    desk = runtime.desk("alice")
    before = desk.latest_alert_id()
    ingest(ingestor, inbound("1", "your app crashed again", handle="star", followers=250_000))
    ingest(ingestor, inbound("2", "and again!", handle="star", followers=250_000))
    alerts = desk.alerts_after(before)
    assert len(alerts) == 1 and "star" in alerts[0].message  # the same alert once an hour


def socialdesk(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "socialdesk", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def test_rules_check_names_file_line_and_key(tmp_path):
    (tmp_path / "socialdesk.toml").write_text(
        '[rules]\nspam_patterns = { broken = "(unclosed" }\n')
    result = socialdesk("rules", "check", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("socialdesk: socialdesk.toml:2: rules.spam_patterns.broken: regular expression")
    (tmp_path / "socialdesk.toml").write_text(
        '[[teams]]\nname = "a"\ntags = ["nonsense"]\n')
    result = socialdesk("rules", "check", cwd=tmp_path)
    assert result.returncode == 2 and "socialdesk.toml:3: teams[0].tags[0]: unknown tag 'nonsense'" in result.stderr
    (tmp_path / "socialdesk.toml").write_text(
        '[[rules.keywords]]\nname = "a"\ntag = "x"\n\n[[rules.keywords]]\nname = "a"\ntag = "y"\n')
    result = socialdesk("rules", "check", cwd=tmp_path)
    assert result.returncode == 2 and "socialdesk.toml:6: rules.keywords[1].name: duplicate name 'a'" in result.stderr
    (tmp_path / "socialdesk.toml").write_text('[[rules.keywords]]\nname = "a"\ntag = "x"\nteam = "ghosts"\n')
    result = socialdesk("rules", "check", cwd=tmp_path)
    assert result.returncode == 2 and "socialdesk.toml:4: rules.keywords[0].team: unknown team 'ghosts'" in result.stderr
    (tmp_path / "socialdesk.toml").write_text('[rules\nsla_minutes = 5\n')
    result = socialdesk("rules", "check", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.startswith("socialdesk: socialdesk.toml:1: syntax error")
    example = socialdesk("--config", str(ROOT / "socialdesk.toml"), "rules", "check", cwd=tmp_path)
    assert example.returncode == 0 and "all compiled" in example.stdout


def test_rules_test_replays_stored_mentions(tmp_path):
    """Stored under rules with a 'legal' table; replayed under the defaults, which have none."""
    from socialdesk.store.db import open_store

    url = f"sqlite:///{tmp_path / 'replay.db'}"
    engine, store = open_store(url)
    cfg = config()
    Runtime(cfg, store).build()
    with store.begin() as s:
        channel_id = commands.ensure_channel(s, "demo", "simulator")
    ingestor = Ingestor(store, build_ruleset(cfg, sentiment=False), ChannelRef(channel_id, "demo", "simulator"))
    ingest(ingestor, inbound("1", "my lawyer is preparing a lawsuit", at=datetime.now(UTC) - timedelta(hours=1)))
    engine.dispose()
    (tmp_path / "socialdesk.toml").write_text(f'[store]\nurl = "{url}"\n')
    result = socialdesk("rules", "test", "--since", "7d", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 conversations replayed" in result.stdout
    assert re.search(r"legal\s+1 ->\s+0\s+-1", result.stdout), result.stdout


def test_the_brands_own_contact_details_may_go_out_in_public(store):
    cfg = config(allowed_in_public=["help@brand.example"])
    runtime = Runtime(cfg, store)
    runtime.build()
    with store.begin() as s:
        channel_id = commands.ensure_channel(s, "demo", "simulator")
    Ingestor(store, build_ruleset(cfg, sentiment=False), ChannelRef(channel_id, "demo", "simulator"),
             clock=lambda: NOW).ingest_page(Page([inbound("1", "how do I contact you?")], cursor="1"))
    desk = runtime.desk("alice")
    cid = desk.queue_page(QueueFilter(), 0, 1)[0].id
    assert desk.reply(cid, "Write to help@brand.example and we'll sort it", "public").state == "queued"
    with pytest.raises(ReplyRejected):
        desk.reply(cid, "Or tell us your email, like jo@example.com?", "public")
