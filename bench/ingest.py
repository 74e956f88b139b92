"""Ingest benchmark: N simulator mentions through normalise → rules → store, and, in the same run,
the raw sqlite3 `executemany` of the same message rows as the floor to compare with.

    python bench/ingest.py [--n 200000] [--batch 1000] [--url postgresql+psycopg://…]

Prints one figure per line as `<name> <value> <unit>`:
    ingest.rate            end-to-end mentions/s (parse Mastodon JSON, clean, classify, cluster, store)
    ingest.rate_without_clusters  the same with incident clusters off (no signature, no index)
    ingest.raw_sqlite_rate rows/s for a bare executemany into a table of the same columns
    ingest.ratio           end-to-end rate as a fraction of the raw rate
    ingest.rate_without_sentiment  the same without vaderSentiment (the costliest rule)
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/queue.py would shadow the standard library's `queue` for any script run from bench/.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import gc
import sqlite3
import tempfile
import time
from collections.abc import Iterator

from socialdesk.adapters.base import Inbound, Page
from socialdesk.adapters.mastodon import parse_notification
from socialdesk.adapters.simulator.traffic import notifications
from socialdesk.config import Config
from socialdesk.rules.clusters import ClusterIndex
from socialdesk.services.rules import build_ruleset
from socialdesk.services.ingest import ChannelRef, Ingestor
from socialdesk.store import commands
from socialdesk.store.db import open_store

COLUMNS = ("platform_id", "kind", "visibility", "text", "published_at", "author_id", "author_handle",
           "in_reply_to", "language", "url", "likes", "reposts", "replies", "raw", "priority")


def pages(payloads: list[dict], batch: int) -> Iterator[Page]:
    """The payloads as the adapter hands them over: parsed pages with their cursor."""
    for first in range(0, len(payloads), batch):
        chunk = payloads[first:first + batch]
        parsed = [parse_notification(p) for p in chunk]
        yield Page(messages=[m for m in parsed if isinstance(m, Inbound)], cursor=chunk[-1]["id"],
                   skipped=[m for m in parsed if not isinstance(m, Inbound)])


def end_to_end(payloads: list[dict], url: str, batch: int, *, sentiment: bool = True,
               clusters: bool = True) -> tuple[float, int, list]:
    """The poller's own steps (prepare, then store, page by page) with the default rules (keyword
    tables, noise, privacy scan, priority, language, and sentiment unless told otherwise). The
    poller prepares a page ahead in a thread to overlap the network; with no network here that
    thread only adds GIL hand-offs (measured: ~10 % slower), so this runs them in line."""
    engine, sessions = open_store(url)
    with sessions.begin() as s:
        channel_id = commands.ensure_channel(s, "bench", "simulator")
    ingestor = Ingestor(sessions, build_ruleset(Config(), sentiment=sentiment, clusters=clusters),
                        ChannelRef(channel_id, "bench", "simulator"), clusters=ClusterIndex() if clusters else None)
    started = time.perf_counter()
    stored = 0
    rows = []  # the same rows for the raw comparison, as plain tuples (cheap for the collector)
    for prepared in (ingestor.prepare(page) for page in pages(payloads, batch)):
        stored += ingestor.store(prepared).stored
        rows += [raw_row(it) for it in prepared.items]
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed, stored, rows


def raw_row(item) -> tuple:
    return tuple(getattr(item, c) if c != "published_at" else item.published_at.isoformat() for c in COLUMNS)


def raw_sqlite(rows: list[tuple], path: Path) -> float:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"CREATE TABLE messages (id INTEGER PRIMARY KEY, {', '.join(COLUMNS)})")
    started = time.perf_counter()
    with conn:
        conn.executemany(f"INSERT INTO messages ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})", rows)
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--url", default=None, help="store URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    payloads = notifications(args.n, seed=1)
    # The generated payloads are input, not work: keep the collector from rescanning them.
    gc.collect()
    gc.freeze()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        elapsed, stored, rows = end_to_end(payloads, url, args.batch)
        raw_elapsed = raw_sqlite(rows, Path(tmp) / "raw.db")
        if args.url is None:
            unclustered_elapsed, unclustered_stored, _ = end_to_end(
                payloads, f"sqlite:///{Path(tmp) / 'unclustered.db'}", args.batch, clusters=False)
            plain_elapsed, plain_stored, _ = end_to_end(payloads, f"sqlite:///{Path(tmp) / 'plain.db'}", args.batch,
                                                        sentiment=False)
    rate = stored / elapsed
    raw_rate = len(rows) / raw_elapsed
    print(f"ingest.mentions {stored} mentions")
    print(f"ingest.rate {rate:.0f} mentions/s")
    print(f"ingest.raw_sqlite_rate {raw_rate:.0f} rows/s")
    print(f"ingest.ratio {rate / raw_rate:.3f} x")
    if args.url is None:
        print(f"ingest.rate_without_clusters {unclustered_stored / unclustered_elapsed:.0f} mentions/s")
        print(f"ingest.rate_without_sentiment {plain_stored / plain_elapsed:.0f} mentions/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
