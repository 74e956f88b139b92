"""A big, realistic store for the benchmarks, built through the real path and kept for later runs.

Mentions come from the simulator's traffic model (six languages, repeat customers, influencers,
DMs, noise, hostile strings) on three channels, spread over the last `days` days up to now, and
go through the Mastodon parser, the rules (keyword tables, noise, sentiment, language, priority,
incident clusters) and the store, page by page, as the poller does.

    python bench/bigstore.py [--n 1000000] [--url sqlite:///…]   # build (or top up) and say so
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/queue.py would shadow the standard library's `queue` for any script run from bench/.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import gc
import os
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta

from socialdesk.store.db import open_reader, open_store  # noqa: F401 (open_reader for the benches)

CHANNELS = ("sim-eu", "sim-us", "sim-apac")
PAGE = 1000
CHUNK = 20_000  # payloads generated at a time (keeps memory flat)


def default_url(n: int) -> str:
    return f"sqlite:///{Path(tempfile.gettempdir()) / f'socialdesk-bench-{n}.db'}"


def bench_url(n: int) -> str:
    return os.environ.get("SOCIALDESK_BENCH_DATABASE_URL") or default_url(n)


def conversations(url: str) -> int:
    """How many conversations the store holds (0 when there is none yet), counted in another
    process: reading every page of a million rows would otherwise sit in this one's memory."""
    code = ("import sys; from sqlalchemy import text; from socialdesk.store.db import open_store; "
            "s = open_store(sys.argv[1])[1]; print(s().execute(text('SELECT count(*) FROM conversations')).scalar())")
    return int(subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True, check=True).stdout)


def build(url: str, n: int, *, days: int = 90, quiet: bool = False) -> float:
    """Fill the store at `url` up to `n` conversations (creating it, migrating it); the seconds
    spent (0 when it was there already)."""
    have = conversations(url)
    if have >= n:
        return 0.0
    # The parser, the rules (sentiment, language) and the simulator are loaded only to build.
    from socialdesk.config import Config
    from socialdesk.rules.clusters import ClusterIndex
    from socialdesk.services.rules import build_ruleset

    engine, sessions = open_store(url)
    rules = build_ruleset(Config())
    clusters = ClusterIndex()
    started = time.perf_counter()
    made = 0
    while have < n:  # replies and DMs join earlier conversations: top up until there are n
        made += _fill(sessions, rules, clusters, int((n - have) * 1.3) + len(CHANNELS), days, made, started, quiet)
        have = conversations(url)
    if not quiet:
        print(file=sys.stderr)
    if engine.dialect.name == "postgresql":  # as autovacuum would soon: plans need the statistics
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return time.perf_counter() - started


def _fill(sessions, rules, clusters, mentions: int, days: int, made: int, started: float, quiet: bool) -> int:
    """`mentions` more mentions over the channels, spread over the last `days` days."""
    from socialdesk.adapters.base import Inbound, Page
    from socialdesk.adapters.mastodon import parse_notification
    from socialdesk.adapters.simulator.traffic import notifications
    from socialdesk.services.ingest import ChannelRef, Ingestor
    from socialdesk.store import commands

    now = datetime.now(UTC)
    per_channel = mentions // len(CHANNELS) + 1
    gap = days * 86400 / per_channel
    for index, name in enumerate(CHANNELS):
        with sessions.begin() as s:
            channel_id = commands.ensure_channel(s, name, "simulator")
        ingestor = Ingestor(sessions, rules, ChannelRef(channel_id, name, "simulator"), clusters=clusters)
        start = now - timedelta(days=days)
        first_id = (index + 1) * 10**9 + made
        for chunk in range(0, per_channel, CHUNK):
            count = min(CHUNK, per_channel - chunk)
            payloads = notifications(count, seed=made + index * 1000 + chunk // CHUNK, start_id=first_id + chunk,
                                     start=start + timedelta(seconds=chunk * gap), mean_gap=gap)
            for first in range(0, count, PAGE):
                parsed = [parse_notification(p) for p in payloads[first:first + PAGE]]
                page = Page(messages=[m for m in parsed if isinstance(m, Inbound)], cursor=None)
                ingestor.store(ingestor.prepare(page))
            del payloads
            gc.collect()
            if not quiet:
                done = made + index * per_channel + chunk + count
                rate = done / (time.perf_counter() - started)
                print(f"\rbuilding: {done:,} mentions stored ({rate:,.0f}/s)", end="", file=sys.stderr, flush=True)
    return per_channel * len(CHANNELS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    url = args.url or bench_url(args.n)
    seconds = build(url, args.n)
    print(f"store.conversations {conversations(url)} conversations")
    print(f"store.build_s {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
