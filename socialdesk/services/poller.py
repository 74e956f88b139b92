"""One channel stream's poll: read the cursor, store each page with its cursor, record the
stream's health, and back off (with jitter) after a failure without ever stopping; a poll that
moved its cursor before it failed made progress and backs off as after a first failure. A
stream whose rate limit is spent waits for its reset instead of asking again."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from socialdesk.adapters.base import Adapter, AdapterError, RateLimit
from socialdesk.store import commands, queries

from .credentials import redact
from .ingest import Ingestor
from .pipeline import prefetch

log = logging.getLogger(__name__)
MAX_BACKOFF = 300.0


def backoff_delay(failures: int, retry_after: float | None, rng: random.Random | None = None) -> float:
    """The server's word if it gave one (never less: up to 20 % more), else exponential from
    2 s capped at 5 min, ±20 %: jitter, so a team's pollers do not retry in step."""
    rng = rng or random
    if retry_after is not None:
        return max(0.5, retry_after * rng.uniform(1.0, 1.2))
    return max(0.5, min(MAX_BACKOFF, 2.0 ** failures) * rng.uniform(0.8, 1.2))


class ChannelPoller:
    def __init__(self, name: str, channel_id: int, adapter: Adapter, ingestor: Ingestor,
                 sessions: sessionmaker[Session], *, stream: str = "mentions",
                 initial_cursor: str | None = None, clock: Callable[[], float] = time.monotonic,
                 stopping: threading.Event | None = None):
        self.name, self.channel_id, self.adapter = name, channel_id, adapter
        self.ingestor, self.sessions, self.stream = ingestor, sessions, stream
        self.initial_cursor = initial_cursor
        self.failures = 0
        self.not_before = 0.0
        self.stored = 0
        self._clock = clock
        self._lock = threading.Lock()
        self._stopping = stopping or threading.Event()  # set: a failure is the shutdown's doing

    def run(self) -> int:
        """Poll once (skipped while backing off). Returns the messages stored."""
        if not self._lock.acquire(blocking=False):
            return 0  # a run is already under way
        try:
            if self._clock() < self.not_before:
                return 0
            return self._poll()
        finally:
            self._lock.release()

    def _poll(self) -> int:
        stored = 0
        advanced = False  # a page moved the cursor: progress, whatever happens after it
        rate: RateLimit | None = None
        try:
            with self.sessions() as s:
                cursor = queries.cursor(s, self.channel_id, self.stream) or self.initial_cursor
            pages = ((page, self.ingestor.prepare(page)) for page in self.adapter.poll(cursor, self.stream))
            for page, prepared in prefetch(pages):
                stored += self.ingestor.store(prepared, self.stream).stored
                rate = page.rate or rate
                advanced = advanced or (page.cursor is not None and page.cursor != cursor)
        except AdapterError as exc:
            if self._stopping.is_set():
                return stored  # the adapter was closed under it: nothing to report
            # Pages stored are progress: a backlog on a flaky server drains in seconds, not minutes.
            self.failures = 1 if advanced else self.failures + 1
            delay = backoff_delay(self.failures, exc.retry_after)
            if not exc.retryable:
                delay = max(delay, 60.0)
            self.not_before = self._clock() + delay
            message = redact(str(exc))
            self._health(f"{message} (retrying in {delay:.0f}s)")
            log.warning("channel %s %s: %s; next try in %.1fs", self.name, self.stream, message, delay)
        except Exception as exc:  # a bug must not stop the scheduler: show it and go on
            self.failures += 1
            self.not_before = self._clock() + backoff_delay(self.failures, None)
            self._health(redact(f"internal error: {exc.__class__.__name__}: {exc}"))
            log.exception("channel %s %s: poll failed", self.name, self.stream)
        else:
            self.failures = 0
            self._health(None, rate)
            if rate is not None and rate.remaining == 0 and rate.reset_at is not None:
                # Spent: asking again before the reset only earns a 429.
                wait = (rate.reset_at - datetime.now(UTC)).total_seconds()
                self.not_before = self._clock() + backoff_delay(0, max(wait, 0.0))
        self.stored += stored
        return stored

    def _health(self, error: str | None, rate: RateLimit | None = None) -> None:
        try:
            with self.sessions.begin() as s:
                commands.record_poll(s, self.channel_id, self.stream, error=error,
                                     rate=(rate.limit, rate.remaining, rate.reset_at) if rate else None)
        except Exception:
            log.exception("channel %s: could not record its health", self.name)
