"""Meta Graph payloads (Facebook Pages, Messenger, Instagram) to normalised messages. Pure: no I/O,
never raises on a payload; each parser returns an `Inbound` or a `Skipped` with the reason.

Graph is loose with types: ids arrive as strings or numbers, times as ISO 8601 with `+0000`
(Graph objects) or epoch seconds/milliseconds (webhooks), and `from` is often missing (Standard
Access hides people who have no role on the app). A missing author becomes a stable anonymous
contact per item, "anonymous:<item id>", never one contact shared by strangers.

`reply_ref` (kept by the store, handed back on a reply) is compact JSON: {"post": id} for a
comment's post, {"top": id} for an Instagram reply's top-level comment, {"conversation": id}
for a private message.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from socialdesk.adapters.base import Contact, Inbound, Page, Skipped
from socialdesk.adapters.values import as_id, count, json_object, parse_epoch, parse_iso

ANONYMOUS = "anonymous"


class _Skip(Exception):
    pass


def graph_time(value: Any) -> datetime | None:
    """A Graph time: ISO 8601 (`2014-09-20T12:59:48+0000`), or epoch seconds or milliseconds
    as a number or numeric string (webhooks send both)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text.isdecimal():
            return parse_iso(text)
        value = int(text)
    if isinstance(value, (int, float)):
        return parse_epoch(value, millis=value > 100_000_000_000)
    return None


def ref(**parts: str | None) -> str:
    return json.dumps({k: v for k, v in parts.items() if v}, separators=(",", ":"))


def read_ref(value: str | None) -> dict[str, str]:
    """A `reply_ref` written by `ref` (its string fields), or {} when it is missing or not ours."""
    return {k: v for k, v in json_object(value).items() if isinstance(v, str)}


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else None


def _total(connection: Any) -> int:
    """A connection's `summary.total_count` (likes, comments), or 0."""
    return count(_get(_get(connection, "summary"), "total_count"))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _contact(who: Any, item_id: str, *, own: Collection[str], usernames: Collection[str] = ()) -> Contact:
    """The author from a `from` object; raises _Skip for the account itself, anonymous if absent."""
    if not isinstance(who, dict):
        return Contact(platform_id=f"{ANONYMOUS}:{item_id}", handle=ANONYMOUS, display_name="(name hidden by Meta)")
    who_id = as_id(who.get("id"))
    username = _text(who.get("username"))
    if (who_id is not None and who_id in own) or (username and username in usernames):
        raise _Skip("written by this account")
    name = _text(who.get("name"))
    if who_id is None:
        if username:
            return Contact(platform_id=f"username:{username}", handle=username, display_name=name)
        return Contact(platform_id=f"{ANONYMOUS}:{item_id}", handle=ANONYMOUS,
                       display_name=name or "(name hidden by Meta)")
    return Contact(platform_id=who_id, handle=username or name or who_id, display_name=name)


def _attachments_text(item: Mapping[str, Any]) -> str:
    """What a message without text carried (photo, sticker, share…), said in brackets."""
    parts: list[str] = []
    attachment = item.get("attachment")
    found = item.get("attachments")
    if isinstance(found, dict):
        found = found.get("data")
    for each in ([attachment] if isinstance(attachment, dict) else []) + (found if isinstance(found, list) else []):
        if not isinstance(each, dict):
            continue
        kind = _text(each.get("type")) or _text(each.get("mime_type")).split("/")[0] or "attachment"
        payload = each.get("payload") if isinstance(each.get("payload"), dict) else {}
        media = each.get("image_data") or each.get("video_data") or each.get("media") or {}
        url = (_text(each.get("url")) or _text(payload.get("url")) or _text(each.get("file_url"))
               or (_text(media.get("url")) if isinstance(media, dict) else ""))
        name = _text(each.get("name")) or _text(each.get("title"))
        parts.append(" ".join(p for p in (f"[{kind}]", name, url) if p))
    if _text(item.get("sticker")) or item.get("sticker_id"):
        parts.append("[sticker]")
    shares = item.get("shares")
    for share in (shares.get("data") if isinstance(shares, dict) else None) or []:
        if isinstance(share, dict):
            parts.append(" ".join(p for p in ("[share]", _text(share.get("name")), _text(share.get("link"))) if p))
    return "\n".join(parts)


def _body(item: Mapping[str, Any], *keys: str) -> str:
    for key in keys:
        text = item.get(key)
        if isinstance(text, str) and text:
            return text
    text = _attachments_text(item)
    if text:
        return text
    if item.get("is_unsupported") in (True, "true"):
        raise _Skip("unsupported message (Meta does not show its content to apps)")
    raise _Skip(f"no {keys[0]} and no attachment")


def _when(item: Mapping[str, Any], *keys: str) -> datetime:
    for key in keys:
        if item.get(key) is not None:
            when = graph_time(item.get(key))
            if when is None:
                raise _Skip(f"{key} is not a time: {item.get(key)!r:.40}")
            return when
    raise _Skip(f"{keys[0]} is missing")


def _guard(item: Any, what: str, build: Any) -> Inbound | Skipped:
    if not isinstance(item, dict):
        return Skipped("", f"{what} is not an object ({type(item).__name__})")
    item_id = as_id(item.get("id"))
    if item_id is None:
        return Skipped("", f"{what} id is missing")
    try:
        return build(item, item_id)
    except _Skip as exc:
        return Skipped(item_id, str(exc))
    except Exception as exc:  # a payload shape nobody foresaw must not stop a poll
        return Skipped(item_id, f"unparseable {what} ({type(exc).__name__}: {exc})")


# --- Facebook ------------------------------------------------------------------------------------


def parse_comment(item: Any, *, own: Collection[str] = (), post_id: str | None = None) -> Inbound | Skipped:
    """A Facebook comment (`/{post}/comments?filter=stream`): a reply to a comment points at its
    parent, a top-level comment at its post."""
    def build(c: dict, cid: str) -> Inbound:
        author = _contact(c.get("from"), cid, own=own)
        parent = c.get("parent")
        parent_id = as_id(parent.get("id")) if isinstance(parent, dict) else None
        obj = c.get("object")
        post = post_id or (as_id(obj.get("id")) if isinstance(obj, dict) else None)
        url = c.get("permalink_url")
        return Inbound(
            platform_id=cid, kind="comment", visibility="public", text=_body(c, "message"), author=author,
            published_at=_when(c, "created_time"), in_reply_to=parent_id or post,
            url=url if isinstance(url, str) else None, likes=count(c.get("like_count")),
            replies=count(c.get("comment_count")), raw=c, reply_ref=ref(post=post))
    return _guard(item, "comment", build)


def parse_post(item: Any, *, own: Collection[str] = ()) -> Inbound | Skipped:
    """A post on the Page's feed by someone else (a visitor post, a post tagging the Page)."""
    def build(p: dict, pid: str) -> Inbound:
        author = _contact(p.get("from"), pid, own=own)
        url = p.get("permalink_url")
        return Inbound(
            platform_id=pid, kind="mention", visibility="public", text=_body(p, "message", "story"),
            author=author, published_at=_when(p, "created_time"), url=url if isinstance(url, str) else None,
            likes=_total(p.get("likes")), reposts=count(_get(p.get("shares"), "count")),
            replies=_total(p.get("comments")), raw=p,
            reply_ref=ref(post=pid))
    return _guard(item, "post", build)


def parse_message(item: Any, *, own: Collection[str] = (), usernames: Collection[str] = (),
                  conversation: str | None = None) -> Inbound | Skipped:
    """A Messenger or Instagram message from `/{conversation}/messages`."""
    def build(m: dict, mid: str) -> Inbound:
        author = _contact(m.get("from"), mid, own=own, usernames=usernames)
        if author.platform_id.startswith(f"{ANONYMOUS}:"):
            raise _Skip("from is missing: no one to answer")
        return Inbound(platform_id=mid, kind="dm", visibility="private", text=_body(m, "message"), author=author,
                       published_at=_when(m, "created_time"), raw=m, reply_ref=ref(conversation=conversation))
    return _guard(item, "message", build)


# --- Instagram -----------------------------------------------------------------------------------


def parse_ig_comment(item: Any, *, own: Collection[str] = (), usernames: Collection[str] = (),
                     media_id: str | None = None) -> Inbound | Skipped:
    """An Instagram comment or reply (`/{media}/comments`, `replies`): a reply points at its
    top-level comment (Instagram threads are one level deep)."""
    def build(c: dict, cid: str) -> Inbound:
        who, username = c.get("from"), c.get("username")
        if isinstance(username, str) and username:
            who = {"username": username, **who} if isinstance(who, dict) else {"username": username}
        author = _contact(who, cid, own=own, usernames=usernames)
        parent_id = as_id(c.get("parent_id"))
        media = c.get("media")
        media = media_id or (as_id(media.get("id")) if isinstance(media, dict) else None)
        return Inbound(
            platform_id=cid, kind="comment", visibility="public", text=_body(c, "text"), author=author,
            published_at=_when(c, "timestamp"), in_reply_to=parent_id or media, likes=count(c.get("like_count")),
            replies=_replies(c), raw=c, reply_ref=ref(post=media, top=parent_id or cid))
    return _guard(item, "comment", build)


def _replies(comment: Mapping[str, Any]) -> int:
    replies = comment.get("replies")
    data = replies.get("data") if isinstance(replies, dict) else None
    return len(data) if isinstance(data, list) else 0


def parse_ig_media(item: Any, *, usernames: Collection[str] = ()) -> Inbound | Skipped:
    """A media the account is tagged in (`/{ig-user}/tags`): a mention by its author."""
    def build(m: dict, mid: str) -> Inbound:
        username = m.get("username")
        author = _contact({"username": username} if isinstance(username, str) and username else None, mid,
                          own=(), usernames=usernames)
        url = m.get("permalink")
        return Inbound(
            platform_id=mid, kind="mention", visibility="public", text=_body(m, "caption"), author=author,
            published_at=_when(m, "timestamp"), url=url if isinstance(url, str) else None,
            likes=count(m.get("like_count")), replies=count(m.get("comments_count")), raw=m, reply_ref=ref(post=mid))
    return _guard(item, "media", build)


# --- webhooks ------------------------------------------------------------------------------------

FEED_ITEMS = {"comment", "post", "status", "photo", "video", "share"}


def _change(value: dict, field: str, entry: dict, own: set[str], page: Page) -> None:
    if field in ("comments", "live_comments"):  # Instagram: the comment itself, timed by the entry
        _add(page, parse_ig_comment({"timestamp": entry.get("time"), **value}, own=own))
        return
    item, verb = value.get("item"), value.get("verb")
    comment_id, post_id = as_id(value.get("comment_id")), as_id(value.get("post_id"))
    item_id = comment_id if item == "comment" else post_id
    if field not in ("feed", "mention") or item not in FEED_ITEMS or item_id is None:
        page.skipped.append(Skipped(item_id or "", f"{field} change of {item or 'nothing'} (not read as a message)"))
        return
    if verb == "remove":
        page.deleted.append(item_id)
        return
    if verb not in ("add", "edited", "edit"):
        page.skipped.append(Skipped(item_id, f"{item} {verb}"))
        return
    who = value.get("from")
    if not isinstance(who, dict) and value.get("sender_id") is not None:
        who = {"id": value.get("sender_id"), "name": value.get("sender_name")}
    obj: dict[str, Any] = {"id": item_id, "from": who, "message": value.get("message"),
                           "created_time": value.get("created_time", entry.get("time"))}
    for media in ("photo", "video", "link"):
        if isinstance(value.get(media), str):
            obj.setdefault("attachments", []).append({"type": media, "url": value[media]})
    if item == "comment":
        parent = as_id(value.get("parent_id"))
        if parent and parent != post_id:
            obj["parent"] = {"id": parent}
        result = parse_comment(obj, own=own, post_id=post_id)
    else:
        result = parse_post(obj, own=own)
    if isinstance(result, Inbound):
        result = replace(result, raw=value, kind="mention" if field == "mention" else result.kind,
                         edited_at=graph_time(entry.get("time")) if verb != "add" else None)
    _add(page, result)


def _event(event: dict, own: set[str], page: Page) -> None:
    message, edit = event.get("message"), event.get("message_edit")
    sender = event.get("sender") if isinstance(event.get("sender"), dict) else {}
    if isinstance(edit, dict):
        message = {"mid": edit.get("mid"), "text": edit.get("text")}
    if not isinstance(message, dict):
        kind = next((k for k in event if k not in ("sender", "recipient", "timestamp")), "nothing")
        page.skipped.append(Skipped("", f"messaging event {kind} (not read as a message)"))
        return
    mid = as_id(message.get("mid"))
    if mid is None:
        page.skipped.append(Skipped("", "message.mid is missing"))
        return
    if message.get("is_deleted") is True:
        page.deleted.append(mid)
        return
    if message.get("is_echo") is True:
        page.skipped.append(Skipped(mid, "echo of a message this account sent"))
        return
    obj = {"id": mid, "from": {"id": sender.get("id")}, "message": message.get("text"),
           "created_time": event.get("timestamp"), "attachments": message.get("attachments"),
           "sticker_id": message.get("sticker_id"), "is_unsupported": message.get("is_unsupported")}
    result = parse_message(obj, own=own)
    if isinstance(result, Inbound):
        reply_to = message.get("reply_to")
        result = replace(result, raw=event, edited_at=result.published_at if isinstance(edit, dict) else None,
                         in_reply_to=as_id(reply_to.get("mid")) if isinstance(reply_to, dict) else None)
    _add(page, result)


def _add(page: Page, result: Inbound | Skipped) -> None:
    if isinstance(result, Inbound):
        page.messages.append(result)
    else:
        page.skipped.append(result)


def parse_webhook(body: Any, *, own: Collection[str] = ()) -> Page:
    """A webhook delivery (`{"object": "page"|"instagram", "entry": [...]}`) as one Page: Page
    feed and mention changes, Instagram comment changes and messaging events become messages,
    `remove` verbs and deleted messages go to `deleted`, everything else is skipped with its
    reason. The entry's own id (the Page or the Instagram account) counts as this account."""
    page = Page(messages=[], cursor=None)
    entries = body.get("entry") if isinstance(body, dict) else None
    if not isinstance(entries, list):
        page.skipped.append(Skipped("", "not a webhook delivery (no entry list)"))
        return page
    for entry in entries:
        if not isinstance(entry, dict):
            page.skipped.append(Skipped("", "entry is not an object"))
            continue
        mine = set(own) | ({as_id(entry.get("id"))} - {None})
        for change in entry.get("changes") or []:
            value = change.get("value") if isinstance(change, dict) else None
            if isinstance(value, dict):
                _change(value, str(change.get("field")), entry, mine, page)
            else:
                page.skipped.append(Skipped("", f"{change.get('field') if isinstance(change, dict) else '?'} "
                                                "change without a value"))
        for key in ("messaging", "standby"):
            for event in entry.get(key) or []:
                if isinstance(event, dict):
                    _event(event, mine, page)
    return page
