"""Replies as commands: the checks every reply passes before it is queued (the channel's routes
and windows, its length, the privacy guard, approvals), for one reply an agent wrote or a holding
reply from a canned response to many conversations; and approving held replies."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from socialdesk.adapters.base import Capabilities
from socialdesk.rules.canned import Rendered, case_reference
from socialdesk.rules.length import count
from socialdesk.store.views import ConversationDetail, MessageView

from .actor import Actor, Refused

if TYPE_CHECKING:  # the rule set comes from the runtime; a screen-only process never loads it
    from socialdesk.rules.engine import RuleSet

HOLDING_REPLY_LIMIT = 1000


class ReplyRejected(Refused):
    """The reply cannot be queued as written; the message says why and what to do.
    `go_private`: sending it privately instead would be fine (the privacy guard's offer)."""

    def __init__(self, message: str, *, go_private: bool = False):
        super().__init__(message)
        self.go_private = go_private


@dataclass(frozen=True)
class Reply:
    text: str
    visibility: str = "public"
    verb = "answered"


@dataclass(frozen=True)
class HoldingReply:
    """The same canned response to every selected conversation, filled in for each customer."""

    canned: str
    verb = "sent a holding reply to"


@dataclass(frozen=True)
class Approve:
    verb = "approved the held replies of"


@dataclass(frozen=True)
class ChannelLimits:
    """What a channel takes: its reply length (the config's override, else the platform's), how
    it is counted, and the routes and windows its adapter declares."""

    max_length: int
    counting: str = "chars"  # chars | weighted | utf16 | bytes | graphemes
    capabilities: Capabilities | None = field(default=None, compare=False)

    def longest(self, visibility: str) -> int:
        private = self.capabilities.private_max_length if self.capabilities else None
        return private if visibility == "private" and private else self.max_length


def _span(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.0f} days" if hours >= 48 else f"{hours:.0f} hours"


def route_problem(channel: str, caps: Capabilities, visibility: str, answered_kind: str,
                  answered_at: datetime, now: datetime) -> str | None:
    """Why `channel` cannot take this reply (the route it lacks, a window that has closed), or
    None. From the adapter's declared capabilities: no platform is named here."""
    public_message = answered_kind in ("mention", "comment", "reply")
    age = now - answered_at
    if visibility == "public":
        if not caps.public_reply or not public_message:
            return f"{channel} has no public reply to this message: press ctrl+t to answer privately."
        return None
    if public_message:
        if not caps.private_reply:
            return f"{channel} cannot answer a public message privately: press ctrl+t to answer in public."
        if caps.private_reply_window and age > caps.private_reply_window:
            return (f"{channel} allows a private reply to a public message only within "
                    f"{_span(caps.private_reply_window)} of it; this one is {_span(age)} old. Answer in public "
                    "(ctrl+t), and invite the customer to write privately.")
        return None
    if caps.dm_window and age > caps.dm_window:
        return (f"{channel} lets the brand write privately only within {_span(caps.dm_window)} of the customer's "
                f"last message; theirs was {_span(age)} ago. Wait for them to write again, or reach them "
                "on another channel.")
    return None


@dataclass
class ReplyRules:
    """Everything a reply is checked against: the channels' limits and the rule set."""

    limits: dict[str, ChannelLimits]
    rules: RuleSet | None = None
    variables: dict[str, str] = field(default_factory=dict)  # brand, opening_hours, response_window

    def max_length(self, channel: str, visibility: str = "public") -> int | None:
        limit = self.limits.get(channel)
        return limit.longest(visibility) if limit else None

    def count(self, channel: str, text: str) -> int:
        limit = self.limits.get(channel)
        return count(text, limit.counting if limit else "chars")

    def check(self, detail: ConversationDetail, text: str, visibility: str, actor: Actor) -> str | None:
        """Raise ReplyRejected if the reply may not be queued; else the approval reason, if any."""
        text = text.strip()
        if not text:
            raise ReplyRejected("The reply is empty: write something first.")
        answered = answered_message(detail)
        channel = answered.channel if answered else detail.contact.channel
        caps = self.limits[channel].capabilities if channel in self.limits else None
        if caps is not None and answered is not None:
            problem = route_problem(channel, caps, visibility, answered.kind, answered.published_at, datetime.now(UTC))
            if problem:
                raise ReplyRejected(problem)
        limit = self.max_length(channel, visibility)
        if limit and self.count(channel, text) > limit:
            raise ReplyRejected(f"The reply is {self.count(channel, text)} long; {channel} allows {limit}"
                                f"{' in private' if visibility == 'private' else ''}. Shorten it.")
        if self.rules is None:
            return None
        problem = self.rules.reply_problem(text, visibility)
        if problem:
            raise ReplyRejected(problem, go_private=True)
        return self.rules.approval_reason(agent=actor.name, text=text, tags=detail.tags)

    def render(self, name: str, detail: ConversationDetail, agent: str) -> Rendered:
        if self.rules is None:
            raise Refused("No canned responses are configured: add some under [[rules.canned]].")
        limit = self.limits.get(detail.contact.channel)
        variables = {**self.variables, "customer_name": detail.contact.display_name or detail.contact.handle,
                     "customer_handle": detail.contact.handle, "agent_name": agent,
                     "case_ref": case_reference(detail.id)}
        try:
            return self.rules.canned.render(name, variables, length_method=limit.counting if limit else "chars",
                                            max_length=limit.max_length if limit else None)
        except KeyError:
            known = ", ".join(t.name for t in self.rules.canned.choices(channel_kind=detail.channel_kind,
                                                                         language=None))
            raise Refused(f"No canned response {name!r}. Canned responses: {known or 'none'}.") from None


def answered_message(detail: ConversationDetail) -> MessageView | None:
    """The customer's latest message: the one a reply answers."""
    return next((m for m in reversed(detail.messages) if m.direction == "in"), None)
