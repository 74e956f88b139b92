"""Bluesky: notifications and chat in, posts and chat messages out (XRPC on the account's PDS).

`notifications` pages backwards, so a poll reads from the newest page down to the last item it
saw, then yields oldest first, each page's cursor being the newest item it covers
(`<indexedAt>|<uri>`). `chat` follows the chat service's log forward by rev. The session (kept
in the vault, refreshed rather than recreated) is `bluesky_session`'s; replies, and finding
those already sent, are `bluesky_send`'s.

This module only imports the standard library, httpx and `socialdesk.adapters`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from socialdesk.adapters.base import (
    AdapterError,
    Capabilities,
    Outbound,
    Page,
    SendResult,
    Skipped,
    Stream,
    Vault,
)
from socialdesk.adapters.bluesky_payloads import (
    Deleted,
    format_mark,
    notification_key,
    parse_chat_log,
    parse_chat_message,
    parse_notification,
    read_mark,
)
from socialdesk.adapters.bluesky_send import Replier
from socialdesk.adapters.bluesky_session import XrpcSession
from socialdesk.adapters.values import parse_iso

NOTIFICATIONS = Stream("notifications", min_interval=1.0)
CHAT = Stream("chat", min_interval=1.0)
MAX_LENGTH, CHAT_MAX_LENGTH = 300, 1000  # graphemes, counted by the core before a reply is queued
BATCH = 25  # getProfiles / getPosts take at most 25 at a time
EVERYTHING = "*"  # notifications cursor: nothing seen yet, everything is new
CHAT_START = "-"  # chat cursor: no convo yet, the whole log is new


class BlueskyAdapter:
    kind: ClassVar[str] = "bluesky"
    capabilities = Capabilities(public_reply=True, private_reply=True, dm=True, email=False,
                                max_length=MAX_LENGTH, length_counting="graphemes",
                                private_max_length=CHAT_MAX_LENGTH, backfill=True)
    streams = (NOTIFICATIONS, CHAT)

    def __init__(self, identifier: str, app_password: str, *, base_url: str = "https://bsky.social",
                 chat_proxy: str = "did:web:api.bsky.chat#bsky_chat", page_limit: int = 100,
                 timeout: float = 10.0, transport: httpx.BaseTransport | None = None,
                 vault: Vault | None = None):
        self.session = XrpcSession(identifier, app_password, base_url=base_url, chat_proxy=chat_proxy,
                                   timeout=timeout, transport=transport, vault=vault)
        self.api = self.session.api
        self.base_url = self.api.base_url
        self.identifier = self.session.identifier
        self.chat_proxy = chat_proxy
        self.page_limit = max(1, min(int(page_limit), 100))
        self.vault: Vault = self.session.vault
        self._replier = Replier(self.session)

    def did(self) -> str:
        return self.session.did()

    def verify(self) -> str:
        self.session.ensure()
        body = self.session.call("GET", "com.atproto.server.getSession", "checking the session")
        did, handle = body.get("did"), body.get("handle")
        return f"Bluesky account @{handle} (did {did}) on {self.base_url}"

    # -- reading --------------------------------------------------------------------------------

    def poll(self, cursor: str | None, stream: str = "notifications") -> Iterator[Page]:
        if stream == "chat":
            yield from self._poll_chat(cursor)
        elif stream in ("notifications", "mentions"):
            yield from self._poll_notifications(cursor)
        else:
            raise AdapterError(f"Bluesky has no stream {stream!r} (notifications, chat)", retryable=False)

    def _notifications(self, cursor: str | None, what: str) -> tuple[list[Any], str | None]:
        params = [("reasons", "mention"), ("reasons", "reply"), ("reasons", "quote"),
                  ("limit", str(self.page_limit))] + ([("cursor", cursor)] if cursor else [])
        body = self.session.call("GET", "app.bsky.notification.listNotifications", what, params=params)
        items = body.get("notifications")
        if not isinstance(items, list):
            raise AdapterError(f"Bluesky's listNotifications answer has no notifications list while {what}")
        after = body.get("cursor")
        return items, after if isinstance(after, str) and after else None

    def _poll_notifications(self, cursor: str | None) -> Iterator[Page]:
        what = "reading notifications"
        if cursor is None:  # first poll ever: the newest page marks the place
            items, _ = self._notifications(None, what)
            keys = [k for k in map(notification_key, items) if k]
            yield replace(self._notification_page(items), cursor=format_mark(max(keys)) if keys else EVERYTHING)
            return
        seen = None if cursor == EVERYTHING else read_mark(cursor)
        if seen is None and cursor != EVERYTHING:
            raise AdapterError(f"Bluesky notifications cursor {cursor!r:.80} is not <indexedAt>|<uri>", retryable=False)
        fresh: dict[str, tuple[tuple[datetime, str], Any]] = {}
        after: str | None = None
        reached = partial = False
        followed: set[str] = set()  # an AppView that hands back a cursor again would loop until out of rate
        while True:
            items, after = self._notifications(after, what)
            for item in items:
                key = notification_key(item)
                if key is None:
                    continue
                if seen is not None and key <= seen:
                    reached = True
                else:
                    fresh[key[1]] = (key, item)  # by uri: an item may reappear on the next page
            if reached or after is None or not items or after in followed:
                break
            followed.add(after)
            rate = self.api.last_rate
            if rate is not None and rate.remaining == 0:
                partial = True
                break
        ordered = sorted(fresh.values(), key=lambda p: p[0])
        if not ordered:
            yield Page([], cursor=cursor, rate=self.api.last_rate)
            return
        for start in range(0, len(ordered), self.page_limit):
            chunk = ordered[start:start + self.page_limit]
            page = self._notification_page([item for _, item in chunk])
            # Out of rate before reaching the last item seen: store what we have, keep the cursor.
            yield replace(page, cursor=None if partial else format_mark(chunk[-1][0]))

    def _notification_page(self, items: list[Any]) -> Page:
        wanted = [i for i in items if isinstance(i, dict) and i.get("reason") in ("mention", "reply", "quote")]
        dids = [i["author"]["did"] for i in wanted if isinstance(i.get("author"), dict)
                and isinstance(i["author"].get("did"), str)]
        uris = [i["uri"] for i in wanted if isinstance(i.get("uri"), str)]
        profiles = self._hydrate("app.bsky.actor.getProfiles", "actors", "profiles", "did", dids)
        posts = self._hydrate("app.bsky.feed.getPosts", "uris", "posts", "uri", uris)
        ordered = sorted(items, key=lambda i: notification_key(i) or (datetime.min.replace(tzinfo=UTC), ""))
        messages, skipped = [], []
        for item in ordered:
            result = parse_notification(item, profiles, posts)
            (skipped if isinstance(result, Skipped) else messages).append(result)
        return Page(messages=messages, cursor=None, skipped=skipped, rate=self.api.last_rate)

    def _hydrate(self, nsid: str, param: str, field: str, key: str, values: list[str]) -> dict[str, Any]:
        """Profiles or post views by DID or uri, 25 per request; skipped while out of rate."""
        out: dict[str, Any] = {}
        unique = list(dict.fromkeys(values))
        for start in range(0, len(unique), BATCH):
            rate = self.api.last_rate
            if rate is not None and rate.remaining == 0:
                break
            body = self.session.call("GET", nsid, f"reading {field} for a page",
                                     params=[(param, v) for v in unique[start:start + BATCH]])
            for view in body.get(field) or []:
                if isinstance(view, dict) and isinstance(view.get(key), str):
                    out[view[key]] = view
        return out

    def _poll_chat(self, cursor: str | None) -> Iterator[Page]:
        what = "reading the chat log"
        if cursor is None:  # first poll ever: the newest convo's rev is where the log stands now
            body = self.session.call("GET", "chat.bsky.convo.listConvos", "finding where the chat log stands",
                                     chat=True, params={"limit": "1"})
            convos = body.get("convos") if isinstance(body.get("convos"), list) else []
            revs = [c["rev"] for c in convos if isinstance(c, dict) and isinstance(c.get("rev"), str) and c["rev"]]
            yield Page([], cursor=max(revs) if revs else CHAT_START, rate=self.api.last_rate)
            return
        at = None if cursor == CHAT_START else cursor
        first = True
        while True:
            body = self.session.call("GET", "chat.bsky.convo.getLog", what, chat=True,
                                     params={"cursor": at} if at else None)
            logs = body.get("logs")
            if not isinstance(logs, list):
                raise AdapterError(f"Bluesky's getLog answer has no logs list while {what}")
            revs = [e["rev"] for e in logs if isinstance(e, dict) and isinstance(e.get("rev"), str)]
            after = body.get("cursor") if isinstance(body.get("cursor"), str) and body["cursor"] else None
            after = after or (max(revs) if revs else None)
            if logs or first:
                yield self._chat_page(logs, after or cursor)
            first = False
            rate = self.api.last_rate
            if not logs or after is None or after == at or (rate is not None and rate.remaining == 0):
                return
            at = after

    def _chat_page(self, logs: list[Any], cursor: str | None) -> Page:
        own = self.did()
        senders = [e["message"]["sender"]["did"] for e in logs
                   if isinstance(e, dict) and isinstance(e.get("message"), dict)
                   and isinstance(e["message"].get("sender"), dict)
                   and isinstance(e["message"]["sender"].get("did"), str) and e["message"]["sender"]["did"] != own]
        profiles = self._hydrate("app.bsky.actor.getProfiles", "actors", "profiles", "did", senders)
        messages, skipped, deleted = [], [], []
        for entry in logs:
            result = parse_chat_log(entry, own, profiles)
            if isinstance(result, Deleted):
                deleted.append(result.platform_id)
            elif isinstance(result, Skipped):
                skipped.append(result)
            else:
                messages.append(result)
        return Page(messages=messages, cursor=cursor, skipped=skipped, rate=self.api.last_rate, deleted=deleted)

    def backfill(self, since: datetime, stream: str = "notifications") -> Iterator[Page]:
        """Notifications (or chat messages) from the newest back to `since`, cursor None."""
        if stream == "chat":
            yield from self._backfill_chat(since)
            return
        after: str | None = None
        followed: set[str] = set()
        while True:
            items, after = self._notifications(after, "reading older notifications")
            keep = [i for i in items if (notification_key(i) or (since, ""))[0] >= since]
            yield replace(self._notification_page(keep), cursor=None)
            if len(keep) < len(items) or after is None or not items or after in followed:
                return
            followed.add(after)

    def _backfill_chat(self, since: datetime) -> Iterator[Page]:
        own, after = self.did(), None
        while True:
            body = self.session.call("GET", "chat.bsky.convo.listConvos", "reading chat convos", chat=True,
                                     params={"limit": "100", **({"cursor": after} if after else {})})
            convos = [c for c in body.get("convos") or [] if isinstance(c, dict) and isinstance(c.get("id"), str)]
            for convo in convos:
                last = convo.get("lastMessage")
                if isinstance(last, dict) and (parse_iso(last.get("sentAt")) or since) < since:
                    return  # convos come most recently active first
                yield from self._backfill_convo(convo, own, since)
            after = body.get("cursor") if isinstance(body.get("cursor"), str) else None
            if not convos or not after:
                return

    def _backfill_convo(self, convo: dict[str, Any], own: str, since: datetime) -> Iterator[Page]:
        members = {m["did"]: m for m in convo.get("members") or []
                   if isinstance(m, dict) and isinstance(m.get("did"), str)}
        after: str | None = None
        while True:
            params = {"convoId": convo["id"], "limit": "100", **({"cursor": after} if after else {})}
            body = self.session.call("GET", "chat.bsky.convo.getMessages", "reading older chat messages", chat=True,
                                     params=params)
            views = body.get("messages") if isinstance(body.get("messages"), list) else []
            results = [parse_chat_message(v, convo["id"], own, members) for v in views]
            keep = [r for r in results if not isinstance(r, Skipped) and r.published_at >= since]
            yield Page(messages=keep, cursor=None, skipped=[r for r in results if isinstance(r, Skipped)],
                       rate=self.api.last_rate)
            after = body.get("cursor") if isinstance(body.get("cursor"), str) else None
            times = [parse_iso(v.get("sentAt")) for v in views if isinstance(v, dict)]
            if any(t is not None and t < since for t in times) or not views or not after:
                return

    # -- sending --------------------------------------------------------------------------------

    def send(self, message: Outbound) -> SendResult:
        """A public reply in the thread, or a chat message (`bluesky_send`)."""
        return self._replier.send(message)

    def find_sent(self, message: Outbound) -> SendResult | None:
        return self._replier.find_sent(message)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> BlueskyAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
