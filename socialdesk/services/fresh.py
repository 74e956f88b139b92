"""Results worth keeping while the store stays still (a search's hits, its matching set)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class FreshCache:
    """A few results by key, reused until the store's change counter has moved *and* `fresh`
    seconds have passed (so a busy store costs one recomputation per `fresh` seconds, not one
    per page). Thread-safe: workers asking for the same key at once wait for one computation."""

    def __init__(self, counter: Callable[[], int], *, fresh: float = 3.0, size: int = 4) -> None:
        self._counter, self._fresh, self._size = counter, fresh, size
        self._entries: OrderedDict[Hashable, tuple[float, int, Any]] = OrderedDict()
        self._lock = threading.Lock()  # guards the two dicts
        self._key_locks: dict[Hashable, threading.Lock] = {}  # one computation per key at a time

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            now = time.monotonic()
            entry = self._entries.get(key)
            if entry is not None and now - entry[0] < self._fresh:
                return entry[2]
            counter = self._counter()
            value = entry[2] if entry is not None and entry[1] == counter else compute()
            with self._lock:
                self._entries[key] = (now, counter, value)
                self._entries.move_to_end(key)
                while len(self._entries) > self._size:
                    self._key_locks.pop(self._entries.popitem(last=False)[0], None)
            return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
