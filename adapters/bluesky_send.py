"""Bluesky replies: posts answering a thread and chat messages, and finding ones already sent.

A reply is an `app.bsky.feed.post` record with strong refs to the thread root and parent and
byte-offset facets for its mentions and links. No record key is derived from the idempotency
key: a post's key must be a TID, which encodes its creation time, and one made from our random
UUID keys would claim a random time (PDSes have refused post keys far from the present; the
AppView orders by them). So `find_sent` reads the account's recent posts (or the convo's
messages) for a reply already made.

This module only imports the standard library and `socialdesk.adapters`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from socialdesk.adapters.base import AdapterError, CannotVerify, NotAllowed, Outbound, SendResult
from socialdesk.adapters.bluesky_payloads import POST, build_facets, chat_id, post_url, strong_ref
from socialdesk.adapters.bluesky_session import XrpcError, XrpcSession
from socialdesk.adapters.values import json_object, parse_iso

MAX_BYTES, CHAT_MAX_BYTES = 3000, 10000  # the lexicons' hard limits on a post's and a message's text
FIND_PAGES = 3  # find_sent reads at most the 300 newest posts (or chat messages)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Replier:
    """Sends a BlueskyAdapter's replies with its session, and looks for ones already sent."""

    def __init__(self, session: XrpcSession):
        self.session = session
        self._dids: dict[str, str | None] = {}

    def send(self, message: Outbound) -> SendResult:
        if message.visibility == "private":
            return self._send_chat(message)
        return self._send_post(message)

    @staticmethod
    def _check_size(text: str, bytes_max: int, what: str) -> None:
        """Not empty, and within the lexicon's UTF-8 byte limit. The grapheme limit is the core's
        to check (it counts `length_counting="graphemes"` before a reply is queued)."""
        if not text.strip():
            raise NotAllowed(f"{what} is empty; Bluesky needs some text")
        size = len(text.encode("utf-8"))
        if size > bytes_max:
            raise NotAllowed(f"{what} is {size} bytes in UTF-8; Bluesky takes at most {bytes_max} bytes: shorten it")

    def _resolve(self, handle: str) -> str | None:
        """A handle's DID, or None when it does not resolve (the mention stays plain text)."""
        if handle not in self._dids:
            try:
                body = self.session.call("GET", "com.atproto.identity.resolveHandle", f"resolving @{handle}",
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
        ref = json_object(message.reply_ref)
        root = strong_ref(ref.get("root"))
        if isinstance(ref.get("cid"), str) and ref["cid"] and root:
            return {"root": root, "parent": {"uri": uri, "cid": ref["cid"]}}
        body = self.session.call("GET", "app.bsky.feed.getPosts", "reading the post to answer", params={"uris": uri})
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
        self._check_size(text, MAX_BYTES, "The reply")
        session = self.session.ensure()
        record: dict[str, Any] = {"$type": POST, "text": text, "createdAt": _now_iso()}
        if message.language:
            record["langs"] = [message.language]
        if message.in_reply_to:
            record["reply"] = self._reply_refs(message)
        facets = build_facets(text, self._resolve)
        if facets:
            record["facets"] = facets
        body = self.session.call("POST", "com.atproto.repo.createRecord", "posting a reply",
                                 json={"repo": session["did"], "collection": POST, "record": record})
        uri = body.get("uri")
        if not isinstance(uri, str) or not uri:
            raise AdapterError("Bluesky accepted the reply but its answer has no uri; "
                               "find_sent will look for it before any retry", retryable=True)
        return SendResult(platform_id=uri, url=post_url(uri, session["handle"]), sent_at=datetime.now(UTC), text=text)

    def _convo(self, message: Outbound) -> str:
        """The convo to write in: the one the customer wrote from, else the one with them."""
        convo = json_object(message.reply_ref).get("convo")
        if isinstance(convo, str) and convo:
            return convo
        did = message.recipient_id if (message.recipient_id or "").startswith("did:") else None
        handle = (message.recipient or "").strip().lstrip("@")
        if did is None and handle:
            did = self._resolve(handle.lower())
        if did is None:
            raise NotAllowed("a Bluesky chat needs the customer's DID or a handle that resolves; neither is known")
        try:
            body = self.session.call("GET", "chat.bsky.convo.getConvoForMembers", "opening a chat", chat=True,
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
        self._check_size(text, CHAT_MAX_BYTES, "The chat message")
        convo = self._convo(message)
        payload: dict[str, Any] = {"text": text}
        facets = build_facets(text, self._resolve)
        if facets:
            payload["facets"] = facets
        try:
            body = self.session.call("POST", "chat.bsky.convo.sendMessage", "sending a chat message", chat=True,
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
            own = self.session.did()
            for view, when in self._newest("chat.bsky.convo.getMessages", "messages", "sentAt", message,
                                           chat=True, convoId=convo):
                sender = view.get("sender") if isinstance(view.get("sender"), dict) else {}
                if view.get("text") == message.text and sender.get("did") == own:
                    return self._chat_result(convo, view, message.text)
            return None
        session = self.session.ensure()
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
            body = self.session.call("GET", nsid, "looking for an already sent reply", chat=chat,
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
