"""What the Facebook and Instagram adapters share: one Meta Graph API client (Bearer token,
versioned paths, `paging.next` followed only on its own host), Graph's error bodies mapped to
typed errors, the usage headers read as a rate limit, the time cursor both poll by, and the Send
API (private replies and messages) with its time windows.

Graph answers a throttle with HTTP 400/403 and an error code (4, 17, 32, 613, 800xx), not 429,
and says how loaded the app is in JSON headers (`X-Business-Use-Case-Usage`, `X-App-Usage`,
`X-Page-Usage`) as percentages: `RateLimit.remaining` is the percentage left (100 - the highest
usage), `reset_at` the `estimated_time_to_regain_access` when throttled.

Cursors are `"<unix seconds>|<id>,<id>"`: the newest `created_time` stored and the ids stored at
that second. Graph's own paging cursors expire, so they are followed within one poll, never kept.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from socialdesk.adapters.base import (
    AdapterError,
    AuthError,
    Inbound,
    NotAllowed,
    Outbound,
    Page,
    RateLimit,
    RateLimited,
    SendResult,
    Skipped,
)
from socialdesk.adapters.graph_payloads import graph_time
from socialdesk.adapters.http import JsonApi
from socialdesk.adapters.values import as_id, parse_epoch

PRIVATE_REPLY_WINDOW = timedelta(days=7)
DM_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
MESSAGE_FIELDS = "id,message,from,to,created_time,attachments,sticker,shares"

THROTTLE_CODES = frozenset({4, 17, 32, 613, 80001, 80002, 80004, 80005, 80006, 80008, 80014})
AUTH_CODES = frozenset({102, 190})
WINDOW_SUBCODE = 2018278  # code 10: "This message is sent outside of allowed window"
ALREADY_REPLIED = 10900  # "Activity already replied to": one private reply per comment
CANNOT_REPLY = 10903  # the comment or post can no longer be answered privately
UNAVAILABLE = 551  # "This person isn't available right now"
TOKEN_PROBLEMS = {458: "the app was removed", 459: "the account is checkpointed", 460: "the password changed",
                  463: "the token expired", 464: "the user is unconfirmed", 467: "the token is invalid",
                  492: "the session is invalid"}
_PERMISSION = re.compile(r"\b((?:pages|instagram|business|read|publish)_[a-z_]+)\b")


class AlreadyReplied(NotAllowed):
    """Meta's answer to a second private reply to one comment (code 10900)."""


# --- errors and usage ----------------------------------------------------------------------------


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _needs(platform: str, method: str, path: str) -> str:
    """The permission a call most likely lacks, when Graph's message does not name it."""
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if platform == "Facebook":
        if last in ("messages", "conversations"):
            return "pages_messaging"
        return "pages_manage_engagement" if method == "POST" else "pages_read_engagement and pages_read_user_content"
    if last in ("messages", "conversations"):
        return "instagram_business_manage_messages (Instagram Login) or instagram_manage_messages (Facebook Login)"
    if last in ("comments", "replies"):
        return "instagram_business_manage_comments (Instagram Login) or instagram_manage_comments (Facebook Login)"
    return "instagram_business_basic (Instagram Login) or instagram_basic (Facebook Login)"


def graph_error(platform: str, body: Any, headers: Mapping[str, str] | None = None, *, method: str = "GET",
                path: str = "") -> AdapterError | None:
    """The typed error for a Graph error body, or None when the HTTP status alone says enough."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        if isinstance(body, dict) and body.get("error_type") == "OAuthException":  # the OAuth dialog's shape
            return AuthError(f"{platform} refused the login: {str(body.get('error_message'))[:200]}")
        return None
    code, sub = _int(error.get("code")), _int(error.get("error_subcode"))
    message = str(error.get("message") or "no message")[:300]
    said = f"{message} (code {code}{f', subcode {sub}' if sub else ''})"
    user_msg = error.get("error_user_msg")
    if isinstance(user_msg, str) and user_msg:
        said += f": {user_msg[:200]}"
    if code in THROTTLE_CODES:
        rate = parse_usage(headers or {})
        wait = max(0.0, (rate.reset_at - datetime.now(UTC)).total_seconds()) if rate and rate.reset_at else None
        return RateLimited(f"{platform} is throttling this app ({said}); polling and sending resume by themselves",
                           retry_after=wait)
    if code in AUTH_CODES:
        why = TOKEN_PROBLEMS.get(sub or 0, "the token was refused")
        return AuthError(f"{platform} refused the access token: {why} ({said}); store a new token with "
                         "`socialdesk auth`")
    if (code == 10 and sub == WINDOW_SUBCODE) or "allowed window" in message:
        return NotAllowed(f"{platform} refused the message as outside its messaging window ({said}): a Page may "
                          "answer within 24 hours of the customer's last message, or up to 7 days with the "
                          "HUMAN_AGENT tag; wait for the customer to write again or answer by another channel")
    if code == ALREADY_REPLIED:
        return AlreadyReplied(f"{platform} allows one private reply per comment and this one already has it "
                              f"({said}); continue in the conversation if the customer answered, or reply publicly")
    if code == CANNOT_REPLY:
        return NotAllowed(f"{platform} will not take a private reply to this item ({said}): private replies are "
                          "possible once, within 7 days, and not to Pages; reply publicly instead")
    if code == UNAVAILABLE:
        return NotAllowed(f"{platform} cannot deliver to this person ({said}): they blocked the account or "
                          "closed theirs")
    if code in (3, 10) or (code is not None and 200 <= code < 300):
        named = _PERMISSION.search(message)
        needed = named.group(1) if named else _needs(platform, method, path)
        return AdapterError(f"{platform} says the token lacks a permission ({said}); grant {needed} to the app "
                            "and store a new token with `socialdesk auth`", retryable=False)
    if error.get("is_transient") is True or (code in (1, 2) and error.get("is_transient") is not False):
        return AdapterError(f"{platform} had a temporary problem ({said})", retryable=True, maybe_sent=True)
    return None


def _usage_entries(data: Any) -> Iterator[Mapping[str, Any]]:
    if not isinstance(data, dict):
        return
    if any(k in data for k in ("call_count", "total_time", "total_cputime")):
        yield data
        return
    for value in data.values():  # X-Business-Use-Case-Usage: {"<business id>": [{...}, ...]}
        for entry in value if isinstance(value, list) else [value]:
            if isinstance(entry, dict):
                yield entry


def parse_usage(headers: Mapping[str, str]) -> RateLimit | None:
    """Graph's usage headers as a RateLimit out of 100: `remaining` is the percentage left
    (100 - the highest usage of any counter), `reset_at` when a throttled app regains access."""
    worst: float | None = None
    regain = 0.0
    for name in ("x-business-use-case-usage", "x-app-usage", "x-page-usage"):
        value = headers.get(name)
        if not value:
            continue
        try:
            data = json.loads(value)
        except ValueError:
            continue
        for entry in _usage_entries(data):
            for key in ("call_count", "total_cputime", "total_time"):
                number = entry.get(key)
                if isinstance(number, (int, float)) and not isinstance(number, bool):
                    worst = max(worst or 0.0, float(number))
            eta = entry.get("estimated_time_to_regain_access")
            if isinstance(eta, (int, float)) and not isinstance(eta, bool):
                regain = max(regain, float(eta))
    if worst is None and regain <= 0:
        return None
    remaining = 0 if regain > 0 else max(0, 100 - math.ceil(worst or 0))
    reset_at = parse_epoch(time.time() + regain * 60) if regain > 0 else None
    return RateLimit(limit=100, remaining=remaining, reset_at=reset_at)


# --- the time cursor -----------------------------------------------------------------------------


def seconds(when: datetime) -> int:
    return math.floor(when.timestamp())


@dataclass(frozen=True)
class Mark:
    """A place in time: items created after `at`, or at `at` but not among `ids`, are new."""

    at: int
    ids: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, cursor: str, platform: str) -> Mark:
        head, _, tail = cursor.partition("|")
        try:
            at = int(head)
        except ValueError:
            raise AdapterError(f"{cursor[:60]!r} is not a {platform} cursor (expected '<unix seconds>|<ids>')",
                               retryable=False) from None
        return cls(at, frozenset(i for i in tail.split(",") if i))

    def __str__(self) -> str:
        return f"{self.at}|{','.join(sorted(self.ids))}"

    def is_new(self, ts: int, item_id: str) -> bool:
        return ts > self.at or (ts == self.at and item_id not in self.ids)

    def past(self, ts: int, item_id: str) -> Mark:
        if ts > self.at:
            return Mark(ts, frozenset({item_id}))
        return Mark(self.at, self.ids | {item_id}) if ts == self.at else self


@dataclass
class Scan:
    """What one poll found after a mark: (unix seconds, id, parsed) triples. `complete` is False
    when the scan stopped early (usage used up): its cursor must not move."""

    mark: Mark
    items: list[tuple[int, str, Inbound | Skipped]] = field(default_factory=list)
    complete: bool = True

    def consider(self, raw: Any, time_key: str, parse: Callable[[Any], Inbound | Skipped]) -> bool:
        """Parse `raw` if it is newer than the mark; False when it is not (an old item)."""
        item_id = as_id(raw.get("id")) if isinstance(raw, dict) else None
        when = graph_time(raw.get(time_key)) if isinstance(raw, dict) else None
        if when is not None and item_id is not None:
            ts = seconds(when)
            if not self.mark.is_new(ts, item_id):
                return False
            self.items.append((ts, item_id, parse(raw)))
        else:
            self.items.append((self.mark.at, "", parse(raw)))  # unplaceable: reported, never moves the cursor
        return True

    def poll_pages(self, size: int, rate: RateLimit | None) -> list[Page]:
        """Pages oldest first, each with the cursor that is right once it is stored."""
        items = sorted(self.items, key=lambda i: (i[0], i[1]))
        if not self.complete:
            return [_page(items, None, rate)]
        mark, pages = self.mark, []
        for start in range(0, len(items), size):
            chunk = items[start:start + size]
            for ts, item_id, _ in chunk:
                if item_id:
                    mark = mark.past(ts, item_id)
            pages.append(_page(chunk, str(mark), rate))
        return pages or [Page(messages=[], cursor=str(mark), rate=rate)]

    def backfill_pages(self, size: int, rate: RateLimit | None) -> list[Page]:
        """Pages newest first, none moving the cursor."""
        items = sorted(self.items, key=lambda i: (i[0], i[1]), reverse=True)
        return [_page(items[s:s + size], None, rate) for s in range(0, len(items), size)]


def _page(items: list[tuple[int, str, Inbound | Skipped]], cursor: str | None, rate: RateLimit | None) -> Page:
    return Page(messages=[r for _, _, r in items if isinstance(r, Inbound)], cursor=cursor,
                skipped=[r for _, _, r in items if isinstance(r, Skipped)], rate=rate)


def head_mark(found: list[tuple[datetime | None, str | None]]) -> Mark:
    """Where a first poll starts: the newest item seen, or now when there is none."""
    mark: Mark | None = None
    for when, item_id in found:
        if when is not None and item_id:
            mark = (mark or Mark(seconds(when))).past(seconds(when), item_id)
    return mark or Mark(math.floor(time.time()))


# --- the client ----------------------------------------------------------------------------------


class Graph:
    """One Graph host and version: JSON calls with the token in a Bearer header, and collections
    paged by following `paging.next` on the same host."""

    def __init__(self, platform: str, base_url: str, token: str, *, api_version: str, timeout: float,
                 transport: httpx.BaseTransport | None):
        self.platform = platform
        self.api = JsonApi(platform, base_url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout,
                           transport=transport, secrets=[token], rate=parse_usage, classify=self._classify,
                           auth_hint="store a new token with `socialdesk auth`")
        self.version = api_version.strip().strip("/")
        self._origin = _origin(self.api.base_url)
        self.cut_short = False

    def _classify(self, response: httpx.Response, body: Any) -> AdapterError | None:
        return graph_error(self.platform, body, response.headers, method=response.request.method,
                           path=response.request.url.path)

    def url(self, *parts: str) -> str:
        return "/" + "/".join([*([self.version] if self.version else []), *(quote(str(p), safe="") for p in parts)])

    def get(self, url: str, what: str, **params: Any) -> dict[str, Any]:
        return self.api.object("GET", url, what, params=params or None)

    def post(self, url: str, what: str, **kwargs: Any) -> dict[str, Any]:
        return self.api.object("POST", url, what, **kwargs)

    def next(self, connection: Any) -> str | None:
        """A connection's `paging.next` URL, if it stays on this host."""
        paging = connection.get("paging") if isinstance(connection, dict) else None
        url = paging.get("next") if isinstance(paging, dict) else None
        return url if isinstance(url, str) and url and _origin(url) == self._origin else None

    def pages(self, url: str, what: str, **params: Any) -> Iterator[list[Any]]:
        """Each page's `data` of a collection, following `paging.next` while usage allows."""
        next_url: str | None = url
        query: dict[str, Any] | None = params
        followed = {url}
        while next_url:
            body = self.api.object("GET", next_url, what, params=query or None)
            data = body.get("data")
            if not isinstance(data, list):
                raise AdapterError(f"{self.platform} sent a collection without a data list while {what}",
                                   retryable=True)
            yield data
            next_url, query = self.next(body), None
            if next_url in followed or (next_url and not self.more()):
                return  # a page pointing back at itself would loop forever
            followed.add(str(next_url))

    def connection(self, obj: Mapping[str, Any], name: str, fallback: str | None, what: str,
                   **params: Any) -> Iterator[list[Any]]:
        """The pages of a nested connection (`messages`, `comments`): the expanded first page,
        then `paging.next`; read from `fallback` (if any) when the object came without it."""
        nested = obj.get(name)
        if not isinstance(nested, dict):
            if fallback and self.more():
                yield from self.pages(fallback, what, **params)
            return
        data = nested.get("data")
        yield data if isinstance(data, list) else []
        url = self.next(nested)
        if url and self.more():
            yield from self.pages(url, what)

    def more(self) -> bool:
        """Whether this poll may make another request: not once the usage headers say nothing is
        left (then `cut_short` is set, and the poll must not move its cursor)."""
        if self.exhausted:
            self.cut_short = True
            return False
        return True

    @property
    def exhausted(self) -> bool:
        rate = self.api.last_rate
        return rate is not None and rate.remaining == 0

    def close(self) -> None:
        self.api.close()


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return (parts.scheme.lower(), parts.netloc.lower())


# --- conversations (Messenger, Instagram Direct) -------------------------------------------------


def scan_conversations(graph: Graph, owner: str, platform: str, scan: Scan, *, limit: int,
                       parse: Callable[[Any, str | None], Inbound | Skipped]) -> None:
    """Conversations newest first (Graph orders them by `updated_time` and has no time filter),
    stopping at the first one not updated since the mark; in each, messages newest first down to
    the mark."""
    fields = f"id,updated_time,messages.limit({limit}){{{MESSAGE_FIELDS}}}"
    for conversations in graph.pages(graph.url(owner, "conversations"), "reading conversations",
                                     platform=platform, fields=fields, limit=limit):
        for conv in conversations:
            conv_id = as_id(conv.get("id")) if isinstance(conv, dict) else None
            if conv_id is None:
                continue
            updated = graph_time(conv.get("updated_time"))
            if updated is not None and seconds(updated) < scan.mark.at:
                return
            for messages in graph.connection(conv, "messages", graph.url(conv_id, "messages"),
                                             "reading a conversation", fields=MESSAGE_FIELDS, limit=limit):
                if not all([scan.consider(m, "created_time", lambda raw: parse(raw, conv_id)) for m in messages]):
                    break


def find_in_conversations(graph: Graph, owner: str, platform: str, text: str, *, own: Collection[str],
                          user_id: str | None = None) -> dict[str, Any] | None:
    """A message this account sent with this text in its most recently updated conversations
    (a message just sent puts its conversation first), or None."""
    params: dict[str, Any] = {"platform": platform, "limit": 10,
                              "fields": "id,updated_time,messages.limit(25){id,message,from,created_time}"}
    if user_id:
        params["user_id"] = user_id
    body = graph.get(graph.url(owner, "conversations"), "looking for a message already sent", **params)
    for conv in body.get("data") or []:
        messages = conv.get("messages") if isinstance(conv, dict) else None
        found = find_own(messages.get("data") if isinstance(messages, dict) else None, "message", text, own)
        if found is not None:
            return found
    return None


def find_own(items: Any, text_key: str, text: str, own: Collection[str],
             usernames: Collection[str] = ()) -> dict[str, Any] | None:
    """The first item of a list written by this account with this text."""
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not same_text(item.get(text_key), text):
            continue
        who = item.get("from") if isinstance(item.get("from"), dict) else {}
        if sender_id(item) in own or (who.get("username") or item.get("username")) in usernames:
            return item
    return None


# --- sending -------------------------------------------------------------------------------------


def sender_id(item: Any) -> str | None:
    """`from.id` of a comment or message, or None."""
    who = item.get("from") if isinstance(item, dict) else None
    return as_id(who.get("id")) if isinstance(who, dict) else None


def same_text(posted: Any, text: str) -> bool:
    return isinstance(posted, str) and " ".join(posted.split()) == " ".join(text.split())


def check_text(text: str, limit: int, what: str, platform: str, *, max_bytes: int | None = None) -> None:
    """Refuse, before any call, a reply the platform would refuse for its length."""
    if not text.strip():
        raise AdapterError(f"an empty {what} cannot be sent on {platform}", retryable=False)
    units = len(text.encode("utf-16-le")) // 2
    if units > limit:
        raise AdapterError(f"the {what} is {units} characters long (UTF-16 units) and {platform} takes at most "
                           f"{limit}; shorten it", retryable=False)
    if max_bytes is not None and len(text.encode("utf-8")) > max_bytes:
        raise AdapterError(f"the {what} is {len(text.encode('utf-8'))} bytes and {platform} takes at most "
                           f"{max_bytes} bytes of UTF-8; shorten it", retryable=False)


def _age(reply_to_at: datetime | None) -> timedelta | None:
    if reply_to_at is None:
        return None
    at = reply_to_at if reply_to_at.tzinfo else reply_to_at.replace(tzinfo=UTC)
    return datetime.now(UTC) - at


def _span(age: timedelta) -> str:
    hours = age.total_seconds() / 3600
    return f"{hours:.0f} hours" if hours < 48 else f"{hours / 24:.1f} days"


def private_reply_body(target: str, text: str, reply_to_at: datetime | None, platform: str, *,
                       post: bool = False) -> dict[str, Any]:
    """A Private Replies request (`recipient.comment_id`, or `post_id` for a visitor post),
    refused here when the 7-day window has passed."""
    age = _age(reply_to_at)
    if age is not None and age > PRIVATE_REPLY_WINDOW:
        raise NotAllowed(f"{platform} allows a private reply only within 7 days of the comment, and this one was "
                         f"written {_span(age)} ago; reply publicly, or wait for the customer to message the account")
    return {"recipient": {"post_id" if post else "comment_id": target}, "message": {"text": text}}


def dm_body(recipient: str, text: str, reply_to_at: datetime | None, platform: str, *,
            human_agent: bool) -> dict[str, Any]:
    """A Send API message to a person: a RESPONSE within 24 hours of their last message, the
    HUMAN_AGENT tag up to 7 days when the channel may use it, refused here otherwise."""
    age = _age(reply_to_at)
    kind: dict[str, Any] = {"messaging_type": "RESPONSE"}
    if age is not None and age > DM_WINDOW:
        if age > HUMAN_AGENT_WINDOW:
            raise NotAllowed(f"the customer last wrote {_span(age)} ago; {platform} lets the account write only "
                             "within 7 days of the customer's last message; wait for them to write again, or "
                             "answer by another channel")
        if not human_agent:
            raise NotAllowed(f"the customer last wrote {_span(age)} ago; {platform} lets the account answer "
                             "within 24 hours, and up to 7 days only as a person with the HUMAN_AGENT tag: set "
                             "human_agent = true on this channel once Meta approved the Human Agent permission, "
                             "or wait for the customer to write again")
        kind = {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
    return {"recipient": {"id": recipient}, **kind, "message": {"text": text}}


def message_result(body: Mapping[str, Any], text: str, platform: str) -> SendResult:
    """The Send API's answer `{"recipient_id", "message_id"}` as a SendResult."""
    message_id = as_id(body.get("message_id"))
    if message_id is None:
        raise AdapterError(f"{platform} accepted the message but its answer has no message_id; "
                           "look for it before sending again", retryable=True, maybe_sent=True)
    return SendResult(platform_id=message_id, url=None, sent_at=datetime.now(UTC), text=text)


def sent_result(found: Mapping[str, Any], text: str, *, time_key: str = "created_time",
                url_key: str = "permalink_url") -> SendResult:
    """An already posted comment or message, found on the platform, as a SendResult."""
    url = found.get(url_key)
    return SendResult(platform_id=str(as_id(found.get("id"))), url=url if isinstance(url, str) else None,
                      sent_at=graph_time(found.get(time_key)) or datetime.now(UTC), text=text)


def reply_kind(message: Outbound, ref: Mapping[str, str]) -> str | None:
    """What the message answered is: "dm", "comment" or "mention" (a post), from the outbox
    entry, else from what the adapter noted when it read it."""
    if message.reply_to_kind:
        return message.reply_to_kind
    if "conversation" in ref:
        return "dm"
    if "post" in ref:
        return "mention" if ref.get("post") == message.in_reply_to else "comment"
    return None
