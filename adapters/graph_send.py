"""Sending on Facebook and Instagram: the Graph-side checks and bodies both adapters share.

A reply is checked for length before any call; a private answer goes through Meta's Send API,
either as a Private Reply to a comment or post (once, within 7 days) or as a message to a
person (a RESPONSE within 24 hours of their last message, or up to 7 days with the HUMAN_AGENT
tag when the channel may use it). Graph has no idempotency key: after a lost answer the adapter
looks on the platform for what this account already posted (`find_own`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from socialdesk.adapters.base import AdapterError, NotAllowed, Outbound, SendResult
from socialdesk.adapters.graph_payloads import graph_time
from socialdesk.adapters.values import as_id, utf16_len

PRIVATE_REPLY_WINDOW = timedelta(days=7)
DM_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)


def check_text(text: str, limit: int, what: str, platform: str, *, max_bytes: int | None = None) -> None:
    """Refuse, before any call, a reply the platform would refuse for its length."""
    if not text.strip():
        raise AdapterError(f"an empty {what} cannot be sent on {platform}", retryable=False)
    units = utf16_len(text)
    if units > limit:
        raise AdapterError(f"the {what} is {units} characters long (UTF-16 units) and {platform} takes at most "
                           f"{limit}; shorten it", retryable=False)
    if max_bytes is not None and len(text.encode("utf-8")) > max_bytes:
        raise AdapterError(f"the {what} is {len(text.encode('utf-8'))} bytes and {platform} takes at most "
                           f"{max_bytes} bytes of UTF-8; shorten it", retryable=False)


def _age(reply_to_at: datetime | None) -> timedelta | None:
    if reply_to_at is None:
        return None
    at = reply_to_at if reply_to_at.tzinfo else reply_to_at.replace(tzinfo=UTC)
    return datetime.now(UTC) - at


def _span(age: timedelta) -> str:
    hours = age.total_seconds() / 3600
    return f"{hours:.0f} hours" if hours < 48 else f"{hours / 24:.1f} days"


def private_reply_body(target: str, text: str, reply_to_at: datetime | None, platform: str, *,
                       post: bool = False) -> dict[str, Any]:
    """A Private Replies request (`recipient.comment_id`, or `post_id` for a visitor post),
    refused here when the 7-day window has passed."""
    age = _age(reply_to_at)
    if age is not None and age > PRIVATE_REPLY_WINDOW:
        raise NotAllowed(f"{platform} allows a private reply only within 7 days of the comment, and this one was "
                         f"written {_span(age)} ago; reply publicly, or wait for the customer to message the account")
    return {"recipient": {"post_id" if post else "comment_id": target}, "message": {"text": text}}


def dm_body(recipient: str, text: str, reply_to_at: datetime | None, platform: str, *,
            human_agent: bool) -> dict[str, Any]:
    """A Send API message to a person: a RESPONSE within 24 hours of their last message, the
    HUMAN_AGENT tag up to 7 days when the channel may use it, refused here otherwise."""
    age = _age(reply_to_at)
    kind: dict[str, Any] = {"messaging_type": "RESPONSE"}
    if age is not None and age > DM_WINDOW:
        if age > HUMAN_AGENT_WINDOW:
            raise NotAllowed(f"the customer last wrote {_span(age)} ago; {platform} lets the account write only "
                             "within 7 days of the customer's last message; wait for them to write again, or "
                             "answer by another channel")
        if not human_agent:
            raise NotAllowed(f"the customer last wrote {_span(age)} ago; {platform} lets the account answer "
                             "within 24 hours, and up to 7 days only as a person with the HUMAN_AGENT tag: set "
                             "human_agent = true on this channel once Meta approved the Human Agent permission, "
                             "or wait for the customer to write again")
        kind = {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
    return {"recipient": {"id": recipient}, **kind, "message": {"text": text}}


def message_result(body: Mapping[str, Any], text: str, platform: str) -> SendResult:
    """The Send API's answer `{"recipient_id", "message_id"}` as a SendResult."""
    message_id = as_id(body.get("message_id"))
    if message_id is None:
        raise AdapterError(f"{platform} accepted the message but its answer has no message_id; "
                           "look for it before sending again", retryable=True, maybe_sent=True)
    return SendResult(platform_id=message_id, url=None, sent_at=datetime.now(UTC), text=text)


def sent_result(found: Mapping[str, Any], text: str, *, time_key: str = "created_time",
                url_key: str = "permalink_url") -> SendResult:
    """An already posted comment or message, found on the platform, as a SendResult."""
    url = found.get(url_key)
    return SendResult(platform_id=str(as_id(found.get("id"))), url=url if isinstance(url, str) else None,
                      sent_at=graph_time(found.get(time_key)) or datetime.now(UTC), text=text)


def reply_kind(message: Outbound, ref: Mapping[str, str]) -> str | None:
    """What the message answered is: "dm", "comment" or "mention" (a post), from the outbox
    entry, else from what the adapter noted when it read it."""
    if message.reply_to_kind:
        return message.reply_to_kind
    if "conversation" in ref:
        return "dm"
    if "post" in ref:
        return "mention" if ref.get("post") == message.in_reply_to else "comment"
    return None


# --- what was sent already --------------------------------------------------------------------------


def sender_id(item: Any) -> str | None:
    """`from.id` of a comment or message, or None."""
    who = item.get("from") if isinstance(item, dict) else None
    return as_id(who.get("id")) if isinstance(who, dict) else None


def same_text(posted: Any, text: str) -> bool:
    return isinstance(posted, str) and " ".join(posted.split()) == " ".join(text.split())


def find_own(items: Any, text_key: str, text: str, own: Collection[str],
             usernames: Collection[str] = ()) -> dict[str, Any] | None:
    """The first item of a list written by this account with this text."""
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not same_text(item.get(text_key), text):
            continue
        who = item.get("from") if isinstance(item.get("from"), dict) else {}
        if sender_id(item) in own or (who.get("username") or item.get("username")) in usernames:
            return item
    return None
