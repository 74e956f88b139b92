"""One channel's poll: read the cursor, store each page with its cursor, record channel health,
and back off (with jitter) after a failure without ever stopping."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from socialdesk.adapters.base import Adapter, AdapterError
from socialdesk.store import commands, queries

from .ingest import Ingestor
from .pipeline import prefetch

log = logging.getLogger(__name__)
MAX_BACKOFF = 300.0


def backoff_delay(failures: int, retry_after: float | None, rng: random.Random | None = None) -> float:
    """The server's word if it gave one, else exponential from 2 s capped at 5 min; ±20 % jitter
    so a team's pollers do not retry in step."""
    base = retry_after if retry_after is not None else min(MAX_BACKOFF, 2.0 ** failures)
    return max(0.5, base * (rng or random).uniform(0.8, 1.2))


class ChannelPoller:
    def __init__(self, name: str, channel_id: int, adapter: Adapter, ingestor: Ingestor,
                 sessions: sessionmaker[Session], *, stream: str = "mentions",
                 initial_cursor: str | None = None, clock: Callable[[], float] = time.monotonic):
        self.name, self.channel_id, self.adapter = name, channel_id, adapter
        self.ingestor, self.sessions, self.stream = ingestor, sessions, stream
        self.initial_cursor = initial_cursor
        self.failures = 0
        self.not_before = 0.0
        self.stored = 0
        self._clock = clock
        self._lock = threading.Lock()

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
        rate = None
        try:
            with self.sessions() as s:
                cursor = queries.cursor(s, self.channel_id, self.stream) or self.initial_cursor
            pages = ((page, self.ingestor.prepare(page)) for page in self.adapter.poll(cursor))
            for page, prepared in prefetch(pages):
                stored += self.ingestor.store(prepared, self.stream).stored
                rate = page.rate
        except AdapterError as exc:
            self.failures += 1
            delay = backoff_delay(self.failures, exc.retry_after)
            if not exc.retryable:
                delay = max(delay, 60.0)
            self.not_before = self._clock() + delay
            self._health(f"{exc} (retrying in {delay:.0f}s)")
            log.warning("channel %s: %s; next try in %.1fs", self.name, exc, delay)
        except Exception as exc:  # a bug must not stop the scheduler: show it and go on
            self.failures += 1
            self.not_before = self._clock() + backoff_delay(self.failures, None)
            self._health(f"internal error: {exc.__class__.__name__}: {exc}")
            log.exception("channel %s: poll failed", self.name)
        else:
            self.failures = 0
            self._health(None, rate.remaining if rate else None)
        self.stored += stored
        return stored

    def _health(self, error: str | None, rate_remaining: int | None = None) -> None:
        try:
            with self.sessions.begin() as s:
                commands.record_poll(s, self.channel_id, error=error, rate_remaining=rate_remaining)
        except Exception:
            log.exception("channel %s: could not record its health", self.name)
