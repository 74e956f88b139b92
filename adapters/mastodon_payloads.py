"""Mastodon payloads to normalised messages: HTML content to text, notifications and statuses
to `Inbound` (or `Skipped` with the reason). Pure: no I/O, never raises on a payload."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

from socialdesk.adapters.base import Contact, Inbound, Skipped
from socialdesk.adapters.values import as_id, count, parse_iso

# --- HTML → text ---------------------------------------------------------------------------------
# Mastodon sanitises `content` to a small set of tags: p, br, span, a (plus, from remote servers,
# blockquote, pre, code, ul/ol/li, h1-h6, b/i/em/strong/del, …). Block ends become a blank line,
# <br> a newline, list items a newline; every other tag is dropped and its inner text kept (so the
# "invisible"/"ellipsis" spans of a link put the whole URL back together).
_BLOCK_END = re.compile(r"</(?:p|blockquote|pre|div|h[1-6]|ul|ol)\s*>\s*", re.I)
_BR = re.compile(r"[ \t]*<br\s*/?>", re.I)
_LI = re.compile(r"<li(?:\s[^>]*)?>", re.I)
# A tag starts with a letter (or "/", "!"); "a < b" and "<3" stay text.
_TAG = re.compile(r"<[A-Za-z/!][^>]*>")
_TRAILING = re.compile(r"[ \t\r]+(?=\n)")
_MANY_NL = re.compile(r"\n{3,}")


def html_to_text(html_text: str) -> str:
    """Mastodon status HTML as plain text: `<br>` → newline, paragraphs → blank line, other tags
    stripped (their text kept), entities decoded, trailing whitespace removed.

    Text that merely looks like markup (`[bold]`, ANSI escapes) is returned literally; control
    characters are cleaned later by the core."""
    s = html_text
    if "<" in s:
        if "</" in s:
            s = _BLOCK_END.sub("\n\n", s)
        if "<br" in s or "<BR" in s:
            s = _BR.sub("\n", s)
        if "<li" in s or "<LI" in s:
            s = _LI.sub("\n", s)
        s = _TAG.sub("", s)
    if "&" in s:
        s = html.unescape(s)
    if "\n" in s:
        if " \n" in s or "\t\n" in s or "\r" in s:
            s = _TRAILING.sub("", s)
        if "\n\n\n" in s:
            s = _MANY_NL.sub("\n\n", s)
        return s.strip("\n").rstrip()
    return s.rstrip()


# --- parsing -------------------------------------------------------------------------------------


class _Skip(Exception):
    pass


def _contact(account: Any) -> Contact:
    if not isinstance(account, dict):
        raise _Skip("account is missing or not an object")
    account_id = as_id(account.get("id"))
    if account_id is None:
        raise _Skip("account.id is missing")
    handle = account.get("acct")
    if not isinstance(handle, str) or not handle:
        handle = account.get("username")
        if not isinstance(handle, str) or not handle:
            raise _Skip("account.acct is missing")
    name = account.get("display_name")
    return Contact(
        platform_id=account_id,
        handle=handle,
        display_name=name if isinstance(name, str) else "",
        followers=count(account.get("followers_count")),
        bot=account.get("bot") is True,
    )


def _status_text(status: Mapping[str, Any]) -> str:
    content = status.get("content")
    if isinstance(content, str):
        text = html_to_text(content)
    else:
        # DELETE /api/v1/statuses/:id answers with the plain-text source in `text`, no `content`.
        source = status.get("text")
        if not isinstance(source, str):
            raise _Skip("status.content is missing")
        text = source
    spoiler = status.get("spoiler_text")
    if spoiler and isinstance(spoiler, str):
        text = f"CW: {spoiler}\n{text}"
    return text


def _inbound(status: Any, raw: Mapping[str, Any]) -> Inbound:
    if not isinstance(status, dict):
        raise _Skip("status is not an object")
    status_id = as_id(status.get("id"))
    if status_id is None:
        raise _Skip("status.id is missing")
    author = _contact(status.get("account", raw.get("account")))
    inner = status.get("reblog")
    is_repost = False
    if inner is not None:
        if not isinstance(inner, dict):
            raise _Skip("status.reblog is not an object")
        is_repost = True
    else:
        inner = status
    published_at = parse_iso(status.get("created_at"))
    if published_at is None:
        published_at = parse_iso(inner.get("created_at"))
        if published_at is None:
            raise _Skip(f"status.created_at is missing or not ISO-8601: {status.get('created_at')!r:.40}")
    visibility = status.get("visibility")
    if not isinstance(visibility, str):
        visibility = inner.get("visibility")
    in_reply_to = as_id(inner.get("in_reply_to_id"))
    if visibility == "direct":
        kind, vis = "dm", "private"
    else:
        # public, unlisted and Mastodon's "private" (followers-only) are not DMs; the raw payload
        # keeps the exact visibility.
        kind, vis = ("reply" if in_reply_to else "mention"), "public"
    language = inner.get("language")
    url = inner.get("url") or status.get("url")
    return Inbound(
        platform_id=status_id,
        kind=kind,
        visibility=vis,
        text=_status_text(inner),
        author=author,
        published_at=published_at,
        in_reply_to=in_reply_to,
        language=language if isinstance(language, str) and language else None,
        url=url if isinstance(url, str) else None,
        likes=count(inner.get("favourites_count")),
        reposts=count(inner.get("reblogs_count")),
        replies=count(inner.get("replies_count")),
        is_repost=is_repost,
        raw=raw,
    )


def parse_notification(item: Any) -> Inbound | Skipped:
    """One notification as an `Inbound`, or a `Skipped` saying why not. Never raises."""
    if not isinstance(item, dict):
        return Skipped("", f"notification is not an object ({type(item).__name__})")
    notification_id = as_id(item.get("id"))
    if notification_id is None:
        return Skipped("", "notification id is missing")
    kind = item.get("type")
    if kind != "mention":
        return Skipped(notification_id, f"type {kind}")
    if "status" not in item:
        return Skipped(notification_id, "status is missing")
    status = item["status"]
    if status is None:
        return Skipped(notification_id, "status is null (deleted or unreachable)")
    try:
        # What the store keeps: the notification without its top-level account, which for a
        # mention repeats status.account (about a third of the payload).
        return _inbound(status, {k: v for k, v in item.items() if k != "account" or not status.get("account")})
    except _Skip as exc:
        return Skipped(notification_id, str(exc))
    except Exception as exc:  # a payload shape nobody foresaw must not stop a poll
        return Skipped(notification_id, f"unparseable status ({type(exc).__name__}: {exc})")


def parse_status(status: Any) -> Inbound | Skipped:
    """A bare status (timeline, context, conversation) as if it had arrived as a mention."""
    if not isinstance(status, dict):
        return Skipped("", f"status is not an object ({type(status).__name__})")
    return parse_notification({"id": status.get("id"), "type": "mention", "status": status})
