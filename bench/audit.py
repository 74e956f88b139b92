"""Audit benchmark: one bulk command's worth of audit events (50,000 by default) written by
store.audit.record in one transaction with the chain's head anchored, and what the anchoring
adds to each write transaction, whatever its size: updating the head row, checking the old
head's signature and signing the new one (HMAC-SHA256), and appending the head to the log.

    python bench/audit.py [--events 50000] [--runs 7] [--url postgresql+psycopg://… (a scratch database)]

Prints one figure per line as `<name> <value> <unit>`:
    audit.record_ms   median time of the whole transaction (record through commit)
    audit.anchor_us   of which the anchoring (median of 2,000 rounds of the three steps)
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/queue.py would shadow the standard library's `queue` for any script run from bench/.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import statistics
import tempfile
import time

from socialdesk.store import anchor, audit
from socialdesk.store.db import open_store

KEY = b"bench key of some length"


def record(sessions, events: list[audit.Event]) -> float:
    started = time.perf_counter()
    with sessions.begin() as s:
        audit.begin_write(s)
        audit.record(s, "bench", events)
    return (time.perf_counter() - started) * 1000


def anchoring(sessions, rounds: int = 2000) -> float:
    with sessions.begin() as s:
        audit.begin_write(s)
        head, _ = audit._head(s)
        took = []
        for _ in range(rounds):
            started = time.perf_counter()
            anchor.signed_by(KEY, head)
            audit._move(s, anchor.Head(head.events, head.hash, anchor.sign(KEY, head.events, head.hash)))
            anchor._log_pending(s)
            took.append(time.perf_counter() - started)
    return statistics.median(took) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine, sessions = open_store(args.url or f"sqlite:///{Path(tmp) / 'bench.db'}")
        anchor.attach(sessions, anchor.Anchor(KEY, Path(tmp) / "bench.heads"))
        events = [audit.Event("tag", "conversation", i, {"tag": "outage", "by": "pattern"})
                  for i in range(args.events)]
        record(sessions, events[:1000])  # warm up
        whole = statistics.median(record(sessions, events) for _ in range(args.runs))
        part = anchoring(sessions)
        engine.dispose()
    print(f"audit.record_ms {whole:.1f} ms")
    print(f"audit.anchor_us {part:.0f} us")


if __name__ == "__main__":
    main()
