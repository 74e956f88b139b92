"""`socialdesk backfill`: read a channel's history back to a date through the same ingest as
polling (rules, threading, de-duplication), without moving the pollers' cursors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from socialdesk.adapters.base import Adapter

from .ingest import Ingestor


@dataclass
class BackfillProgress:
    stream: str
    pages: int = 0
    fetched: int = 0
    stored: int = 0
    oldest: datetime | None = None  # the oldest message reached so far


def backfill(adapter: Adapter, ingestor: Ingestor, since: datetime, *, streams: list[str] | None = None,
             on_page: Callable[[BackfillProgress], None] | None = None) -> list[BackfillProgress]:
    """Every stream (or those named) back to `since`. An AdapterError stops the run and is
    raised: what was stored so far stays, and running it again skips it as already stored."""
    done = []
    for stream in streams or [s.name for s in adapter.streams]:
        progress = BackfillProgress(stream)
        for page in adapter.backfill(since, stream):
            result = ingestor.store(ingestor.prepare(page), stream)
            progress.pages += 1
            progress.fetched += len(page.messages)
            progress.stored += result.stored
            dates = [m.published_at for m in page.messages]
            if dates:
                progress.oldest = min([*dates, progress.oldest] if progress.oldest else dates)
            if on_page is not None:
                on_page(progress)
        done.append(progress)
    return done
