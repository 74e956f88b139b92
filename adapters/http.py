"""JSON over HTTP for every platform adapter: one httpx client, every transport failure and
HTTP status turned into a typed `AdapterError` with a message an agent can act on, rate-limit
headers read the platform's way.

A platform adapter makes one `JsonApi`, naming the platform and, where it differs from the
common shape, how to read its errors (`error_text`), its rate headers (`rate`) and which
answers are rate limits or refused credentials although their status says otherwise
(`classify`: Meta answers a throttle with HTTP 400 and code 4/17/32/613). Secrets are given to
`JsonApi` so that no message it builds ever contains one.

This module imports only the standard library, httpx and `socialdesk.adapters.base`.
"""

from __future__ import annotations

import email.utils
import functools
import json
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from socialdesk.adapters.base import AdapterError, AuthError, RateLimit, RateLimited
from socialdesk.adapters.values import parse_epoch, parse_iso

USER_AGENT = "socialdesk/0.1"
MAX_ERROR = 300  # characters of a platform's error text kept in a message
MIN_SECRET = 6  # shorter "secrets" (test tokens) would blank out ordinary words


def _int(value: str | None) -> int | None:
    try:
        return int(value.strip()) if value is not None else None
    except ValueError:
        return None


def header_rate(headers: Mapping[str, str], prefix: str, *, reset: str = "epoch") -> RateLimit | None:
    """`<prefix>limit`, `<prefix>remaining` and `<prefix>reset` headers. `reset` says how the
    reset time is written: "epoch" (unix seconds: X, Bluesky), "iso" (Mastodon) or "delta"
    (seconds from now: the IETF draft)."""
    limit = headers.get(prefix + "limit")
    remaining = headers.get(prefix + "remaining")
    when = headers.get(prefix + "reset")
    if limit is None and remaining is None and when is None:
        return None
    reset_at = None
    if when is not None:
        if reset == "iso":
            reset_at = parse_iso(when.strip())
        elif reset == "delta":
            seconds = _int(when)
            reset_at = parse_epoch(time.time() + seconds) if seconds is not None else None
        else:
            reset_at = parse_epoch(when)
    return RateLimit(limit=_int(limit), remaining=_int(remaining), reset_at=reset_at)


def retry_after(headers: Mapping[str, str], rate: RateLimit | None = None) -> float | None:
    """Seconds to wait: `Retry-After` (seconds or an HTTP date), else until the rate limit
    resets, else None (the caller's back-off decides)."""
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
    if rate is not None and rate.reset_at is not None:
        return max(0.0, (rate.reset_at - datetime.now(UTC)).total_seconds())
    return None


def load_json(content: bytes) -> Any:
    """Parse a body; raise ValueError on anything that is not one whole JSON document."""
    try:
        return json.loads(content)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def default_error_text(body: Any, response: httpx.Response) -> str:
    """The error's own words from the common shapes: {"error": "..."} (Mastodon, XRPC's
    {"error", "message"}), {"error": {"message"}} (Graph), {"errors": [{"message"}]} (X),
    {"description"} (Telegram), {"detail"}/{"title"} (problem+json); else the body's start.
    Not cut to length: `JsonApi.error_text` redacts secrets first, then cuts."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            parts = [error.get("type"), error.get("message")]
            code = error.get("code")
            text = ": ".join(str(p) for p in parts if p)
            if text:
                return f"{text} (code {code})" if code is not None else text
        parts = [body.get(k) for k in ("error", "error_description", "message", "description", "title", "detail")]
        text = ": ".join(str(p) for p in parts if isinstance(p, (str, int)) and p != "")
        errors = body.get("errors")
        if not text and isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            text = str(first.get("message") or first.get("detail") or first.get("title") or "")
        if text:
            return text
    text = response.content[:2000].decode("utf-8", "replace").strip()
    return text or (response.reason_phrase or "no details")


class JsonApi:
    """One platform's HTTP client. `request` returns a 2xx response or raises AdapterError;
    `json` parses a body or raises a retryable AdapterError (truncated or malformed)."""

    def __init__(
        self,
        platform: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        secrets: Iterable[str] = (),
        rate: Callable[[Mapping[str, str]], RateLimit | None] | None = None,
        error_text: Callable[[Any, httpx.Response], str] = default_error_text,
        classify: Callable[[httpx.Response, Any], AdapterError | None] | None = None,
        auth_hint: str = "check it with `socialdesk auth test`",
    ):
        base_url = base_url.strip().rstrip("/")
        if "://" not in base_url:
            base_url = "https://" + base_url
        self.platform = platform
        self.base_url = base_url
        self.timeout = timeout
        self.last_rate: RateLimit | None = None
        self._secrets = [s for s in secrets if len(s) >= MIN_SECRET]
        self._rate = rate
        self._error_text = error_text
        self._classify = classify
        self._auth_hint = auth_hint
        self.client = httpx.Client(
            base_url=base_url,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
            timeout=httpx.Timeout(timeout),
            transport=transport,
            verify=ssl_context(),
            follow_redirects=False,
        )

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def add_secret(self, secret: str) -> None:
        """A secret learnt later (a session token): never to appear in a message either."""
        if len(secret) >= MIN_SECRET and secret not in self._secrets:
            self._secrets.append(secret)

    def where(self) -> str:
        return self.redact(self.base_url)

    # -- requests --

    def request(self, method: str, url: str, what: str, **kwargs: Any) -> httpx.Response:
        """A 2xx response, or an AdapterError. A failure after the request went out (a read
        timeout, a reset, a 5xx) is `maybe_sent`: a write may have been carried out."""
        try:
            response = self.client.request(method, url, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise AdapterError(self.redact(f"cannot reach {self.platform} at {self.where()} while {what} "
                                           f"({type(exc).__name__}: {exc})"), retryable=True) from None
        except httpx.TimeoutException as exc:
            raise AdapterError(
                f"{self.platform} did not answer within {self.timeout:g}s while {what} ({type(exc).__name__})",
                retryable=True, maybe_sent=True) from None
        except httpx.HTTPError as exc:
            raise AdapterError(self.redact(
                f"the connection to {self.platform} at {self.where()} failed while {what} "
                f"({type(exc).__name__}: {exc})"), retryable=True, maybe_sent=True) from None
        except (httpx.InvalidURL, ValueError) as exc:
            raise AdapterError(self.redact(f"bad {self.platform} URL while {what}: {exc}"), retryable=False) from None
        if self._rate is not None:
            rate = self._rate(response.headers)
            if rate is not None:
                self.last_rate = rate
        self.raise_for_status(response, what)
        return response

    def json(self, response: httpx.Response, what: str) -> Any:
        """The parsed body. A broken body on a 2xx means the platform did the work but its answer
        was lost on the way: `maybe_sent`."""
        try:
            return load_json(response.content)
        except ValueError as exc:
            raise AdapterError(
                f"{self.platform} sent malformed or truncated JSON while {what} "
                f"({len(response.content)} bytes: {exc})", retryable=True, maybe_sent=True) from None

    def call(self, method: str, url: str, what: str, **kwargs: Any) -> Any:
        """`request` then `json`: the parsed body of a 2xx answer."""
        return self.json(self.request(method, url, what, **kwargs), what)

    def object(self, method: str, url: str, what: str, **kwargs: Any) -> dict[str, Any]:
        """`call`, insisting on a JSON object (a list or a string here is a broken answer)."""
        body = self.call(method, url, what, **kwargs)
        if not isinstance(body, dict):
            raise AdapterError(f"{self.platform} sent a JSON {type(body).__name__} where an object was "
                               f"expected while {what}", retryable=True, maybe_sent=True)
        return body

    # -- errors --

    def _body(self, response: httpx.Response) -> Any:
        try:
            return load_json(response.content)
        except ValueError:
            return None

    def error_text(self, response: httpx.Response) -> str:
        """The platform's own words, redacted before they are cut (a secret echoed across the cut
        would otherwise leak its first half)."""
        return self.redact(self._error_text(self._body(response), response))[:MAX_ERROR]

    def raise_for_status(self, response: httpx.Response, what: str) -> None:
        code = response.status_code
        if self._classify is not None and code >= 300:
            error = self._classify(response, self._body(response))
            if error is not None:
                error.args = (self.redact(str(error)),)
                raise error
        if 200 <= code < 300:
            return
        details = self.error_text(response)
        if code == 429:
            raise RateLimited(f"{self.platform} rate limit reached while {what} (HTTP 429: {details})",
                              retry_after=retry_after(response.headers, self.last_rate))
        if code in (401, 403):
            raise AuthError(f"{self.platform} refused the credentials while {what} (HTTP {code}: {details}); "
                            f"{self._auth_hint}")
        if code == 408:
            raise AdapterError(f"{self.platform} timed out while {what} (HTTP 408)", retryable=True)
        if 400 <= code < 500:
            raise AdapterError(f"{self.platform} rejected the request while {what} (HTTP {code}): {details}",
                               retryable=False)
        if code >= 500:
            raise AdapterError(f"{self.platform} server error while {what} (HTTP {code}): {details}",
                               retryable=True, maybe_sent=True,
                               retry_after=retry_after(response.headers) if "retry-after" in response.headers else None)
        raise AdapterError(f"unexpected HTTP {code} from {self.platform} while {what} "
                           f"(location: {self.redact(response.headers.get('location', '-'))}); check the base_url",
                           retryable=False)

    def close(self) -> None:
        self.client.close()


@functools.lru_cache(maxsize=1)
def ssl_context() -> Any:
    """httpx's default verifying context, built once: loading the CA bundle costs ~30 ms per
    client otherwise."""
    return httpx.create_ssl_context()
