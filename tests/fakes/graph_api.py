"""Meta's Graph API on loopback: what the Facebook and Instagram fakes share (`graph_facebook`,
`graph_instagram`; `graph` names both).

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

Customers' comments, posts and messages take real texts and names from restfb's recorded Graph
objects in tests/fixtures/facebook (the Game of Thrones page feed, the Portuguese visitor post,
thread messages) and naughty strings, in Graph's own field layouts, with fresh ids and times (up to PER_SECOND share a second).
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

API = "v26.0"
DAY = 86400
PER_SECOND = 20


class Sent(NamedTuple):
    in_reply_to: str
    visibility: str
    text: str


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


@functools.cache
def voices() -> tuple[list[str], list[str], list[str]]:
    """Real names and texts from recorded Graph objects (visitor posts, comments, messages), and
    naughty strings."""
    names, texts = [], []
    feed = corpus.fixture_json("facebook", "v2_1/feed-got.json")["data"]
    items = [*feed, *(c for p in feed for c in (p.get("comments") or {}).get("data", [])),
             corpus.fixture_json("facebook", "v2_1/post-portoguese.json"),
             *corpus.fixture_json("facebook", "v2_1/thread.json")["comments"]["data"]]
    for item in items:
        if item.get("from", {}).get("name"):
            names.append(item["from"]["name"])
        if item.get("message"):
            texts.append(item["message"])
    return sorted(set(names)), texts, corpus.naughty_strings()


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
        self.names, self.texts, self.hostile = voices()

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
