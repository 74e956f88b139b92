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
import functools
import json
import random
import re
import threading
import time
import typing
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from socialdesk.adapters.base import MemoryVault
from socialdesk.adapters.x import XAdapter, oauth1_signature, request_params, signature_base_string
from socialdesk.adapters.x_payloads import X_EPOCH_MS, unescape
from socialdesk.rules.length import weighted_length

from .server import LoopbackServer, Reply, Seen

try:
    import corpus
except ImportError:  # imported as tests.fakes.x
    from tests import corpus  # type: ignore[no-redef]

Sent = typing.NamedTuple("Sent", [("in_reply_to", str), ("visibility", str), ("text", str)])

BRAND = {"id": "1072250532645998596", "name": "Tweepy Testing", "username": "TweepyDev"}  # test_client_get_me
OAUTH1 = {"consumer_key": "fake-consumer-key-xvz1evFS4wEE", "consumer_secret": "fake-consumer-secret-kAcSOqF21F",
          "access_token": "1072250532645998596-fakeAccessToken", "access_token_secret": "fake-token-secret-Lsww"}
# Requests per 15 minutes per user (docs.x.com rate limits).
LIMITS = {"me": 75, "mentions": 300, "tweets": 900, "dm_events": 15, "dm_conversation": 15,
          "post_tweet": 100, "post_dm": 15}
TWEET_FIELDS = {"attachments", "author_id", "card_uri", "context_annotations", "conversation_id", "created_at",
                "edit_controls", "edit_history_tweet_ids", "entities", "geo", "id", "in_reply_to_user_id", "lang",
                "note_tweet", "possibly_sensitive", "public_metrics", "referenced_tweets", "reply_settings",
                "source", "text", "withheld"}
USER_FIELDS = {"created_at", "description", "entities", "id", "location", "name", "pinned_tweet_id",
               "profile_image_url", "protected", "public_metrics", "receives_your_dm", "url", "username",
               "verified", "verified_type", "withheld"}
DM_FIELDS = {"attachments", "created_at", "dm_conversation_id", "entities", "event_type", "id", "participant_ids",
             "referenced_tweets", "sender_id", "text"}
POST_EXPANSIONS = {"author_id", "referenced_tweets.id", "referenced_tweets.id.author_id", "in_reply_to_user_id",
                   "attachments.media_keys", "entities.mentions.username", "edit_history_tweet_ids"}
DM_EXPANSIONS = {"sender_id", "referenced_tweets.id", "participant_ids", "attachments.media_keys"}
TIMELINE_PARAMS = {"max_results", "pagination_token", "since_id", "until_id", "start_time", "end_time",
                   "tweet.fields", "post.fields", "user.fields", "expansions", "media.fields", "place.fields",
                   "poll.fields"}
DM_PARAMS = {"max_results", "pagination_token", "event_types", "dm_event.fields", "expansions", "user.fields",
             "tweet.fields", "media.fields"}


def problem(status: int, title: str, detail: str, type_: str = "about:blank", **extra: Any) -> Reply:
    return Reply(status, {"title": title, "detail": detail, "type": type_, "status": status, **extra})


def invalid(message: str) -> Reply:
    return Reply(400, {"errors": [{"parameters": {}, "message": message}], "title": "Invalid Request",
                       "detail": "One or more parameters to your request was invalid.",
                       "type": "https://api.twitter.com/2/problems/invalid-request"})


UNAUTHORIZED = ("Unauthorized", "Unauthorized")
DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
NOT_SUMMONED = ("Reply to this conversation is not allowed because you have not been mentioned or otherwise "
                "engaged by the author of the post you are replying to.")


@functools.cache
def corpus_material() -> tuple[tuple[str, ...], tuple[str, ...], tuple[dict[str, str], ...]]:
    """(mention texts, other post texts, users) from the tweepy cassettes: real v2 payloads."""
    mentions: dict[str, str] = {}
    others: dict[str, str] = {}
    users: dict[str, dict[str, str]] = {}
    for inter, body in corpus.json_bodies("tweepy__tweepy"):
        data = body.get("data") if isinstance(body, dict) else None
        for obj in [data] if isinstance(data, dict) else data if isinstance(data, list) else []:
            if not isinstance(obj, dict):
                continue
            if "edit_history_tweet_ids" in obj and isinstance(obj.get("text"), str):
                target = mentions if "/mentions" in inter.request["uri"] else others
                target.setdefault(obj["id"], unescape(obj["text"]))
            elif isinstance(obj.get("username"), str) and obj["id"] != BRAND["id"]:
                users.setdefault(obj["id"], {k: obj[k] for k in ("id", "name", "username")})
    return tuple(mentions.values()), tuple(others.values()), tuple(users.values())


def _token(boundary: str) -> str:
    return base64.b32encode(f"x:{boundary}".encode()).decode().rstrip("=").lower()


def _boundary(token: str) -> str | None:
    try:
        text = base64.b32decode(token.upper() + "=" * (-len(token) % 8)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return text[2:] if text.startswith("x:") and text[2:].isdigit() else None


def escape(text: str) -> str:
    """X's escaping of post text: exactly &, < and >."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _key(value: str) -> tuple[int, str]:
    return (len(value), value)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


class FakeX:
    kind = "x"

    def __init__(self, *, faults: float = 0.0, seed: int = 0, slow_seconds: float = 1.0, auth: str = "oauth1",
                 enforce_limits: bool = False, rate_window: float = 900.0):
        self.server = LoopbackServer(self._handle, faults=faults, seed=seed, slow_seconds=slow_seconds,
                                     rate_limited=self._rate_limited,
                                     fault_filter=lambda seen: seen.path != "/2/oauth2/token")
        self.base_url = self.server.base_url
        self.faults_injected: Counter[str] = self.server.faults_injected
        self.auth_mode, self.enforce_limits, self.rate_window = auth, enforce_limits, rate_window
        self._lock = threading.RLock()
        self._rng = random.Random(seed)
        self.users: dict[str, dict[str, Any]] = {BRAND["id"]: {**BRAND, "public_metrics": self._metrics(5000)}}
        self.posts: dict[str, dict[str, Any]] = {}  # every version of every post, by id
        self.deleted: set[str] = set()
        self.dm_events: list[dict[str, Any]] = []
        self._sent: list[Sent] = []
        self._expected: list[str] = []
        self._answered_private: set[str] = set()
        self._by_author: dict[str, list[str]] = {}  # customer -> ids of their expected messages
        self._by_name = {BRAND["username"].lower(): BRAND["id"]}
        self._customers = 0
        self._nonces: set[str] = set()
        self._last_id = 0
        self._used: dict[str, list[float]] = {}  # endpoint -> [window start, requests]
        self.access_token, self.refresh_token = "fake-oauth2-access-0", "fake-oauth2-refresh-0"
        self.client = {"client_id": "fake-client-id", "client_secret": "fake-client-secret"}
        self.vault = MemoryVault()
        self.refreshes = 0
        self._texts, self._others, self._people = corpus_material()

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

    # -- state --

    def _next_id(self, at: datetime | None = None) -> str:
        with self._lock:
            ms = int((at or datetime.now(UTC)).timestamp() * 1000) - X_EPOCH_MS
            value = max(ms << 22 | self._rng.randrange(1 << 12) << 10, self._last_id + 1)
            self._last_id = value
            return str(value)

    def _metrics(self, followers: int) -> dict[str, int]:
        return {"followers_count": followers, "following_count": followers // 3, "tweet_count": followers * 2,
                "listed_count": followers // 50}

    def customer(self) -> str:
        """A new customer, with a real name and handle from the corpus (a fresh id when reused)."""
        with self._lock:
            n, self._customers = self._customers, self._customers + 1
            base = self._people[n % len(self._people)]
            user = dict(base)
            if n >= len(self._people) or base["id"] in self.users:
                user["id"] = str(10**17 + n)
                user["username"] = f"{base['username'][:11]}_{n}"
            user["public_metrics"] = self._metrics(self._rng.choice((3, 41, 268, 1520, 98000)))
            if self._rng.random() < 0.5:
                user["location"] = self._rng.choice(("Lagos, Nigeria", "São Paulo", "東京", "Berlin", " "))
            user["verified"] = self._rng.random() < 0.1
            self.users[user["id"]] = user
            self._by_name[user["username"].lower()] = user["id"]
            return user["id"]

    def post(self, author_id: str, text: str, *, reply_to: str | None = None, edit_of: str | None = None,
             expected: bool = True, at: datetime | None = None) -> str:
        """A post (or a new version of `edit_of`) becomes visible; returns its id."""
        with self._lock:
            post_id = self._next_id(at)
            created = at or datetime.now(UTC)
            item: dict[str, Any] = {
                "id": post_id, "text": text, "author_id": author_id, "created_at": _iso(created),
                "edit_history_tweet_ids": [post_id], "conversation_id": post_id,
                "lang": "en" if re.search(r"[A-Za-z]{3}", text) else "und",
                "public_metrics": {"retweet_count": self._rng.randrange(3), "reply_count": 0,
                                   "like_count": self._rng.randrange(20), "quote_count": 0, "bookmark_count": 0,
                                   "impression_count": self._rng.randrange(900)},
            }
            mentions = [{"start": m.start(), "end": m.end(), "username": m.group(1),
                         "id": self._by_name[m.group(1).lower()]}
                        for m in re.finditer(r"@(\w+)", text) if m.group(1).lower() in self._by_name]
            if mentions:
                item["entities"] = {"mentions": mentions}
            if reply_to is not None:
                target = self.posts[reply_to]
                item.update(conversation_id=target["conversation_id"], in_reply_to_user_id=target["author_id"],
                            referenced_tweets=[{"type": "replied_to", "id": reply_to}])
            if edit_of is not None:
                old = self.posts[edit_of]
                item["edit_history_tweet_ids"] = [*old["edit_history_tweet_ids"], post_id]
                item["conversation_id"] = old["conversation_id"]
                for key in ("referenced_tweets", "in_reply_to_user_id"):
                    if key in old:
                        item[key] = old[key]
            if weighted_length(text) > 280:  # a long post: X cuts `text`, the whole is in note_tweet
                item["note_tweet"] = {"text": escape(text)}
                item["text"] = text[:270] + "…"
            item["text"] = escape(item["text"])
            self.posts[post_id] = item
            if expected and edit_of is None and author_id != BRAND["id"]:
                self._expect(post_id, author_id)
            return post_id

    def _expect(self, message_id: str, author_id: str) -> None:
        self._expected.append(message_id)
        self._by_author.setdefault(author_id, []).append(message_id)

    def dm(self, sender_id: str, text: str, *, to: str | None = None, expected: bool = True) -> str:
        """A DM from `sender_id` to the brand (or from the brand `to` someone)."""
        with self._lock:
            other = to if sender_id == BRAND["id"] else sender_id
            event_id = self._next_id()
            self.dm_events.append({"id": event_id, "event_type": "MessageCreate", "text": text,
                                   "sender_id": sender_id, "created_at": _iso(datetime.now(UTC)),
                                   "dm_conversation_id": self._conversation(other)})
            if expected and sender_id != BRAND["id"]:
                self._expect(event_id, sender_id)
            return event_id

    @staticmethod
    def _conversation(user_id: str | None) -> str:
        ids = sorted((BRAND["id"], user_id or ""), key=_key)
        return f"{ids[0]}-{ids[1]}"

    def generate(self, n: int, *, private_share: float = 0.25) -> None:
        """n customer messages: mentions of @TweepyDev (real texts of mentions of @Twitter, some of
        them replies in a thread) and DMs (real post texts), each from a new customer."""
        with self._lock:
            for _ in range(n):
                author = self.customer()
                if self._rng.random() < private_share:
                    self.dm(author, self._rng.choice(self._others))
                    continue
                text = re.sub(r"@twitter\b", "@TweepyDev", self._rng.choice(self._texts), flags=re.I)
                if "@TweepyDev" not in text:
                    text = f"@TweepyDev {text}"
                roots = [i for i in self._expected[-20:] if i in self.posts]
                reply_to = self._rng.choice(roots) if roots and self._rng.random() < 0.2 else None
                self.post(author, text, reply_to=reply_to)

    def expected_ids(self) -> set[str]:
        with self._lock:
            return set(self._expected)

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

    def _fields(self, seen: Seen, name: str, known: set[str]) -> set[str] | Reply:
        values = {v for raw in seen.params(name) for v in raw.split(",") if v}
        unknown = sorted(values - known)
        if unknown:
            return invalid(f"The `{name}` query parameter value [{unknown[0]}] is not one of {sorted(known)}")
        return values

    def _validate(self, seen: Seen, allowed: set[str], low: int, high: int) -> Reply | None:
        unknown = sorted({k for k, _ in seen.query} - allowed)
        if unknown:
            return invalid(f"The query parameters [{','.join(unknown)}] is not one of {sorted(allowed)}")
        size = seen.param("max_results")
        if size is not None and (not size.isdigit() or not low <= int(size) <= high):
            return invalid(f"The `max_results` query parameter value [{size}] is not between {low} and {high}")
        token = seen.param("pagination_token")
        if token is not None and _boundary(token) is None:
            return invalid(f"The `pagination_token` query parameter value [{token}] is not valid")
        return None

    def _render_user(self, user: dict[str, Any], fields: set[str], spelling: str) -> dict[str, Any]:
        out = {k: v for k, v in user.items() if k in {"id", "name", "username"} | fields}
        if spelling == "post" and "public_metrics" in out:
            metrics = dict(out["public_metrics"])
            metrics["post_count"] = metrics.pop("tweet_count")
            out["public_metrics"] = metrics
        return out

    def _render_post(self, post: dict[str, Any], fields: set[str], spelling: str) -> dict[str, Any]:
        out = {k: v for k, v in post.items() if k in {"id", "text", "edit_history_tweet_ids"} | fields}
        if spelling == "post":
            if "referenced_tweets" in out:
                out["referenced_posts"] = out.pop("referenced_tweets")
            if "public_metrics" in out:
                metrics = dict(out["public_metrics"])
                metrics["repost_count"] = metrics.pop("retweet_count")
                out["public_metrics"] = metrics
        return out

    def _page(self, seen: Seen, items: list[dict[str, Any]], default: int) -> tuple[list[dict[str, Any]], dict]:
        """Newest first, one page after `pagination_token`, with X's meta."""
        items = sorted(items, key=lambda i: _key(i["id"]), reverse=True)
        token = seen.param("pagination_token")
        if token:
            boundary = _boundary(token) or "0"
            items = [i for i in items if _key(i["id"]) < _key(boundary)]
        size = int(seen.param("max_results") or default)
        page, more = items[:size], len(items) > size
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta.update(newest_id=page[0]["id"], oldest_id=page[-1]["id"])
        if more:
            meta["next_token"] = _token(page[-1]["id"])
        if token:
            meta["previous_token"] = _token(str(int(page[0]["id"]) + 1)) if page else token
        return page, meta

    def _timeline(self, seen: Seen, posts: list[dict[str, Any]]) -> Reply:
        if (bad := self._validate(seen, TIMELINE_PARAMS | {"exclude"}, 5, 100)) is not None:
            return bad
        spelling = "post" if seen.param("post.fields") is not None else "tweet"
        fields = self._fields(seen, f"{spelling}.fields", TWEET_FIELDS)
        user_fields = self._fields(seen, "user.fields", USER_FIELDS)
        expansions = self._fields(seen, "expansions", POST_EXPANSIONS)
        for value in (fields, user_fields, expansions):
            if isinstance(value, Reply):
                return value
        assert isinstance(fields, set) and isinstance(user_fields, set) and isinstance(expansions, set)
        since, until = seen.param("since_id"), seen.param("until_id")
        try:
            start = datetime.fromisoformat(seen.param("start_time") or "2006-03-21T00:00:00Z")
            end = datetime.fromisoformat(seen.param("end_time") or "2999-01-01T00:00:00Z")
        except ValueError:
            return invalid("Invalid `start_time` or `end_time`: use YYYY-MM-DDTHH:mm:ssZ")
        posts = [p for p in posts if (since is None or _key(p["id"]) > _key(since))
                 and (until is None or _key(p["id"]) < _key(until))
                 and start <= datetime.fromisoformat(p["created_at"]) <= end]
        page, meta = self._page(seen, posts, 10)
        body: dict[str, Any] = {"meta": meta}
        if page:
            body["data"] = [self._render_post(p, fields, spelling) for p in page]
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
            includes["users"] = [self._render_user(u, user_fields, spelling) for u in users.values()]
        if refs:
            includes["tweets" if spelling == "tweet" else "posts"] = [
                self._render_post(p, fields, spelling) for p in refs.values()]
        if includes:
            body["includes"] = includes
        if errors:
            body["errors"] = errors
        return Reply(200, body)

    def _me(self, seen: Seen) -> Reply:
        fields = self._fields(seen, "user.fields", USER_FIELDS)
        if isinstance(fields, Reply):
            return fields
        return Reply(200, {"data": self._render_user(self.users[BRAND["id"]], fields, "tweet")})

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
        if (bad := self._validate(seen, DM_PARAMS, 1, 100)) is not None:
            return bad
        fields = self._fields(seen, "dm_event.fields", DM_FIELDS)
        user_fields = self._fields(seen, "user.fields", USER_FIELDS)
        expansions = self._fields(seen, "expansions", DM_EXPANSIONS)
        for value in (fields, user_fields, expansions):
            if isinstance(value, Reply):
                return value
        assert isinstance(fields, set) and isinstance(user_fields, set) and isinstance(expansions, set)
        types = set((seen.param("event_types") or "MessageCreate,ParticipantsJoin,ParticipantsLeave").split(","))
        page, meta = self._page(seen, [e for e in events if e["event_type"] in types], 100)
        for key in ("newest_id", "oldest_id"):  # DM event lists carry neither
            meta.pop(key, None)
        body: dict[str, Any] = {"meta": meta}
        if page:
            body["data"] = [{k: v for k, v in e.items() if k in {"id", "event_type", "text"} | fields} for e in page]
            if "sender_id" in expansions:
                senders = {e["sender_id"] for e in page}
                body["includes"] = {"users": [self._render_user(self.users[s], user_fields, "tweet")
                                              for s in sorted(senders)]}
        return Reply(200, body)

    def _dm_events(self, seen: Seen) -> Reply:
        with self._lock:
            cutoff = _iso(datetime.now(UTC) - timedelta(days=30))
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

    def _answered_by_dm(self, user_id: str) -> str:
        """The customer message a DM to `user_id` answers: their oldest one not yet answered."""
        theirs = self._by_author.get(user_id, [])
        waiting = [i for i in theirs if i not in self._answered_private]
        chosen = waiting[0] if waiting else (theirs[-1] if theirs else "")
        self._answered_private.add(chosen)
        return chosen
