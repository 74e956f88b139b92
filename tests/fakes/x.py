"""A local X API v2 — the part socialdesk uses — on `LoopbackServer`, built from the tweepy corpus.

It checks what X checks: the OAuth 1.0a signature (with timestamp window and nonce replay),
Bearer tokens (and the OAuth 2.0 refresh grant, whose refresh tokens are single-use), query
parameters, field and expansion names, `max_results` ranges, weighted post length, X's "summoned"
rule for replies, and duplicate content. It answers with X's shapes: only the fields asked for
(`tweet.fields` or the newer `post.fields`, which also switches to the `referenced_posts` /
`repost_count` spelling), `includes`, partial `errors[]` beside `data`, `meta` with opaque
`next_token`s, `x-rate-limit-*` headers counted per endpoint in a 15-minute window, and the real
problem+json error bodies (429, 401, 403 duplicate).

Running out of requests answers 429 only with `enforce_limits=True`: X's real limits (15 DM reads
and 15 DM sends per 15 minutes) would otherwise stall any fault or bench run for a quarter of an
hour; the headers count down either way, and injected "429" faults use X's real answer.

A DM carries no "in reply to" on X, so `sent()` attributes a DM to the oldest message of that
customer not yet answered privately (every generated message has its own customer, so this is
exact for generated traffic).
"""

from __future__ import annotations

import base64
import json
import re
import time
import typing
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from socialdesk.adapters.base import MemoryVault
from socialdesk.adapters.x import XAdapter
from socialdesk.adapters.x_auth import oauth1_signature, request_params, signature_base_string
from socialdesk.rules.length import weighted_length

from .server import LoopbackServer, Reply, Seen
from .x_wire import (
    DM_EXPANSIONS,
    DM_FIELDS,
    DM_PARAMS,
    DUPLICATE,
    NOT_SUMMONED,
    POST_EXPANSIONS,
    TIMELINE_PARAMS,
    TWEET_FIELDS,
    UNAUTHORIZED,
    USER_FIELDS,
    escape,
    id_key,
    invalid,
    iso,
    page_of,
    problem,
    render_post,
    render_user,
    requested,
    validate,
)
from .x_world import BRAND, XWorld

Sent = typing.NamedTuple("Sent", [("in_reply_to", str), ("visibility", str), ("text", str)])

OAUTH1 = {"consumer_key": "fake-consumer-key-xvz1evFS4wEE", "consumer_secret": "fake-consumer-secret-kAcSOqF21F",
          "access_token": "1072250532645998596-fakeAccessToken", "access_token_secret": "fake-token-secret-Lsww"}
# Requests per 15 minutes per user (docs.x.com rate limits).
LIMITS = {"me": 75, "mentions": 300, "tweets": 900, "dm_events": 15, "dm_conversation": 15,
          "post_tweet": 100, "post_dm": 15}


class FakeX(XWorld):
    """The world of `XWorld` behind X API v2 on loopback, per the fake contract."""

    kind = "x"

    def __init__(self, *, faults: float = 0.0, seed: int = 0, slow_seconds: float = 1.0, auth: str = "oauth1",
                 enforce_limits: bool = False, rate_window: float = 900.0):
        self.server = LoopbackServer(self._handle, faults=faults, seed=seed, slow_seconds=slow_seconds,
                                     rate_limited=self._rate_limited,
                                     fault_filter=lambda seen: seen.path != "/2/oauth2/token")
        self.base_url = self.server.base_url
        self.faults_injected: Counter[str] = self.server.faults_injected
        self.auth_mode, self.enforce_limits, self.rate_window = auth, enforce_limits, rate_window
        super().__init__(seed)
        self._sent: list[Sent] = []
        self._nonces: set[str] = set()
        self._used: dict[str, list[float]] = {}  # endpoint -> [window start, requests]
        self.access_token, self.refresh_token = "fake-oauth2-access-0", "fake-oauth2-refresh-0"
        self.client = {"client_id": "fake-client-id", "client_secret": "fake-client-secret"}
        self.vault = MemoryVault()
        self.refreshes = 0

    # -- life --

    def start(self) -> FakeX:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> FakeX:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def credentials(self) -> str:
        if self.auth_mode == "oauth1":
            return json.dumps(OAUTH1)
        if self.auth_mode == "oauth2":
            return json.dumps({"access_token": "fake-oauth2-access-0", "refresh_token": "fake-oauth2-refresh-0",
                               **self.client})
        return self.access_token

    def adapter(self, **overrides: Any) -> XAdapter:
        options: dict[str, Any] = {"base_url": self.base_url, "timeout": 2.0, "vault": self.vault, **overrides}
        return XAdapter(self.credentials, **options)

    def expire_access_token(self) -> None:
        """The OAuth 2.0 access token runs out (they last two hours on X)."""
        with self._lock:
            self.access_token = f"fake-oauth2-access-expired-{self.refreshes}-{self._rng.random():.6f}"

    def sent(self) -> list[Sent]:
        with self._lock:
            return list(self._sent)

    # -- HTTP --

    def _rate_limited(self) -> Reply:
        reset = int(time.time()) + 2
        reply = problem(429, "Too Many Requests", "Too Many Requests")
        reply.headers = {"x-rate-limit-limit": "300", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)}
        return reply

    def use_up(self, endpoint: str, remaining: int = 0) -> None:
        """Leave only `remaining` requests to `endpoint` in this window."""
        with self._lock:
            self._used[endpoint] = [time.time(), LIMITS[endpoint] - remaining]

    def _count(self, endpoint: str) -> tuple[dict[str, str], bool]:
        with self._lock:
            now = time.time()
            window = self._used.get(endpoint)
            if window is None or now >= window[0] + self.rate_window:
                window = self._used[endpoint] = [now, 0]
            over = self.enforce_limits and window[1] >= LIMITS[endpoint]
            if not over:
                window[1] += 1
            headers = {"x-rate-limit-limit": str(LIMITS[endpoint]),
                       "x-rate-limit-remaining": str(max(LIMITS[endpoint] - int(window[1]), 0)),
                       "x-rate-limit-reset": str(int(window[0] + self.rate_window))}
            return headers, over

    def _authorized(self, seen: Seen) -> bool:
        header = seen.headers.get("authorization", "")
        if self.auth_mode != "oauth1":
            return header == f"Bearer {self.access_token}"
        if not header.startswith("OAuth "):
            return False
        oauth = dict(re.findall(r'(\w+)="([^"]*)"', header))
        oauth = {k: unquote(v) for k, v in oauth.items()}
        signature = oauth.pop("oauth_signature", "")
        stamp = oauth.get("oauth_timestamp", "")
        if (oauth.get("oauth_consumer_key") != OAUTH1["consumer_key"]
                or oauth.get("oauth_token") != OAUTH1["access_token"]
                or oauth.get("oauth_signature_method") != "HMAC-SHA1"
                or not stamp.isdigit() or abs(time.time() - int(stamp)) > 300):
            return False
        url = f"http://{seen.headers.get('host', '')}{seen.target}"
        params = request_params(url, seen.body, seen.headers.get("content-type", ""))
        base = signature_base_string(seen.method, url, [*params, *oauth.items()])
        expected = oauth1_signature(base, OAUTH1["consumer_secret"], OAUTH1["access_token_secret"])
        with self._lock:
            if signature != expected or oauth.get("oauth_nonce", "") in self._nonces:
                return False
            self._nonces.add(oauth["oauth_nonce"])
        return True

    ROUTES: typing.ClassVar[list[tuple[str, str, str, str]]] = [
        ("GET", r"/2/users/me", "me", "_me"),
        ("GET", r"/2/users/(\d+)/mentions", "mentions", "_mentions"),
        ("GET", r"/2/users/(\d+)/tweets", "tweets", "_user_posts"),
        ("GET", r"/2/dm_events", "dm_events", "_dm_events"),
        ("GET", r"/2/dm_conversations/with/(\d+)/dm_events", "dm_conversation", "_conversation_events"),
        ("GET", r"/2/dm_conversations/([\d-]+)/dm_events", "dm_conversation", "_conversation_events"),
        ("POST", r"/2/tweets", "post_tweet", "_create_post"),
        ("POST", r"/2/dm_conversations/with/(\d+)/messages", "post_dm", "_send_dm"),
        ("POST", r"/2/dm_conversations/([\d-]+)/messages", "post_dm", "_send_dm"),
    ]

    def _handle(self, seen: Seen) -> Reply:
        if seen.method == "POST" and seen.path == "/2/oauth2/token":
            return self._refresh(seen)
        for method, pattern, endpoint, name in self.ROUTES:
            match = re.fullmatch(pattern, seen.path)
            if method != seen.method or match is None:
                continue
            if not self._authorized(seen):
                return problem(401, *UNAUTHORIZED)
            headers, over = self._count(endpoint)
            if over:
                reply = problem(429, "Too Many Requests", "Too Many Requests")
            else:
                reply = getattr(self, name)(seen, *match.groups())
            reply.headers = {**headers, **reply.headers}
            return reply
        return problem(404, "Not Found Error", f"Sorry, that page does not exist: {seen.method} {seen.path}")

    def _refresh(self, seen: Seen) -> Reply:
        form = seen.form()
        pair = f"{self.client['client_id']}:{self.client['client_secret']}"
        basic = "Basic " + base64.b64encode(pair.encode()).decode()
        with self._lock:
            if (form.get("grant_type") != "refresh_token" or form.get("refresh_token") != self.refresh_token
                    or seen.headers.get("authorization") != basic):
                return Reply(400, {"error": "invalid_request",
                                   "error_description": "Value passed for the token was invalid."})
            self.refreshes += 1
            self.access_token = f"fake-oauth2-access-{self.refreshes}"
            self.refresh_token = f"fake-oauth2-refresh-{self.refreshes}"
            return Reply(200, {"token_type": "bearer", "expires_in": 7200, "access_token": self.access_token,
                               "scope": "tweet.read users.read tweet.write dm.read dm.write offline.access",
                               "refresh_token": self.refresh_token})

    # -- reading --

    def _timeline(self, seen: Seen, posts: list[dict[str, Any]]) -> Reply:
        if (bad := validate(seen, TIMELINE_PARAMS | {"exclude"}, 5, 100)) is not None:
            return bad
        spelling = "post" if seen.param("post.fields") is not None else "tweet"
        wanted = requested(seen, (f"{spelling}.fields", TWEET_FIELDS), ("user.fields", USER_FIELDS),
                           ("expansions", POST_EXPANSIONS))
        if isinstance(wanted, Reply):
            return wanted
        fields, user_fields, expansions = wanted
        since, until = seen.param("since_id"), seen.param("until_id")
        try:
            start = datetime.fromisoformat(seen.param("start_time") or "2006-03-21T00:00:00Z")
            end = datetime.fromisoformat(seen.param("end_time") or "2999-01-01T00:00:00Z")
        except ValueError:
            return invalid("Invalid `start_time` or `end_time`: use YYYY-MM-DDTHH:mm:ssZ")
        posts = [p for p in posts if (since is None or id_key(p["id"]) > id_key(since))
                 and (until is None or id_key(p["id"]) < id_key(until))
                 and start <= datetime.fromisoformat(p["created_at"]) <= end]
        page, meta = page_of(seen, posts, 10)
        body: dict[str, Any] = {"meta": meta}
        if page:
            body["data"] = [render_post(p, fields, spelling) for p in page]
        users, refs, errors = {}, {}, []
        for post in page:
            if "author_id" in expansions:
                users[post["author_id"]] = self.users[post["author_id"]]
            for ref in post.get("referenced_tweets", []) if "referenced_tweets.id" in expansions else []:
                target = self.posts.get(ref["id"]) if ref["id"] not in self.deleted else None
                if target is None:
                    errors.append({"value": ref["id"], "detail": f"Could not find tweet with referenced_tweets.id: "
                                   f"[{ref['id']}].", "title": "Not Found Error", "resource_type": "tweet",
                                   "parameter": "referenced_tweets.id", "resource_id": ref["id"],
                                   "type": "https://api.twitter.com/2/problems/resource-not-found"})
                    continue
                refs[target["id"]] = target
                if "referenced_tweets.id.author_id" in expansions:
                    users[target["author_id"]] = self.users[target["author_id"]]
        includes: dict[str, Any] = {}
        if users:
            includes["users"] = [render_user(u, user_fields, spelling) for u in users.values()]
        if refs:
            includes["tweets" if spelling == "tweet" else "posts"] = [
                render_post(p, fields, spelling) for p in refs.values()]
        if includes:
            body["includes"] = includes
        if errors:
            body["errors"] = errors
        return Reply(200, body)

    def _me(self, seen: Seen) -> Reply:
        wanted = requested(seen, ("user.fields", USER_FIELDS))
        if isinstance(wanted, Reply):
            return wanted
        return Reply(200, {"data": render_user(self.users[BRAND["id"]], wanted[0], "tweet")})

    def _mentions(self, seen: Seen, user_id: str) -> Reply:
        with self._lock:
            posts = [p for p in self.posts.values() if p["id"] not in self.deleted and p["author_id"] != user_id
                     and any(m["id"] == user_id for m in p.get("entities", {}).get("mentions", []))]
            return self._timeline(seen, posts)

    def _user_posts(self, seen: Seen, user_id: str) -> Reply:
        with self._lock:
            posts = [p for p in self.posts.values() if p["author_id"] == user_id and p["id"] not in self.deleted]
            return self._timeline(seen, posts)

    def _events(self, seen: Seen, events: list[dict[str, Any]]) -> Reply:
        if (bad := validate(seen, DM_PARAMS, 1, 100)) is not None:
            return bad
        wanted = requested(seen, ("dm_event.fields", DM_FIELDS), ("user.fields", USER_FIELDS),
                           ("expansions", DM_EXPANSIONS))
        if isinstance(wanted, Reply):
            return wanted
        fields, user_fields, expansions = wanted
        types = set((seen.param("event_types") or "MessageCreate,ParticipantsJoin,ParticipantsLeave").split(","))
        page, meta = page_of(seen, [e for e in events if e["event_type"] in types], 100)
        for key in ("newest_id", "oldest_id"):  # DM event lists carry neither
            meta.pop(key, None)
        body: dict[str, Any] = {"meta": meta}
        if page:
            body["data"] = [{k: v for k, v in e.items() if k in {"id", "event_type", "text"} | fields} for e in page]
            if "sender_id" in expansions:
                senders = {e["sender_id"] for e in page}
                body["includes"] = {"users": [render_user(self.users[s], user_fields, "tweet")
                                              for s in sorted(senders)]}
        return Reply(200, body)

    def _dm_events(self, seen: Seen) -> Reply:
        with self._lock:
            cutoff = iso(datetime.now(UTC) - timedelta(days=30))
            return self._events(seen, [e for e in self.dm_events if e["created_at"] >= cutoff])

    def _conversation_events(self, seen: Seen, who: str) -> Reply:
        conversation = who if "-" in who else self._conversation(who)
        with self._lock:
            return self._events(seen, [e for e in self.dm_events if e["dm_conversation_id"] == conversation])

    # -- writing --

    def _create_post(self, seen: Seen) -> Reply:
        try:
            body = seen.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"].strip():
            return invalid("$.text: is missing but it is required")
        text = body["text"]
        if weighted_length(text) > 280:
            return invalid("Your Tweet text is too long. For more information on how X counts characters, see "
                           "https://docs.x.com/resources/fundamentals/counting-characters")
        target_id = (body.get("reply") or {}).get("in_reply_to_tweet_id") if isinstance(body.get("reply"), dict) \
            else None
        with self._lock:
            target = self.posts.get(str(target_id)) if target_id else None
            if target_id and (target is None or target["id"] in self.deleted):
                return problem(403, "Forbidden", "You attempted to reply to a Tweet that is deleted or not "
                                                 "visible to you.")
            if target is not None:
                summoned = target["author_id"] == BRAND["id"] or any(
                    m["id"] == BRAND["id"] for m in target.get("entities", {}).get("mentions", []))
                if not summoned:
                    return problem(403, "Forbidden", NOT_SUMMONED)
                handle = self.users[target["author_id"]]["username"]
                if not text.lower().startswith(f"@{handle.lower()}"):
                    text = f"@{handle} {text}"  # X shows the reply context as a leading mention
            recent = datetime.now(UTC) - timedelta(hours=12)
            if any(p["author_id"] == BRAND["id"] and p["text"] == escape(text)
                   and datetime.fromisoformat(p["created_at"]) >= recent for p in self.posts.values()):
                return problem(403, "Forbidden", DUPLICATE)
            post_id = self.post(BRAND["id"], text, reply_to=target["id"] if target else None, expected=False)
            answered = target["edit_history_tweet_ids"][0] if target else ""
            self._sent.append(Sent(answered, "public", body["text"]))
            stored = self.posts[post_id]
            return Reply(201, {"data": {"id": post_id, "text": stored["text"],
                                        "edit_history_tweet_ids": stored["edit_history_tweet_ids"]}})

    def _send_dm(self, seen: Seen, who: str) -> Reply:
        try:
            body = seen.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"]:
            return invalid("$.text: is missing but it is required")
        if len(body["text"]) > 10000:
            return invalid("Message text is too long: at most 10000 characters")
        with self._lock:
            other = who.split("-") if "-" in who else [who]
            other = [u for u in other if u != BRAND["id"]]
            if "-" in who and (len(other) != 1 or self._conversation(other[0]) != who):
                return problem(403, "Forbidden", "You are not a participant in this conversation.")
            if not other or other[0] not in self.users:
                return problem(403, "Forbidden", "You cannot send messages to this user.")
            event_id = self.dm(BRAND["id"], body["text"], to=other[0], expected=False)
            self._sent.append(Sent(self._answered_by_dm(other[0]), "private", body["text"]))
            return Reply(201, {"data": {"dm_conversation_id": self._conversation(other[0]),
                                        "dm_event_id": event_id}})
