"""From socialdesk.toml to a compiled RuleSet, and what the rules need from the store."""

from __future__ import annotations

from dataclasses import dataclass

from socialdesk.config import Config
from socialdesk.rules.alerts import AlertPolicy
from socialdesk.rules.approvals import ApprovalPolicy
from socialdesk.rules.canned import CannedResponses, Template
from socialdesk.rules.engine import RuleSet
from socialdesk.rules.hours import OpeningHours
from socialdesk.rules.keywords import DEFAULT_TABLES, KeywordTable
from socialdesk.rules.language import LanguageGuesser
from socialdesk.rules.priority import PrioritySettings
from socialdesk.rules.routing import TeamRule
from socialdesk.rules.sentiment import Sentiment


@dataclass(frozen=True)
class AutoReply:
    """The out-of-hours acknowledgement, if the team wants one."""

    hours: OpeningHours
    template: str
    response_window: str


def opening_hours(config: Config) -> OpeningHours | None:
    hours = config.rules.hours
    if hours is None:
        return None
    return OpeningHours(timezone=hours.timezone, weekly=hours.weekly(), holidays=tuple(hours.holidays))


def autoreply(config: Config) -> AutoReply | None:
    hours = opening_hours(config)
    if hours is None or not config.rules.autoreply.enabled:
        return None
    return AutoReply(hours, config.rules.autoreply.text, config.rules.autoreply.response_window)


def build_ruleset(config: Config, *, sentiment: bool = True, clusters: bool = True) -> RuleSet:
    """Compile every rule once. Raises ValueError naming the rule if one cannot compile."""
    rules = config.rules
    tables = (list(DEFAULT_TABLES) if rules.default_tables else []) + [
        KeywordTable(name=t.name, tag=t.tag, keywords=tuple(t.keywords), exclusions=tuple(t.exclusions),
                     team=t.team, weight=t.weight) for t in rules.keywords]
    p = rules.priority
    priority = PrioritySettings(
        influencer_followers=rules.influencer_followers, key_customer_points=p.key_customer_points,
        influencer_points=p.influencer_points, repeat_points=p.repeat_points,
        repeat_window_hours=p.repeat_window_hours, trending_engagement=p.trending_engagement,
        trending_points=p.trending_points, negative_sentiment_max=p.negative_sentiment_max,
        negative_points=p.negative_points, private_points=p.private_points, sla_minutes=rules.sla_minutes,
        overdue_points=p.overdue_points, base=p.base)
    a = rules.alerts
    return RuleSet.build(
        tables=tables, spam_patterns=rules.spam_patterns, private_patterns=rules.private_patterns,
        allowed_in_public=rules.allowed_in_public,
        brand_handles=rules.brand_handles + [c.handle for c in config.channels if c.handle],
        key_customers=rules.key_customers, priority=priority,
        teams=tuple(TeamRule(name=t.name, tags=tuple(t.tags), skills=tuple(t.skills), overflow=t.overflow,
                             overflow_after_minutes=t.overflow_after_minutes) for t in config.teams),
        default_team=rules.default_team,
        language=LanguageGuesser(tuple(rules.languages)),
        sentiment=Sentiment() if sentiment else None,
        clusters=clusters,
        hours=opening_hours(config),
        canned=CannedResponses.compile([Template(name=c.name, text=c.text, title=c.title, channels=tuple(c.channels),
                                                 language=c.language) for c in rules.canned]),
        approvals=ApprovalPolicy(agents_in_training=frozenset(x.name for x in config.agents if x.in_training),
                                 risky_tags=frozenset(rules.approvals.risky_tags), words=tuple(rules.approvals.words)),
        alerts=AlertPolicy(keywords=tuple(a.keywords), influencer_followers=a.influencer_followers,
                           key_customers=a.key_customers, spike_factor=a.spike_factor,
                           spike_min_count=a.spike_min_count, window_minutes=a.window_minutes,
                           baseline_minutes=a.baseline_minutes))


def describe(config: Config, rules: RuleSet) -> str:
    """What `socialdesk rules check` prints once everything compiled."""
    r = config.rules
    tables = (len(DEFAULT_TABLES) if r.default_tables else 0) + len(r.keywords)
    keywords = sum(len(t.keywords) for t in DEFAULT_TABLES) * r.default_tables + sum(len(t.keywords) for t in r.keywords)
    hours = opening_hours(config)
    routed = [f"{t.name} <- {', '.join(t.tags)}" for t in config.teams if t.tags]
    return "\n".join([
        f"Rules from {config.source or 'built-in defaults'}: all compiled.",
        f"Keyword tables: {tables} ({keywords} keywords){' incl. the built-in ones' if r.default_tables else ''}",
        f"Routing: {'; '.join(routed) or 'no team takes tags'}; default team {r.default_team or 'none'}",
        f"Opening hours: {hours.describe() if hours else 'not set (no out-of-hours replies)'}",
        f"Out-of-hours acknowledgement: {'on' if r.autoreply.enabled and hours else 'off'}",
        f"Canned responses: {len(r.canned)}; privacy patterns: {len(r.private_patterns)} custom + built-in",
        f"Approvals: {len([a for a in config.agents if a.in_training])} agent(s) in training, "
        f"{len(r.approvals.risky_tags)} risky tag(s), {len(r.approvals.words)} word(s)",
        f"Alerts: {len(r.alerts.keywords)} keyword(s); spike at {r.alerts.spike_factor:g}x the baseline",
    ])
