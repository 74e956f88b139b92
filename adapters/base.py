"""What every channel adapter speaks: plain dataclasses in, plain dataclasses out.

An adapter turns one platform's payloads into `Inbound` messages and sends `Outbound` ones. It
knows nothing of the store, the rules or the UI; the ingest and outbox services join them.

The rest of the app never asks which platform it talks to: what differs is declared here, in
`Capabilities` (what can be sent, how long, how length is counted, the platform's time windows)
and `Stream` (what is polled, and how often the platform allows it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal, Protocol

Visibility = Literal["public", "private"]
Kind = Literal["mention", "comment", "reply", "dm", "email"]
LengthCounting = Literal["chars", "weighted", "utf16", "bytes", "graphemes"]


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
    """One normalised message from a customer (or about the brand).

    `reply_ref` is the adapter's own note of what it needs to answer this message (a Bluesky
    post's cid and thread root, an email's References and Subject, a Telegram chat id); the
    store keeps it and hands it back in `Outbound.reply_ref`. `edited_at` is set when the
    platform says the text was changed after it was first posted: the store then replaces the
    text of a message it already has. `auto_generated` marks machine-sent mail (auto-replies,
    bulk and list mail, bounces), which nothing may answer automatically."""

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
    reply_ref: str | None = None
    edited_at: datetime | None = None
    auto_generated: bool = False


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
    """One page of a poll. `cursor` is where the next poll resumes once this page is stored
    (None: this page does not move the cursor, as in a backfill). `deleted` lists platform ids
    of messages their authors deleted."""

    messages: list[Inbound]
    cursor: str | None
    skipped: list[Skipped] = field(default_factory=list)
    rate: RateLimit | None = None
    deleted: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Outbound:
    """A reply to send. `idempotency_key` is stable across retries of the same outbox entry.

    The message answered is described by `in_reply_to` (its platform id), `reply_to_kind`,
    `reply_to_at` (when it was published: the platform's reply windows count from it),
    `reply_ref` (what the adapter noted when it read it), and its author: `recipient` (handle)
    and `recipient_id` (platform user id). `visibility="private"` on a public message asks for
    the platform's private route (a DM, a private reply to the comment, an email).
    `automatic`: an acknowledgement nobody typed (email marks it `Auto-Submitted`)."""

    idempotency_key: str
    text: str
    visibility: Visibility
    in_reply_to: str | None = None
    recipient: str | None = None
    language: str | None = None
    recipient_id: str | None = None
    reply_to_kind: str | None = None
    reply_to_at: datetime | None = None
    reply_ref: str | None = None
    automatic: bool = False


@dataclass(frozen=True, slots=True)
class SendResult:
    platform_id: str
    url: str | None
    sent_at: datetime
    text: str


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a channel can do, so nothing outside its adapter names a platform.

    `public_reply`: answer in public; `private_reply`: answer a public message privately (a DM,
    Meta's private reply to a comment); `dm`: read and answer private conversations; `email`.
    `max_length` / `private_max_length`: the longest public / private reply, counted the
    `length_counting` way. `private_reply_window`: how long after a public message its author
    may still be answered privately (Meta: 7 days). `dm_window`: how long after the customer's
    last private message the brand may still write (Messenger: 24 hours). `backfill`: can read
    back in time. `push`: can wait for news between polls (IMAP IDLE). `private_kind`: what a
    private answer to a public message is called on the platform ("dm": a direct message;
    "private_reply": Meta's one private reply to a comment, once per comment). `private_needs_invite`:
    the brand may write privately only to someone who has written to it privately first (a
    Telegram bot cannot start a chat)."""

    public_reply: bool
    private_reply: bool
    dm: bool
    email: bool
    max_length: int
    length_counting: LengthCounting = "chars"
    private_max_length: int | None = None
    private_reply_window: timedelta | None = None
    dm_window: timedelta | None = None
    backfill: bool = False
    push: bool = False
    private_kind: Literal["dm", "private_reply"] = "dm"
    private_needs_invite: bool = False


@dataclass(frozen=True, slots=True)
class Stream:
    """One thing a channel polls (mentions, DMs…), with its own cursor and the shortest interval
    the platform's limits allow for it (X allows reading DMs 15 times in 15 minutes)."""

    name: str
    min_interval: float = 0.0


MENTIONS = Stream("mentions")


class AdapterError(Exception):
    """A failure talking to a platform. `retryable` says whether trying later may succeed;
    `maybe_sent` that the request went out and may have been carried out (a timeout or a reset
    while waiting for the answer, a 5xx, a broken answer to a write): the sender then looks on
    the platform (`find_sent`) before it tries again."""

    def __init__(self, message: str, *, retryable: bool = True, retry_after: float | None = None,
                 maybe_sent: bool = False):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.maybe_sent = maybe_sent


class RateLimited(AdapterError):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message, retryable=True, retry_after=retry_after)


class AuthError(AdapterError):
    def __init__(self, message: str):
        super().__init__(message, retryable=False)


class NotAllowed(AdapterError):
    """The platform will not take this reply as asked (outside its messaging window, a second
    private reply to one comment, a route it does not have). Never retried; the message says
    why and what the agent can do instead."""

    def __init__(self, message: str):
        super().__init__(message, retryable=False)


class CannotVerify(AdapterError):
    """`find_sent` cannot tell whether an earlier attempt reached the platform (it offers no way
    to read back what was sent). The sender then parks the reply for a person to check instead
    of risking a second post."""

    def __init__(self, message: str):
        super().__init__(message, retryable=False)


class Vault(Protocol):
    """Where an adapter keeps what it must remember between runs and must not leak: a session
    (Bluesky's JWTs), refreshed OAuth tokens. Backed by the system keyring in the app."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...


class MemoryVault:
    """A Vault in a dict: for tests, benchmarks and channels that need to remember nothing."""

    def __init__(self, values: dict[str, str] | None = None):
        self.values = dict(values or {})

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def set(self, key: str, value: str) -> None:
        self.values[key] = value


class Adapter(Protocol):
    kind: ClassVar[str]
    capabilities: Capabilities
    streams: tuple[Stream, ...]

    def poll(self, cursor: str | None, stream: str = "mentions") -> Iterator[Page]:
        """Yield pages of new messages after `cursor`, oldest page first. With no cursor (the
        first poll ever) start from now: the newest page, whose cursor marks the place."""
        ...

    def backfill(self, since: datetime, stream: str = "mentions") -> Iterator[Page]:
        """Yield pages of messages published after `since`, newest first, with `cursor=None`.
        Raise NotAllowed when the platform keeps no history to read."""
        ...

    def send(self, message: Outbound) -> SendResult: ...

    def find_sent(self, message: Outbound) -> SendResult | None:
        """Look on the platform for a reply already posted for this outbox entry (called only
        when an earlier attempt may have reached it). Raise CannotVerify when it cannot tell."""
        ...

    def verify(self) -> str:
        """Check the credentials with one cheap call; say whom they belong to."""
        ...

    def close(self) -> None: ...


class Pushing(Protocol):
    """An adapter with `capabilities.push`: `watch` blocks, calling `wake()` whenever news may
    be waiting, until `stopped()` is true."""

    def watch(self, wake: Callable[[], None], stopped: Callable[[], bool]) -> None: ...
