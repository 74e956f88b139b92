"""Alerts for the supervisor: a keyword, an influencer or a key customer posting, and spikes in
volume over a rolling baseline. The services show them in the TUI (with the bell) and may send
them by email or a webhook; this module only decides.

Pure Python, no I/O, no clock: every function takes ``now``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from .approvals import word_list
from .model import AuthorContext, Mention


@dataclass(frozen=True)
class AlertPolicy:
    keywords: tuple[str, ...] = ()
    influencer_followers: int | None = 10_000  # None: no influencer alerts
    key_customers: bool = True
    spike_factor: float = 3.0
    spike_min_count: int = 20
    window_minutes: int = 5
    baseline_minutes: int = 60


@dataclass(frozen=True)
class Alert:
    kind: str  # "keyword" | "influencer" | "key_customer" | "spike"
    message: str
    at: datetime


_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufeff]")


def _who(m: Mention) -> str:
    """The author as shown in a message: controls removed, at most 40 characters."""
    handle = _UNSAFE.sub("", m.author_handle or "").strip() or _UNSAFE.sub("", m.author_id or "?")
    if len(handle) > 40:
        handle = handle[:39] + "…"
    return handle if handle.startswith("@") else "@" + handle


def _where(m: Mention) -> str:
    channel = _UNSAFE.sub("", m.channel or m.channel_kind or "")[:40]
    return f" on {channel}" if channel else ""


def followers_label(n: int) -> str:
    """12 → "12", 12_345 → "12.3k", 120_000 → "120k", 2_400_000 → "2.4M"."""
    for size, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")):
        if n >= size:
            value = n / size
            text = f"{value:.1f}" if value < 100 else f"{value:.0f}"
            return text.removesuffix(".0") + suffix
    return str(n)


def mention_alerts(m: Mention, ctx: AuthorContext, *, policy: AlertPolicy, now: datetime) -> list[Alert]:
    """The alerts one inbound message raises. Reposts and bots raise none (they are noise);
    alerts are stamped ``now``."""
    if m.is_repost or m.bot:
        return []
    influencer = policy.influencer_followers is not None and m.followers >= policy.influencer_followers
    if not (policy.keywords or influencer or (policy.key_customers and ctx.key_customer)):
        return []  # the common case, without building any text
    alerts: list[Alert] = []
    who, where = _who(m), _where(m)
    if policy.keywords:
        found = word_list(tuple(policy.keywords)).find(m.text)
        if found:
            shown = ", ".join(repr(k) for k in found[:3]) + (f" +{len(found) - 3}" if len(found) > 3 else "")
            label = "Keyword" if len(found) == 1 else "Keywords"
            alerts.append(Alert("keyword", f"{label} {shown} from {who}{where}", now))
    if policy.influencer_followers is not None and m.followers >= policy.influencer_followers:
        verified = ", verified" if m.verified else ""
        alerts.append(Alert("influencer",
                            f"Influencer {who} ({followers_label(m.followers)} followers{verified}) posted{where}",
                            now))
    if policy.key_customers and ctx.key_customer:
        alerts.append(Alert("key_customer", f"Key customer {who} wrote{where}", now))
    return alerts


_EPOCH = datetime(1970, 1, 1)


def _second(at: datetime) -> int:
    """Whole seconds since the epoch; aware times in UTC, naive ones taken as UTC (no clock or
    time-zone database is read)."""
    if at.tzinfo is not None:
        at = at.astimezone(timezone.utc).replace(tzinfo=None)
    return int((at - _EPOCH).total_seconds() // 1)


def _ratio(x: float) -> str:
    text = f"{x:.0f}" if x >= 10 else f"{x:.1f}"
    return text.removesuffix(".0") + "×"


class SpikeDetector:
    """Volume in the last ``window_minutes`` against the rolling baseline: the average volume per
    window over the ``baseline_minutes`` before it. A spike is at least ``spike_min_count``
    mentions and more than ``spike_factor`` × the baseline. It alerts once per spike and re-arms
    when the volume falls back under the threshold.

    A pure state machine fed with arrival times (``add``) and asked at times of the caller's
    choosing (``check``). With no history every burst of ``spike_min_count`` looks like a spike,
    so a daemon that starts should first ``add`` the last ``baseline_minutes`` of traffic from the
    store. Memory is bounded: per-second buckets over window + baseline."""

    def __init__(self, policy: AlertPolicy, *, label: str = ""):
        if policy.window_minutes <= 0 or policy.baseline_minutes <= 0:
            raise ValueError("spike window and baseline must be at least a minute")
        self.policy = policy
        self.label = label
        self._buckets: dict[int, int] = {}
        self._window = policy.window_minutes * 60
        self._span = (policy.window_minutes + policy.baseline_minutes) * 60
        self._latest = None  # the newest second seen, to prune on add
        self._firing = False

    @property
    def firing(self) -> bool:
        """Whether a spike is in progress (alerted, not yet re-armed)."""
        return self._firing

    def add(self, at: datetime, count: int = 1) -> None:
        if count < 0:
            raise ValueError("count must be >= 0")
        if count == 0:
            return
        s = _second(at)
        if self._latest is not None and s <= self._latest - self._span:
            return  # older than anything check() will look at
        self._buckets[s] = self._buckets.get(s, 0) + count
        if self._latest is None or s > self._latest:
            self._latest = s
        if len(self._buckets) > 2 * self._span:
            self._prune(self._latest)

    def _prune(self, now_s: int) -> None:
        cutoff = now_s - self._span
        for s in [s for s in self._buckets if s <= cutoff]:
            del self._buckets[s]

    def volumes(self, now: datetime) -> tuple[int, float]:
        """(mentions in the last window, baseline mentions per window) at ``now``."""
        now_s = _second(now)
        window_start = now_s - self._window
        current = baseline = 0
        for s, n in self._buckets.items():
            if window_start < s <= now_s:
                current += n
            elif now_s - self._span < s <= window_start:
                baseline += n
        return current, baseline * self._window / (self._span - self._window)

    def check(self, now: datetime) -> Alert | None:
        now_s = _second(now)
        self._prune(now_s)
        current, usual = self.volumes(now)
        p = self.policy
        spiking = current >= p.spike_min_count and current > p.spike_factor * usual
        if not spiking:
            self._firing = False
            return None
        if self._firing:
            return None
        self._firing = True
        where = f" on {self.label}" if self.label else ""
        if usual >= 0.5:
            tail = f", {_ratio(current / usual)} the usual {round(usual)}"
        else:
            tail = ", usually none" if usual == 0 else ", usually under 1"
        return Alert("spike", f"Spike{where}: {current} mentions in {p.window_minutes} min{tail}", now)
