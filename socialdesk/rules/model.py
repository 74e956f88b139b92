"""What the rules see and say: plain frozen dataclasses. The rules never do I/O; the services
hand them a Mention (and what the store knows of its author) and store what they answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Mention:
    """An inbound message as the rules see it."""

    text: str
    channel: str
    channel_kind: str
    kind: str  # mention | comment | reply | dm | email
    visibility: str  # public | private
    author_id: str
    author_handle: str
    published_at: datetime
    followers: int = 0
    verified: bool = False
    bot: bool = False
    is_repost: bool = False
    likes: int = 0
    reposts: int = 0
    replies: int = 0
    language: str | None = None  # the platform's own tag, if any
    location: str | None = None  # the author's profile location, if any
    auto_generated: bool = False  # e.g. email with Auto-Submitted / Precedence: bulk


@dataclass(frozen=True, slots=True)
class AuthorContext:
    """What the store knows about the author when the mention arrives."""

    key_customer: bool = False
    last_contact_at: datetime | None = None  # their previous message to the brand, any channel
    recent_texts: tuple[str, ...] = ()  # their last few messages' texts, newest first (duplicates)
    acknowledged_at: datetime | None = None  # last automated acknowledgement sent to them


class Reason(NamedTuple):
    """One part of a priority score, shown to the agent ("why is this P1?"). A NamedTuple, as
    Verdict: built for every mention, they cost a fraction of a frozen dataclass."""

    label: str  # e.g. "keyword 'refund' +20", "influencer: 120k followers +25"
    points: int


class Verdict(NamedTuple):
    """Everything the rules decide about one inbound message at ingest."""

    tags: tuple[str, ...] = ()
    noise: bool = False
    noise_reason: str | None = None
    priority: int = 0  # 0..100: P1 >= 75, P2 >= 50, P3 >= 25, else P4
    reasons: tuple[Reason, ...] = ()
    team: str | None = None
    sentiment: int | None = None  # 1 (very negative) .. 10 (very positive); None: not scored
    language: str | None = None
    region: str | None = None
    sensitive: tuple[str, ...] = ()  # kinds of private data found in a public post
    alerts: tuple[str, ...] = ()
    signature: bytes | None = None  # MinHash of the words, for incident clusters (rules.clusters)
