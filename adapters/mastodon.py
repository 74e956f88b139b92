"""Mastodon: mention notifications in, statuses out (REST API v1, one instance, one user token).

Polling reads `GET /api/v1/notifications?types[]=mention` forward from a notification-id cursor
(`min_id`, then the `Link: rel="prev"` pages). Direct messages arrive the same way, as mentions
whose status has `visibility: "direct"`. Replies are `POST /api/v1/statuses` with an
`Idempotency-Key`, so a retried send never posts twice; `find_sent` looks for a reply that was
posted before a crash.

This module only imports the standard library, httpx and `socialdesk.adapters.base`.
"""

from __future__ import annotations

import email.utils
import functools
import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from socialdesk.adapters.base import (
    AdapterError,
    AuthError,
    Capabilities,
    Inbound,
    Outbound,
    Page,
    RateLimit,
    RateLimited,
    SendResult,
    Skipped,
)

from socialdesk.adapters.mastodon_payloads import (  # re-exported: the parsing half of this module's API
    as_id,
    html_to_text,
    id_key,
    parse_datetime,
    parse_notification,
    parse_status,
)

__all__ = [
    "MastodonAdapter",
    "html_to_text",
    "id_key",
    "parse_notification",
    "parse_status",
    "reply_text",
]

USER_AGENT = "socialdesk/0.1"
NOTIFICATIONS = "/api/v1/notifications"
STATUSES = "/api/v1/statuses"
VERIFY_CREDENTIALS = "/api/v1/accounts/verify_credentials"

# --- rate limits and errors ----------------------------------------------------------------------


def parse_rate(headers: Mapping[str, str]) -> RateLimit | None:
    limit = headers.get("x-ratelimit-limit")
    remaining = headers.get("x-ratelimit-remaining")
    reset = headers.get("x-ratelimit-reset")
    if limit is None and remaining is None and reset is None:
        return None

    def _int(value: str | None) -> int | None:
        try:
            return int(value.strip()) if value is not None else None
        except ValueError:
            return None

    reset_at = parse_datetime(reset.strip()) if reset else None
    return RateLimit(limit=_int(limit), remaining=_int(remaining), reset_at=reset_at)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    if value:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
    rate = parse_rate(headers)
    if rate is not None and rate.reset_at is not None:
        return max(0.0, (rate.reset_at - datetime.now(UTC)).total_seconds())
    return None


def _error_text(response: httpx.Response) -> str:
    try:
        body = json.loads(response.content)
    except (ValueError, RecursionError):
        body = None
    if isinstance(body, dict):
        parts = [body.get("error"), body.get("error_description")]
        text = ": ".join(str(p) for p in parts if p)
        if text:
            return text[:300]
    text = response.content[:200].decode("utf-8", "replace").strip()
    return text or (response.reason_phrase or "no details")


def _raise_for_status(response: httpx.Response, what: str) -> None:
    code = response.status_code
    if 200 <= code < 300:
        return
    if code == 429:
        raise RateLimited(
            f"Mastodon rate limit reached while {what} (HTTP 429: {_error_text(response)})",
            retry_after=_retry_after(response.headers),
        )
    if code in (401, 403):
        raise AuthError(
            f"Mastodon refused the access token while {what} (HTTP {code}: {_error_text(response)}); "
            "check the token and its scopes with `socialdesk auth`"
        )
    if code == 408:
        raise AdapterError(f"Mastodon timed out while {what} (HTTP 408)", retryable=True)
    if 400 <= code < 500:
        raise AdapterError(
            f"Mastodon rejected the request while {what} (HTTP {code}): {_error_text(response)}",
            retryable=False,
        )
    if code >= 500:
        raise AdapterError(
            f"Mastodon server error while {what} (HTTP {code}): {_error_text(response)}",
            retryable=True,
            retry_after=_retry_after(response.headers) if "retry-after" in response.headers else None,
        )
    raise AdapterError(
        f"unexpected HTTP {code} from Mastodon while {what} "
        f"(location: {response.headers.get('location', '-')}); check the instance URL",
        retryable=False,
    )


def _json(response: httpx.Response, what: str) -> Any:
    try:
        return json.loads(response.content)
    except (ValueError, RecursionError) as exc:
        size = len(response.content)
        raise AdapterError(
            f"Mastodon sent malformed or truncated JSON while {what} ({size} bytes: {exc})",
            retryable=True,
        ) from None


_LINK = re.compile(r'<([^>]*)>\s*;([^,<]*)')


def parse_link(header: str | None) -> dict[str, str]:
    """`Link: <url>; rel="next", <url>; rel="prev"` as {"next": url, "prev": url}."""
    out: dict[str, str] = {}
    if not header:
        return out
    for url, params in _LINK.findall(header):
        match = re.search(r'rel\s*=\s*"?([^";]+)"?', params)
        if match:
            for rel in match.group(1).split():
                out.setdefault(rel.lower(), url.strip())
    return out


# --- sending -------------------------------------------------------------------------------------


def _mentions(text: str, acct: str) -> bool:
    pattern = rf"(?<![\w@]){re.escape('@' + acct)}(?![\w@-]|\.\w)"
    return re.search(pattern, text, re.I) is not None


def reply_text(message: Outbound) -> str:
    """The text exactly as `send` posts it: prefixed with "@recipient " unless it already
    mentions them (direct posts reach only mentioned accounts)."""
    text = message.text
    recipient = (message.recipient or "").strip().lstrip("@")
    if recipient and not _mentions(text, recipient):
        text = f"@{recipient} {text}"
    return text


_REMOTE_MENTION = re.compile(r"(?<![\w@])@([\w.-]+)@[\w.-]+\w")


def _comparable(text: str) -> str:
    # Mastodon renders "@user@domain" as "@user" and normalises whitespace into <p>/<br>.
    return " ".join(_REMOTE_MENTION.sub(r"@\1", text).split())


# --- the adapter ---------------------------------------------------------------------------------


class MastodonAdapter:
    kind: ClassVar[str] = "mastodon"
    capabilities: ClassVar[Capabilities] = Capabilities(
        public_reply=True, private_reply=True, dm=True, email=False, max_length=500
    )

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 10.0,
        page_limit: int = 80,
        transport: httpx.BaseTransport | None = None,
    ):
        base_url = base_url.strip().rstrip("/")
        if "://" not in base_url:
            base_url = "https://" + base_url
        self.base_url = base_url
        self.page_limit = max(1, min(int(page_limit), 80))
        self.timeout = timeout
        self._origin = _origin(base_url)
        self._account_id: str | None = None
        self._client = httpx.Client(
            base_url=base_url,
            headers={
                "Authorization": f"Bearer {token}",
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
            },
            timeout=httpx.Timeout(timeout),
            transport=transport,
            verify=_ssl_context(),
            follow_redirects=False,
        )

    # -- HTTP --

    def _request(self, method: str, url: str, what: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._client.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise AdapterError(
                f"Mastodon did not answer within {self.timeout:g}s while {what} ({type(exc).__name__})",
                retryable=True,
            ) from None
        except httpx.ConnectError as exc:
            raise AdapterError(
                f"cannot reach Mastodon at {self.base_url} while {what} ({exc})", retryable=True
            ) from None
        except httpx.HTTPError as exc:
            raise AdapterError(
                f"the connection to Mastodon at {self.base_url} failed while {what} "
                f"({type(exc).__name__}: {exc})",
                retryable=True,
            ) from None
        except (httpx.InvalidURL, ValueError) as exc:
            raise AdapterError(f"bad Mastodon URL while {what}: {exc}", retryable=False) from None
        _raise_for_status(response, what)
        return response

    def _get_list(self, url: str, params: Any, what: str) -> tuple[list[Any], httpx.Response]:
        response = self._request("GET", url, what, params=params)
        body = _json(response, what)
        if not isinstance(body, list):
            raise AdapterError(
                f"Mastodon sent a JSON {type(body).__name__} where a list was expected while {what}",
                retryable=True,
            )
        return body, response

    # -- polling --

    def poll(self, cursor: str | None) -> Iterator[Page]:
        base_params = [("types[]", "mention"), ("limit", str(self.page_limit))]
        if cursor is None:
            # First poll ever: start from now — the newest page only.
            items, response = self._get_list(NOTIFICATIONS, base_params, "reading notifications")
            page = self._page(items, None, response)
            if page.cursor is None:
                # Nothing there yet: everything that arrives from now on is new.
                page = Page(messages=[], cursor="0", skipped=page.skipped, rate=page.rate)
            yield page
            return
        url: str = NOTIFICATIONS
        params: Any = [*base_params, ("min_id", cursor)]
        first = True
        while True:
            items, response = self._get_list(url, params, "reading notifications")
            page = self._page(items, cursor, response)
            if items or first:
                yield page
            first = False
            if not items:
                return
            if page.rate is not None and page.rate.remaining == 0:
                return
            if page.cursor is None or page.cursor == cursor:
                return  # no id to move on from; never loop on the same page
            cursor = page.cursor
            prev = parse_link(response.headers.get("link")).get("prev")
            if prev and _origin(prev) == self._origin:
                url, params = prev, None
            else:
                url, params = NOTIFICATIONS, [*base_params, ("min_id", cursor)]

    def _page(self, items: list[Any], cursor: str | None, response: httpx.Response) -> Page:
        messages: list[tuple[tuple[int, str], Inbound]] = []
        skipped: list[Skipped] = []
        best = cursor
        best_key = id_key(cursor) if cursor is not None else None
        for item in items:
            result = parse_notification(item)
            item_id = as_id(item.get("id")) if isinstance(item, dict) else None
            if item_id is not None:
                key = id_key(item_id)
                if best_key is None or key > best_key:
                    best, best_key = item_id, key
            if isinstance(result, Skipped):
                skipped.append(result)
            else:
                messages.append((id_key(item_id) if item_id else (0, ""), result))
        messages.sort(key=lambda pair: pair[0])
        return Page(
            messages=[m for _, m in messages],
            cursor=best,
            skipped=skipped,
            rate=parse_rate(response.headers),
        )

    # -- sending --

    def send(self, message: Outbound) -> SendResult:
        text = reply_text(message)
        payload: dict[str, Any] = {
            "status": text,
            "visibility": "direct" if message.visibility == "private" else "public",
        }
        if message.in_reply_to:
            payload["in_reply_to_id"] = message.in_reply_to
        if message.language:
            payload["language"] = message.language
        what = "posting a reply"
        response = self._request(
            "POST",
            STATUSES,
            what,
            json=payload,
            headers={"Idempotency-Key": message.idempotency_key},
        )
        body = _json(response, what)
        result = self._result(body, text)
        if result is None:
            raise AdapterError(
                "Mastodon accepted the reply but its answer has no status id; "
                "retrying with the same Idempotency-Key is safe",
                retryable=True,
            )
        return result

    @staticmethod
    def _result(status: Any, text: str) -> SendResult | None:
        if not isinstance(status, dict):
            return None
        status_id = as_id(status.get("id"))
        if status_id is None:
            return None
        url = status.get("url") or status.get("uri")
        return SendResult(
            platform_id=status_id,
            url=url if isinstance(url, str) else None,
            sent_at=parse_datetime(status.get("created_at")) or datetime.now(UTC),
            text=text,
        )

    def account_id(self) -> str:
        """The id of the account the token belongs to (cached)."""
        if self._account_id is None:
            what = "checking the access token"
            body = _json(self._request("GET", VERIFY_CREDENTIALS, what), what)
            account_id = as_id(body.get("id")) if isinstance(body, dict) else None
            if account_id is None:
                raise AdapterError("Mastodon's verify_credentials answer has no account id", retryable=True)
            self._account_id = account_id
        return self._account_id

    def find_sent(self, message: Outbound) -> SendResult | None:
        text = reply_text(message)
        wanted = _comparable(text)
        what = "looking for an already posted reply"
        account_id = self.account_id()
        statuses, _ = self._get_list(
            f"/api/v1/accounts/{account_id}/statuses", [("limit", "40")], what
        )
        for status in statuses:
            if not isinstance(status, dict):
                continue
            if as_id(status.get("in_reply_to_id")) != message.in_reply_to:
                continue
            content = status.get("content")
            posted = html_to_text(content) if isinstance(content, str) else status.get("text")
            if isinstance(posted, str) and _comparable(posted) == wanted:
                return self._result(status, text)
        return None

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> MastodonAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@functools.lru_cache(maxsize=1)
def _ssl_context() -> Any:
    """httpx's default verifying context, built once: loading the CA bundle costs ~30 ms per
    client otherwise."""
    return httpx.create_ssl_context()


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return (parts.scheme.lower(), parts.netloc.lower())

