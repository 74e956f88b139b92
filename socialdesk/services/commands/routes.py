"""A reply route, decided once: which channel, which message it answers, public or private, and
what kind (a public reply, a DM, Meta's private reply to a comment, an email). The length counter,
the canned rendering, the privacy guard, the approval and the send all read the same route, and
the store records it as it is (store.views.OutboundRoute).

The routes a conversation offers come from its channels' declared capabilities and windows: no
platform is named here."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from socialdesk.adapters.base import Capabilities
from socialdesk.rules.canned import case_reference
from socialdesk.store.views import ConversationDetail, MessageView, OutboundRoute

from .actor import Refused

PUBLIC_KINDS = ("mention", "comment", "reply")
_ADDRESS = re.compile(r"[^@\s<>(),;:\"\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+")


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


@dataclass(frozen=True)
class ReplyRoute:
    kind: str  # reply | dm | private_reply | email
    channel: str
    visibility: str  # public | private
    answered: MessageView | None = None  # None: a message that starts a thread (an email)
    address: str | None = None  # an email's recipient
    subject: str | None = None  # a new email thread's subject
    problem: str | None = None  # why it cannot be taken now (the route is shown, not offered)

    @property
    def label(self) -> str:
        if self.kind == "email":
            return f"email to {self.address} ({self.channel})"
        names = {"reply": "public reply", "dm": "direct message", "private_reply": "private reply to the comment"}
        who = f" to @{self.answered.author_handle}" if self.answered and self.kind != "reply" else ""
        return f"{names.get(self.kind, self.kind)}{who} on {self.channel}"

    def outbound(self) -> OutboundRoute:
        """The route as the store records it."""
        if self.answered is None:
            return OutboundRoute(self.channel, self.visibility, self.kind, None, self.address,
                                 json.dumps({"subject": self.subject or ""}, ensure_ascii=False))
        return OutboundRoute(self.channel, self.visibility, self.kind, self.answered.platform_id,
                             self.address or self.answered.author_handle)


def _span(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.0f} days" if hours >= 48 else f"{hours:.0f} hours"


def route_problem(channel: str, caps: Capabilities, visibility: str, answered_kind: str,
                  answered_at: datetime, now: datetime, *, private_reply_used: bool = False,
                  wrote_privately: bool = True) -> str | None:
    """Why `channel` cannot take this reply (the route it lacks, a window that has closed, a
    private reply already used, a private chat the customer never opened), or None. From the
    adapter's declared capabilities: no platform is named here."""
    public_message = answered_kind in PUBLIC_KINDS
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
        if caps.private_kind == "private_reply" and private_reply_used:
            return (f"{channel} allows one private reply per comment, and this one has had it. Wait for the "
                    "customer's answer: it opens a private conversation you can go on in.")
        if caps.private_needs_invite and not wrote_privately:
            return (f"On {channel} the customer has to write to you privately first. Answer in public (ctrl+t) "
                    "and invite them to message you, or reach them by email.")
        return None
    if caps.dm_window and age > caps.dm_window:
        return (f"{channel} lets the brand write privately only within {_span(caps.dm_window)} of the customer's "
                f"last message; theirs was {_span(age)} ago. Wait for them to write again, or reach them "
                "on another channel.")
    return None


def latest_inbound(detail: ConversationDetail, *, public_only: bool = False) -> dict[str, MessageView]:
    """The customer's latest message (or latest public one) on each channel of the conversation."""
    latest: dict[str, MessageView] = {}
    for message in detail.messages:
        if message.direction == "in" and (not public_only or message.kind in PUBLIC_KINDS):
            latest[message.channel] = message
    return latest


def on_channel(detail: ConversationDetail, channel: str, answered: MessageView, caps: Capabilities | None,
               visibility: str, now: datetime) -> ReplyRoute:
    """The route of a reply to `answered` on its channel, with why it cannot be taken now, if so."""
    if caps is not None and caps.email and visibility == "private":
        return ReplyRoute("email", channel, "private", answered, answered.author_handle)
    kind = "reply" if visibility == "public" else (
        caps.private_kind if caps and answered.kind in PUBLIC_KINDS else "dm")
    problem = None
    if caps is not None:
        used = any(o.kind == "private_reply" and o.in_reply_to == answered.platform_id
                   and o.state not in ("cancelled", "failed") for o in detail.outbox)
        wrote = any(m.direction == "in" and m.channel == channel and m.visibility == "private" for m in detail.messages) \
            or (detail.contact.channel == channel and detail.contact.wrote_privately)
        problem = route_problem(channel, caps, visibility, answered.kind, answered.published_at, now,
                                private_reply_used=used, wrote_privately=wrote)
    return ReplyRoute(kind, channel, visibility, answered, problem=problem)


def default_route(detail: ConversationDetail, limits: dict[str, ChannelLimits], visibility: str,
                  now: datetime) -> ReplyRoute:
    """The route of a reply to the customer's latest message, publicly or privately (ctrl+t)."""
    answered = next((m for m in reversed(detail.messages) if m.direction == "in"), None)
    if answered is None:
        raise Refused("There is no message from the customer to answer here.")
    limit = limits.get(answered.channel)
    return on_channel(detail, answered.channel, answered, limit.capabilities if limit else None, visibility, now)


def routes_for(detail: ConversationDetail, limits: dict[str, ChannelLimits], now: datetime, *,
               brand: str = "", addresses: tuple[str, ...] = ()) -> list[ReplyRoute]:
    """Every route the conversation offers: per channel the customer wrote on, a public reply
    and the private route; and an email to each known address. Those not possible now carry
    their `problem`."""
    found: list[ReplyRoute] = []
    public = latest_inbound(detail, public_only=True)
    for channel, answered in latest_inbound(detail).items():
        limit = limits.get(channel)
        caps = limit.capabilities if limit else None
        if caps is not None and caps.email:
            found.append(on_channel(detail, channel, answered, caps, "private", now))
            continue
        if channel in public:  # in public, the latest public post (the close-out after a private talk)
            found.append(on_channel(detail, channel, public[channel], caps, "public", now))
        if caps is None or caps.private_reply or caps.dm:
            found.append(on_channel(detail, channel, answered, caps, "private", now))
    for address in addresses:
        found.append(email_route(detail, limits, address, brand=brand))
    return found


def email_route(detail: ConversationDetail, limits: dict[str, ChannelLimits], typed: str, *,
                brand: str = "") -> ReplyRoute:
    """An email to `typed` (checked: see `real_address`) through the team's email channel: in the
    conversation's email thread with that address if there is one, else a new thread whose
    subject carries the case reference."""
    address = real_address(typed)
    channel = next((name for name, limit in limits.items() if limit.capabilities and limit.capabilities.email), None)
    if channel is None:
        return ReplyRoute("email", "email", "private", None, address,
                          problem="No email channel is configured: add one under [[channels]] (kind = \"email\").")
    thread = next((m for m in reversed(detail.messages) if m.direction == "in" and m.channel == channel
                   and m.author_handle.lower() == address.lower()), None)
    if thread is not None:
        return ReplyRoute("email", channel, "private", thread, address)
    subject = f"Your message to {brand or 'us'} [{case_reference(detail.id)}]"
    return ReplyRoute("email", channel, "private", None, address, subject)


def real_address(typed: str) -> str:
    """The address an email goes to, from what an agent typed or a customer's header: the one in
    angle brackets when there are brackets (`alice@x.com <bob@y.com>` is bob), else the text
    itself. Refused when it is not one plain address."""
    bracketed = re.findall(r"<([^<>]*)>", typed)
    address = bracketed[-1].strip() if len(bracketed) == 1 else "" if bracketed else typed.strip()
    if not _ADDRESS.fullmatch(address):
        raise Refused(f"{typed.strip()!r} is not an email address (write one like name@example.com).")
    return address
