"""Queue benchmark: open, scroll, jump and search a store of N conversations (default 1,000,000).

    python bench/queue_paging.py[--n 1000000] [--db PATH] [--url postgresql+psycopg://…]

The store is built through the real ingest path once and kept at --db for later runs. Prints
`<name> <value> <unit>`: the count of open conversations, the first page, a keyset page-down
(median of 200), an OFFSET jump to the middle, a search count and a search's first page.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from socialdesk.services.desk import Desk
from socialdesk.store import commands
from socialdesk.store.db import open_store
from socialdesk.store.ingest import IngestItem, write_batch
from socialdesk.store.views import QueueFilter

WORDS = ("order", "refund", "delivery", "password", "app", "crash", "love", "late", "broken", "thanks",
         "invoice", "account", "help", "store", "price")
PAGE = 50


def seed(desk: Desk, n: int) -> None:
    with desk.sessions.begin() as s:
        channel_id = commands.ensure_channel(s, "bench", "simulator")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for first in range(0, n, 10_000):
        items = [IngestItem(
            platform_id=str(i), kind="mention", visibility="public",
            text=f"{WORDS[i % 15]} {WORDS[(i * 7) % 15]} {WORDS[(i * 11) % 13]} case {i}",
            published_at=start + timedelta(seconds=i * 3), author_id=str(i % 50_000),
            author_handle=f"user{i % 50_000}", priority=(i * 37 % 4) * 25 + 5,
            status="new" if i % 10 else "resolved") for i in range(first, min(n, first + 10_000))]
        with desk.sessions.begin() as s:
            write_batch(s, channel_id, items)
        print(f"\rseeding {min(n, first + 10_000):,}/{n:,}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)


def ms(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=Path(tempfile.gettempdir()) / "socialdesk-bench-queue.db")
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    url = args.url or f"sqlite:///{args.db}"
    engine, sessions = open_store(url)
    desk = Desk(sessions, "bench")
    if desk.queue_count(QueueFilter(status="all")) < args.n:
        seed(desk, args.n)
    flt = QueueFilter()
    total = desk.queue_count(flt)
    print(f"queue.conversations {desk.queue_count(QueueFilter(status='all'))} conversations")
    print(f"queue.count_ms {ms(lambda: desk.queue_count(flt)):.1f} ms")
    print(f"queue.first_page_ms {ms(lambda: desk.queue_page(flt, 0, PAGE)):.2f} ms")

    pages, offset, after = [], 0, None
    for _ in range(200):
        started = time.perf_counter()
        rows = desk.queue_page(flt, offset, PAGE, after=after)
        pages.append((time.perf_counter() - started) * 1000)
        offset, after = offset + len(rows), rows[-1]
    print(f"queue.page_down_ms {statistics.median(pages):.2f} ms")
    print(f"queue.jump_middle_ms {ms(lambda: desk.queue_page(flt, total // 2, PAGE)):.1f} ms")
    print(f"queue.jump_end_ms {ms(lambda: desk.queue_page(flt, total - PAGE, PAGE)):.1f} ms")
    search = QueueFilter(search="refund")
    print(f"queue.search_count_ms {ms(lambda: desk.queue_count(search)):.1f} ms")
    print(f"queue.search_page_ms {ms(lambda: desk.queue_page(search, 0, PAGE)):.1f} ms")
    rare = QueueFilter(search="case 123456")
    print(f"queue.search_rare_ms {ms(lambda: desk.queue_page(rare, 0, PAGE)):.1f} ms")
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
