"""The time cursor the Facebook and Instagram adapters poll by.

Graph lists comments and messages newest first and has no "since this id" filter, so a poll
reads back to a place in time. Cursors are `"<unix seconds>|<id>,<id>"`: the newest
`created_time` stored and the ids stored at that second. Graph's own paging cursors expire, so
they are followed within one poll, never kept.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from socialdesk.adapters.base import AdapterError, Inbound, Page, RateLimit, Skipped
from socialdesk.adapters.graph_payloads import graph_time
from socialdesk.adapters.values import as_id


def seconds(when: datetime) -> int:
    return math.floor(when.timestamp())


@dataclass(frozen=True)
class Mark:
    """A place in time: items created after `at`, or at `at` but not among `ids`, are new."""

    at: int
    ids: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, cursor: str, platform: str) -> Mark:
        head, _, tail = cursor.partition("|")
        try:
            at = int(head)
        except ValueError:
            raise AdapterError(f"{cursor[:60]!r} is not a {platform} cursor (expected '<unix seconds>|<ids>')",
                               retryable=False) from None
        return cls(at, frozenset(i for i in tail.split(",") if i))

    def __str__(self) -> str:
        return f"{self.at}|{','.join(sorted(self.ids))}"

    def is_new(self, ts: int, item_id: str) -> bool:
        return ts > self.at or (ts == self.at and item_id not in self.ids)

    def past(self, ts: int, item_id: str) -> Mark:
        if ts > self.at:
            return Mark(ts, frozenset({item_id}))
        return Mark(self.at, self.ids | {item_id}) if ts == self.at else self


@dataclass
class Scan:
    """What one poll found after a mark: (unix seconds, id, parsed) triples. `complete` is False
    when the scan stopped early (usage used up): its cursor must not move."""

    mark: Mark
    items: list[tuple[int, str, Inbound | Skipped]] = field(default_factory=list)
    complete: bool = True

    def consider(self, raw: Any, time_key: str, parse: Callable[[Any], Inbound | Skipped]) -> bool:
        """Parse `raw` if it is newer than the mark; False when it is not (an old item)."""
        item_id = as_id(raw.get("id")) if isinstance(raw, dict) else None
        when = graph_time(raw.get(time_key)) if isinstance(raw, dict) else None
        if when is not None and item_id is not None:
            ts = seconds(when)
            if not self.mark.is_new(ts, item_id):
                return False
            self.items.append((ts, item_id, parse(raw)))
        else:
            self.items.append((self.mark.at, "", parse(raw)))  # unplaceable: reported, never moves the cursor
        return True

    def poll_pages(self, size: int, rate: RateLimit | None) -> list[Page]:
        """Pages oldest first, each with the cursor that is right once it is stored."""
        items = sorted(self.items, key=lambda i: (i[0], i[1]))
        if not self.complete:
            return [_page(items, None, rate)]
        mark, pages = self.mark, []
        for start in range(0, len(items), size):
            chunk = items[start:start + size]
            for ts, item_id, _ in chunk:
                if item_id:
                    mark = mark.past(ts, item_id)
            pages.append(_page(chunk, str(mark), rate))
        return pages or [Page(messages=[], cursor=str(mark), rate=rate)]

    def backfill_pages(self, size: int, rate: RateLimit | None) -> list[Page]:
        """Pages newest first, none moving the cursor."""
        items = sorted(self.items, key=lambda i: (i[0], i[1]), reverse=True)
        return [_page(items[s:s + size], None, rate) for s in range(0, len(items), size)]


def _page(items: list[tuple[int, str, Inbound | Skipped]], cursor: str | None, rate: RateLimit | None) -> Page:
    return Page(messages=[r for _, _, r in items if isinstance(r, Inbound)], cursor=cursor,
                skipped=[r for _, _, r in items if isinstance(r, Skipped)], rate=rate)


def head_mark(found: list[tuple[datetime | None, str | None]]) -> Mark:
    """Where a first poll starts: the newest item seen, or now when there is none."""
    mark: Mark | None = None
    for when, item_id in found:
        if when is not None and item_id:
            mark = (mark or Mark(seconds(when))).past(seconds(when), item_id)
    return mark or Mark(math.floor(time.time()))
