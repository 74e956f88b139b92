"""Facebook Pages: comments and visitor posts on the Page, and Messenger conversations, over the
Graph API with a Page access token.

Streams:
- `comments`: the Page feed (`/{page}/feed`, posts created within `post_lookback` of the cursor)
  and, for every post updated since the cursor (a new comment updates it), its comments with
  `filter=stream` (replies included, flat, with `parent`) newest first down to the cursor.
  Visitor posts are `mention`s; comments are `comment`s, a reply pointing at its parent comment
  and a top-level comment at its post. The Page's own posts and comments are skipped.
- `messenger`: `/{page}/conversations?platform=messenger`, newest `updated_time` first, down to
  the first conversation not updated since the cursor; the new messages of each are `dm`s.

Both poll by time (see `graph.Mark`). Graph says nothing of edits to comments or of deletions
when polled: an edited comment keeps the text first read, a deleted one stays (webhooks, which
need a public callback, would tell; `graph_payloads.parse_webhook` reads them).

Replies: a public reply is a comment under the comment (or post); a private reply is Meta's
Private Replies (once per comment, within 7 days); a Messenger answer is a RESPONSE within 24
hours of the customer's last message, or a HUMAN_AGENT-tagged message up to 7 days when the
channel has `human_agent`. Graph has no idempotency key, so `find_sent` looks on the Page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any, ClassVar

import httpx

from socialdesk.adapters.base import (
    AdapterError,
    Capabilities,
    NotAllowed,
    Outbound,
    Page,
    SendResult,
    Stream,
)
from socialdesk.adapters.graph import (
    DM_WINDOW,
    HUMAN_AGENT_WINDOW,
    MESSAGE_FIELDS,
    PRIVATE_REPLY_WINDOW,
    AlreadyReplied,
    Graph,
    Mark,
    Scan,
    check_text,
    dm_body,
    find_in_conversations,
    find_own,
    head_mark,
    message_result,
    private_reply_body,
    reply_kind,
    scan_conversations,
    seconds,
    sent_result,
)
from socialdesk.adapters.graph_payloads import graph_time, parse_comment, parse_message, parse_post, read_ref
from socialdesk.adapters.values import as_id

POST_FIELDS = "id,message,story,created_time,updated_time,from,permalink_url,attachments{type,url,title}"
COMMENT_FIELDS = ("id,message,from,created_time,parent{id},attachment{type,url,title},like_count,comment_count,"
                  "can_reply_privately,permalink_url")
COMMENT_MAX = 8000
MESSAGE_MAX = 2000


class FacebookAdapter:
    kind: ClassVar[str] = "facebook"
    streams = (Stream("comments", min_interval=10.0), Stream("messenger", min_interval=10.0))
    post_lookback = timedelta(days=28)  # comments on posts older than this are not polled

    def __init__(self, page_token: str, *, page_id: str | None = None, base_url: str = "https://graph.facebook.com",
                 api_version: str = "v26.0", human_agent: bool = False, page_limit: int = 50, timeout: float = 10.0,
                 transport: httpx.BaseTransport | None = None):
        self.graph = Graph("Facebook", base_url, page_token, api_version=api_version, timeout=timeout,
                           transport=transport)
        self.base_url = self.graph.api.base_url
        self.human_agent = human_agent
        self.page_limit = max(1, min(int(page_limit), 100))
        self.capabilities = Capabilities(
            public_reply=True, private_reply=True, dm=True, email=False, max_length=COMMENT_MAX,
            length_counting="utf16", private_max_length=MESSAGE_MAX, private_reply_window=PRIVATE_REPLY_WINDOW,
            dm_window=HUMAN_AGENT_WINDOW if human_agent else DM_WINDOW, backfill=True)
        self._page_id = as_id(page_id)
        self._page_name: str | None = None

    # -- identity --

    def _me(self) -> dict[str, Any]:
        me = self.graph.get(self.graph.url("me"), "checking the Page token", fields="id,name")
        self._page_id = as_id(me.get("id")) or self._page_id
        self._page_name = me.get("name") if isinstance(me.get("name"), str) else self._page_name
        return me

    def page_id(self) -> str:
        """The Page the token belongs to (`GET /me`, cached)."""
        if self._page_id is None:
            self._me()
            if self._page_id is None:
                raise AdapterError("Facebook's /me answer has no id", retryable=True)
        return self._page_id

    def verify(self) -> str:
        me = self._me()
        return f"Facebook page {me.get('name', '?')} (id {self._page_id})"

    # -- polling --

    def _scanner(self, stream: str) -> Callable[[Scan], None]:
        if stream == "comments":
            return self._scan_comments
        if stream == "messenger":
            return self._scan_messenger
        raise AdapterError(f"Facebook has the streams comments and messenger, not {stream!r}", retryable=False)

    def poll(self, cursor: str | None, stream: str = "comments") -> Iterator[Page]:
        scanner = self._scanner(stream)
        if cursor is None:
            yield Page(messages=[], cursor=str(self._head(stream)), rate=self.graph.api.last_rate)
            return
        scan = Scan(Mark.parse(cursor, "Facebook"))
        self.graph.cut_short = False
        scanner(scan)
        scan.complete = not self.graph.cut_short
        yield from scan.poll_pages(self.page_limit, self.graph.api.last_rate)

    def backfill(self, since: datetime, stream: str = "comments") -> Iterator[Page]:
        """Comments and visitor posts (or Messenger messages) published since `since`, newest first."""
        scan = Scan(Mark(seconds(since)))
        self.graph.cut_short = False
        self._scanner(stream)(scan)
        yield from scan.backfill_pages(self.page_limit, self.graph.api.last_rate)

    def _head(self, stream: str) -> Mark:
        """Where a first poll starts: the newest post update or message on the first page."""
        graph, page_id = self.graph, self.page_id()
        if stream == "comments":
            body = graph.get(graph.url(page_id, "feed"), "reading the Page feed", fields=POST_FIELDS,
                             limit=self.page_limit)
            posts = [p for p in body.get("data") or [] if isinstance(p, dict) and as_id(p.get("id"))]
            found = [(graph_time(p.get("created_time")), as_id(p.get("id"))) for p in posts]
            updated = [(graph_time(p.get("updated_time")), str(as_id(p.get("id")))) for p in posts]
            newest = max((when for when, _ in updated if when), default=None)
            for when, post_id in updated:  # the comments that made the newest update, so that none is read twice
                if newest is not None and when == newest:
                    comments = graph.get(graph.url(post_id, "comments"), "reading comments", filter="stream",
                                         order="reverse_chronological", fields="id,created_time", limit=self.page_limit)
                    found += [(graph_time(c.get("created_time")), as_id(c.get("id")))
                              for c in comments.get("data") or [] if isinstance(c, dict)]
            return head_mark(found)
        body = graph.get(graph.url(page_id, "conversations"), "reading conversations", platform="messenger",
                         fields=f"id,updated_time,messages.limit({self.page_limit}){{{MESSAGE_FIELDS}}}",
                         limit=self.page_limit)
        return head_mark([(graph_time(m.get("created_time")), as_id(m.get("id")))
                          for c in body.get("data") or [] if isinstance(c, dict) and isinstance(c.get("messages"), dict)
                          for m in c["messages"].get("data") or [] if isinstance(m, dict)])

    def _scan_comments(self, scan: Scan) -> None:
        graph, page_id = self.graph, self.page_id()
        own = {page_id}
        since = max(0, scan.mark.at - int(self.post_lookback.total_seconds()))
        for posts in graph.pages(graph.url(page_id, "feed"), "reading the Page feed", fields=POST_FIELDS,
                                 since=since, limit=self.page_limit):
            for post in posts:
                post_id = as_id(post.get("id")) if isinstance(post, dict) else None
                if post_id is None:
                    continue
                scan.consider(post, "created_time", lambda raw: parse_post(raw, own=own))
                updated = graph_time(post.get("updated_time")) or graph_time(post.get("created_time"))
                if updated is not None and seconds(updated) < scan.mark.at:
                    continue  # no comment since the mark
                if not graph.more():
                    return
                for comments in graph.pages(graph.url(post_id, "comments"), "reading comments", filter="stream",
                                            order="reverse_chronological", fields=COMMENT_FIELDS,
                                            limit=self.page_limit):
                    parse = lambda raw, p=post_id: parse_comment(raw, own=own, post_id=p)  # noqa: E731
                    if not all([scan.consider(c, "created_time", parse) for c in comments]):
                        break

    def _scan_messenger(self, scan: Scan) -> None:
        own = {self.page_id()}
        scan_conversations(self.graph, self.page_id(), "messenger", scan, limit=self.page_limit,
                           parse=lambda raw, conv: parse_message(raw, own=own, conversation=conv))

    # -- sending --

    def send(self, message: Outbound) -> SendResult:
        ref = read_ref(message.reply_ref)
        kind = reply_kind(message, ref)
        text = message.text
        if message.visibility == "public":
            if kind == "dm":
                raise NotAllowed("a Messenger message can only be answered in Messenger: send the reply privately")
            if not message.in_reply_to:
                raise NotAllowed("a Facebook reply answers a comment or a visitor post, and this one names neither")
            check_text(text, COMMENT_MAX, "comment", "Facebook")
            body = self.graph.post(self.graph.url(message.in_reply_to, "comments"), "posting a reply comment",
                                   data={"message": text})
            comment_id = as_id(body.get("id"))
            if comment_id is None:
                raise AdapterError("Facebook accepted the comment but its answer has no id; look for it before "
                                   "sending again", retryable=True, maybe_sent=True)
            return sent_result({"id": comment_id}, text)
        check_text(text, MESSAGE_MAX, "message", "Facebook Messenger")
        payload = self._private_payload(message, kind)
        try:
            body = self.graph.post(self.graph.url(self.page_id(), "messages"), "sending a private message",
                                   json=payload)
        except AlreadyReplied:
            found = self.find_sent(message)
            if found is not None:
                return found  # an earlier attempt of this entry got there
            raise
        return message_result(body, text, "Facebook")

    def _private_payload(self, message: Outbound, kind: str | None) -> dict[str, Any]:
        if kind == "dm" or not message.in_reply_to:
            if not message.recipient_id:
                raise NotAllowed("a Messenger message needs the customer's Page-scoped id (recipient_id), and this "
                                 "reply has none")
            return dm_body(message.recipient_id, message.text, message.reply_to_at, "Facebook Messenger",
                           human_agent=self.human_agent)
        return private_reply_body(message.in_reply_to, message.text, message.reply_to_at, "Facebook",
                                  post=kind == "mention")

    def find_sent(self, message: Outbound) -> SendResult | None:
        """Public: the Page's comment with this text under the target. Private reply to a comment:
        the message in its `private_reply_conversation`. Messenger (and a private reply to a
        visitor post): the Page's message with this text in the latest conversations."""
        graph, page_id = self.graph, self.page_id()
        kind = reply_kind(message, read_ref(message.reply_ref))
        what = "looking for a reply already sent"
        if message.visibility == "public" and message.in_reply_to:
            body = graph.get(graph.url(message.in_reply_to, "comments"), what, filter="stream",
                             order="reverse_chronological", fields="id,message,from,created_time,permalink_url",
                             limit=100)
            found = find_own(body.get("data"), "message", message.text, {page_id})
            return sent_result(found, message.text) if found else None
        if kind == "comment" and message.in_reply_to:
            comment = graph.get(graph.url(message.in_reply_to), what, fields="id,private_reply_conversation")
            conversation = comment.get("private_reply_conversation")
            conv_id = as_id(conversation.get("id")) if isinstance(conversation, dict) else None
            if conv_id is None:
                return None
            body = graph.get(graph.url(conv_id, "messages"), what, fields="id,message,from,created_time", limit=25)
            found = find_own(body.get("data"), "message", message.text, {page_id})
        else:
            found = find_in_conversations(graph, page_id, "messenger", message.text, own={page_id},
                                          user_id=message.recipient_id if kind == "dm" else None)
        return sent_result(found, message.text) if found else None

    def close(self) -> None:
        self.graph.close()

    def __enter__(self) -> FacebookAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
