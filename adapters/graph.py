"""One Meta Graph API client for the Facebook and Instagram adapters: JSON calls with the token
in a Bearer header and versioned paths, Graph's error bodies and usage headers read the Graph way
(`graph_errors`), collections paged by following `paging.next` only on Graph's own host, and a
poll cut short once the usage headers say nothing is left.

The other Graph modules: `graph_cursor` (the time cursor both adapters poll by), `graph_send`
(the Send API and its windows), `graph_adapter` (what the two adapters do alike),
`graph_payloads` (payloads to messages).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from socialdesk.adapters.base import AdapterError
from socialdesk.adapters.graph_errors import graph_error, parse_usage
from socialdesk.adapters.http import JsonApi


class Graph:
    """One Graph host and version: JSON calls with the token in a Bearer header, and collections
    paged by following `paging.next` on the same host."""

    def __init__(self, platform: str, base_url: str, token: str, *, api_version: str, timeout: float,
                 transport: httpx.BaseTransport | None):
        self.platform = platform
        self.api = JsonApi(platform, base_url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout,
                           transport=transport, secrets=[token], rate=parse_usage, classify=self._classify,
                           auth_hint="store a new token with `socialdesk auth`")
        self.version = api_version.strip().strip("/")
        self._origin = _origin(self.api.base_url)
        self.cut_short = False

    def _classify(self, response: httpx.Response, body: Any) -> AdapterError | None:
        return graph_error(self.platform, body, response.headers, method=response.request.method,
                           path=response.request.url.path)

    def url(self, *parts: str) -> str:
        return "/" + "/".join([*([self.version] if self.version else []), *(quote(str(p), safe="") for p in parts)])

    def get(self, url: str, what: str, **params: Any) -> dict[str, Any]:
        return self.api.object("GET", url, what, params=params or None)

    def post(self, url: str, what: str, **kwargs: Any) -> dict[str, Any]:
        return self.api.object("POST", url, what, **kwargs)

    def next(self, connection: Any) -> str | None:
        """A connection's `paging.next` URL, if it stays on this host."""
        paging = connection.get("paging") if isinstance(connection, dict) else None
        url = paging.get("next") if isinstance(paging, dict) else None
        return url if isinstance(url, str) and url and _origin(url) == self._origin else None

    def pages(self, url: str, what: str, **params: Any) -> Iterator[list[Any]]:
        """Each page's `data` of a collection, following `paging.next` while usage allows."""
        next_url: str | None = url
        query: dict[str, Any] | None = params
        followed = {url}
        while next_url:
            body = self.api.object("GET", next_url, what, params=query or None)
            data = body.get("data")
            if not isinstance(data, list):
                raise AdapterError(f"{self.platform} sent a collection without a data list while {what}",
                                   retryable=True)
            yield data
            next_url, query = self.next(body), None
            if next_url in followed or (next_url and not self.more()):
                return  # a page pointing back at itself would loop forever
            followed.add(str(next_url))

    def connection(self, obj: Mapping[str, Any], name: str, fallback: str | None, what: str,
                   **params: Any) -> Iterator[list[Any]]:
        """The pages of a nested connection (`messages`, `comments`): the expanded first page,
        then `paging.next`; read from `fallback` (if any) when the object came without it."""
        nested = obj.get(name)
        if not isinstance(nested, dict):
            if fallback and self.more():
                yield from self.pages(fallback, what, **params)
            return
        data = nested.get("data")
        yield data if isinstance(data, list) else []
        url = self.next(nested)
        if url and self.more():
            yield from self.pages(url, what)

    def more(self) -> bool:
        """Whether this poll may make another request: not once the usage headers say nothing is
        left (then `cut_short` is set, and the poll must not move its cursor)."""
        if self.exhausted:
            self.cut_short = True
            return False
        return True

    @property
    def exhausted(self) -> bool:
        rate = self.api.last_rate
        return rate is not None and rate.remaining == 0

    def close(self) -> None:
        self.api.close()


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return (parts.scheme.lower(), parts.netloc.lower())


def expanded(obj: Any, name: str) -> list[dict[str, Any]]:
    """The expanded first page of a nested connection (`comments`, `messages`), objects only."""
    nested = obj.get(name) if isinstance(obj, dict) else None
    data = nested.get("data") if isinstance(nested, dict) else None
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []
