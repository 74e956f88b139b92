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

Both poll by time (see `graph_cursor.Mark`). Graph says nothing of edits to comments or of deletions
when polled: an edited comment keeps the text first read, a deleted one stays (webhooks, which
need a public callback, would tell; `graph_payloads.parse_webhook` reads them).

Replies: a public reply is a comment under the comment (or post); a private reply is Meta's
Private Replies (once per comment, within 7 days); a Messenger answer is a RESPONSE within 24
hours of the customer's last message, or a HUMAN_AGENT-tagged message up to 7 days when the
channel has `human_agent`. Graph has no idempotency key, so `find_sent` looks on the Page.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import httpx

from socialdesk.adapters.base import AdapterError, Outbound, SendResult, Stream
from socialdesk.adapters.graph_adapter import GraphAdapter
from socialdesk.adapters.graph_cursor import Mark, Scan, head_mark, seconds
from socialdesk.adapters.graph_payloads import graph_time, parse_comment, parse_post, read_ref
from socialdesk.adapters.graph_send import private_reply_body, reply_kind, sent_result
from socialdesk.adapters.values import as_id

POST_FIELDS = "id,message,story,created_time,updated_time,from,permalink_url,attachments{type,url,title}"
COMMENT_FIELDS = ("id,message,from,created_time,parent{id},attachment{type,url,title},like_count,comment_count,"
                  "can_reply_privately,permalink_url")
COMMENT_MAX = 8000
MESSAGE_MAX = 2000


class FacebookAdapter(GraphAdapter):
    kind = "facebook"
    platform = "Facebook"
    streams = (Stream("comments", min_interval=10.0), Stream("messenger", min_interval=10.0))
    conversations = "messenger"
    comment_max, message_max = COMMENT_MAX, MESSAGE_MAX
    dm_platform = "Facebook Messenger"
    dm_not_public = "a Messenger message can only be answered in Messenger: send the reply privately"
    no_target = "a Facebook reply answers a comment or a visitor post, and this one names neither"
    no_recipient = "a Messenger message needs the customer's Page-scoped id (recipient_id), and this reply has none"
    post_lookback = timedelta(days=28)  # comments on posts older than this are not polled

    def __init__(self, page_token: str, *, page_id: str | None = None, base_url: str = "https://graph.facebook.com",
                 api_version: str = "v26.0", human_agent: bool = False, page_limit: int = 50, timeout: float = 10.0,
                 transport: httpx.BaseTransport | None = None):
        super().__init__(page_token, base_url=base_url, api_version=api_version, human_agent=human_agent,
                         page_limit=page_limit, timeout=timeout, transport=transport)
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

    def _owner(self) -> str:
        return self.page_id()

    def _own_ids(self) -> set[str]:
        return {self.page_id()}

    def verify(self) -> str:
        me = self._me()
        return f"Facebook page {me.get('name', '?')} (id {self._page_id})"

    # -- polling comments --

    def _comments_head(self) -> Mark:
        """The newest post or comment: of the first page of the feed, the posts and the comments
        of the most recently updated post (so that none is read twice)."""
        graph, page_id = self.graph, self.page_id()
        body = graph.get(graph.url(page_id, "feed"), "reading the Page feed", fields=POST_FIELDS,
                         limit=self.page_limit)
        posts = [p for p in body.get("data") or [] if isinstance(p, dict) and as_id(p.get("id"))]
        found = [(graph_time(p.get("created_time")), as_id(p.get("id"))) for p in posts]
        updated = [(graph_time(p.get("updated_time")), str(as_id(p.get("id")))) for p in posts]
        newest = max((when for when, _ in updated if when), default=None)
        for when, post_id in updated:
            if newest is not None and when == newest:
                comments = graph.get(graph.url(post_id, "comments"), "reading comments", filter="stream",
                                     order="reverse_chronological", fields="id,created_time", limit=self.page_limit)
                found += [(graph_time(c.get("created_time")), as_id(c.get("id")))
                          for c in comments.get("data") or [] if isinstance(c, dict)]
        return head_mark(found)

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

    # -- sending --

    def _comment(self, message: Outbound, kind: str | None, ref: Mapping[str, str]) -> dict[str, Any]:
        """A comment under the comment or post."""
        return self.graph.post(self.graph.url(message.in_reply_to, "comments"), "posting a reply comment",
                               data={"message": message.text})

    def _private_reply(self, message: Outbound, kind: str | None) -> dict[str, Any]:
        return private_reply_body(message.in_reply_to, message.text, message.reply_to_at, "Facebook",
                                  post=kind == "mention")

    def find_sent(self, message: Outbound) -> SendResult | None:
        """Public: the Page's comment with this text under the target. Private reply to a comment:
        the message in its `private_reply_conversation`. Messenger (and a private reply to a
        visitor post): the Page's message with this text in the conversations updated since.
        Each list is read back to the time of the message answered (see `_find_own`)."""
        graph = self.graph
        kind = reply_kind(message, read_ref(message.reply_ref))
        what = "looking for a reply already sent"
        if message.visibility == "public" and message.in_reply_to:
            pages = graph.pages(graph.url(message.in_reply_to, "comments"), what, filter="stream",
                                order="reverse_chronological", fields="id,message,from,created_time,permalink_url",
                                limit=100)
            found = self._find_own(pages, "message", message, time_key="created_time")
            return sent_result(found, message.text) if found else None
        if kind != "comment" or not message.in_reply_to:
            return self._find_in_conversations(message, kind)
        comment = graph.get(graph.url(message.in_reply_to), what, fields="id,private_reply_conversation")
        conversation = comment.get("private_reply_conversation")
        conv_id = as_id(conversation.get("id")) if isinstance(conversation, dict) else None
        if conv_id is None:
            return None
        pages = graph.pages(graph.url(conv_id, "messages"), what, fields="id,message,from,created_time", limit=25)
        found = self._find_own(pages, "message", message, time_key="created_time")
        return sent_result(found, message.text) if found else None
