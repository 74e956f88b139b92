"""X API v2 payloads to normalised messages: posts (mentions) and DM events to `Inbound`, or
`Skipped` with the reason. Pure: no I/O, never raises on a payload.

Both spellings of X's naming drift are read: `referenced_tweets`/`referenced_posts`,
`retweet_count`/`repost_count`, `tweet_count`/`post_count`, `includes.tweets`/`includes.posts`.

Edits: an edited post is a new post id whose `edit_history_tweet_ids` starts with the original
id. The message keeps the ORIGINAL id as `platform_id` (so the store replaces the text of the
message it already has), `edited_at` is when this version was written, and `reply_ref`
("post:<id>") names the latest version, which is the one a reply goes to. A reply to an edited
post names the edit's id: `in_reply_to` is the original's, so the reply joins that thread.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from socialdesk.adapters.base import Contact, Inbound, Skipped
from socialdesk.adapters.http import default_error_text
from socialdesk.adapters.values import as_id, count, id_key, parse_epoch, parse_iso

X_EPOCH_MS = 1288834974657  # snowflake ids count milliseconds from here (2010-11-04)
_SNOWFLAKE_MIN = 10**15  # smaller ids predate snowflakes: no time in them
# Not languages: undetermined, no linguistic content, and X's private-use codes (qme media only,
# qht hashtags only, qam mentions only, qct cashtags only, qst very short text).
_NOT_LANGUAGES = frozenset({"und", "zxx", "mul", "mis"})
_PRIVATE_USE = re.compile(r"q[a-t][a-z]")


def newest(a: str | None, b: str | None) -> str | None:
    """The larger of two ids (either may be None)."""
    if a is None or b is None:
        return a or b
    return a if id_key(a) >= id_key(b) else b


def snowflake_time(value: Any) -> datetime | None:
    """When a post or DM event with this id was created, read from the id itself."""
    value = as_id(value)
    if value is None or not value.isdigit() or int(value) < _SNOWFLAKE_MIN:
        return None
    return parse_epoch(((int(value) >> 22) + X_EPOCH_MS) / 1000)


def snowflake_at(when: datetime) -> str:
    """The smallest id X could give something created at `when`: a since_id meaning "from then"."""
    ms = int(when.timestamp() * 1000) - X_EPOCH_MS
    return str(max(ms, 0) << 22)


def language(value: Any) -> str | None:
    if not isinstance(value, str) or not value or value in _NOT_LANGUAGES or _PRIVATE_USE.fullmatch(value):
        return None
    return value


_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}


def unescape(text: str) -> str:
    """X escapes exactly &, < and > in post text; undo it in one pass ("&amp;lt;" → "&lt;")."""
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], text) if "&" in text else text


def either(obj: Mapping[str, Any], *names: str) -> Any:
    """The first of several spellings of one field that is present."""
    for name in names:
        if name in obj:
            return obj[name]
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


class Includes:
    """A response's `includes`: users and referenced posts by id."""

    def __init__(self, body: Any):
        includes = _dict(_dict(body).get("includes"))
        self.users = {as_id(u.get("id")): u for u in _list(includes.get("users")) if isinstance(u, dict)}
        posts = _list(either(includes, "tweets", "posts"))
        self.posts = {as_id(p.get("id")): p for p in posts if isinstance(p, dict)}


def contact(user_id: str, user: Mapping[str, Any] | None) -> Contact:
    """A Contact from an expanded user; with no expansion the user id stands in for the handle."""
    user = user or {}
    handle = user.get("username")
    name = user.get("name")
    location = user.get("location")
    metrics = _dict(user.get("public_metrics"))
    verified = user.get("verified") is True or user.get("verified_type") in ("blue", "business", "government")
    return Contact(
        platform_id=user_id,
        handle=handle if isinstance(handle, str) and handle else user_id,
        display_name=name if isinstance(name, str) else "",
        followers=count(metrics.get("followers_count")),
        verified=verified,
        location=location if isinstance(location, str) and location.strip() else None,
    )


def _expand_urls(text: str, entities: Any) -> str:
    for url in _list(_dict(entities).get("urls")):
        if not isinstance(url, dict):
            continue
        short, full = url.get("url"), url.get("expanded_url")
        if isinstance(short, str) and short and isinstance(full, str) and full:
            text = text.replace(short, full)
    return text


def post_text(post: Mapping[str, Any]) -> str | None:
    """The whole text of a post: `note_tweet.text` for long posts, entities unescaped, t.co links
    expanded to where they lead (so an agent sees the real address)."""
    note = _dict(post.get("note_tweet"))
    if isinstance(note.get("text"), str) and note["text"]:
        return _expand_urls(unescape(note["text"]), note.get("entities"))
    text = post.get("text")
    if not isinstance(text, str):
        return None
    return _expand_urls(unescape(text), post.get("entities"))


def references(post: Mapping[str, Any]) -> dict[str, str]:
    """{type: id} of `referenced_tweets`/`referenced_posts` (replied_to, quoted, retweeted)."""
    out: dict[str, str] = {}
    for ref in _list(either(post, "referenced_tweets", "referenced_posts")):
        if isinstance(ref, dict):
            ref_id = as_id(ref.get("id"))
            if ref_id and isinstance(ref.get("type"), str):
                out.setdefault(ref["type"], ref_id)
    return out


def is_v1(obj: Mapping[str, Any]) -> bool:
    """A v1.1 status or DM event (numeric id + id_str, embedded user, message_create)."""
    return ("id_str" in obj or isinstance(obj.get("user"), dict) or "full_text" in obj
            or obj.get("type") == "message_create" or "message_create" in obj)


class _Skip(Exception):
    pass


def _published(obj: Mapping[str, Any], item_id: str) -> datetime:
    at = parse_iso(obj.get("created_at")) or snowflake_time(item_id)
    if at is None:
        raise _Skip(f"created_at is missing or not ISO-8601: {obj.get('created_at')!r:.40}")
    return at


def first_version(post: Mapping[str, Any], post_id: str) -> str:
    """The id a post was first published under (the head of its `edit_history_tweet_ids`)."""
    history = [i for i in (as_id(h) for h in _list(post.get("edit_history_tweet_ids"))) if i]
    return history[0] if history else post_id


def _post(post: Mapping[str, Any], post_id: str, includes: Includes, account_id: str | None) -> Inbound:
    author_id = as_id(post.get("author_id"))
    if author_id is None:
        raise _Skip("author_id is missing (the request must ask for expansions=author_id)")
    if account_id is not None and author_id == account_id:
        raise _Skip("posted by the brand itself")
    original = first_version(post, post_id)
    written = _published(post, post_id)
    edited = original != post_id
    refs = references(post)
    inner: Mapping[str, Any] = post
    if "retweeted" in refs and refs["retweeted"] in includes.posts:
        inner = includes.posts[refs["retweeted"]]  # the RT's own text is cut short
    text = post_text(inner)
    if text is None:
        text = post_text(post)
        if text is None:
            raise _Skip("text is missing")
    # X omits referenced_tweets when there are none, and default-field answers never carry it:
    # a text in the retweet form ("RT @user: …") with no references is a repost too.
    own = post.get("text")
    is_repost = "retweeted" in refs or (not refs and isinstance(own, str) and own.startswith("RT @"))
    author = contact(author_id, includes.users.get(author_id))
    metrics = _dict(inner.get("public_metrics"))
    in_reply_to = refs.get("replied_to")
    if in_reply_to in includes.posts:  # a reply to an edited post names the edit: the thread knows the original
        in_reply_to = first_version(includes.posts[in_reply_to], in_reply_to)
    handle = includes.users.get(author_id, {}).get("username")
    url = (f"https://x.com/{handle}/status/{post_id}" if isinstance(handle, str) and handle
           else f"https://x.com/i/web/status/{post_id}")
    return Inbound(
        platform_id=original,
        kind="reply" if in_reply_to else "mention",
        visibility="public",
        text=text,
        author=author,
        published_at=(snowflake_time(original) or written) if edited else written,
        in_reply_to=in_reply_to,
        language=language(post.get("lang")),
        url=url,
        likes=count(metrics.get("like_count")),
        reposts=count(either(metrics, "retweet_count", "repost_count")),
        replies=count(metrics.get("reply_count")),
        is_repost=is_repost,
        raw=_raw(post, includes, author_id, refs),
        reply_ref=f"post:{post_id}" if edited else None,
        edited_at=written if edited else None,
    )


def _raw(item: Mapping[str, Any], includes: Includes, author_id: str, refs: Mapping[str, str]) -> dict[str, Any]:
    """What the store keeps: the item and the parts of `includes` it refers to."""
    raw: dict[str, Any] = {"data": item}
    user = includes.users.get(author_id)
    posts = [includes.posts[i] for i in refs.values() if i in includes.posts]
    if user is not None or posts:
        raw["includes"] = {k: v for k, v in (("users", [user] if user else []), ("tweets", posts)) if v}
    return raw


def parse_post(post: Any, includes: Includes | None = None, account_id: str | None = None) -> Inbound | Skipped:
    """One v2 post (from /2/users/:id/mentions) as an `Inbound`, or a `Skipped` saying why not."""
    if not isinstance(post, dict):
        return Skipped("", f"post is not an object ({type(post).__name__})")
    post_id = as_id(post.get("id_str")) or as_id(post.get("id"))
    if post_id is None:
        return Skipped("", "post id is missing")
    if is_v1(post):
        return Skipped(post_id, "an API v1.1 status, not a v2 post (socialdesk reads X API v2 only)")
    try:
        return _post(post, post_id, includes or Includes(None), account_id)
    except _Skip as exc:
        return Skipped(post_id, str(exc))
    except Exception as exc:  # a payload shape nobody foresaw must not stop a poll
        return Skipped(post_id, f"unparseable post ({type(exc).__name__}: {exc})")


def _dm(event: Mapping[str, Any], event_id: str, includes: Includes, account_id: str | None) -> Inbound:
    kind = event.get("event_type")
    if kind != "MessageCreate":
        raise _Skip(f"event_type {kind}")
    sender_id = as_id(event.get("sender_id"))
    if sender_id is None:
        raise _Skip("sender_id is missing (the request must ask for dm_event.fields=sender_id)")
    if account_id is not None and sender_id == account_id:
        raise _Skip("sent by the brand")
    text = event.get("text")
    if not isinstance(text, str):
        raise _Skip("text is missing")
    conversation = as_id(event.get("dm_conversation_id"))
    return Inbound(
        platform_id=event_id,
        kind="dm",
        visibility="private",
        text=_expand_urls(text, event.get("entities")),
        author=contact(sender_id, includes.users.get(sender_id)),
        published_at=_published(event, event_id),
        raw=_raw(event, includes, sender_id, references(event)),
        reply_ref=f"dm:{conversation}" if conversation else None,
    )


def parse_dm_event(event: Any, includes: Includes | None = None, account_id: str | None = None) -> Inbound | Skipped:
    """One v2 DM event (from /2/dm_events) as an `Inbound`, or a `Skipped` saying why not."""
    if not isinstance(event, dict):
        return Skipped("", f"DM event is not an object ({type(event).__name__})")
    inner = event.get("event") if isinstance(event.get("event"), dict) else event
    event_id = as_id(inner.get("id"))
    if event_id is None:
        return Skipped("", "DM event id is missing")
    if is_v1(inner):
        return Skipped(event_id, "an API v1.1 DM event, not a v2 one (socialdesk reads X API v2 only)")
    try:
        return _dm(inner, event_id, includes or Includes(None), account_id)
    except _Skip as exc:
        return Skipped(event_id, str(exc))
    except Exception as exc:
        return Skipped(event_id, f"unparseable DM event ({type(exc).__name__}: {exc})")


def partial_errors(body: Any) -> list[Skipped]:
    """`errors[]` beside `data` in a 200 (a referenced post deleted, an author suspended): kept as
    Skipped notes so they are logged, never a failed page."""
    out = []
    for error in _list(_dict(body).get("errors")):
        if isinstance(error, dict):
            what = error.get("detail") or error.get("message") or error.get("title") or "error"
            out.append(Skipped(str(error.get("resource_id") or error.get("value") or ""), f"partial error: {what}"))
    return out


def error_text(body: Any, response: Any) -> str:
    """X's error words: problem+json `title`/`detail` (+ the first `errors[].message`), or v1.1's
    `{"errors": [{"code", "message"}]}`."""
    if isinstance(body, dict):
        parts = [p for p in (body.get("title"), body.get("detail")) if isinstance(p, str) and p]
        if len(parts) == 2 and parts[0] == parts[1]:
            parts = parts[:1]
        first = _list(body.get("errors"))[:1]
        if first and isinstance(first[0], dict):
            message = first[0].get("message") or first[0].get("detail")
            code = first[0].get("code")
            if isinstance(message, str) and message and message not in parts:
                parts.append(f"{message} (code {code})" if code is not None else message)
        if parts:
            return ": ".join(parts)  # JsonApi redacts, then cuts
    return default_error_text(body, response)


_URL = re.compile(r"https?://\S+")
_LEADING_MENTIONS = re.compile(r"^(?:\s*@\w+)+\s+")


def comparable(text: str) -> str:
    """A reply's text as X may give it back: entities unescaped, links replaced (X turns every
    link into a t.co one), leading reply @mentions dropped (X may add them), whitespace folded."""
    text = unicodedata.normalize("NFC", unescape(text))
    text = _LEADING_MENTIONS.sub("", _URL.sub("<url>", text))
    return " ".join(text.split())


def when(value: Any, item_id: str) -> datetime:
    """A created_at, else the time in the id, else now (for answers to our own writes)."""
    return parse_iso(value) or snowflake_time(item_id) or datetime.now(UTC)
