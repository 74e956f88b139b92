"""A Bluesky PDS on loopback: sessions with expiring JWT-ish tokens, an AppView-ish world of
posts, profiles and notifications built from the recorded corpus, the account's own repo, and a
chat service behind the `atproto-proxy` header. It enforces what the real services enforce and
answers with their error bodies and `ratelimit-*` headers."""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime
from typing import Any, NamedTuple

from fakes.bluesky_world import BRAND_DID, BRAND_HANDLE, POST, BlueskyWorld, fake_cid, iso
from fakes.server import LoopbackServer, Reply, Seen
from socialdesk.adapters.base import MemoryVault
from socialdesk.adapters.bluesky import BlueskyAdapter
from socialdesk.adapters.bluesky_payloads import chat_id, split_uri, tid
from socialdesk.rules.length import graphemes

Sent = NamedTuple("Sent", [("in_reply_to", str), ("visibility", str), ("text", str)])

APP_PASSWORD = "abcd-efgh-ijkl-mnop"
CHAT_PROXY = "did:web:api.bsky.chat#bsky_chat"


# --- helpers -------------------------------------------------------------------------------------


def _b64(obj: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def error(status: int, name: str, message: str) -> Reply:
    return Reply(status, {"error": name, "message": message})


class FakeBluesky(BlueskyWorld):
    """The brand's PDS (with the AppView and chat service behind it) on loopback, per the fake
    contract: `generate` makes customer posts and chats, `sent` lists what the brand posted."""

    kind = "bluesky"

    def __init__(self, *, faults: float = 0.0, seed: int = 0, slow_seconds: float = 1.0,
                 access_ttl: float = 7200.0, rate_limit: int = 3000, log_page: int = 50):
        self.server = LoopbackServer(self._handle, faults=faults, seed=seed, slow_seconds=slow_seconds,
                                     rate_limited=self._rate_limited)
        self.faults_injected = self.server.faults_injected
        self.slow_seconds = slow_seconds
        self.access_ttl, self.rate_limit, self.log_page = access_ttl, rate_limit, log_page
        self.vault = MemoryVault()
        self.sessions_created = self.refreshes = 0
        self.session_times: list[float] = []
        self.access: dict[str, dict[str, Any]] = {}  # token -> {did, exp, expired}
        self.refresh: dict[str, bool] = {}  # token -> still valid
        self.window, self.used = time.time(), 0
        self.chat_allowed = True  # the app password's "Allow access to your direct messages"
        self.stuck_cursor = False  # a broken AppView: every notifications page is the first, same cursor
        self.sent_list: list[Sent] = []
        super().__init__(seed)

    # -- life --

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def start(self) -> FakeBluesky:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> FakeBluesky:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def adapter(self, **overrides: Any) -> BlueskyAdapter:
        options: dict[str, Any] = {"base_url": self.base_url, "vault": self.vault,
                                   "timeout": max(0.2, self.slow_seconds / 2)}
        options.update(overrides)
        return BlueskyAdapter(BRAND_HANDLE, APP_PASSWORD, **options)

    def sent(self) -> list[Sent]:
        return list(self.sent_list)

    def calls(self, nsid: str) -> list[Seen]:
        """The requests made so far to one XRPC method."""
        return [s for s in self.server.requests if s.path == f"/xrpc/{nsid}"]

    def lose_answers(self, nsid: str) -> None:
        """Writes to `nsid` are carried out, then their connection reset (until `server.faults` is 0)."""
        self.server.faults, self.server.fault_kinds = 1.0, ("lost",)
        self.server.fault_filter = lambda seen: seen.path == f"/xrpc/{nsid}"

    # -- sessions --

    def _tokens(self, did: str) -> dict[str, str]:
        now = time.time()
        jti = f"{self.rng.getrandbits(64):016x}"
        access = ".".join([_b64({"typ": "at+jwt", "alg": "ES256K"}),
                           _b64({"scope": "com.atproto.appPass", "sub": did, "aud": "did:web:fake.pds",
                                 "iat": int(now), "exp": int(now + self.access_ttl), "jti": jti}), jti + "sig"])
        refresh = ".".join([_b64({"typ": "refresh+jwt", "alg": "ES256K"}),
                            _b64({"scope": "com.atproto.refresh", "sub": did, "aud": "did:web:fake.pds",
                                  "iat": int(now), "exp": int(now + 90 * 86400), "jti": jti}), jti + "ref"])
        self.access[access] = {"did": did, "exp": now + self.access_ttl, "expired": False}
        self.refresh[refresh] = True
        return {"accessJwt": access, "refreshJwt": refresh, "handle": BRAND_HANDLE, "did": BRAND_DID}

    def expire_access_tokens(self) -> None:
        """Every access token issued so far expires now (the PDS's 2 hours have passed)."""
        with self.lock:
            for token in self.access.values():
                token["expired"] = True

    def revoke_refresh_tokens(self) -> None:
        with self.lock:
            self.refresh = dict.fromkeys(self.refresh, False)

    def _auth(self, seen: Seen) -> Reply | None:
        header = seen.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return error(401, "AuthenticationRequired", "Authentication Required")
        token = header[7:]
        if token in self.refresh:
            return error(400, "InvalidToken", "Bad token scope")
        info = self.access.get(token)
        if info is None:
            return error(400, "InvalidToken", "Token could not be verified")
        if info["expired"] or info["exp"] < time.time():
            return error(400, "ExpiredToken", "Token has expired")
        return None

    # -- HTTP --

    def _rate_headers(self) -> dict[str, str]:
        return {"ratelimit-limit": str(self.rate_limit),
                "ratelimit-remaining": str(max(0, self.rate_limit - self.used)),
                "ratelimit-reset": str(int(self.window + 300)), "ratelimit-policy": f"{self.rate_limit};w=300"}

    def _rate_limited(self) -> Reply:
        headers = {**self._rate_headers(), "ratelimit-remaining": "0", "ratelimit-reset": str(int(time.time()) + 1)}
        return Reply(429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, headers)

    def _handle(self, seen: Seen) -> Reply:
        with self.lock:
            if time.time() - self.window >= 300:
                self.window, self.used = time.time(), 0
            self.used += 1
            if self.used > self.rate_limit:
                return self._rate_limited()
            reply = self._route(seen)
            reply.headers.update(self._rate_headers())
            return reply

    def _route(self, seen: Seen) -> Reply:
        nsid = seen.path.removeprefix("/xrpc/")
        method = getattr(self, "x_" + nsid.replace(".", "_"), None)
        if not seen.path.startswith("/xrpc/") or method is None:
            return error(501, "MethodNotImplemented", "Method Not Implemented")
        if nsid != "com.atproto.server.createSession" and nsid != "com.atproto.server.refreshSession":
            refused = self._auth(seen)
            if refused:
                return refused
        if nsid.startswith("chat."):
            proxy = seen.headers.get("atproto-proxy")
            if proxy is None:
                return error(501, "MethodNotImplemented", "Method Not Implemented")
            if proxy != CHAT_PROXY:
                return error(400, "InvalidRequest", "could not resolve proxy did service url")
            if not self.chat_allowed:
                return error(400, "InvalidToken", "Bad token scope")
        try:
            return method(seen)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            return error(400, "InvalidRequest", f"Input is invalid ({type(exc).__name__}: {exc})")

    # com.atproto.server / identity

    def x_com_atproto_server_createSession(self, seen: Seen) -> Reply:
        body = seen.json()
        recent = [t for t in self.session_times if t > time.time() - 300]
        if len(recent) >= 30:
            return self._rate_limited()
        if body.get("identifier") not in (BRAND_HANDLE, BRAND_DID) or body.get("password") != APP_PASSWORD:
            return error(401, "AuthenticationRequired", "Invalid identifier or password")
        self.sessions_created += 1
        self.session_times.append(time.time())
        return Reply(200, {**self._tokens(BRAND_DID), "email": "support@acme.example", "emailConfirmed": True,
                           "active": True})

    def x_com_atproto_server_refreshSession(self, seen: Seen) -> Reply:
        token = seen.headers.get("authorization", "").removeprefix("Bearer ")
        if token in self.access:
            return error(400, "InvalidToken", "Invalid token type")
        if not self.refresh.get(token):
            return error(400, "ExpiredToken", "Token has been revoked")
        self.refresh[token] = False  # rotated: a refresh token is good once
        self.refreshes += 1
        return Reply(200, {**self._tokens(BRAND_DID), "active": True})

    def x_com_atproto_server_getSession(self, seen: Seen) -> Reply:
        return Reply(200, {"handle": BRAND_HANDLE, "did": BRAND_DID, "email": "support@acme.example",
                           "emailConfirmed": True, "active": True})

    def x_com_atproto_identity_resolveHandle(self, seen: Seen) -> Reply:
        handle = (seen.param("handle") or "").lower()
        for did, profile in self.profiles.items():
            if profile["handle"].lower() == handle:
                return Reply(200, {"did": did})
        return error(400, "InvalidRequest", "Unable to resolve handle")

    # app.bsky (the AppView, through the PDS)

    def x_app_bsky_notification_listNotifications(self, seen: Seen) -> Reply:
        limit = int(seen.param("limit") or 50)
        if not 1 <= limit <= 100:
            return error(400, "InvalidRequest", "Error: limit must be <= 100")
        reasons = set(seen.params("reasons"))
        items = sorted((n for n in self.notifications if not reasons or n["reason"] in reasons),
                       key=lambda n: (n["indexedAt"], n["cid"]), reverse=True)
        cursor = None if self.stuck_cursor else seen.param("cursor")
        if cursor:
            ms, _, cid = cursor.partition("::")
            at = iso(int(ms) * 1000)
            items = [n for n in items if (n["indexedAt"], n["cid"]) < (at, cid)]
        page = items[:limit]
        body: dict[str, Any] = {"notifications": page, "priority": False, "seenAt": iso(self.clock)}
        if page:
            last = page[-1]
            when = datetime.fromisoformat(last["indexedAt"])
            body["cursor"] = f"{int(when.timestamp() * 1000)}::{last['cid']}"
        return Reply(200, body)

    def _many(self, seen: Seen, name: str) -> list[str] | Reply:
        values = seen.params(name)
        if len(values) > 25:
            return error(400, "InvalidRequest", f"Error: {name} must not have more than 25 elements")
        return values

    def x_app_bsky_actor_getProfiles(self, seen: Seen) -> Reply:
        actors = self._many(seen, "actors")
        if isinstance(actors, Reply):
            return actors
        found = [self.profiles[a] for a in actors if a in self.profiles]
        return Reply(200, {"profiles": found})

    def x_app_bsky_feed_getPosts(self, seen: Seen) -> Reply:
        uris = self._many(seen, "uris")
        if isinstance(uris, Reply):
            return uris
        return Reply(200, {"posts": [self.posts[u] for u in uris if u in self.posts]})

    # com.atproto.repo (the brand's own repo)

    def x_com_atproto_repo_createRecord(self, seen: Seen) -> Reply:
        body = seen.json()
        record = body["record"]
        if body.get("repo") not in (BRAND_DID, BRAND_HANDLE):
            return error(401, "AuthRequiredError", "Input/repo must be the session's account")
        if body.get("collection") != POST or record.get("$type", POST) != POST:
            return error(400, "InvalidRequest", "Invalid $type: expected app.bsky.feed.post")
        problem = self._invalid_post(record)
        if problem:
            return error(400, "InvalidRequest", f"Invalid app.bsky.feed.post record: {problem}")
        now = self._tick()
        ref = self._store_brand_post(tid(now), record, iso(now))
        parent = record.get("reply", {}).get("parent", {}).get("uri", "")
        self.sent_list.append(Sent(parent, "public", record["text"]))
        return Reply(200, {**ref, "commit": {"cid": fake_cid(ref), "rev": tid(now)}, "validationStatus": "valid"})

    @staticmethod
    def _invalid_post(record: dict) -> str | None:
        text = record.get("text")
        if not isinstance(text, str):
            return "Record/text must be a string"
        if graphemes(text) > 300 or len(text.encode()) > 3000:
            return "Record/text must not be longer than 300 graphemes"
        try:
            datetime.fromisoformat(record["createdAt"])
        except (KeyError, TypeError, ValueError):
            return "Record/createdAt must be an valid atproto datetime (both RFC-3339 and ISO-8601)"
        for part in ("root", "parent"):
            if "reply" in record:
                ref = record["reply"].get(part)
                if not (isinstance(ref, dict) and split_uri(ref.get("uri", "")) and ref.get("cid")):
                    return f'Record/reply/{part} must have the properties "uri" and "cid"'
        size = len(text.encode())
        for facet in record.get("facets", []):
            index = facet.get("index", {})
            if not 0 <= index.get("byteStart", -1) < index.get("byteEnd", -1) <= size:
                return "Record/facets/index is out of the text's bytes"
        if len(record.get("langs", [])) > 3:
            return "Record/langs must not have more than 3 elements"
        return None

    def x_com_atproto_repo_listRecords(self, seen: Seen) -> Reply:
        if seen.param("repo") not in (BRAND_DID, BRAND_HANDLE) or seen.param("collection") != POST:
            return Reply(200, {"records": []})
        limit = min(int(seen.param("limit") or 50), 100)
        keys = sorted(self.repo, reverse=seen.param("reverse") != "true")
        cursor = seen.param("cursor")
        if cursor:
            keys = [k for k in keys if (k < cursor if seen.param("reverse") != "true" else k > cursor)]
        page = keys[:limit]
        return Reply(200, {"records": [self.repo[k] for k in page], **({"cursor": page[-1]} if page else {})})

    # chat.bsky (the chat service, through the PDS's proxy)

    def _convo_view(self, convo: dict) -> dict:
        members = [{"did": d, "handle": self.profiles[d]["handle"], "chatDisabled": False} for d in convo["members"]]
        return {"id": convo["id"], "rev": convo["rev"], "members": members, "muted": False, "status": "accepted",
                "unreadCount": 0, **({"lastMessage": convo["messages"][-1]} if convo["messages"] else {})}

    def x_chat_bsky_convo_getLog(self, seen: Seen) -> Reply:
        cursor = seen.param("cursor") or ""
        page = [entry for entry in self.logs if entry["rev"] > cursor][: self.log_page]
        return Reply(200, {"logs": page, **({"cursor": page[-1]["rev"]} if page else {})})

    def x_chat_bsky_convo_listConvos(self, seen: Seen) -> Reply:
        convos = sorted(self.convos.values(), key=lambda c: c["rev"], reverse=True)
        cursor = seen.param("cursor")
        if cursor:
            convos = [c for c in convos if c["rev"] < cursor]
        page = convos[: int(seen.param("limit") or 50)]
        return Reply(200, {"convos": [self._convo_view(c) for c in page],
                           **({"cursor": page[-1]["rev"]} if page else {})})

    def x_chat_bsky_convo_getConvoForMembers(self, seen: Seen) -> Reply:
        did = seen.param("members") or ""
        if did not in self.profiles or did == BRAND_DID:
            return error(400, "InvalidRequest", "could not find member")
        existing = any(did in c["members"] for c in self.convos.values())
        setting = self.chat_setting.get(did, "all")
        if not existing and setting == "none":
            return error(400, "InvalidRequest", "recipient has disabled incoming messages")
        if not existing and setting == "following":
            return error(400, "InvalidRequest", "recipient requires incoming messages to come from someone they follow")
        return Reply(200, {"convo": self._convo_view(self._convo_with(did))})

    def x_chat_bsky_convo_sendMessage(self, seen: Seen) -> Reply:
        body = seen.json()
        convo = self.convos.get(body["convoId"])
        if convo is None:
            return error(400, "InvalidRequest", "Convo not found")
        text = body["message"]["text"]
        if graphemes(text) > 1000 or len(text.encode()) > 10000:
            return error(400, "InvalidRequest", "Input/message/text must not be longer than 1000 graphemes")
        customer = next(d for d in convo["members"] if d != BRAND_DID)
        theirs = [m for m in convo["messages"] if m["sender"]["did"] == customer and "text" in m]
        if theirs:
            answered = chat_id(convo["id"], theirs[-1]["id"])
        else:  # moved to private from a public post: answer their latest post
            posts = sorted((v["indexedAt"], u) for u, v in self.posts.items() if v["author"]["did"] == customer)
            answered = posts[-1][1] if posts else ""
        view = self._message(convo, BRAND_DID, text)
        self.sent_list.append(Sent(answered, "private", text))
        return Reply(200, view)

    def x_chat_bsky_convo_getMessages(self, seen: Seen) -> Reply:
        convo = self.convos.get(seen.param("convoId") or "")
        if convo is None:
            return error(400, "InvalidRequest", "Convo not found")
        views = sorted(convo["messages"], key=lambda m: m["rev"], reverse=True)
        cursor = seen.param("cursor")
        if cursor:
            views = [m for m in views if m["rev"] < cursor]
        page = views[: min(int(seen.param("limit") or 50), 100)]
        return Reply(200, {"messages": page, **({"cursor": page[-1]["rev"]} if page else {})})

