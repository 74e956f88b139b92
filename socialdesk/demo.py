"""`socialdesk demo`: the real pipeline (simulator over HTTP → Mastodon adapter → ingest → store
→ TUI and sender) on a store of its own, with no credentials and no network."""

from __future__ import annotations

import random
import shutil
import sys
import time
from argparse import Namespace
from pathlib import Path

import platformdirs

from socialdesk.config import ChannelConfig, Config, StoreConfig

DEMO_REPLIES = (
    "Thanks for reaching out! We're looking into it and will get back to you shortly.",
    "Sorry about that. Could you send us your order number in a direct message?",
)


def demo_config(config: Config, data_dir: Path) -> Config:
    """The user's settings (rules, keymap, agents) with the demo's own store and one simulator."""
    return config.model_copy(update={
        "store": StoreConfig(url=f"sqlite:///{data_dir / 'demo.db'}"),
        "channels": [ChannelConfig(name="demo", kind="simulator", interval=2.0)],
    })


def run_demo(config: Config, args: Namespace, agent: str) -> int:
    from socialdesk.services.runtime import Runtime
    from socialdesk.services.setup import StoreUnavailable, configure_logging, open_configured_store

    data_dir = args.data_dir or Path(platformdirs.user_data_dir("socialdesk")) / "demo"
    try:
        if args.fresh and data_dir.exists():
            shutil.rmtree(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        config = demo_config(config, data_dir)
        log_path = configure_logging(config, data_dir)
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
        # Ids grow with the clock, so a restarted demo's simulator never reuses an id.
        "first_id": int(time.time() * 1000) << 16})
    if not args.headless:
        from socialdesk.cli import run_tui

        # In the demo the person at the keyboard sees everything, approvals included.
        return run_tui(config, runtime, agent, title="socialdesk demo", role="supervisor")
    return _headless(runtime, sessions, args, log_path)


def _headless(runtime, sessions, args: Namespace, log_path: Path) -> int:
    from socialdesk.services.commands import ReplyRejected
    from socialdesk.store.views import QueueFilter

    runtime.start()
    desk = runtime.desk("demo-agent")
    rng = random.Random(0)
    answered: set[int] = set()
    started = time.monotonic()
    try:
        while time.monotonic() - started < args.seconds:
            time.sleep(0.5)
            if args.auto_reply > 0:
                for row in desk.queue_page(QueueFilter(status="new"), 0, 50):
                    if row.id not in answered and rng.random() < args.auto_reply:
                        try:
                            desk.reply(row.id, rng.choice(DEMO_REPLIES), "public")
                        except ReplyRejected as exc:
                            print(f"reply to {row.id} held back: {exc}", file=sys.stderr)
                    answered.add(row.id)
        if args.auto_reply > 0:  # give the sender a moment to deliver what was queued last
            time.sleep(2.0)
    finally:
        runtime.stop()
    simulator = runtime.simulators[0] if runtime.simulators else None
    stored = sum(p.stored for p in runtime.pollers.values())
    print(f"ingested {stored} mentions in {args.seconds:g}s")
    print(f"conversations {desk.queue_count(QueueFilter(status='all'))}")
    print(f"replies sent {runtime.sender.sent if runtime.sender else 0}")
    if simulator is not None:
        print(f"simulator received {len(simulator.sent)} replies")
    for health in desk.channel_health():
        print(f"channel {health.name}: " + (f"error: {health.last_error}" if health.last_error and
              (health.last_success_at is None or health.last_error_at > health.last_success_at) else "ok"))
    print(f"log {log_path}", file=sys.stderr)
    return 0
