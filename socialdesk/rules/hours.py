"""Opening hours and the out-of-hours acknowledgement.

OpeningHours holds one span per weekday in the team's time zone, ("09:00", "17:30"), or None for
closed. A span whose end is not after its start runs past midnight (("22:00", "06:00") is open
until 06:00 the next morning) and belongs to the day it starts on: a holiday closes the spans
that start on it. "24:00" is allowed as an end. Times are wall-clock times in the zone, so DST
moves them with the clocks; a time that falls in a DST gap is moved forward by the gap (01:30 on
the night London springs forward is 02:30 BST).

The zone is read with zoneinfo (the system tz database, or the tzdata package where installed).
"UTC"/"GMT" need neither: they fall back to datetime.timezone.utc. Any other name that cannot be
found is a ValueError at construction — when the configuration is loaded — saying whether the
name is wrong or the machine has no tz database at all (then: install the "tzdata" package).
Silently falling back to UTC would send "we're closed" at the wrong hours.

Naive datetimes (no tzinfo) are taken as UTC. Pure otherwise: `now` is always a parameter.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from types import MappingProxyType

from .model import AuthorContext, Mention

__all__ = ["OpeningHours", "should_acknowledge", "acknowledgement_text", "DAYS"]

DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_LABELS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_UTC_NAMES = {"utc", "etc/utc", "gmt", "etc/gmt", "z", "zulu", "universal", "etc/universal"}
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")


def _default_week() -> Mapping[str, tuple[str, str] | None]:
    return {d: ("09:00", "17:30") if d not in ("sat", "sun") else None for d in DAYS}


def _minutes(value: object, what: str) -> int:
    m = _TIME.match(value.strip()) if isinstance(value, str) else None
    if not m:
        raise ValueError(f"{what}: expected a time like \"09:00\", got {value!r}")
    hours, minutes = int(m.group(1)), int(m.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise ValueError(f"{what}: {value!r} is not a time of day (00:00–24:00)")
    return hours * 60 + minutes


def resolve_timezone(name: str) -> tzinfo:
    """A tzinfo for the name; ValueError with the reason when there is none."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"timezone: expected a name like \"Europe/London\", got {name!r}")
    name = name.strip()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    if name.lower() in _UTC_NAMES:
        return timezone.utc
    try:
        ZoneInfo("Europe/London")
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"timezone {name!r}: this machine has no time zone database — install the 'tzdata' "
            f"package (pip install tzdata) or use \"UTC\""
        ) from None
    raise ValueError(f"timezone {name!r} is not a known time zone (e.g. \"Europe/London\", \"America/New_York\")")


@dataclass(frozen=True)
class OpeningHours:
    timezone: str = "UTC"
    weekly: Mapping[str, tuple[str, str] | None] = field(default_factory=_default_week, hash=False)
    holidays: tuple[date, ...] = ()
    # derived in __post_init__: per weekday (start, end) minutes after local midnight, end > start
    # (end beyond 1440 for a span that runs past midnight)
    _spans: tuple[tuple[int, int] | None, ...] = field(init=False, repr=False, compare=False, hash=False)
    _tz: tzinfo = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.weekly, Mapping):
            raise ValueError("weekly: expected a table of days (mon..sun)")
        spans: list[tuple[int, int] | None] = [None] * 7
        normalised: dict[str, tuple[str, str] | None] = {}
        for key, value in self.weekly.items():
            day = str(key).strip().lower()[:3]
            if day not in DAYS:
                raise ValueError(f"weekly: unknown day {key!r} (use mon, tue, wed, thu, fri, sat, sun)")
            if normalised.get(day) is not None:
                raise ValueError(f"weekly: {day} is given twice")
            if value is None or value == () or value == [] or value is False:
                normalised[day] = None
                continue
            if isinstance(value, str) or not isinstance(value, Sequence) or len(value) != 2:
                raise ValueError(f"weekly.{day}: expected [\"09:00\", \"17:30\"] or nothing for closed, got {value!r}")
            start = _minutes(value[0], f"weekly.{day}")
            end = _minutes(value[1], f"weekly.{day}")
            if start == end:
                raise ValueError(f"weekly.{day}: opens and closes at the same time ({value[0]}); "
                                 f"use \"00:00\"–\"24:00\" for all day or leave the day out for closed")
            if start == 24 * 60:
                raise ValueError(f"weekly.{day}: cannot open at 24:00")
            spans[DAYS.index(day)] = (start, end if end > start else end + 24 * 60)
            normalised[day] = (f"{start // 60:02d}:{start % 60:02d}", f"{end // 60:02d}:{end % 60:02d}")
        for h in self.holidays:
            if not isinstance(h, date):
                raise ValueError(f"holidays: expected dates, got {h!r}")
        holidays = tuple(sorted({h.date() if isinstance(h, datetime) else h for h in self.holidays}))
        object.__setattr__(self, "weekly", MappingProxyType({d: normalised.get(d) for d in DAYS}))
        object.__setattr__(self, "holidays", holidays)
        object.__setattr__(self, "_spans", tuple(spans))
        object.__setattr__(self, "_tz", resolve_timezone(self.timezone))

    # -----------------------------------------------------------------------------------------

    def _span_on(self, day: date) -> tuple[datetime, datetime] | None:
        """The opening span that starts on the local date `day`, as UTC instants."""
        span = self._spans[day.weekday()]
        if span is None or day in self.holidays:
            return None
        midnight = datetime.combine(day, time(0), tzinfo=self._tz)
        start = midnight + timedelta(minutes=span[0])  # wall-clock arithmetic in the zone
        end = midnight + timedelta(minutes=span[1])
        return start.astimezone(timezone.utc), end.astimezone(timezone.utc)

    def _local(self, at: datetime) -> datetime:
        if at.tzinfo is None:
            at = at.replace(tzinfo=timezone.utc)
        return at.astimezone(self._tz)

    def is_open(self, at: datetime) -> bool:
        local = self._local(at)
        instant = local.astimezone(timezone.utc)
        for day in (local.date() - timedelta(days=1), local.date()):
            span = self._span_on(day)
            if span and span[0] <= instant < span[1]:
                return True
        return False

    def next_opening(self, at: datetime) -> datetime:
        """`at` itself (in the zone) when open; else the next opening, in the zone. ValueError
        when the hours never open (every day closed)."""
        local = self._local(at)
        if self.is_open(local):
            return local
        instant = local.astimezone(timezone.utc)
        day = local.date() - timedelta(days=1)
        for _ in range(7 + 366 + len(self.holidays)):
            span = self._span_on(day)
            if span and span[0] > instant:
                return span[0].astimezone(self._tz)
            day += timedelta(days=1)
        raise ValueError("these opening hours never open")

    def describe(self) -> str:
        """"Mon–Fri 09:00–17:30, Sat 10:00–14:00 (Europe/London)"."""
        groups: list[tuple[int, int, tuple[str, str]]] = []
        for i, day in enumerate(DAYS):
            span = self.weekly[day]
            if span is None:
                continue
            if groups and groups[-1][1] == i - 1 and groups[-1][2] == span:
                groups[-1] = (groups[-1][0], i, span)
            else:
                groups.append((i, i, span))
        parts = []
        for first, last, (start, end) in groups:
            days = _DAY_LABELS[first] if first == last else f"{_DAY_LABELS[first]}–{_DAY_LABELS[last]}"
            parts.append(f"{days} {start}–{end}")
        return f"{', '.join(parts) or 'closed'} ({self.timezone})"


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt


def _handle(h: str) -> str:
    return h.strip().lstrip("@").casefold()


def should_acknowledge(
    m: Mention,
    ctx: AuthorContext,
    *,
    verdict_noise: bool,
    hours: OpeningHours,
    now: datetime,
    once_per_hours: int = 24,
    brand_handles: Sequence[str] = (),
) -> bool:
    """Send the out-of-hours acknowledgement? Only when closed at `now`; never to noise, reposts,
    bots or auto-generated messages (auto-replies, bulk mail: two robots would answer each other
    forever); never to the brand's own accounts (`brand_handles`, with or without the "@"); and
    at most once per `once_per_hours` per customer (ctx.acknowledged_at)."""
    if verdict_noise or m.auto_generated or m.bot or m.is_repost:
        return False
    if brand_handles and _handle(m.author_handle) in {_handle(h) for h in brand_handles}:
        return False
    if ctx.acknowledged_at is not None:
        since = _utc(now) - _utc(ctx.acknowledged_at)
        if since < timedelta(hours=once_per_hours):
            return False
    return not hours.is_open(now)


_TOKEN = re.compile(r"\{\{|\}\}|\{(\w+)\}")
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x9b[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]")


def _clean_name(name: str, limit: int = 60) -> str:
    """A customer's display name as it may appear in a reply: no terminal escapes, control or
    bidi characters, one line, at most `limit` characters."""
    text = _ANSI.sub("", str(name or ""))
    out = "".join(" " if ch in "\t\n\v\f\r\x85" or unicodedata.category(ch) in ("Zl", "Zp") else ch
                  for ch in text
                  if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co") or ch in "\t\n\v\f\r\x85\u200d")
    out = " ".join(out.split())
    return out[:limit].rstrip()


def acknowledgement_text(
    template: str,
    *,
    name: str,
    hours: OpeningHours,
    response_window: str,
    now: datetime,
) -> str:
    """The template with its variables filled, in the canned responses' syntax: {customer_name}
    (also {name}), {opening_hours} (also {hours}: hours.describe()), {response_window} (e.g.
    "within 60 minutes"), {next_opening} ("Mon 09:00", in the team's zone), {timezone};
    {{ and }} are literal braces. Unknown {words} and stray braces stay as they are; values are
    put in once (a name like "{opening_hours}" is not expanded)."""
    try:
        opening = hours.next_opening(now)
        next_text = f"{_DAY_LABELS[opening.weekday()]} {opening:%H:%M}"
    except ValueError:
        next_text = ""
    customer = _clean_name(name)
    described = hours.describe()
    values = {
        "customer_name": customer, "name": customer,
        "opening_hours": described, "hours": described,
        "response_window": response_window,
        "next_opening": next_text,
        "timezone": hours.timezone,
    }
    if not customer:  # "Hi {customer_name}, thanks" → "Hi, thanks", not "Hi , thanks"
        template = re.sub(r"[ \t]*\{(?:customer_name|name)\}", "", template)

    def fill(m: re.Match[str]) -> str:
        if m.group(1) is None:
            return m.group(0)[0]  # {{ → {, }} → }
        return values.get(m.group(1), m.group(0))

    return _TOKEN.sub(fill, template)
