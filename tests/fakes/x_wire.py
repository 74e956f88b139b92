"""X API v2 as FakeX speaks it: the field, expansion and parameter names X knows, its error
bodies, its opaque pagination tokens and newest-first pages, and posts and users rendered with
only the fields a request asked for (in the `tweet` or the newer `post` spelling)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from socialdesk.adapters.values import id_key

from .server import Reply, Seen

TWEET_FIELDS = {"attachments", "author_id", "card_uri", "context_annotations", "conversation_id", "created_at",
                "edit_controls", "edit_history_tweet_ids", "entities", "geo", "id", "in_reply_to_user_id", "lang",
                "note_tweet", "possibly_sensitive", "public_metrics", "referenced_tweets", "reply_settings",
                "source", "text", "withheld"}
USER_FIELDS = {"created_at", "description", "entities", "id", "location", "name", "pinned_tweet_id",
               "profile_image_url", "protected", "public_metrics", "receives_your_dm", "url", "username",
               "verified", "verified_type", "withheld"}
DM_FIELDS = {"attachments", "created_at", "dm_conversation_id", "entities", "event_type", "id", "participant_ids",
             "referenced_tweets", "sender_id", "text"}
POST_EXPANSIONS = {"author_id", "referenced_tweets.id", "referenced_tweets.id.author_id", "in_reply_to_user_id",
                   "attachments.media_keys", "entities.mentions.username", "edit_history_tweet_ids"}
DM_EXPANSIONS = {"sender_id", "referenced_tweets.id", "participant_ids", "attachments.media_keys"}
TIMELINE_PARAMS = {"max_results", "pagination_token", "since_id", "until_id", "start_time", "end_time",
                   "tweet.fields", "post.fields", "user.fields", "expansions", "media.fields", "place.fields",
                   "poll.fields"}
DM_PARAMS = {"max_results", "pagination_token", "event_types", "dm_event.fields", "expansions", "user.fields",
             "tweet.fields", "media.fields"}

UNAUTHORIZED = ("Unauthorized", "Unauthorized")
DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
NOT_SUMMONED = ("Reply to this conversation is not allowed because you have not been mentioned or otherwise "
                "engaged by the author of the post you are replying to.")


# --- answers and values --------------------------------------------------------------------------


def problem(status: int, title: str, detail: str, type_: str = "about:blank", **extra: Any) -> Reply:
    return Reply(status, {"title": title, "detail": detail, "type": type_, "status": status, **extra})


def invalid(message: str) -> Reply:
    return Reply(400, {"errors": [{"parameters": {}, "message": message}], "title": "Invalid Request",
                       "detail": "One or more parameters to your request was invalid.",
                       "type": "https://api.twitter.com/2/problems/invalid-request"})


def escape(text: str) -> str:
    """X's escaping of post text: exactly &, < and >."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _token(boundary: str) -> str:
    return base64.b32encode(f"x:{boundary}".encode()).decode().rstrip("=").lower()


def _boundary(token: str) -> str | None:
    try:
        text = base64.b32decode(token.upper() + "=" * (-len(token) % 8)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return text[2:] if text.startswith("x:") and text[2:].isdigit() else None


# --- requests ------------------------------------------------------------------------------------


def requested(seen: Seen, *specs: tuple[str, set[str]]) -> list[set[str]] | Reply:
    """The values of each comma-separated list parameter (`tweet.fields`, `expansions`, …), or
    X's 400 for the first name it does not know."""
    wanted = []
    for name, known in specs:
        values = {v for raw in seen.params(name) for v in raw.split(",") if v}
        unknown = sorted(values - known)
        if unknown:
            return invalid(f"The `{name}` query parameter value [{unknown[0]}] is not one of {sorted(known)}")
        wanted.append(values)
    return wanted


def validate(seen: Seen, allowed: set[str], low: int, high: int) -> Reply | None:
    """X's 400 for an unknown parameter, a `max_results` out of range or a forged token."""
    unknown = sorted({k for k, _ in seen.query} - allowed)
    if unknown:
        return invalid(f"The query parameters [{','.join(unknown)}] is not one of {sorted(allowed)}")
    size = seen.param("max_results")
    if size is not None and (not size.isdigit() or not low <= int(size) <= high):
        return invalid(f"The `max_results` query parameter value [{size}] is not between {low} and {high}")
    token = seen.param("pagination_token")
    if token is not None and _boundary(token) is None:
        return invalid(f"The `pagination_token` query parameter value [{token}] is not valid")
    return None


def page_of(seen: Seen, items: list[dict[str, Any]], default: int) -> tuple[list[dict[str, Any]], dict]:
    """Newest first, one page after `pagination_token`, with X's meta."""
    items = sorted(items, key=lambda i: id_key(i["id"]), reverse=True)
    token = seen.param("pagination_token")
    if token:
        boundary = _boundary(token) or "0"
        items = [i for i in items if id_key(i["id"]) < id_key(boundary)]
    size = int(seen.param("max_results") or default)
    page, more = items[:size], len(items) > size
    meta: dict[str, Any] = {"result_count": len(page)}
    if page:
        meta.update(newest_id=page[0]["id"], oldest_id=page[-1]["id"])
    if more:
        meta["next_token"] = _token(page[-1]["id"])
    if token:
        meta["previous_token"] = _token(str(int(page[0]["id"]) + 1)) if page else token
    return page, meta


# --- objects -------------------------------------------------------------------------------------


def render_user(user: dict[str, Any], fields: set[str], spelling: str) -> dict[str, Any]:
    out = {k: v for k, v in user.items() if k in {"id", "name", "username"} | fields}
    if spelling == "post" and "public_metrics" in out:
        metrics = dict(out["public_metrics"])
        metrics["post_count"] = metrics.pop("tweet_count")
        out["public_metrics"] = metrics
    return out


def render_post(post: dict[str, Any], fields: set[str], spelling: str) -> dict[str, Any]:
    out = {k: v for k, v in post.items() if k in {"id", "text", "edit_history_tweet_ids"} | fields}
    if spelling == "post":
        if "referenced_tweets" in out:
            out["referenced_posts"] = out.pop("referenced_tweets")
        if "public_metrics" in out:
            metrics = dict(out["public_metrics"])
            metrics["repost_count"] = metrics.pop("retweet_count")
            out["public_metrics"] = metrics
    return out
