"""Priority: a 0–100 score and the reasons that make it up ("why is this P1?").

score = base + the points of every reason, clamped to 0..100. Each reason's label carries its
points ("influencer: 120k followers +25"), so the TUI can list them as they are. Pure: `now` is a
parameter, datetimes without a timezone are taken as UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from .model import AuthorContext, Mention, Reason

__all__ = ["LEVELS", "PrioritySettings", "score", "label", "humanise_count", "humanise_minutes"]

# Each label's range of scores, and the score a person gives when they set that label by hand.
LEVELS: dict[str, tuple[int, int, int]] = {"P1": (75, 100, 90), "P2": (50, 74, 60), "P3": (25, 49, 35),
                                           "P4": (0, 24, 10)}


@dataclass(frozen=True, slots=True)
class PrioritySettings:
    influencer_followers: int = 10_000
    key_customer_points: int = 30
    influencer_points: int = 25
    repeat_points: int = 10
    repeat_window_hours: int = 24
    trending_engagement: int = 50  # likes + reposts
    trending_points: int = 15
    negative_sentiment_max: int = 3  # sentiment 1..this is negative
    negative_points: int = 15
    private_points: int = 10
    sla_minutes: int = 60  # 0 or less: no SLA, no overdue points
    overdue_points: int = 20
    base: int = 20


def label(priority: int) -> str:
    """P1 ≥ 75, P2 ≥ 50, P3 ≥ 25, else P4."""
    return next(name for name, (low, _, _) in LEVELS.items() if priority >= low) if priority >= 0 else "P4"


def humanise_count(n: int) -> str:
    """950 → "950", 1_234 → "1.2k", 120_000 → "120k", 1_500_000 → "1.5M"."""
    if n < 1_000:
        return str(n)
    for divisor, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")):
        if n >= divisor:
            value = n / divisor
            if value < 10:
                text = f"{int(value * 10) / 10:.1f}".removesuffix(".0")
            else:
                text = str(int(value))
            return text + suffix
    return str(n)  # unreachable


def humanise_minutes(minutes: float) -> str:
    """25 → "25 min", 185 → "3h 5m", 3000 → "2d 2h"."""
    m = max(0, int(minutes))
    if m < 60:
        return f"{m} min"
    if m < 48 * 60:
        hours, rest = divmod(m, 60)
        return f"{hours}h {rest}m" if rest else f"{hours}h"
    days, rest = divmod(m // 60, 24)
    return f"{days}d {rest}h" if rest else f"{days}d"


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt


def _points(n: int) -> str:
    return f"{n:+d}"


def score(
    m: Mention,
    ctx: AuthorContext,
    *,
    keyword_weights: Sequence[tuple[str, int]],
    sentiment: int | None,
    now: datetime,
    settings: PrioritySettings,
) -> tuple[int, tuple[Reason, ...]]:
    """(priority 0..100, reasons). `keyword_weights`: (label, weight) pairs the keyword tables
    matched (a bare keyword, or a label already starting with "keyword "); the same pair twice
    counts once, a weight may be negative. `sentiment`: 1..10 or None
    (not scored: no points)."""
    s = settings
    reasons: list[Reason] = []
    now = _utc(now)

    seen: set[tuple[str, int]] = set()
    for name, weight in keyword_weights:
        weight = int(weight)
        if (name, weight) in seen or weight == 0:
            continue
        seen.add((name, weight))
        shown = name if name.startswith("keyword ") else f"keyword '{name}'"  # "refund" or "keyword 'refund'"
        reasons.append(Reason(f"{shown} {_points(weight)}", weight))

    if ctx.key_customer and s.key_customer_points:
        reasons.append(Reason(f"key customer {_points(s.key_customer_points)}", s.key_customer_points))

    if m.followers >= s.influencer_followers and s.influencer_points:
        reasons.append(Reason(
            f"influencer: {humanise_count(m.followers)} followers {_points(s.influencer_points)}", s.influencer_points))

    if ctx.last_contact_at is not None and s.repeat_points:
        last = _utc(ctx.last_contact_at)
        if last != _utc(m.published_at):  # the message itself is not a previous contact
            age_minutes = (now - last).total_seconds() / 60
            if age_minutes < s.repeat_window_hours * 60:
                when = "just now" if age_minutes < 1 else (
                    f"{int(age_minutes)} min ago" if age_minutes < 60 else f"{int(age_minutes // 60)}h ago")
                reasons.append(Reason(f"wrote {when} (repeat) {_points(s.repeat_points)}", s.repeat_points))

    engagement = max(0, m.likes) + max(0, m.reposts)
    if engagement >= s.trending_engagement and s.trending_points:
        reasons.append(Reason(f"trending: {humanise_count(engagement)} likes/reposts {_points(s.trending_points)}",
                              s.trending_points))

    if sentiment is not None and sentiment <= s.negative_sentiment_max and s.negative_points:
        reasons.append(Reason(f"negative sentiment ({sentiment}/10) {_points(s.negative_points)}", s.negative_points))

    if m.visibility == "private" and s.private_points:
        reasons.append(Reason(f"private message {_points(s.private_points)}", s.private_points))

    if s.sla_minutes > 0 and s.overdue_points:
        over = (now - _utc(m.published_at)).total_seconds() / 60 - s.sla_minutes
        if over > 0:
            reasons.append(Reason(f"overdue: {humanise_minutes(max(1, over))} past SLA {_points(s.overdue_points)}",
                                  s.overdue_points))

    raw = s.base + sum(r.points for r in reasons)
    return max(0, min(100, raw)), tuple(reasons)
