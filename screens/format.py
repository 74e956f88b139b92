"""Pure helpers that turn store values into short cell text: priorities, clocks, SLA, marks.

Everything here returns plain strings or state names; the widgets decide on colours, and
customer text still goes through `terminal_safe` before it reaches a terminal.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Literal

from socialdesk.rules.priority import label

SLA_WARNING = timedelta(minutes=15)
INFLUENCER_FOLLOWERS = 10_000
SlaState = Literal["late", "soon", "ok"]


def now() -> datetime:
    """The clock every screen reads (tests replace it to freeze time)."""
    return datetime.now(timezone.utc)


def aware(moment: datetime) -> datetime:
    """Store times without a zone are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


priority_label = label  # P1..P4, as the rules define them


def age(since: datetime | None, at: datetime) -> str:
    """How long ago, in one unit: 5m, 2h, 3d, 6w (empty when there is no time)."""
    if since is None:
        return ""
    return duration(at - aware(since))


def duration(delta: timedelta) -> str:
    """A span in one unit: 5m, 2h, 3d, 6w, 2y (negative spans count as none)."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    days = seconds // 86400
    if days < 100:
        return f"{days}d"
    if days < 700:
        return f"{days // 7}w"
    return f"{days // 365}y"


def sla_state(due: datetime | None, at: datetime) -> SlaState:
    """'late' past the due time, 'soon' within SLA_WARNING of it, else 'ok'."""
    if due is None:
        return "ok"
    left = aware(due) - at
    if left <= timedelta(0):
        return "late"
    if left <= SLA_WARNING:
        return "soon"
    return "ok"


def author_marks(followers: int, key_customer: bool, private: bool) -> str:
    """★ influencer, ♦ key customer, ✉ private conversation."""
    return (
        ("★" if followers >= INFLUENCER_FOLLOWERS else "")
        + ("♦" if key_customer else "")
        + ("✉" if private else "")
    )


def followers_label(followers: int) -> str:
    if followers >= 1_000_000:
        return f"{followers / 1_000_000:.1f}M"
    if followers >= 10_000:
        return f"{followers // 1000}k"
    return f"{followers:,}"
