"""Mastodon: mention notifications in, statuses out (REST API v1, one instance, one user token).

Polling reads `GET /api/v1/notifications?types[]=mention` forward from a notification-id cursor
(`min_id`, then the `Link: rel="prev"` pages). Direct messages arrive the same way, as mentions
whose status has `visibility: "direct"`. Replies are `POST /api/v1/statuses` with an
`Idempotency-Key`, so a retried send never posts twice; `find_sent` looks for a reply that was
posted before a crash. A backfill walks the same list backwards (`Link: rel="next"`).

This module only imports the standard library, httpx and `socialdesk.adapters`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from socialdesk.adapters.base import (
    MENTIONS,
    AdapterError,
    CannotVerify,
    Capabilities,
    Inbound,
    Outbound,
    Page,
    RateLimit,
    SendResult,
    Skipped,
)
from socialdesk.adapters.http import JsonApi, header_rate
from socialdesk.adapters.mastodon_payloads import (  # re-exported: the parsing half of this module's API
    html_to_text,
    parse_notification,
    parse_status,
)
from socialdesk.adapters.values import as_id, id_key, parse_iso

__all__ = [
    "MastodonAdapter",
    "html_to_text",
    "id_key",
    "parse_notification",
    "parse_rate",
    "parse_status",
    "reply_text",
]

NOTIFICATIONS = "/api/v1/notifications"
STATUSES = "/api/v1/statuses"
VERIFY_CREDENTIALS = "/api/v1/accounts/verify_credentials"
FIND_PAGES = 25  # find_sent reads at most the brand's 1,000 newest statuses (40 a page)
LOOKUP_TRIES = 3  # a find_sent page that fails (a reset, a 5xx) is read again at once, up to this many times


def parse_rate(headers: Mapping[str, str]) -> RateLimit | None:
    """Mastodon's `X-RateLimit-*` headers (the reset is an ISO-8601 time)."""
    return header_rate(headers, "x-ratelimit-", reset="iso")


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
    capabilities = Capabilities(public_reply=True, private_reply=True, dm=True, email=False, max_length=500,
                                backfill=True)
    streams = (MENTIONS,)

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 10.0,
        page_limit: int = 80,
        find_pages: int = FIND_PAGES,
        transport: httpx.BaseTransport | None = None,
    ):
        self.api = JsonApi("Mastodon", base_url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout,
                           transport=transport, secrets=[token], rate=parse_rate,
                           auth_hint="check the token and its scopes with `socialdesk auth test`")
        self.base_url = self.api.base_url
        self.page_limit = max(1, min(int(page_limit), 80))
        self.find_pages = max(1, find_pages)
        self._origin = _origin(self.base_url)
        self._account_id: str | None = None

    def _get_list(self, url: str, params: Any, what: str) -> tuple[list[Any], httpx.Response]:
        response = self.api.request("GET", url, what, params=params)
        body = self.api.json(response, what)
        if not isinstance(body, list):
            raise AdapterError(
                f"Mastodon sent a JSON {type(body).__name__} where a list was expected while {what}",
                retryable=True,
            )
        return body, response

    def _read_again(self, url: str, params: Any, what: str) -> tuple[list[Any], httpx.Response]:
        """A page of a look-up, tried up to LOOKUP_TRIES times: reading twice changes nothing, and a
        look-up that walks many pages must not fail the reply for one lost page."""
        for attempt in range(1, LOOKUP_TRIES + 1):
            try:
                return self._get_list(url, params, what)
            except AdapterError as exc:
                if not exc.retryable or exc.retry_after or attempt == LOOKUP_TRIES:
                    raise
        raise AssertionError("unreachable")

    def _next_url(self, response: httpx.Response, rel: str) -> str | None:
        url = parse_link(response.headers.get("link")).get(rel)
        return url if url and _origin(url) == self._origin else None

    # -- polling --

    def poll(self, cursor: str | None, stream: str = "mentions") -> Iterator[Page]:
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
            prev = self._next_url(response, "prev")
            url, params = (prev, None) if prev else (NOTIFICATIONS, [*base_params, ("min_id", cursor)])

    def backfill(self, since: datetime, stream: str = "mentions") -> Iterator[Page]:
        """Mention notifications from the newest back to `since`, following `rel="next"`."""
        url: str | None = NOTIFICATIONS
        params: Any = [("types[]", "mention"), ("limit", str(self.page_limit))]
        while url:
            items, response = self._get_list(url, params, "reading older notifications")
            page = self._page(items, None, response)
            kept = [m for m in page.messages if m.published_at >= since]
            yield Page(messages=kept, cursor=None, skipped=page.skipped, rate=page.rate)
            if not items or len(kept) < len(page.messages):
                return
            url, params = self._next_url(response, "next"), None

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
        response = self.api.request("POST", STATUSES, what, json=payload,
                                    headers={"Idempotency-Key": message.idempotency_key})
        result = self._result(self.api.json(response, what), text)
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
            sent_at=parse_iso(status.get("created_at")) or datetime.now(UTC),
            text=text,
        )

    def _credentials(self) -> dict[str, Any]:
        return self.api.object("GET", VERIFY_CREDENTIALS, "checking the access token")

    def account_id(self) -> str:
        """The id of the account the token belongs to (cached)."""
        if self._account_id is None:
            account_id = as_id(self._credentials().get("id"))
            if account_id is None:
                raise AdapterError("Mastodon's verify_credentials answer has no account id", retryable=True)
            self._account_id = account_id
        return self._account_id

    def verify(self) -> str:
        account = self._credentials()
        self._account_id = as_id(account.get("id")) or self._account_id
        return f"Mastodon account @{account.get('acct', '?')} (id {self._account_id}) on {self.base_url}"

    def find_sent(self, message: Outbound) -> SendResult | None:
        """The brand's status answering this message with this text, read newest first back to
        when the message was written (its id when its time is unknown): an idempotency key is
        kept only for a while, so on a busy account the earlier attempt may be many pages back.
        CannotVerify when that is further back than `find_pages` pages."""
        wanted = _comparable(reply_text(message))
        since = message.reply_to_at - timedelta(seconds=1) if message.reply_to_at else None
        floor = id_key(message.in_reply_to) if message.in_reply_to else None
        what = "looking for an already posted reply"
        url: str | None = f"/api/v1/accounts/{self.account_id()}/statuses"
        params: Any = [("limit", "40")]
        for _ in range(self.find_pages):
            statuses, response = self._read_again(str(url), params, what)
            for status in statuses:
                if not isinstance(status, dict):
                    continue
                found = self._answer(status, message, wanted)
                if found is not None:
                    return found
                if _older(status, since, floor):
                    return None
            url, params = self._next_url(response, "next"), None
            if not statuses or url is None:
                return None
        raise CannotVerify(f"Mastodon: read the brand's {self.find_pages * 40} newest statuses without reaching the "
                           f"message answered ({message.reply_to_at or message.in_reply_to}); check on Mastodon "
                           f"whether \"{message.text[:60]}\" was already posted before sending it again")

    def _answer(self, status: dict[str, Any], message: Outbound, wanted: str) -> SendResult | None:
        """This status as the reply looked for, if it answers the message with the same text."""
        if as_id(status.get("in_reply_to_id")) != message.in_reply_to:
            return None
        content = status.get("content")
        posted = html_to_text(content) if isinstance(content, str) else status.get("text")
        if isinstance(posted, str) and _comparable(posted) == wanted:
            return self._result(status, reply_text(message))
        return None

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> MastodonAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _older(status: dict[str, Any], since: datetime | None, floor: tuple[int, str] | None) -> bool:
    """Whether a status of the brand is older than the message answered (no reply can be)."""
    if since is not None:
        created = parse_iso(status.get("created_at"))
        return created is not None and created < since
    status_id = as_id(status.get("id"))
    return floor is not None and status_id is not None and id_key(status_id) < floor


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return (parts.scheme.lower(), parts.netloc.lower())
