"""Graph's answers read the Graph way, for the Facebook and Instagram adapters: error bodies
mapped to typed errors, and the usage headers read as a rate limit.

Graph answers a throttle with HTTP 400/403 and an error code (4, 17, 32, 613, 800xx), not 429,
and says how loaded the app is in JSON headers (`X-Business-Use-Case-Usage`, `X-App-Usage`,
`X-Page-Usage`) as percentages: `RateLimit.remaining` is the percentage left (100 - the highest
usage), `reset_at` the `estimated_time_to_regain_access` when throttled.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from socialdesk.adapters.base import AdapterError, AuthError, NotAllowed, RateLimit, RateLimited
from socialdesk.adapters.values import parse_epoch

THROTTLE_CODES = frozenset({4, 17, 32, 613, 80001, 80002, 80004, 80005, 80006, 80008, 80014})
AUTH_CODES = frozenset({102, 190})
WINDOW_SUBCODE = 2018278  # code 10: "This message is sent outside of allowed window"
ALREADY_REPLIED = 10900  # "Activity already replied to": one private reply per comment
CANNOT_REPLY = 10903  # the comment or post can no longer be answered privately
UNAVAILABLE = 551  # "This person isn't available right now"
TOKEN_PROBLEMS = {458: "the app was removed", 459: "the account is checkpointed", 460: "the password changed",
                  463: "the token expired", 464: "the user is unconfirmed", 467: "the token is invalid",
                  492: "the session is invalid"}
_PERMISSION = re.compile(r"\b((?:pages|instagram|business|read|publish)_[a-z_]+)\b")


class AlreadyReplied(NotAllowed):
    """Meta's answer to a second private reply to one comment (code 10900)."""


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _needs(platform: str, method: str, path: str) -> str:
    """The permission a call most likely lacks, when Graph's message does not name it."""
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if platform == "Facebook":
        if last in ("messages", "conversations"):
            return "pages_messaging"
        return "pages_manage_engagement" if method == "POST" else "pages_read_engagement and pages_read_user_content"
    if last in ("messages", "conversations"):
        return "instagram_business_manage_messages (Instagram Login) or instagram_manage_messages (Facebook Login)"
    if last in ("comments", "replies"):
        return "instagram_business_manage_comments (Instagram Login) or instagram_manage_comments (Facebook Login)"
    return "instagram_business_basic (Instagram Login) or instagram_basic (Facebook Login)"


def graph_error(platform: str, body: Any, headers: Mapping[str, str] | None = None, *, method: str = "GET",
                path: str = "") -> AdapterError | None:
    """The typed error for a Graph error body, or None when the HTTP status alone says enough."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        if isinstance(body, dict) and body.get("error_type") == "OAuthException":  # the OAuth dialog's shape
            return AuthError(f"{platform} refused the login: {str(body.get('error_message'))[:200]}")
        return None
    code, sub = _int(error.get("code")), _int(error.get("error_subcode"))
    message = str(error.get("message") or "no message")[:300]
    said = f"{message} (code {code}{f', subcode {sub}' if sub else ''})"
    user_msg = error.get("error_user_msg")
    if isinstance(user_msg, str) and user_msg:
        said += f": {user_msg[:200]}"
    if code in THROTTLE_CODES:
        rate = parse_usage(headers or {})
        wait = max(0.0, (rate.reset_at - datetime.now(UTC)).total_seconds()) if rate and rate.reset_at else None
        return RateLimited(f"{platform} is throttling this app ({said}); polling and sending resume by themselves",
                           retry_after=wait)
    if code in AUTH_CODES:
        why = TOKEN_PROBLEMS.get(sub or 0, "the token was refused")
        return AuthError(f"{platform} refused the access token: {why} ({said}); store a new token with "
                         "`socialdesk auth`")
    if (code == 10 and sub == WINDOW_SUBCODE) or "allowed window" in message:
        return NotAllowed(f"{platform} refused the message as outside its messaging window ({said}): a Page may "
                          "answer within 24 hours of the customer's last message, or up to 7 days with the "
                          "HUMAN_AGENT tag; wait for the customer to write again or answer by another channel")
    if code == ALREADY_REPLIED:
        return AlreadyReplied(f"{platform} allows one private reply per comment and this one already has it "
                              f"({said}); continue in the conversation if the customer answered, or reply publicly")
    if code == CANNOT_REPLY:
        return NotAllowed(f"{platform} will not take a private reply to this item ({said}): private replies are "
                          "possible once, within 7 days, and not to Pages; reply publicly instead")
    if code == UNAVAILABLE:
        return NotAllowed(f"{platform} cannot deliver to this person ({said}): they blocked the account or "
                          "closed theirs")
    if code in (3, 10) or (code is not None and 200 <= code < 300):
        named = _PERMISSION.search(message)
        needed = named.group(1) if named else _needs(platform, method, path)
        return AdapterError(f"{platform} says the token lacks a permission ({said}); grant {needed} to the app "
                            "and store a new token with `socialdesk auth`", retryable=False)
    if error.get("is_transient") is True or (code in (1, 2) and error.get("is_transient") is not False):
        return AdapterError(f"{platform} had a temporary problem ({said})", retryable=True, maybe_sent=True)
    return None


def _usage_entries(data: Any) -> Iterator[Mapping[str, Any]]:
    if not isinstance(data, dict):
        return
    if any(k in data for k in ("call_count", "total_time", "total_cputime")):
        yield data
        return
    for value in data.values():  # X-Business-Use-Case-Usage: {"<business id>": [{...}, ...]}
        for entry in value if isinstance(value, list) else [value]:
            if isinstance(entry, dict):
                yield entry


def parse_usage(headers: Mapping[str, str]) -> RateLimit | None:
    """Graph's usage headers as a RateLimit out of 100: `remaining` is the percentage left
    (100 - the highest usage of any counter), `reset_at` when a throttled app regains access."""
    worst: float | None = None
    regain = 0.0
    for name in ("x-business-use-case-usage", "x-app-usage", "x-page-usage"):
        value = headers.get(name)
        if not value:
            continue
        try:
            data = json.loads(value)
        except ValueError:
            continue
        for entry in _usage_entries(data):
            for key in ("call_count", "total_cputime", "total_time"):
                number = entry.get(key)
                if isinstance(number, (int, float)) and not isinstance(number, bool):
                    worst = max(worst or 0.0, float(number))
            eta = entry.get("estimated_time_to_regain_access")
            if isinstance(eta, (int, float)) and not isinstance(eta, bool):
                regain = max(regain, float(eta))
    if worst is None and regain <= 0:
        return None
    remaining = 0 if regain > 0 else max(0, 100 - math.ceil(worst or 0))
    reset_at = parse_epoch(time.time() + regain * 60) if regain > 0 else None
    return RateLimit(limit=100, remaining=remaining, reset_at=reset_at)
