"""`socialdesk rules test`: replay the current rules over stored mentions and say what would
change — tags, priorities, teams — before a rule goes live. Reads only."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from socialdesk.rules.engine import RuleSet
from socialdesk.rules.model import AuthorContext, Mention
from socialdesk.rules.priority import label
from socialdesk.store.models import Channel, Contact, Conversation, Message, Team, conversation_tags
from socialdesk.store.models import Tag as TagModel


@dataclass
class ReplayReport:
    mentions: int = 0
    tags_before: Counter = field(default_factory=Counter)
    tags_after: Counter = field(default_factory=Counter)
    priority_moves: Counter = field(default_factory=Counter)  # (before, after) label pairs
    teams_before: Counter = field(default_factory=Counter)
    teams_after: Counter = field(default_factory=Counter)
    noise_after: int = 0

    def lines(self) -> Iterator[str]:
        yield f"{self.mentions} conversations replayed (their first message)"
        yield "tags:"
        for tag in sorted(set(self.tags_before) | set(self.tags_after)):
            before, after = self.tags_before[tag], self.tags_after[tag]
            change = f"{after - before:+d}" if after != before else "="
            yield f"  {tag:<20} {before:>7} -> {after:>7}  {change}"
        yield "priority:"
        for (before, after), n in sorted(self.priority_moves.items()):
            yield f"  {before} -> {after}  {n}" + ("" if before == after else "  (moved)")
        yield "teams:"
        for team in sorted(set(self.teams_before) | set(self.teams_after), key=str):
            yield f"  {team or '(none)':<20} {self.teams_before[team]:>7} -> {self.teams_after[team]:>7}"
        yield f"noise: {self.noise_after} would be kept out of the queue"


def parse_since(text: str) -> timedelta:
    """'30d', '12h', '90m' or '2w'."""
    units = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise ValueError(f"expected a span like 30d, 12h, 90m or 2w, got {text!r}")
    return timedelta(**{units[text[-1]]: int(text[:-1])})


def _first_inbound():
    """Each conversation's first customer message: what its tags and priority came from."""
    first = aliased(Message)
    return (Message.direction == "in") & (Message.id == select(first.id).where(
        first.conversation_id == Conversation.id, first.direction == "in").order_by(first.id).limit(1)
        .correlate(Conversation).scalar_subquery())


def replay(sessions: sessionmaker[Session], rules: RuleSet, *, since: timedelta, now: datetime,
           batch: int = 2000) -> ReplayReport:
    report = ReplayReport()
    recent = Message.published_at >= now - since
    with sessions() as s:
        teams = dict(s.execute(select(Team.id, Team.name)).all())
        report.tags_before.update(dict(s.execute(
            select(TagModel.name, func.count())
            .join(conversation_tags, conversation_tags.c.tag_id == TagModel.id)
            .join(Conversation, Conversation.id == conversation_tags.c.conversation_id)
            .join(Message, Message.conversation_id == Conversation.id)
            .where(_first_inbound(), recent).group_by(TagModel.name)).all()))
        rows = s.execute(
            select(Message, Contact, Channel.name, Channel.kind, Conversation.priority, Conversation.team_id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .join(Contact, Contact.id == Message.author_contact_id)
            .join(Channel, Channel.id == Message.channel_id)
            .where(_first_inbound(), recent).execution_options(yield_per=batch))
        for message, contact, channel, kind, priority, team_id in rows:
            mention = Mention(text=message.text, channel=channel, channel_kind=kind, kind=message.kind,
                              visibility=message.visibility, author_id=contact.platform_user_id,
                              author_handle=contact.handle, published_at=message.published_at,
                              followers=contact.followers, verified=contact.verified, bot=contact.bot,
                              is_repost=message.is_repost, likes=message.likes, reposts=message.reposts,
                              replies=message.replies, language=message.language, location=contact.location)
            # Judged as of its arrival, without the author's history (the replay reads no more).
            verdict = rules.evaluate(mention, AuthorContext(), message.published_at)
            report.mentions += 1
            report.tags_after.update(verdict.tags)
            report.priority_moves[(label(priority), label(verdict.priority))] += 1
            report.teams_before[teams.get(team_id)] += 1
            report.teams_after[verdict.team] += 1
            report.noise_after += verdict.noise
    return report
