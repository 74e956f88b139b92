"""Ingest: adapter page → normalise → rules → one store transaction.

`prepare` reads what the rules need to know of the page's authors and applies the rules;
`store` writes the page with its cursor. The poller runs `prepare` a page ahead of `store`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import orjson
from sqlalchemy.orm import Session, sessionmaker

from socialdesk.adapters.base import Inbound, Page
from socialdesk.rules.canned import find_case_reference
from socialdesk.rules.csat import parse_score
from socialdesk.rules.clusters import ClusterIndex, Placement
from socialdesk.rules.engine import RuleSet
from socialdesk.rules.hours import acknowledgement_text, should_acknowledge
from socialdesk.rules.model import AuthorContext, Mention, Verdict
from socialdesk.rules.routing import AgentState, assign_batch
from socialdesk.store import queries
from socialdesk.store.ingest import IngestItem, IngestResult, write_batch
from socialdesk.store.models import utcnow
from socialdesk.text import clean_text

from .rules import AutoReply

log = logging.getLogger(__name__)
RECENT = 5  # texts remembered per author for the duplicate check


@dataclass(frozen=True, slots=True)
class Prepared:
    """A page normalised and classified, ready for one store transaction."""

    items: list[IngestItem]
    cursor: str | None
    skipped: int
    deleted: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChannelRef:
    id: int
    name: str
    kind: str


def mention_of(message: Inbound, channel: ChannelRef, text: str) -> Mention:
    author = message.author
    return Mention(text=text, channel=channel.name, channel_kind=channel.kind, kind=message.kind,
                   visibility=message.visibility, author_id=author.platform_id, author_handle=author.handle,
                   published_at=message.published_at, followers=author.followers, verified=author.verified,
                   bot=author.bot, is_repost=message.is_repost, likes=message.likes, reposts=message.reposts,
                   replies=message.replies, language=message.language, location=author.location,
                   auto_generated=message.auto_generated)


def to_item(message: Inbound, text: str, verdict: Verdict, *, sla_minutes: int, recent: tuple[str, ...],
            acknowledgement: str | None) -> IngestItem:
    author = message.author
    return IngestItem(
        platform_id=message.platform_id, kind=message.kind, visibility=message.visibility, text=text,
        published_at=message.published_at, author_id=author.platform_id, author_handle=clean_text(author.handle),
        author_name=clean_text(author.display_name), followers=author.followers, verified=author.verified,
        bot=author.bot, location=clean_text(author.location) if author.location else None,
        in_reply_to=message.in_reply_to, language=verdict.language, url=message.url, likes=message.likes,
        reposts=message.reposts, replies=message.replies, is_repost=message.is_repost,
        raw=orjson.dumps(message.raw, default=str).decode() if message.raw else None,
        priority=verdict.priority, tags=verdict.tags, status="closed" if verdict.noise else "new",
        sla_minutes=None if verdict.noise else sla_minutes,
        reasons=tuple((r.label, r.points) for r in verdict.reasons), team=verdict.team,
        sentiment=verdict.sentiment, region=verdict.region, sensitive=verdict.sensitive, alerts=verdict.alerts,
        author_recent=orjson.dumps(recent).decode(), acknowledgement=acknowledgement, reply_ref=message.reply_ref,
        edited_at=message.edited_at, signature=verdict.signature,
        case_id=find_case_reference(text[:400]) if message.kind == "email" else None,
        score=parse_score(answer_of(text, message.kind)))


def answer_of(text: str, kind: str) -> str:
    """What the customer wrote, without an email's "Subject: …" first line (see adapters.email_parse)."""
    if kind == "email" and text.startswith("Subject:"):
        return text.partition("\n\n")[2]
    return text


class Ingestor:
    def __init__(self, sessions: sessionmaker[Session], rules: RuleSet, channel: ChannelRef, *,
                 sla_minutes: int = 60, autoreply: AutoReply | None = None,
                 clock: Callable[[], datetime] = utcnow, clusters: ClusterIndex | None = None,
                 reopen_within: timedelta | None = None):
        self.sessions, self.rules, self.channel = sessions, rules, channel
        self.reopen_within = reopen_within  # None: a customer's message always reopens
        self.sla_minutes, self.autoreply, self.clock = sla_minutes, autoreply, clock
        self.clusters = clusters

    def prepare(self, page: Page) -> Prepared:
        """Clean, classify and route a page (reads only; safe to run ahead in another thread)."""
        for skipped in page.skipped:
            log.info("channel %s: skipped %s: %s", self.channel.name, skipped.item_id, skipped.reason)
        authors = {m.author.platform_id for m in page.messages}
        with self.sessions() as s:
            memory = queries.author_memory(s, self.channel.id, authors)
            agents = queries.agent_loads(s) if self.rules.teams else []
        contexts = {pid: AuthorContext(key_customer=m.key_customer, last_contact_at=m.last_message_at,
                                       recent_texts=m.recent, acknowledged_at=m.acknowledged_at)
                    for pid, m in memory.items()}
        now = self.clock()
        items = []
        for message in page.messages:
            text = clean_text(message.text)
            pid = message.author.platform_id
            ctx = contexts.get(pid, AuthorContext())
            mention = mention_of(message, self.channel, text)
            verdict = self.rules.evaluate(mention, ctx, now)
            ack = None
            if self.autoreply and should_acknowledge(mention, ctx, verdict_noise=verdict.noise,
                                                     hours=self.autoreply.hours, now=now):
                ack = acknowledgement_text(self.autoreply.template,
                                           name=message.author.display_name or message.author.handle,
                                           hours=self.autoreply.hours,
                                           response_window=self.autoreply.response_window, now=now)
            recent = ((text[:200],) + ctx.recent_texts)[:RECENT]
            contexts[pid] = replace(ctx, last_contact_at=message.published_at, recent_texts=recent,
                                    acknowledged_at=now if ack else ctx.acknowledged_at)
            items.append(to_item(message, text, verdict, sla_minutes=self.sla_minutes, recent=recent,
                                 acknowledgement=ack))
        if agents:
            items = self._route(items, agents)
        return Prepared(items, page.cursor, len(page.skipped), tuple(page.deleted))

    def _route(self, items: list[IngestItem], agents) -> list[IngestItem]:
        states = [AgentState(name=a.name, teams=a.teams, skills=a.skills, status=a.status, load=a.load, cap=a.cap)
                  for a in agents]
        wanted = [i for i, it in enumerate(items) if it.team and it.status != "closed"]
        routes = assign_batch([items[i].tags for i in wanted], teams=self.rules.teams, agents=states,
                              default_team=self.rules.default_team)
        for i, route in zip(wanted, routes):
            items[i] = replace(items[i], team=route.team, assignee=route.agent)
        return items

    def store(self, prepared: Prepared, stream: str = "mentions") -> IngestResult:
        """One transaction with the page's cursor."""
        cursor = (stream, prepared.cursor) if prepared.cursor is not None else None
        placed: list[Placement] = []

        def place(new: list[tuple[int, bytes, datetime]]) -> list[tuple[int, int, datetime, datetime]]:
            placed.extend(self.clusters.place(new))
            return [(p.conversation_id, p.cluster_id, p.at, p.head_at) for p in placed if p.joined]

        try:
            with self.sessions.begin() as session:
                return write_batch(session, self.channel.id, prepared.items, cursor=cursor,
                                   deleted=list(prepared.deleted), place=place if self.clusters is not None else None,
                                   reopen_within=self.reopen_within)
        except BaseException:
            if placed:  # those conversations were never stored
                self.clusters.forget({p.conversation_id for p in placed})
            raise

    def ingest_page(self, page: Page, stream: str = "mentions") -> IngestResult:
        return self.store(self.prepare(page), stream)
