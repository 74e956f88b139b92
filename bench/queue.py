"""Queue benchmark: the real queue screen, headless through Textual's Pilot, on a store of N
conversations (default 1,000,000) built by bench/bigstore.py through the real parser, rules and store.

    python bench/queue.py [--n 1000000]      # SOCIALDESK_BENCH_DATABASE_URL=postgresql+psycopg://… for PostgreSQL

Each figure is a key press (or the screen being opened) until the rows it brings are loaded
and the frame is composed. Prints `<name> <value> <unit>`:
    queue.build_s           seconds spent building the store in this run (0: it was kept)
    queue.first_frame_ms    the queue screen opened: first rows composed (no count waited for), median of 5
    queue.page_down_ms      PageDown, median of 20
    queue.jump_end_ms       End: the last rows of the queue
    queue.search_ms         "refund" plus a channel filter, first page, median of 5 (found afresh each time)
    queue.search_page_ms    PageDown in those results, median of 10
    queue.mark_pattern_ms   T after looking at the search's results: mark every match (and how many)
    queue.mark_pattern_cold_ms  a pattern of words not searched before, marked from the command line
    queue.bulk_50k_ms       ';' then tag about 50,000 marked conversations, with their audit events
    queue.undo_50k_ms       u: undo that
    queue.rss_mb            the process's resident memory at the end
    queue.busy_cpu_pct      the TUI's CPU while another process writes to the store twice a second
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file's name would shadow the standard library's `queue` (which Textual imports): take
# its folder off the path, and load the store builder beside it by file.
BENCH = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import time
from importlib.util import module_from_spec, spec_from_file_location

from textual import events

from socialdesk.app import SocialdeskApp  # noqa: E402
from socialdesk.screens import QueueScreen  # noqa: E402
from socialdesk.screens.widgets import QueueList  # noqa: E402
from socialdesk.services.commands import DeskSettings  # noqa: E402
from socialdesk.services.desk import Desk  # noqa: E402

_spec = spec_from_file_location("bigstore", BENCH / "bigstore.py")
bigstore = module_from_spec(_spec)
_spec.loader.exec_module(bigstore)

SIZE = (120, 40)
SEARCH = "refund channel:sim-eu"
WRITER = """
import sys, time
from datetime import datetime, UTC
from socialdesk.store.db import open_store
from socialdesk.store import commands
from socialdesk.store.ingest import IngestItem, write_batch
engine, sessions = open_store(sys.argv[1], migrate=False)
with sessions.begin() as s:
    channel = commands.ensure_channel(s, "sim-eu", "simulator")
for i in range(int(sys.argv[2])):
    now = datetime.now(UTC)
    items = [IngestItem(platform_id=f"busy-{time.time_ns()}-{k}", kind="mention", visibility="public",
                        text="my order never arrived, any news?", published_at=now, author_id=f"busy{k}",
                        author_handle=f"busy{k}", priority=40) for k in range(2)]
    with sessions.begin() as s:
        write_batch(s, channel, items)
    time.sleep(0.5)
"""


def loaded(queue_list: QueueList) -> bool:
    """Every row the viewport shows is there (no placeholder left)."""
    top = int(queue_list.scroll_y)
    bottom = min(top + queue_list.size.height - 1, queue_list.total)
    return queue_list.generation > 0 and all(queue_list.row_at(i) is not None for i in range(top, bottom))


async def until(app, predicate, timeout: float = 60.0) -> float:
    """Milliseconds until `predicate` holds and a frame of the screen is composed."""
    started = time.perf_counter()
    while not predicate():
        if time.perf_counter() - started > timeout:
            raise TimeoutError("the screen did not get there")
        await asyncio.sleep(0.0005)
    app.screen._compositor.render_strips()
    return (time.perf_counter() - started) * 1000


def send(app, name: str) -> None:
    """One key press, as the terminal driver delivers it (Pilot's press also waits for the whole
    process to go idle, which is not what a person waits for)."""
    app.post_message(events.Key(name, name if len(name) == 1 else None))


async def key(app, name: str, predicate) -> float:
    started = time.perf_counter()
    send(app, name)
    await asyncio.sleep(0)
    await until(app, predicate)
    return (time.perf_counter() - started) * 1000


async def run_command(app, name: str, done) -> float:
    """A key that runs a command (Enter on the command line, u): until its outcome is shown."""
    started = time.perf_counter()
    send(app, name)
    await until(app, done, timeout=120)
    return (time.perf_counter() - started) * 1000


def trace(stage: str) -> None:
    if os.environ.get("BENCH_TRACE"):
        print(f"  [{stage}: {rss_mb():.0f} MB]", file=sys.stderr, flush=True)


def said(app, start: str) -> bool:
    """The newest notification starts with `start` (a command's outcome)."""
    shown = list(app._notifications)
    return bool(shown) and str(shown[-1].message).startswith(start)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


ABOUT_50K = """
import sys
from socialdesk.services.desk import Desk
from socialdesk.services.query import parse
from socialdesk.store.db import open_reader
desk = Desk(open_reader(sys.argv[1])[1], "bench")
low, high = 0, 90
for _ in range(7):
    days = (low + high) // 2
    low, high = (days, high) if desk.queue_count(parse(f"refund age:>{days}d")) > 50_000 else (low, days)
print(f"refund age:>{low}d")
"""


def about_50k(url: str) -> str:
    """A pattern that marks about 50,000 conversations (refunds older than some age), found in
    another process so that its searches do not count in this one's memory."""
    return subprocess.run([sys.executable, "-c", ABOUT_50K, url], capture_output=True, text=True,
                          check=True).stdout.strip()


async def drive(desk: Desk, url: str) -> dict[str, float]:
    figures: dict[str, float] = {}
    bulk_pattern = about_50k(url)
    app = SocialdeskApp(desk, health_interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        await until(app, lambda: isinstance(app.screen, QueueScreen) and loaded(app.screen.query_one(QueueList)))
        await pilot.pause(0.5)
        await app.pop_screen()  # open the queue afresh, as when the TUI starts
        await pilot.pause(0.5)
        screen = QueueScreen(desk, health_interval=3600)
        started = time.perf_counter()
        await app.push_screen(screen)
        await until(app, lambda: loaded(screen.queue_list))
        figures["first_frame_ms"] = (time.perf_counter() - started) * 1000
        trace("first frame")
        await pilot.pause(0.5)
        ql = screen.queue_list
        figures["page_down_ms"] = statistics.median([await key(app, "pagedown", lambda: loaded(ql)) for _ in range(20)])
        figures["jump_end_ms"] = await key(app, "end", lambda: loaded(ql) and ql.cursor == ql.total - 1)
        trace("paged")
        await pilot.press("home")
        await until(app, lambda: loaded(ql))

        searches = []
        for _ in range(5):  # the same search, found afresh each time
            desk.forget_searches()
            await pilot.press("slash", *SEARCH)
            searches.append(await key(app, "enter", lambda: screen._shown_filter is not None
                                      and screen._shown_filter.search == "refund" and loaded(ql)))
            await pilot.press("escape")
            await until(app, lambda: screen._shown_filter is not None and not screen._shown_filter.search
                        and loaded(ql))
            await pilot.pause(1.0)
        figures["search_ms"] = statistics.median(searches)
        await pilot.press("slash", *SEARCH, "enter")
        await until(app, lambda: screen._shown_filter is not None and screen._shown_filter.search == "refund"
                    and loaded(ql))
        await pilot.pause(1.0)
        figures["search_page_ms"] = statistics.median([await key(app, "pagedown", lambda: loaded(ql))
                                                       for _ in range(10)])
        trace("searched")
        await pilot.press("T")
        figures["mark_pattern_ms"] = await key(app, "enter", lambda: len(ql.marked) > 0)
        figures["mark_pattern_count"] = len(ql.marked)
        trace("marked")
        await pilot.press("M", "colon", *"mark order channel:sim-us")  # words not searched before
        figures["mark_pattern_cold_ms"] = await key(app, "enter", lambda: len(ql.marked) > 0)
        figures["mark_pattern_cold_count"] = len(ql.marked)
        trace("cold marked")

        await pilot.press("M", "escape")
        await pilot.press("colon", *("mark " + bulk_pattern), "enter")
        await until(app, lambda: len(ql.marked) > 0)
        figures["bulk_count"] = len(ql.marked)
        await pilot.press("semicolon", "t", *f"+bench-{int(time.time())}")
        figures["bulk_50k_ms"] = await run_command(app, "enter", lambda: said(app, "Tagged"))
        trace("bulk")
        figures["undo_50k_ms"] = await run_command(app, "u", lambda: said(app, "Undone"))
        trace("undo")

        await pilot.press("M", "escape")
        await pilot.pause(1.0)
        figures["rss_mb"] = rss_mb()
        if os.environ.get("BENCH_TRACE"):
            import ctypes
            import gc
            gc.collect()
            ctypes.CDLL("libc.so.6").malloc_trim(0)
            trace("after gc and malloc_trim")
        seconds = 10
        writer = subprocess.Popen([sys.executable, "-c", WRITER, url, str(seconds * 2)], env=os.environ.copy())
        await pilot.pause(1.0)
        cpu, wall = time.process_time(), time.perf_counter()
        await pilot.pause(seconds - 2)
        figures["busy_cpu_pct"] = (time.process_time() - cpu) / (time.perf_counter() - wall) * 100
        writer.wait()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    args = parser.parse_args()
    url = bigstore.bench_url(args.n)
    seconds = bigstore.build(url, args.n)
    print(f"queue.conversations {bigstore.conversations(url)} conversations")
    print(f"queue.build_s {seconds:.0f} s")
    _, sessions = bigstore.open_reader(url)  # as the TUI opens it
    desk = Desk(sessions, "bench-supervisor", role="supervisor",
                settings=DeskSettings({}, require_resolution_code=False, confirm_above=10**9))
    figures = asyncio.run(drive(desk, url))
    units = {"rss_mb": "MB", "busy_cpu_pct": "%", "mark_pattern_count": "conversations", "bulk_count": "conversations",
             "mark_pattern_cold_count": "conversations"}
    for name, value in figures.items():
        print(f"queue.{name} {value:.1f} {units.get(name, 'ms')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
