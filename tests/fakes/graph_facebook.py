"""`FakeFacebook`: the Graph fake (`graph_api`) answering as a Facebook Page."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from fakes.graph_api import GraphFake, Sent, iso
from fakes.server import Reply, Seen
from socialdesk.adapters.facebook import FacebookAdapter
from socialdesk.adapters.values import utf16_len


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
