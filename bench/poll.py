"""Polling benchmark: the real adapters against every platform's fake on loopback (tests/fakes:
HTTP servers speaking each API, and real Dovecot + SMTP for email), through the real poller,
rules and store — as the runtime runs them, one thread per channel stream.

    python bench/poll.py [--n 1000] [--cycle-n 50] [--url postgresql+psycopg://…]

Prints one figure per line as `<name> <value> <unit>`:
    poll.idle_cycle_ms  one poll cycle over all seven channels with nothing new (the cost of asking)
    poll.cycle_ms       one poll cycle over all seven channels with --cycle-n new messages each
                        (both after a warm-up: the rules load their language models on first use)
    poll.rate           mentions/s ingested through the real adapters, all channels at once
                        (--n new messages per channel, polled until every one is stored)
    poll.rate.<kind>    the same per platform, each channel on its own
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/queue.py would shadow the standard library's `queue` for any script run from bench/.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import itertools
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the fakes live with the tests

from fakes import FAKES, fake_class  # noqa: E402
from socialdesk.config import Config  # noqa: E402
from socialdesk.services.ingest import ChannelRef, Ingestor  # noqa: E402
from socialdesk.services.poller import ChannelPoller  # noqa: E402
from socialdesk.services.rules import build_ruleset  # noqa: E402
from socialdesk.store import commands  # noqa: E402
from socialdesk.store.db import open_store  # noqa: E402

# The bench polls back to back, far more often than a channel's interval would: X's 300 mention
# reads per 15 minutes would bind after seconds, so its fake's window is one second here.
OPTIONS = {"x": {"rate_window": 1.0}}


def fake(kind: str):
    return fake_class(kind)(seed=7, **OPTIONS.get(kind, {}))


class Channel:
    def __init__(self, kind: str, sessions, rules) -> None:
        self.kind = kind
        self.fake = fake(kind).start()
        self.adapter = self.fake.adapter(timeout=10.0)  # a production timeout, not a test's
        with sessions.begin() as s:
            channel_id = commands.ensure_channel(s, kind, kind)
        ingestor = Ingestor(sessions, rules, ChannelRef(channel_id, kind, kind))
        clock = itertools.count().__next__
        self.pollers = [ChannelPoller(kind, channel_id, self.adapter, ingestor, sessions, stream=stream.name,
                                      clock=clock) for stream in self.adapter.streams]

    def stored(self) -> int:
        return sum(p.stored for p in self.pollers)

    def stop(self) -> None:
        self.adapter.close()
        self.fake.stop()


def cycle(channels: list[Channel], pool: ThreadPoolExecutor) -> float:
    """Every stream of every channel polled once, concurrently; the wall time in ms."""
    started = time.perf_counter()
    failures = [p for p in pool.map(lambda p: (p.run(), p)[1], [p for c in channels for p in c.pollers])
                if p.failures]
    elapsed = (time.perf_counter() - started) * 1000
    if failures:
        raise SystemExit(f"poll failed: {', '.join(f'{p.name}:{p.stream}' for p in failures)} (see the log)")
    return elapsed


def drain(channels: list[Channel], pool: ThreadPoolExecutor, wanted: dict[str, int]) -> float:
    """Poll until each channel has stored what it was given; the wall time in seconds."""
    started = time.perf_counter()
    while any(c.stored() < wanted[c.kind] for c in channels):
        cycle([c for c in channels if c.stored() < wanted[c.kind]], pool)
        if time.perf_counter() - started > 600:
            raise SystemExit("gave up after 10 minutes: " + ", ".join(
                f"{c.kind} {c.stored()}/{wanted[c.kind]}" for c in channels))
    return time.perf_counter() - started


def expected(channel: Channel) -> int:
    """Messages the channel should have stored by now: every one its fake was given."""
    return len(channel.fake.expected_ids())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="new messages per channel for the rate")
    parser.add_argument("--cycle-n", type=int, default=50, help="new messages per channel in the measured cycle")
    parser.add_argument("--url", help="store URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine, sessions = open_store(args.url or f"sqlite:///{Path(tmp) / 'bench.db'}")
        rules = build_ruleset(Config(), sentiment=True)
        channels = [Channel(kind, sessions, rules) for kind in FAKES]
        try:
            with ThreadPoolExecutor(max_workers=sum(len(c.pollers) for c in channels)) as pool:
                cycle(channels, pool)  # the first poll ever: where "from now" is, sessions, ids
                for c in channels:  # first use of the rules' models (language, sentiment): once a process
                    c.fake.generate(5)
                cycle(channels, pool)
                idle = statistics.median(cycle(channels, pool) for _ in range(5))
                print(f"poll.idle_cycle_ms {idle:.1f} ms")

                busy = []
                for _ in range(3):
                    for c in channels:
                        c.fake.generate(args.cycle_n)
                    busy.append(cycle(channels, pool))
                print(f"poll.cycle_ms {statistics.median(busy):.1f} ms ({args.cycle_n} new per channel, "
                      f"median of 3)")

                base = {c.kind: c.stored() for c in channels}
                for c in channels:
                    c.fake.generate(args.n)
                seconds = drain(channels, pool, {c.kind: expected(c) for c in channels})
                total = sum(c.stored() - base[c.kind] for c in channels)
                print(f"poll.rate {total / seconds:,.0f} mentions/s ({total} through 7 adapters in {seconds:.1f} s)")

                for c in channels:
                    before = c.stored()
                    c.fake.generate(args.n)
                    seconds = drain([c], pool, {c.kind: expected(c)})
                    got = c.stored() - before
                    print(f"poll.rate.{c.kind} {got / seconds:,.0f} mentions/s ({got} in {seconds:.1f} s)")
        finally:
            for c in channels:
                c.stop()
            engine.dispose()


if __name__ == "__main__":
    main()
