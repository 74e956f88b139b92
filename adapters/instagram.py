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
with Meta's windows (see `graph`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

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
from socialdesk.adapters.graph_payloads import (
    graph_time,
    parse_ig_comment,
    parse_ig_media,
    parse_message,
    read_ref,
)
from socialdesk.adapters.values import as_id, count

COMMENT_FIELDS = "id,text,timestamp,username,from{id,username},like_count,parent_id,hidden"
MEDIA_FIELDS = "id,caption,timestamp,permalink,media_product_type,comments_count"
TAG_FIELDS = "id,caption,timestamp,username,permalink,like_count,comments_count"
COMMENT_MAX = 2200
MESSAGE_MAX = 1000  # the Send API takes at most 1000 bytes of UTF-8 text


class InstagramAdapter:
    kind: ClassVar[str] = "instagram"
    streams = (Stream("comments", min_interval=10.0), Stream("dms", min_interval=10.0))
    media_lookback = timedelta(days=7)  # comments on older media are not polled

    def __init__(self, token: str, *, account_id: str | None = None, page_id: str | None = None,
                 base_url: str = "https://graph.instagram.com", api_version: str = "v26.0", human_agent: bool = False,
                 page_limit: int = 50, timeout: float = 10.0, transport: httpx.BaseTransport | None = None):
        self.graph = Graph("Instagram", base_url, token, api_version=api_version, timeout=timeout,
                           transport=transport)
        self.base_url = self.graph.api.base_url
        self.facebook_login = page_id is not None or urlsplit(self.base_url).hostname == "graph.facebook.com"
        self.human_agent = human_agent
        self.page_limit = max(1, min(int(page_limit), 100))
        self.capabilities = Capabilities(
            public_reply=True, private_reply=True, dm=True, email=False, max_length=COMMENT_MAX,
            length_counting="utf16", private_max_length=MESSAGE_MAX, private_reply_window=PRIVATE_REPLY_WINDOW,
            dm_window=HUMAN_AGENT_WINDOW if human_agent else DM_WINDOW, backfill=True)
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

    def _usernames(self) -> set[str]:
        return {self._username} if self._username else set()

    def verify(self) -> str:
        self._identify()
        via = f" via Facebook page {self._page_id}" if self.facebook_login else ""
        return f"Instagram account @{self._username or '?'} (id {self._account_id}){via}"

    # -- polling --

    def _scanner(self, stream: str) -> Callable[[Scan], None]:
        if stream == "comments":
            return self._scan_comments
        if stream == "dms":
            return self._scan_dms
        raise AdapterError(f"Instagram has the streams comments and dms, not {stream!r}", retryable=False)

    def poll(self, cursor: str | None, stream: str = "comments") -> Iterator[Page]:
        scanner = self._scanner(stream)
        if cursor is None:
            yield Page(messages=[], cursor=str(self._head(stream)), rate=self.graph.api.last_rate)
            return
        scan = Scan(Mark.parse(cursor, "Instagram"))
        self.graph.cut_short = False
        scanner(scan)
        scan.complete = not self.graph.cut_short
        yield from scan.poll_pages(self.page_limit, self.graph.api.last_rate)

    def backfill(self, since: datetime, stream: str = "comments") -> Iterator[Page]:
        """Comments and tags (or Direct messages) published since `since`, newest first."""
        scan = Scan(Mark(seconds(since)))
        self.graph.cut_short = False
        self._scanner(stream)(scan)
        yield from scan.backfill_pages(self.page_limit, self.graph.api.last_rate)

    def _media_fields(self) -> str:
        return f"{MEDIA_FIELDS},comments.limit({self.page_limit}){{{COMMENT_FIELDS},replies{{{COMMENT_FIELDS}}}}}"

    def _head(self, stream: str) -> Mark:
        graph, account = self.graph, self.account_id()
        if stream == "comments":
            body = graph.get(graph.url(account, "media"), "reading media", fields=self._media_fields(),
                             limit=self.page_limit)
            found = []
            for media in body.get("data") or []:
                for item in [media, *_nested(media, "comments")]:
                    for each in [item, *_nested(item, "replies")]:
                        found.append((graph_time(each.get("timestamp")), as_id(each.get("id"))))
            return head_mark(found)
        body = graph.get(graph.url(self._owner(), "conversations"), "reading conversations", platform="instagram",
                         fields=f"id,updated_time,messages.limit({self.page_limit}){{{MESSAGE_FIELDS}}}",
                         limit=self.page_limit)
        return head_mark([(graph_time(m.get("created_time")), as_id(m.get("id")))
                          for c in body.get("data") or [] if isinstance(c, dict) for m in _nested(c, "messages")])

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
        graph, own, usernames = self.graph, self._own, self._usernames()
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

    def _scan_dms(self, scan: Scan) -> None:
        owner = self._owner()
        own, usernames = self._own, self._usernames()
        scan_conversations(self.graph, owner, "instagram", scan, limit=self.page_limit,
                           parse=lambda raw, conv: parse_message(raw, own=own, usernames=usernames,
                                                                 conversation=conv))

    # -- sending --

    def send(self, message: Outbound) -> SendResult:
        ref = read_ref(message.reply_ref)
        kind = reply_kind(message, ref)
        text = message.text
        graph, account = self.graph, self.account_id()
        if message.visibility == "public":
            if kind == "dm":
                raise NotAllowed("an Instagram Direct message can only be answered in Direct: send the reply "
                                 "privately")
            if not message.in_reply_to:
                raise NotAllowed("an Instagram reply answers a comment or a tagged media, and this one names neither")
            check_text(text, COMMENT_MAX, "comment", "Instagram")
            if kind == "mention":
                body = graph.post(graph.url(account, "mentions"), "commenting on a media that tags the account",
                                  data={"media_id": message.in_reply_to, "message": text})
            else:
                top = ref.get("top") or message.in_reply_to
                body = graph.post(graph.url(top, "replies"), "posting a reply", data={"message": text})
            comment_id = as_id(body.get("id"))
            if comment_id is None:
                raise AdapterError("Instagram accepted the reply but its answer has no id; look for it before "
                                   "sending again", retryable=True, maybe_sent=True)
            return sent_result({"id": comment_id}, text)
        check_text(text, MESSAGE_MAX, "message", "Instagram", max_bytes=MESSAGE_MAX)
        if kind == "dm" or not message.in_reply_to:
            if not message.recipient_id:
                raise NotAllowed("an Instagram message needs the customer's Instagram-scoped id (recipient_id), "
                                 "and this reply has none")
            payload = dm_body(message.recipient_id, text, message.reply_to_at, "Instagram",
                              human_agent=self.human_agent)
        elif kind == "mention":
            raise NotAllowed("Instagram has no private reply to a media the account is tagged in; reply publicly, "
                             "or message the person once they have written to the account")
        else:
            payload = private_reply_body(message.in_reply_to, text, message.reply_to_at, "Instagram")
        try:
            body = graph.post(graph.url(self._owner(), "messages"), "sending a private message", json=payload)
        except AlreadyReplied:
            found = self.find_sent(message)
            if found is not None:
                return found  # an earlier attempt of this entry got there
            raise
        return message_result(body, text, "Instagram")

    def find_sent(self, message: Outbound) -> SendResult | None:
        """Public: the account's reply with this text under the top-level comment. Private: the
        account's message with this text in the latest Direct conversations. A comment on a media
        that tags the account cannot be looked up."""
        graph, account = self.graph, self.account_id()
        ref = read_ref(message.reply_ref)
        kind = reply_kind(message, ref)
        what = "looking for a reply already sent"
        if message.visibility == "public" and message.in_reply_to:
            if kind == "mention":
                raise CannotVerify("Instagram does not list the comments on a media that tags the account; open "
                                   f"the media {message.in_reply_to} in Instagram and check whether the reply is there")
            top = ref.get("top") or message.in_reply_to
            for replies in graph.pages(graph.url(top, "replies"), what, fields="id,text,username,from,timestamp",
                                       limit=50):
                found = find_own(replies, "text", message.text, self._own, self._usernames())
                if found is not None:
                    return sent_result(found, message.text, time_key="timestamp", url_key="permalink")
            return None
        found = find_in_conversations(graph, self._owner(), "instagram", message.text, own=self._own | {account},
                                      user_id=message.recipient_id if kind == "dm" else None)
        return sent_result(found, message.text) if found else None

    def close(self) -> None:
        self.graph.close()

    def __enter__(self) -> InstagramAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _nested(obj: Any, name: str) -> list[dict[str, Any]]:
    """The expanded first page of a nested connection, objects only."""
    nested = obj.get(name) if isinstance(obj, dict) else None
    data = nested.get("data") if isinstance(nested, dict) else None
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []
