"""The world FakeBluesky serves, built from atproto.dart's recorded XRPC bodies (tests/fixtures/bluesky):
profiles, posts and notifications with fresh uris, cids and times, the brand's own repo, chat
convos and their log, and which customer messages were generated (`expected_ids`)."""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import json
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import corpus
from socialdesk.adapters.bluesky_payloads import chat_id, tid

FOLDER = "myConsciousness__atproto.dart"
BSKY = "packages/bluesky/test/src/services/suite/"
ATP = "packages/atproto/test/src/services/suite/"
BRAND_DID = "did:plc:acmesupport7q2bxkfnw3vdzl"
BRAND_HANDLE = "support.acme.example"
POST = "app.bsky.feed.post"
DEFS = "chat.bsky.convo.defs#"


# --- recorded bodies -----------------------------------------------------------------------------


@functools.cache
def load(rel: str) -> Any:
    """One recorded XRPC body of the shared corpus, e.g. load(BSKY + "app/bsky/feed/getPosts.json").
    Cached: read only."""
    return json.loads((corpus.platform_dir(FOLDER) / rel).read_text("utf-8"))


def recorded(rel: str) -> Any:
    """A body of the corpus's bluesky suite, e.g. recorded("app/bsky/feed/getPosts.json")."""
    return load(BSKY + rel)


@functools.cache
def fixture(rel: str) -> Any:
    """The project's trimmed copy of a suite body (bluesky or atproto), e.g. fixture("error.json")."""
    return corpus.fixture_json("bluesky", rel)


@functools.cache
def post_views(read: Callable[[str], Any] = fixture) -> list[tuple[str, dict]]:
    """Every postView in the recorded feeds, threads, getPosts and searchPosts, by uri."""
    views: dict[str, tuple[str, dict]] = {}
    for rel in ("app/bsky/feed/getPostThread.json", "app/bsky/feed/getAuthorFeed.json",
                "app/bsky/feed/getPosts.json", "app/bsky/feed/searchPosts.json"):
        for obj in corpus.walk(read(rel)):
            if isinstance(obj, dict) and isinstance(obj.get("record"), dict) and "author" in obj \
                    and obj["record"].get("$type") == POST:
                views.setdefault(obj["uri"], (rel, obj))
    return list(views.values())


def customer_notifications() -> list[dict]:
    return [n for n in fixture("app/bsky/notification/listNotifications.json")["notifications"]
            if n["reason"] in ("mention", "reply", "quote")]


# --- values --------------------------------------------------------------------------------------


def fake_cid(data: Any) -> str:
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).digest()
    return "bafyrei" + base64.b32encode(digest).decode().lower().rstrip("=")[:52]


def iso(micros: int) -> str:
    return datetime.fromtimestamp(micros / 1e6, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- the world -----------------------------------------------------------------------------------


class BlueskyWorld:
    """Profiles, posts, notifications, the brand's repo and chats; `generate` makes customer traffic."""

    def __init__(self, seed: int = 0):
        self.rng = random.Random(seed)
        self.lock = threading.RLock()
        self.clock = int(time.time() * 1000) * 1000
        self.profiles: dict[str, dict] = {}  # did -> profileViewDetailed
        self.posts: dict[str, dict] = {}  # uri -> postView
        self.notifications: list[dict] = []
        self.repo: dict[str, dict] = {}  # rkey -> {uri, cid, value}: the brand's posts
        self.convos: dict[str, dict] = {}  # id -> {id, rev, members, messages}
        self.logs: list[dict] = []
        self.generated: set[str] = set()
        self._load_world()

    def _tick(self) -> int:
        self.clock = max(self.clock + 1000, int(time.time() * 1000) * 1000)  # whole milliseconds
        return self.clock

    def _load_world(self) -> None:
        authors = [n["author"] for n in customer_notifications()] + [v["author"] for _, v in post_views()]
        for author in authors:
            profile = {k: v for k, v in author.items() if k != "viewer"}
            profile.update(followersCount=self.rng.randint(0, 50000), followsCount=self.rng.randint(0, 900),
                           postsCount=self.rng.randint(1, 9000))
            self.profiles.setdefault(author["did"], profile)
        self.profiles[BRAND_DID] = {"did": BRAND_DID, "handle": BRAND_HANDLE, "displayName": "Acme Support",
                                    "followersCount": 1200, "followsCount": 10, "postsCount": 300}
        self.customers = [d for d in self.profiles if d != BRAND_DID]
        # Who takes chats from the brand: "all", "following" (only from accounts they follow, and
        # none of them follows the brand) or "none".
        self.chat_setting = {d: "all" for d in self.customers}
        self.templates = [n["record"] for n in customer_notifications()] + [v["record"] for _, v in post_views()]
        for _, view in post_views():
            self.posts[view["uri"]] = view
        self.brand_root = self.brand_post("Tell us how we can help! Reply here or send us a chat.")
        self.thread: list[str] = []  # customer replies under brand_root, to answer deeper down

    def _post_view(self, uri: str, cid: str, did: str, record: dict, indexed: str) -> dict:
        author = {k: v for k, v in self.profiles[did].items() if k not in ("followersCount", "followsCount",
                                                                          "postsCount")}
        return {"uri": uri, "cid": cid, "author": author, "record": record, "indexedAt": indexed, "labels": [],
                "replyCount": self.rng.randint(0, 5), "repostCount": self.rng.randint(0, 9),
                "likeCount": self.rng.randint(0, 99), "quoteCount": self.rng.randint(0, 3)}

    def brand_post(self, text: str, reply: dict | None = None) -> dict:
        """A post by the brand, in its repo and the world; returns its strong ref."""
        with self.lock:
            now = self._tick()
            record = {"$type": POST, "text": text, "createdAt": iso(now), **({"reply": reply} if reply else {})}
            return self._store_brand_post(tid(now), record, iso(now))

    def _store_brand_post(self, rkey: str, record: dict, indexed: str) -> dict:
        uri, cid = f"at://{BRAND_DID}/{POST}/{rkey}", fake_cid(record)
        self.repo[rkey] = {"uri": uri, "cid": cid, "value": record}
        self.posts[uri] = self._post_view(uri, cid, BRAND_DID, record, indexed)
        return {"uri": uri, "cid": cid}

    def customer_post(self, did: str, record: dict, reason: str) -> str:
        """A customer's post and the brand's notification of it; returns the post's uri."""
        with self.lock:
            now = self._tick()
            record = {**record, "createdAt": iso(now)}
            uri = f"at://{did}/{POST}/{tid(now, self.rng.randint(0, 1023))}"
            cid = fake_cid([uri, record])
            self.posts[uri] = view = self._post_view(uri, cid, did, record, iso(now))
            self.notifications.append({"uri": uri, "cid": cid, "author": view["author"], "reason": reason,
                                       "reasonSubject": self.brand_root["uri"], "record": record,
                                       "isRead": False, "indexedAt": iso(now), "labels": []})
            return uri

    def customer_thread(self, depth: int) -> dict:
        """A customer thread under the brand's post, `depth` replies deep; the deepest reply's strong ref."""
        parent = dict(self.brand_root)
        for i in range(depth):
            uri = self.customer_post(self.customers[i], {"$type": POST, "text": f"level {i}",
                                                         "reply": {"root": dict(self.brand_root), "parent": parent}},
                                     "reply")
            parent = {"uri": uri, "cid": self.posts[uri]["cid"]}
        return parent

    def _mention_record(self, template: dict) -> dict:
        prefix = f"@{BRAND_HANDLE} "
        shift = len(prefix.encode())
        facets = [{"$type": "app.bsky.richtext.facet", "index": {"byteStart": 0, "byteEnd": shift - 1},
                   "features": [{"$type": "app.bsky.richtext.facet#mention", "did": BRAND_DID}]}]
        for facet in template.get("facets", []):
            moved = copy.deepcopy(facet)
            moved["index"] = {"byteStart": facet["index"]["byteStart"] + shift,
                              "byteEnd": facet["index"]["byteEnd"] + shift}
            facets.append(moved)
        return {**template, "text": prefix + template.get("text", ""), "facets": facets}

    def generate(self, n: int, *, private_share: float = 0.25) -> None:
        """`n` customer messages: mentions, quotes, replies deep in the brand's thread (from the
        recorded posts' texts, languages, facets and embeds) and chat messages."""
        for _ in range(n):
            did = self.rng.choice(self.customers)
            template = {k: v for k, v in copy.deepcopy(self.rng.choice(self.templates)).items()
                        if k not in ("reply", "createdAt")}
            if self.rng.random() < private_share:
                self.generated.add(self.customer_chat(did, template.get("text") or "Hello? 👋"))
                continue
            shape = self.rng.random()
            if shape < 0.4:  # a reply, somewhere in the brand's thread
                thread = self.thread
                parent_uri = self.rng.choice(thread) if thread and self.rng.random() < 0.6 else self.brand_root["uri"]
                parent = {"uri": parent_uri, "cid": self.posts[parent_uri]["cid"]}
                template["reply"] = {"root": dict(self.brand_root), "parent": parent}
                uri = self.customer_post(did, template, "reply")
                self.thread.append(uri)
                self.generated.add(uri)
            elif shape < 0.55:
                template["embed"] = {"$type": "app.bsky.embed.record", "record": dict(self.brand_root)}
                self.generated.add(self.customer_post(did, template, "quote"))
            else:
                self.generated.add(self.customer_post(did, self._mention_record(template), "mention"))

    def expected_ids(self) -> set[str]:
        return set(self.generated)

    # -- chats --

    def _log(self, kind: str, convo: dict, message: dict | None = None) -> None:
        rev = tid(self._tick())
        convo["rev"] = rev
        self.logs.append({"$type": DEFS + kind, "rev": rev, "convoId": convo["id"],
                          **({"message": message} if message else {})})

    def _convo_with(self, did: str) -> dict:
        for convo in self.convos.values():
            if did in convo["members"]:
                return convo
        convo = {"id": tid(self._tick()), "rev": "", "members": [BRAND_DID, did], "messages": []}
        self.convos[convo["id"]] = convo
        self._log("logBeginConvo", convo)
        return convo

    def _message(self, convo: dict, did: str, text: str) -> dict:
        now = self._tick()
        view = {"$type": DEFS + "messageView", "id": tid(now), "rev": tid(now), "text": text,
                "sender": {"did": did}, "sentAt": iso(now)}
        convo["messages"].append(view)
        self._log("logCreateMessage", convo, view)
        return view

    def customer_chat(self, did: str, text: str) -> str:
        """A chat message from a customer; returns its platform id."""
        with self.lock:
            convo = self._convo_with(did)
            return chat_id(convo["id"], self._message(convo, did, text)["id"])

    def delete_chat(self, platform_id: str) -> None:
        """The customer deletes a chat message (for everyone, as a moderator would)."""
        convo_id, message_id = platform_id.split("/")
        with self.lock:
            convo = self.convos[convo_id]
            for i, view in enumerate(convo["messages"]):
                if view["id"] == message_id:
                    convo["messages"][i] = {"$type": DEFS + "deletedMessageView",
                                            **{k: view[k] for k in ("id", "rev", "sender", "sentAt")}}
                    self._log("logDeleteMessage", convo, convo["messages"][i])
