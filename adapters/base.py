"""What every channel adapter speaks: plain dataclasses in, plain dataclasses out.

An adapter turns one platform's payloads into `Inbound` messages and sends `Outbound` ones. It
knows nothing of the store, the rules or the UI; the ingest and outbox services join them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal, Protocol

Visibility = Literal["public", "private"]
Kind = Literal["mention", "comment", "reply", "dm", "email"]


@dataclass(frozen=True, slots=True)
class Contact:
    """A person as one platform knows them."""

    platform_id: str
    handle: str
    display_name: str = ""
    followers: int = 0
    verified: bool = False
    bot: bool = False
    location: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Inbound:
    """One normalised message from a customer (or about the brand)."""

    platform_id: str
    kind: Kind
    visibility: Visibility
    text: str
    author: Contact
    published_at: datetime
    in_reply_to: str | None = None
    language: str | None = None
    url: str | None = None
    likes: int = 0
    reposts: int = 0
    replies: int = 0
    is_repost: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class RateLimit:
    limit: int | None
    remaining: int | None
    reset_at: datetime | None


@dataclass(frozen=True, slots=True)
class Skipped:
    """A payload item the adapter chose not to turn into a message, and why."""

    item_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a poll. `cursor` is where the next poll resumes once this page is stored."""

    messages: list[Inbound]
    cursor: str | None
    skipped: list[Skipped] = field(default_factory=list)
    rate: RateLimit | None = None


@dataclass(frozen=True, slots=True)
class Outbound:
    """A reply to send. `idempotency_key` is stable across retries of the same outbox entry."""

    idempotency_key: str
    text: str
    visibility: Visibility
    in_reply_to: str | None = None
    recipient: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class SendResult:
    platform_id: str
    url: str | None
    sent_at: datetime
    text: str


@dataclass(frozen=True, slots=True)
class Capabilities:
    public_reply: bool
    private_reply: bool
    dm: bool
    email: bool
    max_length: int
    length_counting: Literal["chars", "weighted", "utf16", "bytes"] = "chars"


class AdapterError(Exception):
    """A failure talking to a platform. `retryable` says whether trying later may succeed."""

    def __init__(self, message: str, *, retryable: bool = True, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class RateLimited(AdapterError):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message, retryable=True, retry_after=retry_after)


class AuthError(AdapterError):
    def __init__(self, message: str):
        super().__init__(message, retryable=False)


class Adapter(Protocol):
    kind: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    def poll(self, cursor: str | None) -> Iterator[Page]:
        """Yield pages of new messages after `cursor`, oldest page first."""
        ...

    def send(self, message: Outbound) -> SendResult: ...

    def find_sent(self, message: Outbound) -> SendResult | None:
        """Look on the platform for a reply already posted for this outbox entry."""
        ...

    def close(self) -> None: ...
