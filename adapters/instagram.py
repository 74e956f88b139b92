"""Instagram professional accounts: comments on the account's media, media it is tagged in, and
Direct messages, over the Graph API.

Two logins, told apart by `page_id` (or a graph.facebook.com base URL): *Instagram Login*
(graph.instagram.com, an Instagram user token; the account is `GET /me`, messages go to
`/{ig-id}/messages`) and *Facebook Login* (graph.facebook.com, a Page token; the account is the
Page's `instagram_business_account`, messages go to `/{page-id}/messages`).

Streams:
- `comments`: the account's media created within `media_lookback` of the cursor
  (`/{ig-id}/media`, newest first) with their comments and replies expanded in the same call
  (Instagram media have no update time, so every comment of those media is read and compared
  with the cursor); with Facebook Login also `/{ig-id}/tags` (media the account is tagged in,
  as `mention`s). Instagram Login has no way to poll mentions (only webhooks).
- `dms`: `/{owner}/conversations?platform=instagram`, as for Messenger.

Instagram comments cannot be edited; deletions are not visible when polling. A public reply goes
to the top-level comment (`POST /{comment}/replies`: Instagram threads are one level deep), a
reply to a tagged media to `POST /{ig-id}/mentions`. Private replies and DMs use the Send API
with Meta's windows (see `graph_send`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from socialdesk.adapters.base import AdapterError, CannotVerify, NotAllowed, Outbound, SendResult, Stream
from socialdesk.adapters.graph import expanded
from socialdesk.adapters.graph_adapter import GraphAdapter
from socialdesk.adapters.graph_cursor import Mark, Scan, head_mark, seconds
from socialdesk.adapters.graph_payloads import graph_time, parse_ig_comment, parse_ig_media, read_ref
from socialdesk.adapters.graph_send import private_reply_body, reply_kind, sent_result
from socialdesk.adapters.values import as_id, count

COMMENT_FIELDS = "id,text,timestamp,username,from{id,username},like_count,parent_id,hidden"
MEDIA_FIELDS = "id,caption,timestamp,permalink,media_product_type,comments_count"
TAG_FIELDS = "id,caption,timestamp,username,permalink,like_count,comments_count"
COMMENT_MAX = 2200
MESSAGE_MAX = 1000  # the Send API takes at most 1000 bytes of UTF-8 text


class InstagramAdapter(GraphAdapter):
    kind = "instagram"
    platform = "Instagram"
    streams = (Stream("comments", min_interval=10.0), Stream("dms", min_interval=10.0))
    conversations = "instagram"
    comment_max, message_max, message_max_bytes = COMMENT_MAX, MESSAGE_MAX, MESSAGE_MAX
    dm_platform = "Instagram"
    comment_noun = "reply"
    dm_not_public = "an Instagram Direct message can only be answered in Direct: send the reply privately"
    no_target = "an Instagram reply answers a comment or a tagged media, and this one names neither"
    no_recipient = ("an Instagram message needs the customer's Instagram-scoped id (recipient_id), and this reply "
                    "has none")
    media_lookback = timedelta(days=7)  # comments on older media are not polled

    def __init__(self, token: str, *, account_id: str | None = None, page_id: str | None = None,
                 base_url: str = "https://graph.instagram.com", api_version: str = "v26.0", human_agent: bool = False,
                 page_limit: int = 50, timeout: float = 10.0, transport: httpx.BaseTransport | None = None):
        super().__init__(token, base_url=base_url, api_version=api_version, human_agent=human_agent,
                         page_limit=page_limit, timeout=timeout, transport=transport)
        self.facebook_login = page_id is not None or urlsplit(self.base_url).hostname == "graph.facebook.com"
        self._account_id = as_id(account_id)
        self._page_id = as_id(page_id)
        self._own: set[str] = set()
        self._username: str | None = None

    # -- identity --

    def _identify(self) -> None:
        """Learn the account id, its other ids and its username (one or two calls, cached)."""
        graph, what = self.graph, "checking the Instagram token"
        if not self.facebook_login:
            me = graph.get(graph.url("me"), what, fields="id,user_id,username,name")
            ids = [as_id(me.get("user_id")), as_id(me.get("id"))]
            account = self._account_id or next((i for i in ids if i), None)
        else:
            if self._page_id is None:
                self._page_id = as_id(graph.get(graph.url("me"), what, fields="id,name").get("id"))
            page = graph.get(graph.url(str(self._page_id)), what, fields="instagram_business_account{id,username,name}")
            linked = page.get("instagram_business_account")
            me = linked if isinstance(linked, dict) else {}
            ids = [as_id(me.get("id"))]
            account = self._account_id or ids[0]
        if account is None:
            raise AdapterError("no Instagram professional account is linked to this token (or its Page); link one "
                               "in the Instagram app or Meta Business Suite", retryable=False)
        self._account_id = account
        self._own = {i for i in [account, *ids] if i}
        username = me.get("username")
        self._username = username if isinstance(username, str) and username else None

    def account_id(self) -> str:
        if not self._own:
            self._identify()
        return str(self._account_id)

    def _owner(self) -> str:
        """Whose conversations and messages: the Page (Facebook Login) or the account."""
        account = self.account_id()
        return str(self._page_id) if self.facebook_login else account

    def _own_ids(self) -> set[str]:
        self.account_id()
        return self._own

    def _usernames(self) -> set[str]:
        return {self._username} if self._username else set()

    def verify(self) -> str:
        self._identify()
        via = f" via Facebook page {self._page_id}" if self.facebook_login else ""
        return f"Instagram account @{self._username or '?'} (id {self._account_id}){via}"

    # -- polling comments --

    def _media_fields(self) -> str:
        return f"{MEDIA_FIELDS},comments.limit({self.page_limit}){{{COMMENT_FIELDS},replies{{{COMMENT_FIELDS}}}}}"

    def _comments_head(self) -> Mark:
        """The newest media, comment or reply of the first page of media."""
        graph, account = self.graph, self.account_id()
        body = graph.get(graph.url(account, "media"), "reading media", fields=self._media_fields(),
                         limit=self.page_limit)
        found = []
        for media in body.get("data") or []:
            for item in [media, *expanded(media, "comments")]:
                for each in [item, *expanded(item, "replies")]:
                    found.append((graph_time(each.get("timestamp")), as_id(each.get("id"))))
        return head_mark(found)

    def _recent_media(self, oldest: int) -> Iterator[dict[str, Any]]:
        """The account's media, newest first, down to those created before `oldest`."""
        graph = self.graph
        for medias in graph.pages(graph.url(self.account_id(), "media"), "reading media",
                                  fields=self._media_fields(), limit=self.page_limit):
            for media in medias:
                if not isinstance(media, dict) or as_id(media.get("id")) is None:
                    continue
                created = graph_time(media.get("timestamp"))
                if created is not None and seconds(created) < oldest:
                    return
                yield media

    def _scan_comments(self, scan: Scan) -> None:
        graph, own, usernames = self.graph, self._own_ids(), self._usernames()
        fields = f"{COMMENT_FIELDS},replies{{{COMMENT_FIELDS}}}"
        for media in self._recent_media(scan.mark.at - int(self.media_lookback.total_seconds())):
            media_id = str(as_id(media.get("id")))
            parse = lambda raw, m=media_id: parse_ig_comment(raw, own=own, usernames=usernames,  # noqa: E731
                                                             media_id=m)
            fallback = graph.url(media_id, "comments") if count(media.get("comments_count")) else None
            for comments in graph.connection(media, "comments", fallback, "reading comments", fields=fields,
                                             limit=self.page_limit):
                for comment in comments:
                    scan.consider(comment, "timestamp", parse)
                    for replies in graph.connection(comment if isinstance(comment, dict) else {}, "replies", None,
                                                    "reading replies"):
                        for reply in replies:
                            scan.consider(reply, "timestamp", parse)
        if self.facebook_login:
            self._scan_tags(scan)

    def _scan_tags(self, scan: Scan) -> None:
        """Media the account is tagged in, newest first down to the mark (Facebook Login only)."""
        graph, usernames = self.graph, self._usernames()
        if not graph.more():
            return
        for tagged in graph.pages(graph.url(self.account_id(), "tags"), "reading media that tag the account",
                                  fields=TAG_FIELDS, limit=self.page_limit):
            if not all([scan.consider(m, "timestamp", lambda raw: parse_ig_media(raw, usernames=usernames))
                        for m in tagged]):
                return

    # -- sending --

    def _comment(self, message: Outbound, kind: str | None, ref: Mapping[str, str]) -> dict[str, Any]:
        """A reply to the top-level comment, or a comment on a media that tags the account."""
        graph = self.graph
        if kind == "mention":
            return graph.post(graph.url(self.account_id(), "mentions"), "commenting on a media that tags the account",
                              data={"media_id": message.in_reply_to, "message": message.text})
        top = ref.get("top") or message.in_reply_to
        return graph.post(graph.url(top, "replies"), "posting a reply", data={"message": message.text})

    def _private_reply(self, message: Outbound, kind: str | None) -> dict[str, Any]:
        if kind == "mention":
            raise NotAllowed("Instagram has no private reply to a media the account is tagged in; reply publicly, "
                             "or message the person once they have written to the account")
        return private_reply_body(message.in_reply_to, message.text, message.reply_to_at, "Instagram")

    def find_sent(self, message: Outbound) -> SendResult | None:
        """Public: the account's reply with this text under the top-level comment. Private: the
        account's message with this text in the latest Direct conversations. A comment on a media
        that tags the account cannot be looked up."""
        graph = self.graph
        ref = read_ref(message.reply_ref)
        kind = reply_kind(message, ref)
        what = "looking for a reply already sent"
        if message.visibility == "public" and message.in_reply_to:
            if kind == "mention":
                raise CannotVerify("Instagram does not list the comments on a media that tags the account; open "
                                   f"the media {message.in_reply_to} in Instagram and check whether the reply is there")
            top = ref.get("top") or message.in_reply_to
            # Replies come oldest first: every page is read, at most FIND_PAGES of them.
            pages = graph.pages(graph.url(top, "replies"), what, fields="id,text,username,from,timestamp", limit=50)
            found = self._find_own(pages, "text", message, time_key="timestamp", newest_first=False)
            return sent_result(found, message.text, time_key="timestamp", url_key="permalink") if found else None
        return self._find_in_conversations(message, kind)
