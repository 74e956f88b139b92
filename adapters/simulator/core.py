"""The simulator's state: a brand account on a Mastodon instance that customers keep mentioning.

`Simulator` keeps notifications, statuses and what the brand posted, generates traffic in a
background thread (a Poisson process at `rate` mentions per second, ×20 in a spike), schedules
customers' follow-ups to the brand's replies, and decides which requests fail (`faults`). The HTTP
side lives in `server.py`. With a `journal` file it remembers its statuses across restarts
(`journal.py`).
"""

from __future__ import annotations

import bisect
import heapq
import random
import re
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .journal import Journal
from .traffic import BRAND_ID, Traffic, snowflake, text_to_html

MAX_CHARACTERS = 500
VISIBILITIES = ("public", "unlisted", "private", "direct")
INCIDENT_SHARE = 0.3  # in a spike, this share of mentions is about the incident that caused it
GET_FAULTS = ("500", "429", "truncated", "dropped", "slow")
# A POST fault never loses a recorded status silently: it fails before recording (500, 429), or
# records and then loses the response ("lost": the client must retry with its Idempotency-Key).
POST_FAULTS = ("500", "429", "lost", "slow")
_MENTION = re.compile(r"(?<![\w@/])@(\w+(?:@[\w-]+(?:\.[\w-]+)+)?)")


class ApiError(Exception):
    """An error answer: HTTP status and Mastodon's {"error": ...} text."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class Simulator:
    """A local Mastodon instance (API subset) with a busy brand account. Thread-safe."""

    def __init__(
        self,
        rate: float = 5.0,
        spike: bool = False,
        seed: int = 0,
        faults: float = 0.0,
        token: str = "simulator",
        backlog: int = 0,
        *,
        followup_probability: float = 0.3,
        followup_delay: tuple[float, float] = (2.0, 8.0),
        other_share: float = 0.05,
        ratelimit: int = 300,
        ratelimit_window: float = 300.0,
        slow_seconds: float = 1.5,
        keep: int = 200_000,
        first_id: int = 1,
        idempotency_keys: bool = True,
        journal: Path | str | None = None,
    ):
        self.rate = rate
        self.spike = spike
        self.seed = seed
        self.faults = faults
        self.token = token
        self.followup_probability = followup_probability
        self.followup_delay = followup_delay
        self.other_share = other_share
        self.ratelimit = ratelimit
        self.ratelimit_window = ratelimit_window
        self.slow_seconds = slow_seconds
        self.keep = keep
        # False: every Idempotency-Key is forgotten at once (Mastodon keeps them only for a while).
        self.idempotency_keys = idempotency_keys
        self.traffic = Traffic(seed)
        self.brand = self.traffic.brand
        self._lock = threading.RLock()
        self._fault_rng = random.Random(seed * 1_000_003 + 17)
        self._clock_rng = random.Random(seed * 7919 + 5)
        self._ids: list[int] = []  # notification ids, ascending
        self._notifications: list[dict[str, Any]] = []
        # Ids keep growing across restarts when first_id comes from the clock (see socialdesk demo).
        self._next_notification = first_id
        self._last_status = 0
        self._statuses: dict[str, dict[str, Any]] = {}
        self._children: dict[str, list[str]] = {}
        self._timelines: dict[str, list[int]] = {}  # account id -> status ids, ascending
        self._sent: list[dict[str, Any]] = []
        self._idempotency: dict[str, dict[str, Any]] = {}
        self._followups: list[tuple[float, int, dict[str, Any]]] = []
        self._followup_seq = 0
        self._window = (0.0, 0)  # (window start, requests in it)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._server: Any = None
        self.base_url: str | None = None
        self.requests = 0
        self.faults_injected: list[tuple[str, str, str]] = []  # (method, path, fault)
        self._forced: list[str] = []
        self._journal = Journal(journal, keep) if journal is not None else None
        if self._journal is not None:
            self._restore(self._journal.load())
        if backlog:
            self._backlog(backlog)

    # -- lifecycle --

    def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1 (a free port unless given), start generating; returns the base URL."""
        from .server import serve

        if self._server is not None:
            return self.base_url or ""
        self._server, self.base_url = serve(self, port)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="mastodon-simulator", daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._journal is not None:
            self._journal.close()

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def effective_rate(self) -> float:
        return max(0.0, self.rate) * (20 if self.spike else 1)

    def _run(self) -> None:
        next_at = time.monotonic() + self._gap()
        while not self._stop.is_set():
            now = time.monotonic()
            with self._lock:
                made = 0
                while self.effective_rate > 0 and next_at <= now and made < 2000:
                    self._add_mention()
                    made += 1
                    next_at += self._gap()
                if next_at <= now:  # far behind (a paused machine): do not try to catch up
                    next_at = now + self._gap()
                self._deliver_followups(now)
                wake = min(next_at, self._followups[0][0] if self._followups else next_at)
            self._stop.wait(max(0.005, min(0.25, wake - time.monotonic())))

    def _gap(self) -> float:
        rate = self.effective_rate
        if rate <= 0:
            return 0.25  # idle: look again soon (the rate or spike may change)
        return self._clock_rng.expovariate(rate)

    # -- traffic --

    def _next_status_id(self, ms: int) -> str:
        candidate = snowflake(ms)
        self._last_status = max(self._last_status + 1, candidate)
        return str(self._last_status)

    def _add_mention(self, ms: int | None = None, **kwargs: Any) -> dict[str, Any]:
        if ms is None:
            ms = int(time.time() * 1000)
        if self.other_share and self.traffic.rng.random() < self.other_share:
            brand_posts = self._timelines.get(BRAND_ID)
            brand_status = self._statuses.get(str(brand_posts[-1])) if brand_posts else None
            other = self.traffic.other_notification(
                str(self._next_notification), self.traffic.iso_ms(ms), brand_status
            )
            self._store_notification(other)
        if self.spike and not kwargs and self.traffic.rng.random() < INCIDENT_SHARE:
            kwargs = {"incident": True}
        notification = self.traffic.mention(
            str(self._next_notification), self._next_status_id(ms), ms, **kwargs
        )
        if notification["status"] is not None:
            self._store_status(notification["status"])
        self._store_notification(notification)
        return notification

    def _store_notification(self, notification: dict[str, Any]) -> None:
        self._ids.append(int(notification["id"]))
        self._notifications.append(notification)
        self._next_notification += 1
        if len(self._ids) > self.keep * 1.1 + 1000:
            drop = len(self._ids) - self.keep
            for old in self._notifications[:drop]:
                status = old.get("status")
                if status and status["account"]["id"] != BRAND_ID:
                    self._statuses.pop(status["id"], None)
            del self._ids[:drop]
            del self._notifications[:drop]

    def _store_status(self, status: dict[str, Any], idempotency_key: str | None = None, *,
                      journal: bool = True) -> None:
        if journal and self._journal is not None:
            self._journal.append(status, idempotency_key)
        status_id = status["id"]
        self._statuses[status_id] = status
        self._timelines.setdefault(status["account"]["id"], []).append(int(status_id))
        parent_id = status.get("in_reply_to_id")
        if parent_id:
            self._children.setdefault(parent_id, []).append(status_id)
            parent = self._statuses.get(parent_id)
            if parent is not None:
                parent["replies_count"] = parent.get("replies_count", 0) + 1
        if idempotency_key:
            self._idempotency[idempotency_key] = status

    def _restore(self, records: list[dict[str, Any]]) -> None:
        """The statuses of earlier runs, as they were stored (ids keep growing after them)."""
        with self._lock:
            for record in records:
                status = record["status"]
                self._store_status(status, record.get("idempotency_key"), journal=False)
                self._last_status = max(self._last_status, int(status["id"]))

    def _backlog(self, n: int) -> None:
        """n mentions from the recent past, as if the desk had been closed for a while."""
        now_ms = int(time.time() * 1000)
        span_ms = int(min(6 * 3600, max(60.0, n / max(self.effective_rate, 0.5))) * 1000)
        start = now_ms - span_ms
        with self._lock:
            for i in range(n):
                self._add_mention(start + (span_ms * i) // n)

    def generate(self, n: int) -> list[dict[str, Any]]:
        """Add n mention notifications now; returns them (oldest first)."""
        with self._lock:
            made = [self._add_mention() for _ in range(n)]
            self._deliver_followups(time.monotonic())
            return made

    def tick(self) -> None:
        """Deliver follow-ups that are due (the background thread does this by itself)."""
        with self._lock:
            self._deliver_followups(time.monotonic())

    def _deliver_followups(self, now: float) -> None:
        while self._followups and self._followups[0][0] <= now:
            _, _, spec = heapq.heappop(self._followups)
            self._add_mention(**spec)

    def _schedule_followup(self, brand_status: dict[str, Any], parent: dict[str, Any]) -> None:
        author = self.traffic.by_id.get(parent["account"]["id"])
        if author is None or self.traffic.rng.random() >= self.followup_probability:
            return
        low, high = self.followup_delay
        due = time.monotonic() + self.traffic.rng.uniform(low, high)
        visibility = "direct" if parent.get("visibility") == "direct" else "public"
        spec = {
            "author": author,
            "in_reply_to": (brand_status["id"], BRAND_ID),
            "visibility": visibility,
            "followup": True,
        }
        self._followup_seq += 1
        heapq.heappush(self._followups, (due, self._followup_seq, spec))

    # -- what tests look at --

    @property
    def sent(self) -> list[dict[str, Any]]:
        """The statuses posted by the brand, oldest first (each with its plain `text`)."""
        with self._lock:
            return [dict(s) for s in self._sent]

    @property
    def mentions(self) -> list[dict[str, Any]]:
        """Every mention notification currently kept, oldest first."""
        with self._lock:
            return [n for n in self._notifications if n["type"] == "mention"]

    @property
    def notifications(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._notifications)

    @property
    def pending_followups(self) -> int:
        with self._lock:
            return len(self._followups)

    # -- API operations (called by the HTTP handler; raise ApiError) --

    def list_notifications(
        self,
        *,
        types: Iterable[str] = (),
        exclude_types: Iterable[str] = (),
        max_id: int | None = None,
        min_id: int | None = None,
        since_id: int | None = None,
        limit: int = 40,
    ) -> list[dict[str, Any]]:
        wanted = set(types)
        unwanted = set(exclude_types)

        def keep(n: dict[str, Any]) -> bool:
            return (not wanted or n["type"] in wanted) and n["type"] not in unwanted

        with self._lock:
            return _page(self._ids, self._notifications, keep, max_id, min_id, since_id, limit)

    def get_notification(self, notification_id: int) -> dict[str, Any]:
        with self._lock:
            i = bisect.bisect_left(self._ids, notification_id)
            if i < len(self._ids) and self._ids[i] == notification_id:
                return self._notifications[i]
        raise ApiError(404, "Record not found")

    def get_status(self, status_id: str) -> dict[str, Any]:
        with self._lock:
            status = self._statuses.get(status_id)
        if status is None:
            raise ApiError(404, "Record not found")
        return status

    def context(self, status_id: str) -> dict[str, Any]:
        with self._lock:
            status = self._statuses.get(status_id)
            if status is None:
                raise ApiError(404, "Record not found")
            ancestors = []
            parent_id = status.get("in_reply_to_id")
            while parent_id and len(ancestors) < 80:
                parent = self._statuses.get(parent_id)
                if parent is None:
                    break
                ancestors.append(parent)
                parent_id = parent.get("in_reply_to_id")
            ancestors.reverse()
            descendants: list[dict[str, Any]] = []
            stack = list(reversed(self._children.get(status_id, [])))
            while stack and len(descendants) < 4000:
                child = self._statuses.get(stack.pop())
                if child is not None:
                    descendants.append(child)
                    stack.extend(reversed(self._children.get(child["id"], [])))
            return {"ancestors": ancestors, "descendants": descendants}

    def account(self, account_id: str) -> dict[str, Any]:
        if account_id == BRAND_ID:
            return self.brand
        account = self.traffic.by_id.get(account_id)
        if account is None:
            raise ApiError(404, "Record not found")
        return account

    def account_statuses(
        self, account_id: str, *, max_id: int | None = None, min_id: int | None = None,
        since_id: int | None = None, limit: int = 20,
    ) -> list[dict[str, Any]]:
        self.account(account_id)
        with self._lock:
            ids = self._timelines.get(account_id, [])
            statuses = self._statuses
            present = [(i, statuses[str(i)]) for i in ids if str(i) in statuses]
            return _page([i for i, _ in present], [s for _, s in present], None,
                         max_id, min_id, since_id, limit)

    def post_status(self, params: dict[str, Any], idempotency_key: str | None,
                    lost: bool = False) -> dict[str, Any]:
        """Create a brand status (or return the one already made for this Idempotency-Key)."""
        with self._lock:
            if self.idempotency_keys and idempotency_key and idempotency_key in self._idempotency:
                return self._idempotency[idempotency_key]
            text = params.get("status")
            text = text if isinstance(text, str) else ""
            if not text.strip():
                raise ApiError(422, "Validation failed: Text can't be blank")
            if len(text) > MAX_CHARACTERS:
                raise ApiError(422, f"Validation failed: Text character limit of {MAX_CHARACTERS} exceeded")
            visibility = params.get("visibility") or "public"
            if visibility not in VISIBILITIES:
                raise ApiError(422, "Validation failed: Visibility is not included in the list")
            reply_id = params.get("in_reply_to_id") or None
            parent = None
            if reply_id is not None:
                parent = self._statuses.get(str(reply_id))
                if parent is None:
                    raise ApiError(404, "Record not found")
            ms = int(time.time() * 1000)
            status_id = self._next_status_id(ms)
            language = params.get("language") or None
            status = {
                "id": status_id,
                "created_at": self.traffic.iso_ms(ms),
                "in_reply_to_id": parent["id"] if parent else None,
                "in_reply_to_account_id": parent["account"]["id"] if parent else None,
                "sensitive": bool(params.get("sensitive")) and params.get("sensitive") not in ("false", "0"),
                "spoiler_text": params.get("spoiler_text") or "",
                "visibility": visibility,
                "language": language if isinstance(language, str) else None,
                "uri": f"{self.brand['uri']}/statuses/{status_id}",
                "url": f"{self.brand['url']}/{status_id}",
                "replies_count": 0,
                "reblogs_count": 0,
                "favourites_count": 0,
                "quotes_count": 0,
                "edited_at": None,
                "content": text_to_html(text, self.traffic.instance),
                "reblog": None,
                "application": {"name": "socialdesk", "website": None},
                "account": self.brand,
                "media_attachments": [],
                "mentions": self._mentions(text),
                "tags": [],
                "emojis": [],
                "card": None,
                "poll": None,
            }
            self._store_status(status, idempotency_key)
            record = dict(status)
            record["text"] = text
            record["idempotency_key"] = idempotency_key
            record["response_lost"] = lost
            self._sent.append(record)
            if parent is not None and parent["account"]["id"] != BRAND_ID:
                self._schedule_followup(status, parent)
            return status

    def _mentions(self, text: str) -> list[dict[str, Any]]:
        out = []
        by_acct = self._accounts_by_acct()
        for acct in _MENTION.findall(text):
            account = by_acct.get(acct.lower())
            if account is not None and all(m["id"] != account["id"] for m in out):
                out.append({"id": account["id"], "username": account["username"],
                            "url": account["url"], "acct": account["acct"]})
        return out

    def _accounts_by_acct(self) -> dict[str, dict[str, Any]]:
        cache = getattr(self, "_by_acct", None)
        if cache is None:
            cache = {a["acct"].lower(): a for a in self.traffic.authors}
            cache[self.brand["acct"]] = self.brand
            self._by_acct = cache
        return cache

    # -- limits and faults --

    def count_request(self) -> tuple[int, int, float, bool]:
        """Account one request: (limit, remaining, reset epoch seconds, over the limit?)."""
        with self._lock:
            self.requests += 1
            now = time.time()
            start = now - now % self.ratelimit_window
            window_start, used = self._window
            if window_start != start:
                used = 0
            used += 1
            self._window = (start, used)
            remaining = max(0, self.ratelimit - used)
            return self.ratelimit, remaining, start + self.ratelimit_window, used > self.ratelimit

    def inject(self, *faults: str) -> None:
        """Force the next requests to fail in order ("500", "429", "truncated", "dropped",
        "slow", or for a POST "lost": recorded, then the response is lost) — for tests."""
        known = set(GET_FAULTS) | set(POST_FAULTS)
        for fault in faults:
            if fault not in known:
                raise ValueError(f"unknown fault {fault!r}; use one of {sorted(known)}")
        with self._lock:
            self._forced.extend(faults)

    def lost_response_mode(self) -> str:
        """How a recorded POST loses its answer: the connection drops, or the JSON is cut."""
        with self._lock:
            return "dropped" if self._fault_rng.random() < 0.5 else "truncated"

    def draw_fault(self, method: str, path: str) -> str | None:
        with self._lock:
            if self._forced:
                fault = self._forced.pop(0)
                if method != "POST" and fault == "lost":
                    fault = "dropped"
                self.faults_injected.append((method, path, fault))
                return fault
        if self.faults <= 0:
            return None
        with self._lock:
            if self._fault_rng.random() >= self.faults:
                return None
            fault = self._fault_rng.choice(POST_FAULTS if method == "POST" else GET_FAULTS)
            self.faults_injected.append((method, path, fault))
            return fault


def _page(
    ids: list[int],
    items: list[dict[str, Any]],
    keep: Any,
    max_id: int | None,
    min_id: int | None,
    since_id: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Mastodon paging over ascending ids: newest first; `min_id` selects the page immediately
    after it, `since_id`/`max_id` bound the newest page."""
    out: list[dict[str, Any]] = []
    if min_id is not None:
        i = bisect.bisect_right(ids, min_id)
        end = bisect.bisect_left(ids, max_id) if max_id is not None else len(ids)
        while i < end and len(out) < limit:
            if keep is None or keep(items[i]):
                out.append(items[i])
            i += 1
        out.reverse()
        return out
    i = (bisect.bisect_left(ids, max_id) if max_id is not None else len(ids)) - 1
    floor = since_id if since_id is not None else -1
    while i >= 0 and ids[i] > floor and len(out) < limit:
        if keep is None or keep(items[i]):
            out.append(items[i])
        i -= 1
    return out


__all__ = ["ApiError", "Simulator"]
