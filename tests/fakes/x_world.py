"""The world FakeX serves: X users (real names and handles from tweepy's recordings, in
tests/fixtures/x), posts with
their edit histories and X's escaping, DM events, and which customer messages were generated
(the fake contract's `expected_ids`) and who has been answered by DM."""

from __future__ import annotations

import functools
import json
import random
import re
import threading
from datetime import UTC, datetime
from typing import Any

from socialdesk.adapters.x_payloads import X_EPOCH_MS, unescape
from socialdesk.rules.length import weighted_length

from .x_wire import escape, id_key, iso

try:
    import corpus
except ImportError:  # imported as tests.fakes.x_world
    from tests import corpus  # type: ignore[no-redef]

BRAND = {"id": "1072250532645998596", "name": "Tweepy Testing", "username": "TweepyDev"}  # test_client_get_me


@functools.cache
def material() -> tuple[tuple[str, ...], tuple[str, ...], tuple[dict[str, str], ...]]:
    """(mention texts, other post texts, users) from recorded v2 answers (tests/fixtures/x)."""
    mentions: dict[str, str] = {}
    others: dict[str, str] = {}
    users: dict[str, dict[str, str]] = {}
    for path in sorted(corpus.fixture_dir("x").glob("*.json")):
        body = json.loads(path.read_text("utf-8"))
        data = body.get("data") if isinstance(body, dict) else None
        for obj in [data] if isinstance(data, dict) else data if isinstance(data, list) else []:
            if not isinstance(obj, dict):
                continue
            if "edit_history_tweet_ids" in obj and isinstance(obj.get("text"), str):
                target = mentions if "mentions" in path.name else others
                target.setdefault(obj["id"], unescape(obj["text"]))
            elif isinstance(obj.get("username"), str) and obj["id"] != BRAND["id"]:
                users.setdefault(obj["id"], {k: obj[k] for k in ("id", "name", "username")})
    return tuple(mentions.values()), tuple(others.values()), tuple(users.values())


class XWorld:
    """Users, posts and DM events as X holds them; `generate` makes customer traffic."""

    def __init__(self, seed: int = 0):
        self._lock = threading.RLock()
        self._rng = random.Random(seed)
        self.users: dict[str, dict[str, Any]] = {BRAND["id"]: {**BRAND, "public_metrics": self._metrics(5000)}}
        self.posts: dict[str, dict[str, Any]] = {}  # every version of every post, by id
        self.deleted: set[str] = set()
        self.dm_events: list[dict[str, Any]] = []
        self._expected: list[str] = []
        self._answered_private: set[str] = set()
        self._by_author: dict[str, list[str]] = {}  # customer -> ids of their expected messages
        self._by_name = {BRAND["username"].lower(): BRAND["id"]}
        self._customers = 0
        self._last_id = 0
        self._texts, self._others, self._people = material()

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
        """A new customer, with a real name and handle from the recordings (a fresh id when reused)."""
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
            created = at or datetime.now(UTC)
            post_id = self._next_id(created)  # the id's time is the created_at (the adapter reads either)
            item: dict[str, Any] = {
                "id": post_id, "text": text, "author_id": author_id, "created_at": iso(created),
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
                                   "sender_id": sender_id, "created_at": iso(datetime.now(UTC)),
                                   "dm_conversation_id": self._conversation(other)})
            if expected and sender_id != BRAND["id"]:
                self._expect(event_id, sender_id)
            return event_id

    @staticmethod
    def _conversation(user_id: str | None) -> str:
        ids = sorted((BRAND["id"], user_id or ""), key=id_key)
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

    def _answered_by_dm(self, user_id: str) -> str:
        """The customer message a DM to `user_id` answers: their oldest one not yet answered."""
        theirs = self._by_author.get(user_id, [])
        waiting = [i for i in theirs if i not in self._answered_private]
        chosen = waiting[0] if waiting else (theirs[-1] if theirs else "")
        self._answered_private.add(chosen)
        return chosen
