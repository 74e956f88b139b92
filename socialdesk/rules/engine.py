"""The rule set: every rule compiled once, applied to one mention at a time. Pure: the caller
gives the mention, what the store knows of its author and the time; it gets a Verdict."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from .alerts import AlertPolicy, mention_alerts
from .approvals import ApprovalPolicy, needs_approval
from .canned import CannedResponses
from .clusters import signature
from .fold import fold
from .hours import OpeningHours
from .keywords import KeywordMatcher, KeywordTable
from .language import LanguageGuesser, region
from .model import AuthorContext, Mention, Reason, Verdict
from .noise import SpamPatterns, noise_reason
from .priority import PrioritySettings, score
from .privacy import PrivacyGuard
from .routing import TeamRule
from .sentiment import Sentiment


def _add(tags: list[str], tag: str) -> None:
    if tag not in tags:
        tags.append(tag)


def _handle(handle: str) -> str:
    return handle.lower().lstrip("@").split("@")[0]


@dataclass(frozen=True)
class RuleSet:
    keywords: KeywordMatcher
    spam: SpamPatterns
    privacy: PrivacyGuard
    priority: PrioritySettings = PrioritySettings()
    brand_handles: frozenset[str] = frozenset()
    key_customers: frozenset[str] = frozenset()
    teams: tuple[TeamRule, ...] = ()
    default_team: str | None = None
    language: LanguageGuesser | None = None
    sentiment: Sentiment | None = None
    clusters: bool = True  # sign each mention for incident clusters (rules.clusters)
    hours: OpeningHours | None = None
    canned: CannedResponses = field(default_factory=lambda: CannedResponses.compile([]))
    approvals: ApprovalPolicy = ApprovalPolicy()
    alerts: AlertPolicy = AlertPolicy()

    @classmethod
    def build(cls, *, tables: Sequence[KeywordTable], spam_patterns: dict[str, str] | None = None,
              private_patterns: dict[str, str] | None = None, allowed_in_public: Sequence[str] = (),
              brand_handles: Sequence[str] = (), key_customers: Sequence[str] = (), **rest) -> RuleSet:
        return cls(keywords=KeywordMatcher.compile(tables), spam=SpamPatterns.compile(spam_patterns or {}),
                   privacy=PrivacyGuard.compile(private_patterns or {}, allow=tuple(allowed_in_public)),
                   brand_handles=frozenset(_handle(h) for h in brand_handles),
                   key_customers=frozenset(_handle(h) for h in key_customers), **rest)

    def is_key_customer(self, m: Mention, ctx: AuthorContext) -> bool:
        return ctx.key_customer or _handle(m.author_handle) in self.key_customers

    def evaluate(self, m: Mention, ctx: AuthorContext, now: datetime, *, with_sentiment: bool = True) -> Verdict:
        if not ctx.key_customer and self.key_customers and self.is_key_customer(m, ctx):
            ctx = replace(ctx, key_customer=True)
        folded = fold(m.text)  # once, for the keyword tables and the noise filters
        hits = self.keywords.match_folded(folded)
        tags: list[str] = []
        team = None
        noise_hit = None
        for hit in hits:
            if hit.tag not in tags:
                tags.append(hit.tag)
            team = team or hit.team
            if hit.tag == "noise" and noise_hit is None:
                noise_hit = hit.keyword
        noise = noise_reason(m, ctx, brand_handles=self.brand_handles, spam=self.spam, folded=folded)
        if noise is None and noise_hit is not None:
            noise = f"noise keyword '{noise_hit}'"
        language = self.language.detect(m.text, m.language) if self.language else m.language
        sentiment = None
        if with_sentiment and self.sentiment is not None and noise is None:
            sentiment = self.sentiment.score(m.text, language)
        findings = self.privacy.scan(m.text) if m.visibility == "public" else ()
        sensitive = tuple(dict.fromkeys(f.kind for f in findings)) if findings else ()
        if noise is not None:
            _add(tags, "noise")
            priority, reasons = 0, (Reason(f"noise: {noise}", 0),)
        else:
            weights = self._keyword_weights(hits) if hits else ()
            priority, reasons = score(m, ctx, keyword_weights=weights, sentiment=sentiment, now=now,
                                      settings=self.priority)
            if m.followers >= self.priority.influencer_followers:
                _add(tags, "influencer")
            if ctx.key_customer:
                _add(tags, "key-customer")
        if sensitive:
            _add(tags, "sensitive")
        team = team or self._team_for(tags)
        alerts = () if noise else tuple(a.message for a in mention_alerts(m, ctx, policy=self.alerts, now=now))
        return Verdict(tags=tuple(tags), noise=noise is not None, noise_reason=noise, priority=priority,
                       reasons=reasons, team=team, sentiment=sentiment, language=language,
                       region=region(m.location, language), sensitive=sensitive, alerts=alerts,
                       signature=signature(folded) if self.clusters and not noise else None)

    @staticmethod
    def _keyword_weights(hits) -> list[tuple[str, int]]:
        """A table is one topic: its strongest hit counts, once ("charged" and "charged twice"
        in one post do not add up)."""
        best: dict[str, object] = {}
        for hit in hits:
            if hit.weight and (hit.table not in best or abs(hit.weight) > abs(best[hit.table].weight)):
                best[hit.table] = hit
        return [(f"keyword '{hit.keyword}'", hit.weight) for hit in best.values()]

    def _team_for(self, tags: Sequence[str]) -> str | None:
        if not tags:
            return self.default_team
        for team in self.teams:
            if any(tag in team.tags for tag in tags):
                return team.name
        return self.default_team

    def reply_problem(self, text: str, visibility: str) -> str | None:
        """Why a reply may not go out as written (the privacy guard), or None."""
        return self.privacy.public_reply_problem(text) if visibility == "public" else None

    def approval_reason(self, *, agent: str, text: str, tags: Sequence[str]) -> str | None:
        return needs_approval(agent=agent, text=text, tags=tags, policy=self.approvals)
