"""Replies as commands: the checks every reply passes before it is queued (the channel's routes
and windows, its length, the privacy guard, approvals), for one reply an agent wrote or a holding
reply from a canned response to many conversations; and approving held replies."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from socialdesk.rules.canned import Rendered, case_reference
from socialdesk.rules.length import count
from socialdesk.store.views import ConversationDetail

from .actor import Actor, Refused
from .routes import ChannelLimits, ReplyRoute, default_route

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
    """A reply an agent wrote, on `route` (else the default route of `visibility`)."""

    text: str
    visibility: str = "public"
    route: ReplyRoute | None = None
    public_note: bool = False  # a private reply: also tell the public thread ([desk] move_note)
    verb = "answered"


@dataclass(frozen=True)
class HoldingReply:
    """The same canned response to every selected conversation, filled in for each customer."""

    canned: str
    verb = "sent a holding reply to"


@dataclass(frozen=True)
class Approve:
    verb = "approved the held replies of"


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

    def route(self, detail: ConversationDetail, visibility: str) -> ReplyRoute:
        """The default route: the customer's latest message, publicly or privately."""
        return default_route(detail, self.limits, visibility, datetime.now(UTC))

    def check(self, detail: ConversationDetail, text: str, route: ReplyRoute, actor: Actor) -> str | None:
        """Raise ReplyRejected if the reply may not be queued on `route`; else the approval
        reason, if any."""
        text = text.strip()
        if not text:
            raise ReplyRejected("The reply is empty: write something first.")
        if route.problem:
            raise ReplyRejected(route.problem)
        channel, visibility = route.channel, route.visibility
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


