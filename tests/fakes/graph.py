"""Meta's Graph API on loopback, for the Facebook and Instagram adapters.

What it enforces, as Graph does: the token in `Authorization: Bearer` (else HTTP 400, code 190);
collections paged with `limit`/`after` cursors and `paging.next` URLs; `/feed` filtered by
`since`/`until`; comments `filter=toplevel` unless `filter=stream` (then replies come flat, with
`parent`), chronological unless `order=reverse_chronological`; conversations only with
`platform=messenger|instagram`, newest `updated_time` first, `user_id` filter; comment lengths
(Facebook 8000, Instagram 2200 UTF-16 units), Messenger text 2000 characters, Instagram Direct
1000 bytes; Instagram replies only to top-level comments; the Send API's `messaging_type`, its
24-hour window and the HUMAN_AGENT tag up to 7 days (else code 10, subcode 2018278); one
private reply per comment or post (code 10900) within 7 days (code 10903). Every answer carries
`X-Business-Use-Case-Usage`; throttling is Graph's HTTP 400 with code 80001 (Pages) or 80002
(Instagram) and that header at 100 %.

Customers' comments, posts and messages take real texts and names from the restfb corpus (the
Game of Thrones page feed, the Portuguese visitor post, thread messages) and the naughty-strings
list, in Graph's own field layouts, with fresh ids and times (up to PER_SECOND share a second).
`generate` makes Facebook visitor posts (some with the author hidden, as under Standard Access),
comments and replies, and one Messenger conversation per private message; on Instagram top-level
comments and Direct conversations. `sent()` names what the platform was asked to answer: the
comment or post replied to, the comment of a private reply, the customer's last message for a
Direct/Messenger message (Instagram files a reply to a reply under its top-level comment).
"""

from __future__ import annotations

import base64
import functools
import itertools
import json
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import unquote, urlencode

import corpus
from fakes.server import LoopbackServer, Reply, Seen
from socialdesk.adapters.facebook import FacebookAdapter
from socialdesk.adapters.instagram import InstagramAdapter

API = "v26.0"
RESTFB = "restfb__restfb"
JSON_DIR = "src/test/resources/json"
DAY = 86400
PER_SECOND = 20


class Sent(NamedTuple):
    in_reply_to: str
    visibility: str
    text: str


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def corpus_json(name: str) -> Any:
    return json.loads((corpus.platform_dir(RESTFB) / JSON_DIR / name).read_text("utf-8"))


@functools.cache
def corpus_voices() -> tuple[list[str], list[str], list[str]]:
    """Real names and texts from the corpus's Graph objects (visitor posts, comments, messages),
    and the naughty strings."""
    names, texts = [], []
    feed = corpus_json("v2_1/feed-got.json")["data"]
    items = [*feed, *(c for p in feed for c in (p.get("comments") or {}).get("data", [])),
             corpus_json("v2_1/post-portoguese.json"), *corpus_json("v2_1/thread.json")["comments"]["data"]]
    for item in items:
        if item.get("from", {}).get("name"):
            names.append(item["from"]["name"])
        if item.get("message"):
            texts.append(item["message"])
    blns = json.loads((corpus.platform_dir("minimaxir__big-list-of-naughty-strings") / "blns.json").read_text("utf-8"))
    return sorted(set(names)), texts, [s for s in blns if isinstance(s, str) and s.strip()]


def graph_error(code: int, message: str, *, status: int = 400, subcode: int | None = None,
                kind: str = "OAuthException", headers: dict[str, str] | None = None) -> Reply:
    error: dict[str, Any] = {"message": message, "type": kind, "code": code, "fbtrace_id": "AfakeTrace0"}
    if subcode is not None:
        error["error_subcode"] = subcode
    return Reply(status, {"error": error}, headers or {})


def _enc(n: int) -> str:
    return base64.b64encode(str(n).encode()).decode()


def _dec(value: str | None) -> int:
    try:
        return max(0, int(base64.b64decode(value or "").decode() or 0))
    except ValueError:
        return 0


class GraphFake:
    """What Facebook and Instagram share: the server, auth, paging, usage headers, people,
    conversations and the Send API."""

    kind = ""
    platform = ""  # the conversations' platform parameter
    throttle_code = 0
    usage_type = ""
    token = ""

    def __init__(self, *, faults: float = 0.0, seed: int = 0, slow_seconds: float = 1.0):
        self.server = LoopbackServer(self._handle, faults=faults, seed=seed, slow_seconds=slow_seconds,
                                     rate_limited=self.throttled)
        self.base_url = self.server.base_url
        self.rng = random.Random(seed)
        self.lock = threading.RLock()
        self.usage = 3  # the percentage every usage header reports
        self.regain_minutes = 0  # estimated_time_to_regain_access in throttled answers
        self.people: list[dict[str, Any]] = []
        self.conversations: dict[str, dict[str, Any]] = {}
        self._sent: list[Sent] = []
        self._expected: set[str] = set()
        self._seq = itertools.count(1)
        self._clock, self._used = int(time.time()), 0
        self.names, self.texts, self.hostile = corpus_voices()

    # -- life --

    def start(self) -> GraphFake:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> GraphFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def faults_injected(self) -> Counter[str]:
        return self.server.faults_injected

    def sent(self) -> list[Sent]:
        with self.lock:
            return list(self._sent)

    def expected_ids(self) -> set[str]:
        with self.lock:
            return set(self._expected)

    # -- building blocks --

    def next_id(self, width: int = 15) -> str:
        return str(10 ** (width - 1) + next(self._seq) * 7919)

    def tick(self, at: int | None = None) -> int:
        """A creation time: `at` if given, else now. Up to PER_SECOND items share a second; a
        bigger burst runs the clock ahead of real time (it never goes back)."""
        if at is not None:
            return at
        now = int(time.time())
        if now > self._clock:
            self._clock, self._used = now, 0
        elif self._used >= PER_SECOND:
            self._clock, self._used = self._clock + 1, 0
        self._used += 1
        return self._clock

    def text(self) -> str:
        return self.rng.choice(self.hostile if self.rng.random() < 0.2 else self.texts)

    def person(self, name: str | None = None) -> dict[str, Any]:
        name = name or self.rng.choice(self.names)
        person = {"id": self.next_id(), "psid": self.next_id(16), "name": name,
                  "username": re.sub(r"\W+", "_", name.lower()).strip("_")[:28] or "user"}
        self.people.append(person)
        return person

    def usage_headers(self, percent: int | None = None, regain: int = 0) -> dict[str, str]:
        entry = {"type": self.usage_type, "call_count": self.usage if percent is None else percent,
                 "total_cputime": 1, "total_time": 1, "estimated_time_to_regain_access": regain}
        return {"X-Business-Use-Case-Usage": json.dumps({self.owner_id(): [entry]})}

    def throttled(self) -> Reply:
        """Graph's throttle: HTTP 400, a BUC error code, the usage header at 100 %."""
        return graph_error(self.throttle_code, f"(#{self.throttle_code}) There have been too many calls from this "
                           "account. Wait a bit and try again.", headers=self.usage_headers(100, self.regain_minutes))

    def ok(self, body: Any) -> Reply:
        return Reply(200, body, self.usage_headers())

    def fail(self, code: int, message: str, **kw: Any) -> Reply:
        reply = graph_error(code, message, **kw)
        reply.headers.update(self.usage_headers())
        return reply

    def paged(self, seen: Seen, items: list[Any], render: Callable[[Any], Any], *, nested: str | None = None,
              limit: int | None = None, fields: str = "id") -> dict[str, Any]:
        """One page of a collection (only that page rendered), with cursors and a `next` URL while
        more remain. `nested`: the path of a connection expanded inside another object."""
        limit = min(int(limit or seen.param("limit") or 25), 100)
        start = 0 if nested else _dec(seen.param("after"))
        chunk = [render(item) for item in items[start:start + limit]]
        body: dict[str, Any] = {"data": chunk, "paging": {"cursors": {"before": _enc(start),
                                                                      "after": _enc(start + len(chunk))}}}
        if start + limit < len(items):
            if nested:
                path, query = nested, [("fields", fields), ("limit", str(limit))]
            else:
                path, query = seen.path, [(k, v) for k, v in seen.query if k != "after"]
            body["paging"]["next"] = f"{self.base_url}{path}?{urlencode([*query, ('after', _enc(start + limit))])}"
        return body

    # -- requests --

    def _handle(self, seen: Seen) -> Reply:
        if seen.headers.get("authorization") != f"Bearer {self.token}":
            return graph_error(190, "Invalid OAuth access token - Cannot parse access token")
        parts = [unquote(p) for p in seen.path.strip("/").split("/")]
        if len(parts) < 2 or parts[0] != API:
            return graph_error(2635, f"Unknown API version in {seen.path}")
        with self.lock:
            reply = self.route(seen, parts[1:])
        return reply or graph_error(100, f"Unsupported {seen.method.lower()} request. Object with ID '{parts[1]}' "
                                    "does not exist, cannot be loaded due to missing permissions, or does not "
                                    "support this operation", subcode=33, kind="GraphMethodException")

    def route(self, seen: Seen, parts: list[str]) -> Reply | None:
        raise NotImplementedError

    def owner_id(self) -> str:
        raise NotImplementedError

    # -- conversations and the Send API --

    def _from(self, person: dict[str, Any] | None) -> dict[str, Any]:
        raise NotImplementedError

    def conversation_for(self, person: dict[str, Any]) -> dict[str, Any]:
        for conv in self.conversations.values():
            if conv["person"] is person:
                return conv
        conv = {"id": f"t_{self.next_id()}", "person": person, "messages": [], "updated": 0}
        self.conversations[conv["id"]] = conv
        return conv

    def add_message(self, person: dict[str, Any], text: str | None = None, *, at: int | None = None,
                    from_page: bool = False) -> dict[str, Any]:
        """A message in the person's conversation (the customer's, or the account's own)."""
        conv = self.conversation_for(person)
        ts = self.tick(at)
        sender, other = (None, person) if from_page else (person, None)
        message = {"id": self.message_id(), "created_time": iso(ts), "ts": ts, "from": self._from(sender),
                   "to": {"data": [self._from(other)]}, "message": text if text is not None else self.text()}
        conv["messages"].append(message)
        conv["updated"] = max(conv["updated"], ts)
        if not from_page:
            self._expected.add(message["id"])
        return message

    def message_id(self) -> str:
        raise NotImplementedError

    def _message_json(self, message: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in message.items() if k != "ts"}

    def conversations_page(self, seen: Seen) -> Reply:
        if seen.param("platform") != self.platform:
            return self.fail(100, f"(#100) platform must be '{self.platform}' for this account")
        convs = sorted(self.conversations.values(), key=lambda c: (-c["updated"], c["id"]))
        if seen.param("user_id"):
            convs = [c for c in convs if self._from(c["person"])["id"] == seen.param("user_id")]
        fields = seen.param("fields") or ""
        nested = re.search(r"messages(?:\.limit\((\d+)\))?(?:\{([^}]*)\})?", fields)

        def render(conv: dict[str, Any]) -> dict[str, Any]:
            item: dict[str, Any] = {"id": conv["id"], "updated_time": iso(conv["updated"])}
            if nested:
                item["messages"] = self.paged(seen, conv["messages"][::-1], self._message_json,
                                              nested=f"/{API}/{conv['id']}/messages",
                                              limit=int(nested.group(1) or 25), fields=nested.group(2) or "id")
            return item

        return self.ok(self.paged(seen, convs, render))

    def messages_page(self, seen: Seen, conv: dict[str, Any]) -> Reply:
        return self.ok(self.paged(seen, conv["messages"][::-1], self._message_json))

    def send(self, seen: Seen) -> Reply:
        """POST /{owner}/messages: a private reply to a comment or post, or a message to a person."""
        try:
            body = seen.json()
        except ValueError:
            return self.fail(100, "(#100) The request body is not JSON")
        recipient, message = body.get("recipient") or {}, body.get("message") or {}
        text = message.get("text")
        problem = self.check_message(text)
        if problem:
            return self.fail(100, problem)
        now = int(time.time())
        if "comment_id" in recipient or "post_id" in recipient:
            target_id = recipient.get("comment_id") or recipient.get("post_id")
            target = self.item(target_id)
            if target is None or target["person"] is None:
                return self.fail(100, f"(#100) No matching comment or post {target_id}", subcode=33)
            if target.get("private_conv"):
                return self.fail(10900, "(#10900) Activity already replied to")
            if now - target["ts"] > 7 * DAY:
                return self.fail(10903, "(#10903) This user can't reply to this activity")
            conv = self.conversation_for(target["person"])
            target["private_conv"] = conv["id"]
            sent = self.add_message(target["person"], text, at=now, from_page=True)
            self._sent.append(Sent(target_id, "private", text))
            return self.ok({"recipient_id": self._from(target["person"])["id"], "message_id": sent["id"]})
        conv = next((c for c in self.conversations.values() if self._from(c["person"])["id"] == recipient.get("id")),
                    None)
        if conv is None:
            return self.fail(100, "(#100) No matching user found", subcode=2018001)
        if body.get("messaging_type") not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
            return self.fail(100, "(#100) The parameter messaging_type is required")
        theirs = [m for m in conv["messages"] if m["from"]["id"] == self._from(conv["person"])["id"]]
        last = theirs[-1] if theirs else None
        age = now - last["ts"] if last else 10 * DAY
        tagged = body.get("messaging_type") == "MESSAGE_TAG" and body.get("tag") == "HUMAN_AGENT"
        if age > 7 * DAY or (age > DAY and not tagged):
            return self.fail(10, "(#10) This message is sent outside of allowed window.", subcode=2018278)
        sent = self.add_message(conv["person"], text, at=now, from_page=True)
        self._sent.append(Sent(last["id"] if last else "", "private", text))
        return self.ok({"recipient_id": recipient.get("id"), "message_id": sent["id"]})

    def check_message(self, text: Any) -> str | None:
        raise NotImplementedError

    def item(self, item_id: str) -> dict[str, Any] | None:
        raise NotImplementedError


class FakeFacebook(GraphFake):
    """A Facebook Page: its feed (the Page's posts, visitor posts), comments and Messenger."""

    kind = "facebook"
    platform = "messenger"
    throttle_code = 80001
    usage_type = "pages"
    token = "EAAGfakePageAccessToken0123456789"

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self.page = {"id": "1234567890321", "name": "Socialdesk Test Page"}
        self.posts: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, dict[str, Any]] = {}
        self.children: Counter[str] = Counter()

    def owner_id(self) -> str:
        return self.page["id"]

    def adapter(self, **overrides: Any) -> FacebookAdapter:
        return FacebookAdapter(self.token, **{"base_url": self.base_url, "timeout": 0.5, **overrides})

    def _from(self, person: dict[str, Any] | None) -> dict[str, Any]:
        if person is None:
            return {"name": self.page["name"], "email": f"{self.page['id']}@facebook.com", "id": self.page["id"]}
        return {"name": person["name"], "email": f"{person['psid']}@facebook.com", "id": person["psid"]}

    def message_id(self) -> str:
        return f"m_mid.{int(time.time() * 1000)}:{next(self._seq):x}{self.rng.getrandbits(40):010x}"

    def check_message(self, text: Any) -> str | None:
        if not isinstance(text, str) or not text:
            return "(#100) The parameter message[text] is required"
        if len(text) > 2000:
            return "(#100) Length of param message[text] must be less than or equal to 2000"
        return None

    def item(self, item_id: str) -> dict[str, Any] | None:
        return self.comments.get(item_id) or self.posts.get(item_id)

    # -- content --

    def add_post(self, text: str | None = None, *, person: dict[str, Any] | None = None, hidden_from: bool = False,
                 at: int | None = None) -> dict[str, Any]:
        """A post on the feed: the Page's own (no person) or a visitor's."""
        ts = self.tick(at)
        post = {"id": f"{self.page['id']}_{self.next_id()}", "message": text or self.text(), "ts": ts, "updated": ts,
                "person": person, "hidden_from": hidden_from}
        self.posts[post["id"]] = post
        if person is not None:
            self._expected.add(post["id"])
        return post

    def add_comment(self, post: dict[str, Any], text: str | None = None, *, person: dict[str, Any] | None = None,
                    parent: dict[str, Any] | None = None, hidden_from: bool = False,
                    at: int | None = None) -> dict[str, Any]:
        """A comment (or a reply to `parent`) by a person, or by the Page when person is None."""
        ts = self.tick(at)
        comment = {"id": f"{post['id'].split('_')[1]}_{self.next_id()}", "post": post["id"],
                   "parent": parent["id"] if parent else None, "message": text if text is not None else self.text(),
                   "ts": ts, "person": person, "hidden_from": hidden_from, "private_conv": None}
        self.comments[comment["id"]] = comment
        self.children[comment["parent"] or ""] += 1
        post["updated"] = max(post["updated"], ts)
        if person is not None:
            self._expected.add(comment["id"])
        return comment

    def generate(self, n: int, *, private_share: float = 0.25) -> None:
        with self.lock:
            for _ in range(n):
                roll = self.rng.random()
                if roll < private_share:
                    self.add_message(self.person())
                    continue
                pages_posts = [p for p in self.posts.values() if p["person"] is None]
                if not pages_posts or self.rng.random() < 0.05:
                    pages_posts.append(self.add_post())
                if self.rng.random() < 0.1:
                    self.add_post(person=self.person(), hidden_from=self.rng.random() < 0.3)
                    continue
                post = self.rng.choice(pages_posts[-5:])
                replies_to = [c for c in self.comments.values() if c["post"] == post["id"] and c["parent"] is None]
                parent = self.rng.choice(replies_to) if replies_to and self.rng.random() < 0.25 else None
                self.add_comment(post, person=self.person(), parent=parent, hidden_from=self.rng.random() < 0.2)

    # -- JSON --

    def post_json(self, post: dict[str, Any]) -> dict[str, Any]:
        body = {"id": post["id"], "message": post["message"], "created_time": iso(post["ts"]),
                "updated_time": iso(post["updated"]), "permalink_url": f"https://www.facebook.com/{post['id']}"}
        if post["person"] is None:
            body["from"] = dict(self.page)
        elif not post["hidden_from"]:
            body["from"] = {"name": post["person"]["name"], "id": post["person"]["id"]}
        return body

    def comment_json(self, c: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {"id": c["id"], "message": c["message"], "created_time": iso(c["ts"]),
                                "like_count": 0, "comment_count": self.children[c["id"]],
                                "can_reply_privately": c["person"] is not None and not c["private_conv"],
                                "permalink_url": f"https://www.facebook.com/{c['post']}?comment_id={c['id']}"}
        if c["parent"]:
            body["parent"] = {"id": c["parent"]}
        if c["person"] is None:
            body["from"] = dict(self.page)
        elif not c["hidden_from"]:
            body["from"] = {"name": c["person"]["name"], "id": c["person"]["id"]}
        return body

    # -- routes --

    def route(self, seen: Seen, parts: list[str]) -> Reply | None:
        head, edge = parts[0], parts[1] if len(parts) > 1 else None
        if head == "me" and edge is None:
            return self.ok(dict(self.page))
        if head == self.page["id"]:
            if edge == "feed" and seen.method == "GET":
                return self.feed(seen)
            if edge == "conversations" and seen.method == "GET":
                return self.conversations_page(seen)
            if edge == "messages" and seen.method == "POST":
                return self.send(seen)
            return None
        if head in self.conversations and edge == "messages":
            return self.messages_page(seen, self.conversations[head])
        target = self.item(head)
        if target is None:
            return None
        if edge is None and head in self.comments:
            body = self.comment_json(target)
            if target["private_conv"]:
                body["private_reply_conversation"] = {"id": target["private_conv"]}
            return self.ok(body)
        if edge == "comments" and seen.method == "GET":
            return self.comments_page(seen, target)
        if edge == "comments" and seen.method == "POST":
            return self.reply(seen, target)
        return None

    def feed(self, seen: Seen) -> Reply:
        since, until = int(seen.param("since") or 0), int(seen.param("until") or 2**40)
        posts = sorted((p for p in self.posts.values() if since <= p["ts"] <= until), key=lambda p: (-p["ts"], p["id"]))
        return self.ok(self.paged(seen, posts, self.post_json))

    def comments_page(self, seen: Seen, target: dict[str, Any]) -> Reply:
        if target["id"] in self.posts:
            found = [c for c in self.comments.values() if c["post"] == target["id"]]
            if seen.param("filter") != "stream":
                found = [c for c in found if c["parent"] is None]
        else:
            found = [c for c in self.comments.values() if c["parent"] == target["id"]]
        found.sort(key=lambda c: (c["ts"], c["id"]), reverse=seen.param("order") == "reverse_chronological")
        return self.ok(self.paged(seen, found, self.comment_json))

    def reply(self, seen: Seen, target: dict[str, Any]) -> Reply:
        text = seen.form().get("message") or seen.param("message")
        if not text:
            return self.fail(100, "(#100) Missing message or attachment")
        if utf16_len(text) > 8000:
            return self.fail(100, "(#100) Comment text is too long (8000 characters at most)")
        post = self.posts.get(target.get("post") or target["id"])
        comment = self.add_comment(post, text, parent=target if target["id"] in self.comments else None,
                                   at=int(time.time()))
        self._sent.append(Sent(target["id"], "public", text))
        return self.ok({"id": comment["id"]})


class FakeInstagram(GraphFake):
    """An Instagram professional account: media with comments and replies, tags, Direct. With
    `login="facebook"` it answers as graph.facebook.com does for a Page linked to the account."""

    kind = "instagram"
    platform = "instagram"
    throttle_code = 80002
    usage_type = "instagram"
    token = "IGQVJfakeInstagramUserToken0123456789"

    def __init__(self, *, login: str = "instagram", **kw: Any):
        super().__init__(**kw)
        self.login = login
        self.account = {"id": "17841400000000001", "app_id": "7012345678901234", "username": "socialdesk.shop",
                        "name": "Socialdesk Shop"}
        self.page = {"id": "1234567890321", "name": "Socialdesk Test Page"}
        self.media: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, dict[str, Any]] = {}
        self.tagged: dict[str, dict[str, Any]] = {}

    def owner_id(self) -> str:
        return self.account["id"]

    def adapter(self, **overrides: Any) -> InstagramAdapter:
        base: dict[str, Any] = {"base_url": self.base_url, "timeout": 0.5}
        if self.login == "facebook":
            base["page_id"] = self.page["id"]
        return InstagramAdapter(self.token, **{**base, **overrides})

    def _from(self, person: dict[str, Any] | None) -> dict[str, Any]:
        if person is None:
            return {"username": self.account["username"], "id": self.account["id"]}
        return {"username": person["username"], "id": person["psid"]}

    def message_id(self) -> str:
        raw = f"ig_message_item:1:IGMessageThread:{self.account['id']}:{next(self._seq)}{self.rng.getrandbits(48)}"
        return base64.b64encode(raw.encode()).decode().rstrip("=")

    def check_message(self, text: Any) -> str | None:
        if not isinstance(text, str) or not text:
            return "(#100) The parameter message[text] is required"
        if len(text.encode("utf-8")) > 1000:
            return "(#100) Length of param message[text] must be less than or equal to 1000 bytes"
        return None

    def item(self, item_id: str) -> dict[str, Any] | None:
        return self.comments.get(item_id)

    # -- content --

    def add_media(self, caption: str | None = None, *, at: int | None = None) -> dict[str, Any]:
        ts = self.tick(at)
        media = {"id": self.next_id(17), "caption": caption or self.text(), "ts": ts}
        self.media[media["id"]] = media
        return media

    def add_comment(self, media: dict[str, Any], text: str | None = None, *, person: dict[str, Any] | None = None,
                    parent: dict[str, Any] | None = None, at: int | None = None) -> dict[str, Any]:
        ts = self.tick(at)
        comment = {"id": self.next_id(17), "media": media["id"], "parent": parent["id"] if parent else None,
                   "text": text if text is not None else self.text(), "ts": ts, "person": person, "private_conv": None,
                   "hidden": False}
        self.comments[comment["id"]] = comment
        if person is not None:
            self._expected.add(comment["id"])
        return comment

    def add_tag(self, person: dict[str, Any], caption: str | None = None, *, at: int | None = None) -> dict[str, Any]:
        ts = self.tick(at)
        media = {"id": self.next_id(17), "caption": caption or self.text(), "ts": ts, "person": person}
        self.tagged[media["id"]] = media
        self._expected.add(media["id"])
        return media

    def generate(self, n: int, *, private_share: float = 0.25) -> None:
        with self.lock:
            for _ in range(n):
                if self.rng.random() < private_share:
                    self.add_message(self.person())
                    continue
                if not self.media or self.rng.random() < 0.05:
                    self.add_media()
                self.add_comment(self.rng.choice(list(self.media.values())[-5:]), person=self.person())

    # -- JSON --

    def comment_json(self, c: dict[str, Any], *, with_replies: bool = True) -> dict[str, Any]:
        who = self._from(c["person"]) if c["person"] else {"username": self.account["username"],
                                                           "id": self.account["id"]}
        body: dict[str, Any] = {"id": c["id"], "text": c["text"], "timestamp": iso(c["ts"]),
                                "username": who["username"], "from": who, "like_count": 0, "hidden": c["hidden"],
                                "media": {"id": c["media"]}}
        if c["parent"]:
            body["parent_id"] = c["parent"]
        elif with_replies:
            replies = [r for r in self.comments.values() if r["parent"] == c["id"]]
            if replies:
                body["replies"] = {"data": [self.comment_json(r) for r in sorted(replies, key=lambda r: r["ts"])]}
        return body

    def tag_json(self, m: dict[str, Any]) -> dict[str, Any]:
        return {"id": m["id"], "caption": m["caption"], "timestamp": iso(m["ts"]), "username": m["person"]["username"],
                "like_count": 0, "comments_count": 0, "permalink": f"https://www.instagram.com/p/{m['id']}/"}

    def media_json(self, media: dict[str, Any], seen: Seen) -> dict[str, Any]:
        top = sorted((c for c in self.comments.values() if c["media"] == media["id"] and not c["parent"]),
                     key=lambda c: (-c["ts"], c["id"]))
        body: dict[str, Any] = {"id": media["id"], "caption": media["caption"], "timestamp": iso(media["ts"]),
                                "permalink": f"https://www.instagram.com/p/{media['id']}/",
                                "media_product_type": "FEED", "comments_count": len(top)}
        nested = re.search(r"comments(?:\.limit\((\d+)\))?", seen.param("fields") or "")
        if nested and top:
            body["comments"] = self.paged(seen, top, self.comment_json, nested=f"/{API}/{media['id']}/comments",
                                          limit=int(nested.group(1) or 25),
                                          fields="id,text,timestamp,username,from,parent_id,replies")
        return body

    # -- routes --

    def route(self, seen: Seen, parts: list[str]) -> Reply | None:
        head, edge = parts[0], parts[1] if len(parts) > 1 else None
        account, facebook = self.account["id"], self.login == "facebook"
        if head == "me" and edge is None:
            if facebook:
                return self.ok(dict(self.page))
            return self.ok({"id": self.account["app_id"], "user_id": account, "username": self.account["username"],
                            "name": self.account["name"]})
        if facebook and head == self.page["id"] and edge is None:
            return self.ok({"id": self.page["id"], "instagram_business_account": {
                k: self.account[k] for k in ("id", "username", "name")}})
        owner = self.page["id"] if facebook else account
        if head == owner and edge == "conversations":
            return self.conversations_page(seen)
        if head == owner and edge == "messages" and seen.method == "POST":
            return self.send(seen)
        if head in self.conversations and edge == "messages":
            return self.messages_page(seen, self.conversations[head])
        if head == account and edge == "media":
            media = sorted(self.media.values(), key=lambda m: (-m["ts"], m["id"]))
            return self.ok(self.paged(seen, media, lambda m: self.media_json(m, seen)))
        if head == account and edge == "tags" and facebook:
            tagged = sorted(self.tagged.values(), key=lambda m: (-m["ts"], m["id"]))
            return self.ok(self.paged(seen, tagged, self.tag_json))
        if head == account and edge == "mentions" and seen.method == "POST" and facebook:
            form = seen.form()
            if form.get("media_id") not in self.tagged:
                return self.fail(100, "(#100) The media is not one the account is mentioned in")
            self._sent.append(Sent(form["media_id"], "public", form.get("message", "")))
            return self.ok({"id": self.next_id(17)})
        if head in self.media and edge == "comments" and seen.method == "GET":
            top = sorted((c for c in self.comments.values() if c["media"] == head and not c["parent"]),
                         key=lambda c: (-c["ts"], c["id"]))
            return self.ok(self.paged(seen, top, self.comment_json))
        comment = self.comments.get(head)
        if comment is not None and edge == "replies":
            if seen.method == "GET":
                replies = sorted((r for r in self.comments.values() if r["parent"] == head), key=lambda r: r["ts"])
                return self.ok(self.paged(seen, replies, self.comment_json))
            return self.reply(seen, comment)
        return None

    def reply(self, seen: Seen, comment: dict[str, Any]) -> Reply:
        text = seen.form().get("message") or seen.param("message")
        if not text:
            return self.fail(100, "(#100) The parameter message is required")
        if comment["parent"]:
            return self.fail(100, "(#100) Replies can only be made to top-level comments")
        if comment["hidden"]:
            return self.fail(100, "(#100) Cannot reply to a hidden comment")
        if utf16_len(text) > 2200:
            return self.fail(100, "(#100) The comment is too long (2200 characters at most)")
        reply = self.add_comment(self.media[comment["media"]], text, parent=comment, at=int(time.time()))
        self._sent.append(Sent(comment["id"], "public", text))
        return self.ok({"id": reply["id"]})
