"""What the Facebook and Instagram adapters do alike, written once: one Graph client and the
capabilities built from a token, polling by time (a first poll only marks where to start, a
later one scans past the mark, a backfill scans back to a time), the conversations of Messenger
and Instagram Direct, and sending (length checks, a public reply as a comment, a private answer
through the Send API with its windows, a second private reply recognised as an earlier attempt).

A platform's adapter says which account it is (`_owner`, `_own_ids`, `_usernames`), reads its
own comments (`_comments_head`, `_scan_comments`), builds its public and private replies
(`_comment`, `_private_reply`), looks for a reply already sent (`find_sent`, with
`_find_in_conversations` for messages), and names its limits and refusals in class attributes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar, Self

import httpx

from socialdesk.adapters.base import (
    AdapterError,
    CannotVerify,
    Capabilities,
    NotAllowed,
    Outbound,
    Page,
    SendResult,
    Stream,
)
from socialdesk.adapters.graph import Graph, expanded
from socialdesk.adapters.graph_cursor import Mark, Scan, head_mark, seconds
from socialdesk.adapters.graph_errors import AlreadyReplied
from socialdesk.adapters.graph_payloads import graph_time, parse_message, read_ref
from socialdesk.adapters.graph_send import (
    DM_WINDOW,
    HUMAN_AGENT_WINDOW,
    PRIVATE_REPLY_WINDOW,
    check_text,
    dm_body,
    find_own,
    message_result,
    reply_kind,
    sent_result,
)
from socialdesk.adapters.values import as_id

MESSAGE_FIELDS = "id,message,from,to,created_time,attachments,sticker,shares"
FIND_PAGES = 10  # find_sent reads at most ten pages of one list before it says it cannot tell


class GraphAdapter:
    """A channel on Meta's Graph API. Subclasses set the class attributes and the hooks below."""

    kind: ClassVar[str]
    platform: ClassVar[str]  # as messages name it: "Facebook"
    streams: tuple[Stream, ...]  # the comments stream, then the conversations stream
    conversations: ClassVar[str]  # the conversations' `platform` parameter: "messenger"
    comment_max: ClassVar[int]  # UTF-16 units in a comment
    message_max: ClassVar[int]  # UTF-16 units in a Send API message
    message_max_bytes: ClassVar[int | None] = None  # and bytes of UTF-8, where the platform counts those
    dm_platform: ClassVar[str]  # as the Send API's refusals name it: "Facebook Messenger"
    comment_noun: ClassVar[str] = "comment"  # what a public reply is called
    # refusals of a reply that cannot go where it was meant to
    dm_not_public: ClassVar[str]
    no_target: ClassVar[str]
    no_recipient: ClassVar[str]

    def __init__(self, token: str, *, base_url: str, api_version: str, human_agent: bool, page_limit: int,
                 timeout: float, transport: httpx.BaseTransport | None):
        self.graph = Graph(self.platform, base_url, token, api_version=api_version, timeout=timeout,
                           transport=transport)
        self.base_url = self.graph.api.base_url
        self.human_agent = human_agent
        self.page_limit = max(1, min(int(page_limit), 100))
        self.capabilities = Capabilities(
            public_reply=True, private_reply=True, dm=True, email=False, max_length=self.comment_max,
            length_counting="utf16", private_max_length=self.message_max, private_reply_window=PRIVATE_REPLY_WINDOW,
            dm_window=HUMAN_AGENT_WINDOW if human_agent else DM_WINDOW, backfill=True, private_kind="private_reply")

    # -- the account (per platform) --

    def _owner(self) -> str:
        """Whose conversations and Send API calls these are."""
        raise NotImplementedError

    def _own_ids(self) -> set[str]:
        """The ids that are this account (what it wrote is not a customer's)."""
        raise NotImplementedError

    def _usernames(self) -> set[str]:
        return set()

    # -- polling --

    def _scanner(self, stream: str) -> Callable[[Scan], None]:
        comments, conversations = self.streams
        if stream == comments.name:
            return self._scan_comments
        if stream == conversations.name:
            return self._scan_conversations
        raise AdapterError(f"{self.platform} has the streams {comments.name} and {conversations.name}, not "
                           f"{stream!r}", retryable=False)

    def poll(self, cursor: str | None, stream: str = "comments") -> Iterator[Page]:
        scanner = self._scanner(stream)
        if cursor is None:
            yield Page(messages=[], cursor=str(self._head(stream)), rate=self.graph.api.last_rate)
            return
        scan = Scan(Mark.parse(cursor, self.platform))
        self.graph.cut_short = False
        scanner(scan)
        scan.complete = not self.graph.cut_short
        yield from scan.poll_pages(self.page_limit, self.graph.api.last_rate)

    def backfill(self, since: datetime, stream: str = "comments") -> Iterator[Page]:
        """What the stream brought since `since` (comments and posts, or messages), newest first."""
        scan = Scan(Mark(seconds(since)))
        self.graph.cut_short = False
        self._scanner(stream)(scan)
        yield from scan.backfill_pages(self.page_limit, self.graph.api.last_rate)

    def _head(self, stream: str) -> Mark:
        """Where a first poll starts: the newest item on the stream's first page."""
        return self._comments_head() if stream == self.streams[0].name else self._conversations_head()

    def _comments_head(self) -> Mark:
        raise NotImplementedError

    def _scan_comments(self, scan: Scan) -> None:
        raise NotImplementedError

    # -- conversations (Messenger, Instagram Direct) --

    def _conversation_fields(self) -> str:
        return f"id,updated_time,messages.limit({self.page_limit}){{{MESSAGE_FIELDS}}}"

    def _conversations_head(self) -> Mark:
        graph = self.graph
        body = graph.get(graph.url(self._owner(), "conversations"), "reading conversations",
                         platform=self.conversations, fields=self._conversation_fields(), limit=self.page_limit)
        return head_mark([(graph_time(m.get("created_time")), as_id(m.get("id")))
                          for c in body.get("data") or [] if isinstance(c, dict) for m in expanded(c, "messages")])

    def _scan_conversations(self, scan: Scan) -> None:
        """Conversations newest first (Graph orders them by `updated_time` and has no time filter),
        stopping at the first one not updated since the mark; in each, messages newest first down
        to the mark."""
        graph, owner = self.graph, self._owner()
        own, usernames = self._own_ids(), self._usernames()
        for conversations in graph.pages(graph.url(owner, "conversations"), "reading conversations",
                                         platform=self.conversations, fields=self._conversation_fields(),
                                         limit=self.page_limit):
            for conv in conversations:
                conv_id = as_id(conv.get("id")) if isinstance(conv, dict) else None
                if conv_id is None:
                    continue
                updated = graph_time(conv.get("updated_time"))
                if updated is not None and seconds(updated) < scan.mark.at:
                    return
                parse = lambda raw, c=conv_id: parse_message(raw, own=own, usernames=usernames,  # noqa: E731
                                                             conversation=c)
                fallback = graph.url(conv_id, "messages")
                for messages in graph.connection(conv, "messages", fallback, "reading a conversation",
                                                 fields=MESSAGE_FIELDS, limit=self.page_limit):
                    if not all([scan.consider(m, "created_time", parse) for m in messages]):
                        break

    def _find_in_conversations(self, message: Outbound, kind: str | None) -> SendResult | None:
        """The message this account sent with this text in the conversations updated since the
        message answered (a reply to a `dm` looks only in the customer's), each read back to
        that time, or None."""
        graph, what = self.graph, "looking for a message already sent"
        params: dict[str, Any] = {"platform": self.conversations, "limit": 10,
                                  "fields": "id,updated_time,messages.limit(25){id,message,from,created_time}"}
        if kind == "dm" and message.recipient_id:
            params["user_id"] = message.recipient_id
        conversations = graph.pages(graph.url(self._owner(), "conversations"), what, **params)
        for conv in self._back_to(conversations, "updated_time", message):
            conv_id = as_id(conv.get("id"))
            if conv_id is None:
                continue
            pages = graph.connection(conv, "messages", graph.url(conv_id, "messages"), what,
                                     fields="id,message,from,created_time", limit=25)
            found = self._find_own(pages, "message", message, time_key="created_time")
            if found is not None:
                return sent_result(found, message.text)
        return None

    def _find_own(self, pages: Iterable[list[Any]], text_key: str, message: Outbound, *, time_key: str,
                  newest_first: bool = True) -> dict[str, Any] | None:
        """The first item by this account with the reply's text in a list, read back to the
        message answered (newest first) or to its end."""
        own, usernames = self._own_ids(), self._usernames()
        items = self._back_to(pages, time_key, message) if newest_first else self._all_of(pages, message)
        return next((item for item in items if find_own([item], text_key, message.text, own, usernames)), None)

    def _back_to(self, pages: Iterable[list[Any]], time_key: str, message: Outbound) -> Iterator[dict[str, Any]]:
        """The items of a newest-first list down to the time of the message answered."""
        since = message.reply_to_at - timedelta(seconds=1) if message.reply_to_at else None
        for item in self._all_of(pages, message):
            at = graph_time(item.get(time_key))
            if since is not None and at is not None and at < since:
                return
            yield item

    def _all_of(self, pages: Iterable[list[Any]], message: Outbound) -> Iterator[dict[str, Any]]:
        """The items of at most FIND_PAGES pages; CannotVerify when there are more, or when the
        usage headers stop the reading short (a reply missed there would be posted twice)."""
        self.graph.cut_short = False
        for number, items in enumerate(pages):
            if number == FIND_PAGES:
                raise CannotVerify(f"{self.platform}: read {FIND_PAGES} pages without reaching the message answered; "
                                   f"check on {self.platform} whether \"{message.text[:60]}\" was already sent "
                                   "before sending it again")
            yield from (item for item in items if isinstance(item, dict))
        if self.graph.cut_short:
            raise AdapterError(f"{self.platform}'s usage limit stopped the look for a reply already sent; it will "
                               "look again later", retryable=True, maybe_sent=True)

    # -- sending --

    def send(self, message: Outbound) -> SendResult:
        ref = read_ref(message.reply_ref)
        kind = reply_kind(message, ref)
        text = message.text
        if message.visibility == "public":
            if kind == "dm":
                raise NotAllowed(self.dm_not_public)
            if not message.in_reply_to:
                raise NotAllowed(self.no_target)
            check_text(text, self.comment_max, "comment", self.platform)
            comment_id = as_id(self._comment(message, kind, ref).get("id"))
            if comment_id is None:
                raise AdapterError(f"{self.platform} accepted the {self.comment_noun} but its answer has no id; look "
                                   "for it before sending again", retryable=True, maybe_sent=True)
            return sent_result({"id": comment_id}, text)
        check_text(text, self.message_max, "message", self.dm_platform, max_bytes=self.message_max_bytes)
        payload = self._private_payload(message, kind)
        try:
            body = self.graph.post(self.graph.url(self._owner(), "messages"), "sending a private message",
                                   json=payload)
        except AlreadyReplied:
            found = self.find_sent(message)
            if found is not None:
                return found  # an earlier attempt of this entry got there
            raise
        return message_result(body, text, self.platform)

    def _comment(self, message: Outbound, kind: str | None, ref: Mapping[str, str]) -> dict[str, Any]:
        """Post the public reply; Graph's answer (`{"id": ...}`)."""
        raise NotImplementedError

    def _private_payload(self, message: Outbound, kind: str | None) -> dict[str, Any]:
        """The Send API request: a message to the person, or a private reply to what they wrote."""
        if kind == "dm" or not message.in_reply_to:
            if not message.recipient_id:
                raise NotAllowed(self.no_recipient)
            return dm_body(message.recipient_id, message.text, message.reply_to_at, self.dm_platform,
                           human_agent=self.human_agent)
        return self._private_reply(message, kind)

    def _private_reply(self, message: Outbound, kind: str | None) -> dict[str, Any]:
        raise NotImplementedError

    def find_sent(self, message: Outbound) -> SendResult | None:
        raise NotImplementedError

    def close(self) -> None:
        self.graph.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
