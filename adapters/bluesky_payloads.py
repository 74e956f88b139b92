"""Bluesky (AT Protocol) payloads to normalised messages, and the text arithmetic replies need.

Notifications, post views, repo records and chat log entries become `Inbound` (or `Skipped`
with the reason, or `Deleted`); reply texts get their rich-text facets with UTF-8 byte offsets
(their length in graphemes is the core's to count: `socialdesk.rules.length`). Pure: no I/O,
never raises on a payload.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from socialdesk.adapters.base import Contact, Inbound, Skipped
from socialdesk.adapters.values import as_id, count, parse_iso

POST = "app.bsky.feed.post"
CUSTOMER_REASONS = ("mention", "reply", "quote")
LOG_CREATE = "chat.bsky.convo.defs#logCreateMessage"
LOG_DELETE = "chat.bsky.convo.defs#logDeleteMessage"
DELETED_VIEW = "chat.bsky.convo.defs#deletedMessageView"


class Deleted(NamedTuple):
    """A chat message its sender deleted (`logDeleteMessage`)."""

    platform_id: str


# --- facets: text arithmetic in UTF-8 bytes ------------------------------------------------------


def byte_offset(text: str, index: int) -> int:
    """The UTF-8 byte offset of character `index` (facets count bytes, Python counts code points)."""
    return len(text[:index].encode("utf-8"))


def facet_text(text: str, facet: Any) -> str | None:
    """The text a facet covers, read by its byte offsets; None when the offsets are unusable."""
    index = facet.get("index") if isinstance(facet, dict) else None
    if not isinstance(index, dict):
        return None
    start, end = index.get("byteStart"), index.get("byteEnd")
    data = text.encode("utf-8")
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(data)):
        return None
    return data[start:end].decode("utf-8", errors="replace")


def expand_links(text: str, facets: Any) -> str:
    """The text with each link facet's covered text replaced by the facet's whole `uri` (the
    app shows "example.com/very-lo..." and keeps the address in the facet), as X links are
    expanded from their entities. Facets that overlap, cut a character or name no http(s)
    address are left as written."""
    data = text.encode("utf-8")
    links: list[tuple[int, int, str]] = []
    for facet in facets if isinstance(facets, list) else []:
        index = facet.get("index") if isinstance(facet, dict) else None
        features = facet.get("features") if isinstance(facet, dict) else None
        if not isinstance(index, dict) or not isinstance(features, list):
            continue
        start, end = index.get("byteStart"), index.get("byteEnd")
        uri = next((f.get("uri") for f in features if isinstance(f, dict)
                    and f.get("$type") == "app.bsky.richtext.facet#link"), None)
        if (isinstance(uri, str) and re.match(r"https?://\S+$", uri, re.I) and isinstance(start, int)
                and isinstance(end, int) and 0 <= start < end <= len(data) and _boundary(data, start)
                and _boundary(data, end)):
            links.append((start, end, uri))
    out, position = [], 0
    for start, end, uri in sorted(links):
        if start >= position:
            out += [data[position:start], uri.encode("utf-8")]
            position = end
    return b"".join([*out, data[position:]]).decode("utf-8") if links else text


def _boundary(data: bytes, offset: int) -> bool:
    """Whether a byte offset falls between two UTF-8 characters (not on a continuation byte)."""
    return offset == len(data) or not 0x80 <= data[offset] <= 0xBF


# Bluesky's own detection (atproto `RichText.detectFacets`): a mention or link starts the text or
# follows whitespace or "("; a handle is a domain name. Links: http(s) URLs and "www." names.
_MENTION = re.compile(r"(?:^|(?<=[\s(]))@([a-zA-Z0-9.-]+)\b")
_LINK = re.compile(r"(?:^|(?<=[\s(]))((?:https?://|www\.)\S+)", re.I)
_HANDLE = re.compile(r"^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")
_TRAILING = ".,;:!?\"'"


def build_facets(text: str, resolve: Callable[[str], str | None]) -> list[dict[str, Any]]:
    """Mention and link facets for outgoing text, with UTF-8 byte offsets. `resolve` turns a
    handle into a DID; a handle it cannot resolve gets no facet (it stays plain text)."""
    facets: list[dict[str, Any]] = []
    for match in _MENTION.finditer(text):
        handle = match.group(1)
        if not _HANDLE.match(handle):
            continue
        did = resolve(handle.lower())
        if did:
            facets.append(_facet(text, match.start(), match.end(), {"$type": "app.bsky.richtext.facet#mention",
                                                                    "did": did}))
    for match in _LINK.finditer(text):
        link = match.group(1)
        end = match.end(1)
        while link and (link[-1] in _TRAILING or (link[-1] == ")" and "(" not in link)):
            link, end = link[:-1], end - 1
        if "." not in link.split("//", 1)[-1]:
            continue
        uri = link if link.lower().startswith("http") else "https://" + link
        facets.append(_facet(text, match.start(1), end, {"$type": "app.bsky.richtext.facet#link", "uri": uri}))
    facets.sort(key=lambda f: f["index"]["byteStart"])
    return facets


def _facet(text: str, start: int, end: int, feature: dict[str, Any]) -> dict[str, Any]:
    return {"$type": "app.bsky.richtext.facet",
            "index": {"byteStart": byte_offset(text, start), "byteEnd": byte_offset(text, end)},
            "features": [feature]}


# --- identifiers ---------------------------------------------------------------------------------

_B32 = "234567abcdefghijklmnopqrstuvwxyz"
_TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")


def tid(micros: int, clock_id: int = 0) -> str:
    """A TID (timestamp identifier: 13 base32-sortable characters) for a time in microseconds."""
    value = ((micros & ((1 << 53) - 1)) << 10) | (clock_id & 1023)
    return "".join(_B32[(value >> (5 * i)) & 31] for i in range(12, -1, -1))


def is_tid(value: str) -> bool:
    return bool(_TID.match(value))


def split_uri(uri: str) -> tuple[str, str, str] | None:
    """`at://did/collection/rkey` as (did, collection, rkey)."""
    if not uri.startswith("at://"):
        return None
    parts = uri[5:].split("/")
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 and all(parts) else None


def post_url(uri: str, handle: str | None) -> str | None:
    """The bsky.app page of a post (by handle when it is valid, else by DID)."""
    parts = split_uri(uri)
    if parts is None:
        return None
    who = handle if handle and handle != "handle.invalid" else parts[0]
    return f"https://bsky.app/profile/{who}/post/{parts[2]}"


def strong_ref(value: Any) -> dict[str, str] | None:
    """`{uri, cid}` when both are present strings."""
    if isinstance(value, dict) and isinstance(value.get("uri"), str) and isinstance(value.get("cid"), str) \
            and value["uri"] and value["cid"]:
        return {"uri": value["uri"], "cid": value["cid"]}
    return None


def post_reply_ref(uri: str, cid: str, record: Mapping[str, Any]) -> str:
    """What answering a post needs: its cid and its thread root (the post itself at the top)."""
    reply = record.get("reply")
    root = strong_ref(reply.get("root")) if isinstance(reply, dict) else None
    return json.dumps({"cid": cid, "root": root or {"uri": uri, "cid": cid}}, separators=(",", ":"))


def chat_reply_ref(convo_id: str) -> str:
    return json.dumps({"convo": convo_id}, separators=(",", ":"))


def jwt_expiry(token: str) -> float | None:
    """The `exp` claim of a JWT (read, not verified: the PDS verifies it)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        exp = claims.get("exp")
        return float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None
    except (IndexError, ValueError, AttributeError):
        return None


# --- notification cursors: the newest item seen, as "<indexedAt>|<uri>" ---------------------------


def notification_key(item: Any) -> tuple[datetime, str] | None:
    """Where a notification sits in the list: (indexedAt, uri)."""
    if not isinstance(item, dict) or not isinstance(item.get("uri"), str):
        return None
    when = parse_iso(item.get("indexedAt"))
    return (when, item["uri"]) if when else None


def format_mark(key: tuple[datetime, str]) -> str:
    return f"{key[0].isoformat()}|{key[1]}"


def read_mark(cursor: str) -> tuple[datetime, str] | None:
    when, _, uri = cursor.partition("|")
    at = parse_iso(when)
    return (at, uri) if at else None


# --- posts ---------------------------------------------------------------------------------------


class _Skip(Exception):
    pass


def _contact(author: Any, profile: Any = None) -> Contact:
    if not isinstance(author, dict):
        raise _Skip("author is missing or not an object")
    did = as_id(author.get("did"))
    if did is None or not did.startswith("did:"):
        raise _Skip("author.did is missing")
    handle = author.get("handle")
    name = author.get("displayName")
    detail = profile if isinstance(profile, dict) else author
    verification = author.get("verification")
    return Contact(
        platform_id=did,
        handle=handle if isinstance(handle, str) and handle else did,
        display_name=name if isinstance(name, str) else "",
        followers=count(detail.get("followersCount")),
        verified=isinstance(verification, dict) and verification.get("verifiedStatus") == "valid",
    )


def describe_embed(embed: Any) -> str:
    """A one-line note of what a post carries besides text (images, a link, a quoted post)."""
    if not isinstance(embed, dict):
        return ""
    kind = embed.get("$type")
    if kind == "app.bsky.embed.images":
        images = embed.get("images") if isinstance(embed.get("images"), list) else []
        alts = [i.get("alt") for i in images if isinstance(i, dict) and isinstance(i.get("alt"), str) and i["alt"]]
        note = f"({len(images)} image{'s' if len(images) != 1 else ''}"
        return note + (f": {'; '.join(alts)})" if alts else ")")
    if kind == "app.bsky.embed.video":
        return "(video)"
    if kind == "app.bsky.embed.external":
        external = embed.get("external") if isinstance(embed.get("external"), dict) else {}
        return f"(link: {external.get('uri', '?')})"
    if kind == "app.bsky.embed.record":
        record = embed.get("record") if isinstance(embed.get("record"), dict) else {}
        return f"(quoted post: {record.get('uri', '?')})"
    if kind == "app.bsky.embed.recordWithMedia":
        inner = embed.get("record") if isinstance(embed.get("record"), dict) else {}
        return " ".join(p for p in (describe_embed(embed.get("media")), describe_embed(inner)) if p)
    return f"({kind})" if isinstance(kind, str) else ""


def _post(uri: Any, cid: Any, record: Any, author: Any, indexed_at: Any, raw: Mapping[str, Any],
          profile: Any = None, view: Any = None) -> Inbound:
    if not isinstance(uri, str) or split_uri(uri) is None:
        raise _Skip(f"uri is not an at:// post uri: {uri!r:.60}")
    if not isinstance(cid, str) or not cid:
        raise _Skip("cid is missing")
    if not isinstance(record, dict):
        raise _Skip("record is missing or not an object")
    if record.get("$type", POST) != POST:
        raise _Skip(f"record is a {record.get('$type')!r:.60}, not a post")
    text = record.get("text", "")
    if not isinstance(text, str):
        raise _Skip("record.text is not a string")
    text = expand_links(text, record.get("facets"))
    if not text.strip():
        text = describe_embed(record.get("embed")) or text
    published_at = parse_iso(record.get("createdAt")) or parse_iso(indexed_at)
    if published_at is None:
        raise _Skip(f"record.createdAt and indexedAt are missing or garbled: {record.get('createdAt')!r:.40}")
    contact = _contact(author, profile)
    reply = record.get("reply")
    parent = reply.get("parent") if isinstance(reply, dict) else None
    in_reply_to = parent.get("uri") if isinstance(parent, dict) and isinstance(parent.get("uri"), str) else None
    langs = record.get("langs")
    language = langs[0] if isinstance(langs, list) and langs and isinstance(langs[0], str) and langs[0] else None
    stats = view if isinstance(view, dict) else {}
    return Inbound(
        platform_id=uri,
        kind="reply" if in_reply_to else "mention",
        visibility="public",
        text=text,
        author=contact,
        published_at=published_at,
        in_reply_to=in_reply_to,
        language=language,
        url=post_url(uri, contact.handle),
        likes=count(stats.get("likeCount")),
        # Quotes spread a post as reposts do.
        reposts=count(stats.get("repostCount")) + count(stats.get("quoteCount")),
        replies=count(stats.get("replyCount")),
        raw=raw,
        reply_ref=post_reply_ref(uri, cid, record),
    )


def parse_notification(item: Any, profiles: Mapping[str, Any] | None = None,
                       posts: Mapping[str, Any] | None = None) -> Inbound | Skipped:
    """A listNotifications item as an `Inbound` (mention, reply, quote) or a `Skipped`. `profiles`
    (by DID) and `posts` (by uri) add follower and engagement counts. Never raises."""
    if not isinstance(item, dict):
        return Skipped("", f"notification is not an object ({type(item).__name__})")
    uri = item.get("uri") if isinstance(item.get("uri"), str) else ""
    reason = item.get("reason")
    if reason not in CUSTOMER_REASONS:
        return Skipped(uri, f"reason {reason}")
    author = item.get("author")
    did = author.get("did") if isinstance(author, dict) else None
    try:
        return _post(uri, item.get("cid"), item.get("record"), author, item.get("indexedAt"), item,
                     (profiles or {}).get(did) if isinstance(did, str) else None, (posts or {}).get(uri))
    except _Skip as exc:
        return Skipped(uri, str(exc))
    except Exception as exc:  # a payload shape nobody foresaw must not stop a poll
        return Skipped(uri, f"unparseable notification ({type(exc).__name__}: {exc})")


def parse_post_view(view: Any, profiles: Mapping[str, Any] | None = None) -> Inbound | Skipped:
    """A postView (getPosts, threads, feeds, search) as if it had arrived as a mention."""
    if not isinstance(view, dict):
        return Skipped("", f"post view is not an object ({type(view).__name__})")
    uri = view.get("uri") if isinstance(view.get("uri"), str) else ""
    author = view.get("author")
    did = author.get("did") if isinstance(author, dict) else None
    try:
        return _post(uri, view.get("cid"), view.get("record"), author, view.get("indexedAt"), view,
                     (profiles or {}).get(did) if isinstance(did, str) else None, view)
    except _Skip as exc:
        return Skipped(uri, str(exc))
    except Exception as exc:
        return Skipped(uri, f"unparseable post ({type(exc).__name__}: {exc})")


def parse_repo_record(item: Any) -> Inbound | Skipped:
    """A repo record (`listRecords`/`getRecord`: {uri, cid, value}); the author is known by DID only."""
    if not isinstance(item, dict):
        return Skipped("", f"record is not an object ({type(item).__name__})")
    uri = item.get("uri") if isinstance(item.get("uri"), str) else ""
    parts = split_uri(uri)
    return parse_post_view({"uri": uri, "cid": item.get("cid"), "record": item.get("value"),
                            "author": {"did": parts[0] if parts else None}})


# --- chat ----------------------------------------------------------------------------------------


def chat_id(convo_id: str, message_id: str) -> str:
    """A chat message's platform id: message ids are only promised unique within a convo."""
    return f"{convo_id}/{message_id}"


def parse_chat_message(message: Any, convo_id: Any, own_did: str,
                       profiles: Mapping[str, Any] | None = None) -> Inbound | Skipped:
    """A chat messageView as a private `Inbound` (never the account's own messages)."""
    if not isinstance(message, dict):
        return Skipped("", "message is missing or not an object")
    message_id = as_id(message.get("id"))
    convo = as_id(convo_id)
    if message_id is None or convo is None:
        return Skipped("", "message id or convo id is missing")
    platform_id = chat_id(convo, message_id)
    if message.get("$type") == DELETED_VIEW:
        return Skipped(platform_id, "message was deleted")
    sender = message.get("sender")
    did = as_id(sender.get("did")) if isinstance(sender, dict) else None
    if did is None:
        return Skipped(platform_id, "sender.did is missing")
    if did == own_did:
        return Skipped(platform_id, "sent by this account")
    text = message.get("text")
    if not isinstance(text, str):
        return Skipped(platform_id, "text is missing")
    if not text.strip():
        text = describe_embed(message.get("embed")) or text
    sent_at = parse_iso(message.get("sentAt"))
    if sent_at is None:
        return Skipped(platform_id, f"sentAt is missing or garbled: {message.get('sentAt')!r:.40}")
    profile = (profiles or {}).get(did)
    try:
        author = _contact(profile if isinstance(profile, dict) else {"did": did}, profile)
    except _Skip as exc:
        return Skipped(platform_id, str(exc))
    return Inbound(platform_id=platform_id, kind="dm", visibility="private", text=text, author=author,
                   published_at=sent_at, raw={"convoId": convo, "message": message},
                   reply_ref=chat_reply_ref(convo))


def parse_chat_log(entry: Any, own_did: str, profiles: Mapping[str, Any] | None = None
                   ) -> Inbound | Skipped | Deleted:
    """A getLog entry: a new message → `Inbound`, a deleted one → `Deleted`, the rest (convo
    begun/accepted/left, reads, reactions) → `Skipped`."""
    if not isinstance(entry, dict):
        return Skipped("", f"log entry is not an object ({type(entry).__name__})")
    kind = entry.get("$type")
    message = entry.get("message")
    convo = as_id(entry.get("convoId"))
    message_id = as_id(message.get("id")) if isinstance(message, dict) else None
    if kind == LOG_DELETE and convo and message_id:
        return Deleted(chat_id(convo, message_id))
    if kind != LOG_CREATE:
        short = kind.rsplit("#", 1)[-1] if isinstance(kind, str) else repr(kind)
        return Skipped(chat_id(convo, message_id) if convo and message_id else (convo or ""), f"log entry {short}")
    return parse_chat_message(message, convo, own_did, profiles)

