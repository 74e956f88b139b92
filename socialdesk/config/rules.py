"""The [rules] section: keyword tables, priority, routing, hours, canned responses, privacy,
approvals and alerts, validated at start so that a bad rule never reaches a running desk."""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from socialdesk.rules.patterns import pattern_problem

from .base import LocatedError, Model, Name

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)\s*-\s*([01]\d|2[0-4]):([0-5]\d)$")
# Tags the rules set by themselves, whatever the keyword tables say.
SYSTEM_TAGS = ("noise", "influencer", "key-customer", "sensitive")


def _check_patterns(value: dict[str, str]) -> dict[str, str]:
    for name, pattern in value.items():
        problem = pattern_problem(pattern)
        if problem:
            raise LocatedError((name,), problem)
    return value


class KeywordTableConfig(Model):
    name: Name
    tag: Name
    keywords: list[str] = []
    exclusions: list[str] = []
    team: str | None = None
    weight: int = Field(default=0, ge=-100, le=100)


class PriorityConfig(Model):
    base: int = Field(default=20, ge=0, le=100)
    key_customer_points: int = 30
    influencer_points: int = 25
    repeat_points: int = 10
    repeat_window_hours: int = Field(default=24, ge=1)
    trending_engagement: int = Field(default=50, ge=1)
    trending_points: int = 15
    negative_sentiment_max: int = Field(default=3, ge=1, le=10)
    negative_points: int = 15
    private_points: int = 10
    overdue_points: int = 20


class HoursConfig(Model):
    """Opening hours: each day "09:00-17:30" or "closed"."""

    timezone: str = "UTC"
    mon: str = "09:00-17:30"
    tue: str = "09:00-17:30"
    wed: str = "09:00-17:30"
    thu: str = "09:00-17:30"
    fri: str = "09:00-17:30"
    sat: str = "closed"
    sun: str = "closed"
    holidays: list[date] = []

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. 'Europe/London')") from None
        return value

    @field_validator(*DAYS)
    @classmethod
    def _span(cls, value: str) -> str:
        if value != "closed" and not _SPAN.match(value):
            raise ValueError(f"expected a span like '09:00-17:30' or 'closed', got {value!r}")
        return value

    def weekly(self) -> dict[str, tuple[str, str] | None]:
        return {day: None if getattr(self, day) == "closed" else
                tuple(part.strip() for part in getattr(self, day).split("-"))  # type: ignore[misc]
                for day in DAYS}


class AutoReplyConfig(Model):
    enabled: bool = False
    text: str = ("Hi {customer_name}, thanks for your message! We're closed right now; our hours are "
                 "{opening_hours}. We'll answer {response_window}.")
    response_window: str = "within 60 minutes of opening"


class CannedConfig(Model):
    name: Name
    text: str
    title: str = ""
    channels: list[Literal["mastodon", "bluesky", "x", "facebook", "instagram", "telegram", "email",
                           "simulator"]] = []
    language: str | None = None

    @model_validator(mode="after")
    def _compiles(self) -> CannedConfig:
        from socialdesk.rules.canned import CannedResponses, Template

        try:
            CannedResponses.compile([Template(name=self.name, text=self.text)])
        except ValueError as exc:
            raise LocatedError(("text",), str(exc)) from None
        return self


class ApprovalsConfig(Model):
    risky_tags: list[str] = []
    words: list[str] = []


class AlertsConfig(Model):
    keywords: list[str] = []
    influencer_followers: int | None = Field(default=10_000, ge=0)
    key_customers: bool = True
    spike_factor: float = Field(default=3.0, gt=1)
    spike_min_count: int = Field(default=20, ge=1)
    window_minutes: int = Field(default=5, ge=1)
    baseline_minutes: int = Field(default=60, ge=1)
    bell: bool = True
    email: str | None = None  # an address to mail alerts to
    smtp: str = "localhost:25"  # host:port of the mail server that sends them
    webhook: str | None = None  # a URL to POST alerts to


class RulesConfig(Model):
    influencer_followers: int = Field(default=10_000, ge=0)
    sla_minutes: int = Field(default=60, ge=1)
    brand_handles: list[str] = []
    key_customers: list[str] = []  # handles, on any channel
    languages: list[str] = ["en", "de", "fr", "es", "pt", "it", "nl", "ja"]
    default_team: str | None = None
    default_tables: bool = True  # the built-in customer-service / marketing / noise tables
    spam_patterns: dict[str, str] = {}  # name = regular expression
    private_patterns: dict[str, str] = {}  # name = regular expression, kept out of public replies
    allowed_in_public: list[str] = []  # the brand's own contact details, which replies may give
    keywords: list[KeywordTableConfig] = []
    priority: PriorityConfig = PriorityConfig()
    hours: HoursConfig | None = None
    autoreply: AutoReplyConfig = AutoReplyConfig()
    canned: list[CannedConfig] = []
    approvals: ApprovalsConfig = ApprovalsConfig()
    alerts: AlertsConfig = AlertsConfig()

    _spam = field_validator("spam_patterns")(_check_patterns)
    _private = field_validator("private_patterns")(_check_patterns)

    @model_validator(mode="after")
    def _unique_names(self) -> RulesConfig:
        for section in ("keywords", "canned"):
            seen: dict[str, int] = {}
            for i, item in enumerate(getattr(self, section)):
                if item.name in seen:
                    raise LocatedError((section, i, "name"),
                                       f"duplicate name {item.name!r} (also {section}[{seen[item.name]}])")
                seen[item.name] = i
        return self

    def known_tags(self, default_tags: tuple[str, ...] = ()) -> set[str]:
        return {t.tag for t in self.keywords} | set(SYSTEM_TAGS) | (set(default_tags) if self.default_tables else set())


def check_references(rules: RulesConfig, team_names: list[str], default_tags: tuple[str, ...]) -> Any:
    """Cross-checks against the rest of the config; raises LocatedError with a path under rules."""
    known_teams = ", ".join(team_names) or "none declared"
    for i, table in enumerate(rules.keywords):
        if table.team is not None and table.team not in team_names:
            raise LocatedError(("rules", "keywords", i, "team"), f"unknown team {table.team!r} (teams: {known_teams})")
    if rules.default_team is not None and rules.default_team not in team_names:
        raise LocatedError(("rules", "default_team"), f"unknown team {rules.default_team!r} (teams: {known_teams})")
    tags = rules.known_tags(default_tags)
    for j, tag in enumerate(rules.approvals.risky_tags):
        if tag not in tags:
            raise LocatedError(("rules", "approvals", "risky_tags", j), f"unknown tag {tag!r} (tags: {', '.join(sorted(tags))})")
    return tags
