"""`socialdesk demo`: the real pipeline (simulator over HTTP → Mastodon adapter → ingest → store
→ TUI and sender) on a store of its own, with no credentials and no network.

Everything the demo keeps lives in its data dir: the store, the logs (its own and the audit head
log) and the simulator's journal (the posts it made up), so a restarted demo carries on where it
stopped and `--fresh` starts over."""

from __future__ import annotations

import logging
import random
import shutil
import sys
import time
from argparse import Namespace
from pathlib import Path

import platformdirs

from socialdesk.config import ChannelConfig, Config, StoreConfig, TeamConfig

DEMO_REPLIES = (
    "Thanks for reaching out! We're looking into it and will get back to you shortly.",
    "Sorry about that. Could you send us your order number in a direct message?",
)
STORE_FILE = "demo.db"
LOG_FILE = "socialdesk.log"
JOURNAL_FILE = "simulator.jsonl"
HEAD_LOG_FILE = "audit.heads"  # beside the store, so --fresh starts the log over with it

log = logging.getLogger(__name__)


def demo_data_dir(path: Path | None = None) -> Path:
    """Where the demo keeps its store, log and simulator journal (default: the user data dir)."""
    return path or Path(platformdirs.user_data_dir("socialdesk")) / "demo"


# Teams for a demo whose settings declare none, so handing conversations to a team can be tried.
DEMO_TEAMS = [TeamConfig(name="support", tags=["customer-service"]), TeamConfig(name="billing")]


def demo_config(config: Config, data_dir: Path) -> Config:
    """The user's settings (rules, keymap, agents, teams) with the demo's own store, logs and one
    simulator (and two teams when the settings have none)."""
    return config.model_copy(update={
        "store": StoreConfig(url=f"sqlite:///{data_dir / STORE_FILE}"),
        "channels": [ChannelConfig(name="demo", kind="simulator", interval=2.0)],
        "log": config.log.model_copy(update={"file": str(data_dir / LOG_FILE)}),
        "audit": config.audit.model_copy(update={"head_log": str(data_dir / HEAD_LOG_FILE)}),
        "teams": config.teams or DEMO_TEAMS,
    })


def demo_store_config(config: Config) -> Config:
    """The settings that name an existing demo store (for `rules test --demo`, `audit verify --demo`);
    SystemExit with a one-line reason when there is no demo store yet."""
    data_dir = demo_data_dir()
    if not (data_dir / STORE_FILE).is_file():
        raise SystemExit(f"socialdesk: no demo store at {data_dir / STORE_FILE} yet; run `socialdesk demo` first")
    return demo_config(config, data_dir)


def run_demo(config: Config, args: Namespace, agent: str) -> int:
    from socialdesk.services.runtime import Runtime
    from socialdesk.services.setup import StoreUnavailable, configure_logging, open_configured_store

    data_dir = demo_data_dir(args.data_dir)
    try:
        if args.fresh and data_dir.exists():
            shutil.rmtree(data_dir)  # the store, the logs and the simulator's journal
        data_dir.mkdir(parents=True, exist_ok=True)
        config = demo_config(config, data_dir)
        log_path = configure_logging(config)
        _, sessions = open_configured_store(config, writable=True)
    except OSError as exc:
        print(f"socialdesk: cannot use the demo data directory {data_dir}: {exc.strerror or exc}; "
              "pass a writable one with --data-dir", file=sys.stderr)
        return 1
    except StoreUnavailable as exc:
        print(f"socialdesk: {exc}", file=sys.stderr)
        return 1
    runtime = Runtime(config, sessions, simulator_options={
        "rate": args.rate, "spike": args.spike, "backlog": args.backlog, "ratelimit": 1200,
        "journal": data_dir / JOURNAL_FILE,
        # Ids grow with the clock, so a restarted demo's simulator never reuses an id.
        "first_id": int(time.time() * 1000) << 16})
    if not args.headless:
        from socialdesk.cli import run_tui

        # In the demo the person at the keyboard sees everything, approvals included.
        return run_tui(config, runtime, agent, title="socialdesk demo", role="supervisor")
    return _headless(runtime, args, log_path)


def _headless(runtime, args: Namespace, log_path: Path) -> int:
    from socialdesk.store.views import QueueFilter

    every = QueueFilter(status="all")
    runtime.start()
    desk = runtime.desk("demo-agent")
    before = desk.queue_count(every)
    replier = _AutoReplier(desk, args.auto_reply)
    started = time.monotonic()
    try:
        while time.monotonic() - started < args.seconds:
            time.sleep(0.5)
            replier.answer_new()
        if args.auto_reply > 0:  # give the sender a moment to deliver what was queued last
            time.sleep(2.0)
        health = desk.channel_health()  # before stopping: quitting cuts a poll short on purpose
    finally:
        runtime.stop()
    total = desk.queue_count(every)
    sender = runtime.sender
    print(f"ingested {sum(p.stored for p in runtime.pollers.values())} mentions in {args.seconds:g}s")
    print(f"conversations {total - before} new ({total} in the demo store)")
    print(f"replies sent {sender.sent if sender else 0}")
    print(f"replies failed {sender.failed if sender else 0}")
    if replier.held:
        print(f"replies held back {replier.held} (the rules stopped them; reasons in the log)")
    if runtime.simulators:
        print(f"simulator received {len(runtime.simulators[0].sent)} replies")
    for channel in health:
        broken = channel.last_error and (channel.last_success_at is None or
                                         channel.last_error_at > channel.last_success_at)
        print(f"channel {channel.name}: " + (f"error: {channel.last_error}" if broken else "ok"))
    print(f"log {log_path}", file=sys.stderr)
    return 0


class _AutoReplier:
    """Answers a share of new conversations as an agent would: privately where the customer wrote
    privately, and privately instead when the privacy guard holds a public reply."""

    def __init__(self, desk, share: float):
        self.desk = desk
        self.share = share
        self.rng = random.Random(0)
        self.seen: set[int] = set()
        self.held = 0

    def answer_new(self) -> None:
        from socialdesk.services.commands import ReplyRejected
        from socialdesk.store.views import QueueFilter

        if self.share <= 0:
            return
        for row in self.desk.queue_page(QueueFilter(status="new"), 0, 50):
            if row.id in self.seen:
                continue
            self.seen.add(row.id)
            if self.rng.random() >= self.share:
                continue
            text = self.rng.choice(DEMO_REPLIES)
            try:
                try:
                    self.desk.reply(row.id, text, "private" if row.private else "public")
                except ReplyRejected as exc:
                    if not exc.go_private or row.private:
                        raise
                    self.desk.reply(row.id, text, "private")
            except ReplyRejected as exc:
                self.held += 1
                log.info("demo: reply to conversation %s held back: %s", row.id, exc)
