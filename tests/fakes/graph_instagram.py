"""`FakeInstagram`: the Graph fake (`graph_api`) answering for an Instagram professional account,
with Instagram Login or with Facebook Login."""

from __future__ import annotations

import base64
import re
import time
from typing import Any

from fakes.graph_api import API, GraphFake, Sent, iso
from fakes.server import Reply, Seen
from socialdesk.adapters.instagram import InstagramAdapter
from socialdesk.adapters.values import utf16_len


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
