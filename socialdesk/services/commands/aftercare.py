"""What goes out besides an agent's own answers, queued like any reply and checked the same way.

On a move to private, the **public note** ([desk] move_note) tells the public thread where the
talk went ("We've sent you a DM"). After a resolution ([resolve]):

- the **public close-out**: a conversation that began in public and moved to a private route gets a
  short public reply on the original post (the canned `closeout`), so the thread in public ends
  answered; at most once per conversation;
- the **satisfaction survey**: the canned `survey` asks for a 1–10 score on the route the
  customer last wrote on; never twice (a conditional update marks it asked in the same
  transaction that queues it). The answer is read back by ingest (store.placement).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from socialdesk.store import commands, queries
from socialdesk.store.views import ConversationDetail

from .actions import DeskSettings
from .actor import Actor, Refused
from .replies import ReplyRejected, ReplyRules
from .routes import PUBLIC_KINDS, ReplyRoute, default_route, on_channel

LIMIT = 1000  # a bulk resolution beyond this sends neither (say so rather than flood the outbox)


@dataclass
class Aftercare:
    outbox_ids: list[int] = field(default_factory=list)
    queued: dict[str, int] = field(default_factory=dict)  # purpose -> how many
    held: dict[str, int] = field(default_factory=dict)  # why one was not sent -> how many

    def summary(self) -> str:
        """" Public close-out queued. Satisfaction survey not sent (1): …" (empty when nothing)."""
        names = {"closeout": "public close-out", "csat": "satisfaction survey"}
        parts = [(f"{n:,} {names[p]}s" if n > 1 else names[p].capitalize()) + " queued."
                 for p, n in self.queued.items()]
        parts += [f"Not sent to {n:,}: {why}" if n > 1 else f"Not sent: {why}" for why, n in self.held.items()]
        return "".join(" " + part for part in parts)


def moved_private(detail: ConversationDetail) -> bool:
    """It began with a public post and we have written to the customer privately since."""
    public = any(m.direction == "in" and m.kind in PUBLIC_KINDS for m in detail.messages)
    private = any(m.direction == "out" and m.visibility == "private" for m in detail.messages) or any(
        o.visibility == "private" and o.state != "cancelled" for o in detail.outbox)
    return public and private


def public_route(detail: ConversationDetail, replies: ReplyRules, now: datetime, *, first: bool = False) -> ReplyRoute:
    """A public reply to the customer's latest public message (or to the original post: `first`)."""
    public = [m for m in detail.messages if m.direction == "in" and m.kind in PUBLIC_KINDS]
    if not public:
        raise Refused("There is no public post here to answer in public.")
    answered = public[0] if first else public[-1]
    limit = replies.limits.get(answered.channel)
    return on_channel(detail, answered.channel, answered, limit.capabilities if limit else None, "public", now)


def public_note(detail: ConversationDetail, replies: ReplyRules, settings: DeskSettings,
                actor: Actor) -> tuple[str, ReplyRoute, str | None]:
    """The note on a move to private, checked: its text, route and approval reason (if any)."""
    if not settings.move_note:
        raise Refused("No public note is set up: name a canned response as move_note under [desk].")
    text = replies.render(settings.move_note, detail, actor.name).text
    route = public_route(detail, replies, datetime.now(UTC))
    return text, route, replies.check(detail, text, route, actor)


def closeout_route(detail: ConversationDetail, replies: ReplyRules, now: datetime) -> ReplyRoute:
    """A public reply to the original post: the customer's first public message."""
    return public_route(detail, replies, now, first=True)


def survey_route(detail: ConversationDetail, replies: ReplyRules, now: datetime) -> ReplyRoute:
    """Where the customer last wrote, as they wrote (an email thread, a DM, a public reply)."""
    last = next((m for m in reversed(detail.messages) if m.direction == "in"), None)
    return default_route(detail, replies.limits, last.visibility if last else "public", now)


Step = tuple[str, str, Callable[[ConversationDetail, ReplyRules, datetime], ReplyRoute]]


def steps(detail: ConversationDetail, settings: DeskSettings) -> list[Step]:
    wanted: list[Step] = []
    if settings.closeout and moved_private(detail) and not any(o.purpose == "closeout" for o in detail.outbox):
        wanted.append(("closeout", settings.closeout, closeout_route))
    if settings.survey and detail.csat_asked_at is None:
        wanted.append(("csat", settings.survey, survey_route))
    return wanted


def after_resolution(sessions: sessionmaker[Session], replies: ReplyRules, settings: DeskSettings, actor: Actor,
                     ids: Iterable[int]) -> Aftercare:
    done = Aftercare()
    ids = list(ids)
    if not (settings.closeout or settings.survey) or not ids:
        return done
    if len(ids) > LIMIT:
        done.held[f"more than {LIMIT:,} resolved at once"] = len(ids)
        return done
    now = datetime.now(UTC)
    for cid in ids:
        with sessions() as s:
            detail = queries.conversation_detail(s, cid)
        if detail is None or detail.status != "resolved":
            continue
        for purpose, canned, route_of in steps(detail, settings):
            try:
                text = replies.render(canned, detail, actor.name).text
                route = route_of(detail, replies, now)
                approval = replies.check(detail, text, route, actor)
            except (ReplyRejected, Refused) as refused:
                done.held[str(refused)] = done.held.get(str(refused), 0) + 1
                continue
            with sessions.begin() as s:
                if purpose == "csat" and not commands.mark_survey(s, cid):
                    continue
                entry = commands.queue_reply(s, cid, text, route.outbound(), actor=actor.name,
                                             approval_reason=approval, purpose=purpose)
            done.outbox_ids.append(entry.id)
            done.queued[purpose] = done.queued.get(purpose, 0) + 1
    return done
