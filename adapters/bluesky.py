"""Bluesky: notifications and chat in, posts and chat messages out (XRPC on the account's PDS).

Sessions are precious (createSession: 30 per 5 minutes, 300 a day), so the JWTs live in the
vault across restarts; an expired access token is refreshed with the refresh token, and a new
session is only created when that fails. `notifications` pages backwards, so a poll reads from
the newest page down to the last item it saw, then yields oldest first, each page's cursor
being the newest item it covers (`<indexedAt>|<uri>`). `chat` follows the chat service's log
forward by rev, through the PDS with the `atproto-proxy` header.

Replies are `app.bsky.feed.post` records with strong refs to the thread root and parent and
byte-offset facets. No record key is derived from the idempotency key: a post's key must be a
TID, which encodes its creation time, and one made from our random UUID keys would claim a random
time (PDSes have refused post keys far from the present; the AppView orders by them). So
`find_sent` reads the account's recent posts (or the convo's messages) for a reply already made.

This module only imports the standard library, httpx and `socialdesk.adapters`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from socialdesk.adapters.base import (
    AdapterError,
    AuthError,
    CannotVerify,
    Capabilities,
    MemoryVault,
    NotAllowed,
    Outbound,
    Page,
    RateLimit,
    SendResult,
    Skipped,
    Stream,
    Vault,
)
from socialdesk.adapters.bluesky_payloads import (
    POST,
    Deleted,
    build_facets,
    chat_id,
    format_mark,
    graphemes,
    jwt_expiry,
    notification_key,
    parse_chat_log,
    parse_chat_message,
    parse_notification,
    post_url,
    read_mark,
    read_reply_ref,
    strong_ref,
)
from socialdesk.adapters.http import JsonApi, header_rate
from socialdesk.adapters.values import parse_iso

NOTIFICATIONS = Stream("notifications", min_interval=1.0)
CHAT = Stream("chat", min_interval=1.0)
MAX_GRAPHEMES, MAX_BYTES = 300, 3000
CHAT_MAX_GRAPHEMES, CHAT_MAX_BYTES = 1000, 10000
BATCH = 25  # getProfiles / getPosts take at most 25 at a time
EVERYTHING = "*"  # notifications cursor: nothing seen yet, everything is new
CHAT_START = "-"  # chat cursor: no convo yet, the whole log is new
RENEW_MARGIN = 30.0  # seconds before an access token expires that it is renewed
FIND_PAGES = 3  # find_sent reads at most the 300 newest posts (or chat messages)


def parse_rate(headers: Mapping[str, str]) -> RateLimit | None:
    """`ratelimit-limit/remaining/reset` (reset in unix seconds); `ratelimit-policy` says the window."""
    return header_rate(headers, "ratelimit-", reset="epoch")


class XrpcError(AdapterError):
    """An XRPC error answer `{"error", "message"}` (HTTP 400): `error` is its machine name."""

    def __init__(self, message: str, error: str, detail: str):
        super().__init__(message, retryable=False)
        self.error, self.detail = error, detail


class SessionExpired(AuthError):
    """The access (or refresh) token was refused: renew the session and try again."""

    def __init__(self, message: str, error: str, detail: str):
        super().__init__(message)
        self.error, self.detail = error, detail


def _classify(response: httpx.Response, body: Any, redact: Callable[[str], str] = str) -> AdapterError | None:
    """XRPC error answers as typed errors. `redact` runs before any cut, so no prefix of a
    secret the server echoed survives."""
    code = response.status_code
    if code == 429 or code >= 500 or not isinstance(body, dict):
        return None
    error = redact(body["error"])[:100] if isinstance(body.get("error"), str) else ""
    detail = redact(str(body.get("message") or ""))[:200]
    text = f"{error}: {detail}" if detail else error or f"HTTP {code}"
    if error in ("AccountTakedown", "AccountDeactivated", "AuthFactorTokenRequired"):
        return AuthError(f"Bluesky will not open a session ({text}); sign in on bsky.app to see why, "
                         "and use an app password (2FA by email does not apply to app passwords)")
    if error in ("ExpiredToken", "InvalidToken") or code == 401:
        return SessionExpired(f"Bluesky refused the session token (HTTP {code} {text})", error, detail)
    if 400 <= code < 500 and error:
        return XrpcError(f"Bluesky rejected the request (HTTP {code} {text})", error, detail)
    return None


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class BlueskyAdapter:
    kind: ClassVar[str] = "bluesky"
    capabilities = Capabilities(public_reply=True, private_reply=True, dm=True, email=False,
                                max_length=MAX_GRAPHEMES, length_counting="graphemes",
                                private_max_length=CHAT_MAX_GRAPHEMES, backfill=True)
    streams = (NOTIFICATIONS, CHAT)

    def __init__(self, identifier: str, app_password: str, *, base_url: str = "https://bsky.social",
                 chat_proxy: str = "did:web:api.bsky.chat#bsky_chat", page_limit: int = 100,
                 timeout: float = 10.0, transport: httpx.BaseTransport | None = None,
                 vault: Vault | None = None):
        self.api = JsonApi("Bluesky", base_url, timeout=timeout, transport=transport, secrets=[app_password],
                           rate=parse_rate, classify=lambda r, b: _classify(r, b, self.api.redact),
                           auth_hint="check the handle and app password with `socialdesk auth test`")
        self.base_url = self.api.base_url
        self.identifier = identifier.strip().lstrip("@")
        self._password = app_password
        self.chat_proxy = chat_proxy
        self.page_limit = max(1, min(int(page_limit), 100))
        self.vault: Vault = vault if vault is not None else MemoryVault()
        self._session: dict[str, str] | None = None
        self._dids: dict[str, str | None] = {}

    # -- session --------------------------------------------------------------------------------

    def _adopt(self, body: Any, *, save: bool) -> dict[str, str]:
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) and body[k]
                                                 for k in ("accessJwt", "refreshJwt", "did")):
            raise AdapterError("Bluesky's session answer lacks accessJwt, refreshJwt or did", retryable=True)
        session = {k: body[k] for k in ("accessJwt", "refreshJwt", "did")}
        session["handle"] = body["handle"] if isinstance(body.get("handle"), str) else session["did"]
        self.api.add_secret(session["accessJwt"])
        self.api.add_secret(session["refreshJwt"])
        self._session = session
        if save:
            self.vault.set("session", json.dumps(session))
        return session

    def _stored(self) -> dict[str, str] | None:
        try:
            return self._adopt(json.loads(self.vault.get("session") or "null"), save=False)
        except (ValueError, AdapterError):
            return None

    def _create(self) -> dict[str, str]:
        what = "creating a session (createSession)"
        try:
            body = self.api.object("POST", "/xrpc/com.atproto.server.createSession", what,
                                   json={"identifier": self.identifier, "password": self._password})
        except (SessionExpired, XrpcError) as exc:
            why = f"{exc.error or 'HTTP 401'}: {exc.detail}"
            raise AuthError(f"Bluesky refused the handle or app password for {self.identifier} ({why}); create an "
                            "app password under Settings → Privacy and security → App passwords and store it with "
                            "`socialdesk auth`") from None
        return self._adopt(body, save=True)

    def _renew(self, stale: Mapping[str, str]) -> dict[str, str]:
        """A fresh session: another process's newer one from the vault, else a refresh, else a
        new session (the only step that counts against createSession's limit)."""
        stored = self._stored()
        if stored is not None and stored["accessJwt"] != stale["accessJwt"]:
            return stored
        try:
            body = self.api.object("POST", "/xrpc/com.atproto.server.refreshSession", "refreshing the session",
                                   headers={"Authorization": f"Bearer {stale['refreshJwt']}"})
        except (SessionExpired, XrpcError):
            stored = self._stored()
            if stored is not None and stored["refreshJwt"] != stale["refreshJwt"]:
                return stored  # refreshed meanwhile by another process: its rotation spent ours
            return self._create()
        return self._adopt(body, save=True)

    def _ensure(self) -> dict[str, str]:
        session = self._session or self._stored() or self._create()
        expiry = jwt_expiry(session["accessJwt"])
        if expiry is not None and expiry - time.time() < RENEW_MARGIN:
            session = self._renew(session)
        return session

    def did(self) -> str:
        return self._ensure()["did"]

    def _xrpc(self, method: str, nsid: str, what: str, *, chat: bool = False, **kwargs: Any) -> dict[str, Any]:
        """One authenticated call; a refused access token is renewed once and the call repeated."""
        session = self._ensure()
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {session['accessJwt']}"}
            if chat:
                headers["atproto-proxy"] = self.chat_proxy
            try:
                return self.api.object(method, f"/xrpc/{nsid}", what, headers=headers, **kwargs)
            except SessionExpired as exc:
                if chat and "scope" in exc.detail.lower():
                    raise AuthError(f"Bluesky refused the chat request ({exc.error}: {exc.detail}) while {what}; "
                                    "the app password needs \"Allow access to your direct messages\"") from None
                if attempt == 2:
                    raise AuthError(f"{exc} while {what}, even with a renewed session; "
                                    "check the app password with `socialdesk auth test`") from None
                session = self._renew(session)
            except XrpcError as exc:
                exc.args = (f"{exc} while {what}",)
                raise
        raise AssertionError("unreachable")

    def verify(self) -> str:
        self._ensure()
        body = self._xrpc("GET", "com.atproto.server.getSession", "checking the session")
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
        body = self._xrpc("GET", "app.bsky.notification.listNotifications", what, params=params)
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
            if reached or after is None or not items:
                break
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
            body = self._xrpc("GET", nsid, f"reading {field} for a page",
                              params=[(param, v) for v in unique[start:start + BATCH]])
            for view in body.get(field) or []:
                if isinstance(view, dict) and isinstance(view.get(key), str):
                    out[view[key]] = view
        return out

    def _poll_chat(self, cursor: str | None) -> Iterator[Page]:
        what = "reading the chat log"
        if cursor is None:  # first poll ever: the newest convo's rev is where the log stands now
            body = self._xrpc("GET", "chat.bsky.convo.listConvos", "finding where the chat log stands",
                              chat=True, params={"limit": "1"})
            convos = body.get("convos") if isinstance(body.get("convos"), list) else []
            revs = [c["rev"] for c in convos if isinstance(c, dict) and isinstance(c.get("rev"), str) and c["rev"]]
            yield Page([], cursor=max(revs) if revs else CHAT_START, rate=self.api.last_rate)
            return
        at = None if cursor == CHAT_START else cursor
        first = True
        while True:
            body = self._xrpc("GET", "chat.bsky.convo.getLog", what, chat=True,
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
        while True:
            items, after = self._notifications(after, "reading older notifications")
            keep = [i for i in items if (notification_key(i) or (since, ""))[0] >= since]
            yield replace(self._notification_page(keep), cursor=None)
            if len(keep) < len(items) or after is None or not items:
                return

    def _backfill_chat(self, since: datetime) -> Iterator[Page]:
        own, after = self.did(), None
        while True:
            body = self._xrpc("GET", "chat.bsky.convo.listConvos", "reading chat convos", chat=True,
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
            body = self._xrpc("GET", "chat.bsky.convo.getMessages", "reading older chat messages", chat=True,
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
        if message.visibility == "private":
            return self._send_chat(message)
        return self._send_post(message)

    @staticmethod
    def _check_length(text: str, graphemes_max: int, bytes_max: int, what: str) -> None:
        if not text.strip():
            raise NotAllowed(f"{what} is empty; Bluesky needs some text")
        length, size = graphemes(text), len(text.encode("utf-8"))
        if length > graphemes_max or size > bytes_max:
            raise NotAllowed(f"{what} is {length} characters ({size} bytes); Bluesky takes at most "
                             f"{graphemes_max} characters and {bytes_max} bytes: shorten it")

    def _resolve(self, handle: str) -> str | None:
        """A handle's DID, or None when it does not resolve (the mention stays plain text)."""
        if handle not in self._dids:
            try:
                body = self._xrpc("GET", "com.atproto.identity.resolveHandle", f"resolving @{handle}",
                                  params={"handle": handle})
            except XrpcError:
                self._dids[handle] = None
            else:
                did = body.get("did")
                self._dids[handle] = did if isinstance(did, str) and did.startswith("did:") else None
        return self._dids[handle]

    def _reply_refs(self, message: Outbound) -> dict[str, Any]:
        """`{root, parent}` strong refs for answering `in_reply_to`: from the reply_ref noted
        when it was read, else from the post itself."""
        uri = message.in_reply_to or ""
        if not uri.startswith("at://"):
            raise NotAllowed(f"{uri} is a chat message, not a post: answer it privately (in the chat)")
        ref = read_reply_ref(message.reply_ref)
        root = strong_ref(ref.get("root"))
        if isinstance(ref.get("cid"), str) and ref["cid"] and root:
            return {"root": root, "parent": {"uri": uri, "cid": ref["cid"]}}
        body = self._xrpc("GET", "app.bsky.feed.getPosts", "reading the post to answer", params={"uris": uri})
        views = [v for v in body.get("posts") or [] if isinstance(v, dict) and v.get("uri") == uri]
        parent = strong_ref(views[0]) if views else None
        if parent is None:
            raise NotAllowed(f"Bluesky no longer shows the post {uri} (deleted, or its author blocks this "
                             "account); a reply would not join its thread")
        record = views[0].get("record") if isinstance(views[0].get("record"), dict) else {}
        reply = record.get("reply") if isinstance(record.get("reply"), dict) else {}
        return {"root": strong_ref(reply.get("root")) or parent, "parent": parent}

    def _send_post(self, message: Outbound) -> SendResult:
        text = message.text
        self._check_length(text, MAX_GRAPHEMES, MAX_BYTES, "The reply")
        session = self._ensure()
        record: dict[str, Any] = {"$type": POST, "text": text, "createdAt": _now_iso()}
        if message.language:
            record["langs"] = [message.language]
        if message.in_reply_to:
            record["reply"] = self._reply_refs(message)
        facets = build_facets(text, self._resolve)
        if facets:
            record["facets"] = facets
        body = self._xrpc("POST", "com.atproto.repo.createRecord", "posting a reply",
                          json={"repo": session["did"], "collection": POST, "record": record})
        uri = body.get("uri")
        if not isinstance(uri, str) or not uri:
            raise AdapterError("Bluesky accepted the reply but its answer has no uri; "
                               "find_sent will look for it before any retry", retryable=True)
        return SendResult(platform_id=uri, url=post_url(uri, session["handle"]), sent_at=datetime.now(UTC), text=text)

    def _convo(self, message: Outbound) -> str:
        """The convo to write in: the one the customer wrote from, else the one with them."""
        convo = read_reply_ref(message.reply_ref).get("convo")
        if isinstance(convo, str) and convo:
            return convo
        did = message.recipient_id if (message.recipient_id or "").startswith("did:") else None
        handle = (message.recipient or "").strip().lstrip("@")
        if did is None and handle:
            did = self._resolve(handle.lower())
        if did is None:
            raise NotAllowed("a Bluesky chat needs the customer's DID or a handle that resolves; neither is known")
        try:
            body = self._xrpc("GET", "chat.bsky.convo.getConvoForMembers", "opening a chat", chat=True,
                              params={"members": did})
        except XrpcError as exc:
            raise NotAllowed(f"@{handle or did} does not take chats from this account ({exc.detail or exc.error}); "
                             "answer publicly, or ask them to allow messages from everyone or to write first") from None
        convo = body.get("convo") if isinstance(body.get("convo"), dict) else {}
        if not isinstance(convo.get("id"), str):
            raise AdapterError("Bluesky's getConvoForMembers answer has no convo id", retryable=True)
        return convo["id"]

    def _send_chat(self, message: Outbound) -> SendResult:
        text = message.text
        self._check_length(text, CHAT_MAX_GRAPHEMES, CHAT_MAX_BYTES, "The chat message")
        convo = self._convo(message)
        payload: dict[str, Any] = {"text": text}
        facets = build_facets(text, self._resolve)
        if facets:
            payload["facets"] = facets
        try:
            body = self._xrpc("POST", "chat.bsky.convo.sendMessage", "sending a chat message", chat=True,
                              json={"convoId": convo, "message": payload})
        except XrpcError as exc:
            if exc.error == "InvalidRequest" and any(w in exc.detail.lower() for w in
                                                     ("recipient", "block", "disabled", "follow", "not a member")):
                raise NotAllowed(f"Bluesky will not deliver this chat message ({exc.detail}); answer publicly "
                                 "or ask the customer to allow messages from this account") from None
            raise
        return self._chat_result(convo, body, text)

    @staticmethod
    def _chat_result(convo: str, view: Any, text: str) -> SendResult:
        message_id = view.get("id") if isinstance(view, dict) else None
        if not isinstance(message_id, str) or not message_id:
            raise AdapterError("Bluesky accepted the chat message but its answer has no id; "
                               "find_sent will look for it before any retry", retryable=True)
        return SendResult(platform_id=chat_id(convo, message_id), url=None,
                          sent_at=parse_iso(view.get("sentAt")) or datetime.now(UTC), text=text)

    def find_sent(self, message: Outbound) -> SendResult | None:
        """The account's post (or chat message) with this text, answering this message, made
        after it: the trace of an attempt whose answer was lost. Reads newest first back to when
        the customer wrote; CannotVerify when that is further back than it will read."""
        if message.visibility == "private":
            try:
                convo = self._convo(message)
            except NotAllowed:
                return None  # no convo can be opened: no earlier attempt can have been delivered
            own = self.did()
            for view, when in self._newest("chat.bsky.convo.getMessages", "messages", "sentAt", message,
                                           chat=True, convoId=convo):
                sender = view.get("sender") if isinstance(view.get("sender"), dict) else {}
                if view.get("text") == message.text and sender.get("did") == own:
                    return self._chat_result(convo, view, message.text)
            return None
        session = self._ensure()
        for item, when in self._newest("com.atproto.repo.listRecords", "records", "createdAt", message,
                                       repo=session["did"], collection=POST):
            value = item.get("value") if isinstance(item.get("value"), dict) else {}
            reply = value.get("reply") if isinstance(value.get("reply"), dict) else {}
            parent = reply.get("parent") if isinstance(reply.get("parent"), dict) else {}
            if value.get("text") == message.text and parent.get("uri") == message.in_reply_to \
                    and isinstance(item.get("uri"), str):
                return SendResult(platform_id=item["uri"], url=post_url(item["uri"], session["handle"]),
                                  sent_at=when or datetime.now(UTC), text=message.text)
        return None

    def _newest(self, nsid: str, field: str, stamp: str, message: Outbound, *, chat: bool = False,
                **params: str) -> Iterator[tuple[dict[str, Any], datetime | None]]:
        """Items of a newest-first list made since the customer wrote (`reply_to_at`), with their time."""
        since, after = message.reply_to_at, None
        for _ in range(FIND_PAGES):
            body = self._xrpc("GET", nsid, "looking for an already sent reply", chat=chat,
                              params={**params, "limit": "100", **({"cursor": after} if after else {})})
            items = [i for i in body.get(field) or [] if isinstance(i, dict)]
            for item in items:
                source = item.get("value") if field == "records" else item  # a repo record's time is in its value
                when = parse_iso(source.get(stamp)) if isinstance(source, dict) else None
                if since is not None and when is not None and when < since:
                    return
                yield item, when
            after = body.get("cursor") if isinstance(body.get("cursor"), str) else None
            if not items or not after:
                return
        raise CannotVerify(f"Bluesky: read the account's {FIND_PAGES * 100} newest items without reaching the "
                           f"time of the message answered ({since or 'unknown'}); check on bsky.app whether "
                           f"\"{message.text[:60]}\" was already sent before sending it again")

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> BlueskyAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
