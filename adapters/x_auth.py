"""X credentials: OAuth 1.0a request signing (RFC 5849, HMAC-SHA1) and OAuth 2.0 user tokens.

The configured credentials are one string: an OAuth 2.0 user access token (sent as Bearer); an
OAuth 1.0a JSON object (every request signed; these tokens never expire, which suits a daemon);
or an OAuth 2.0 JSON object with a refresh token, refreshed when X answers 401 and kept in the
vault, because X refresh tokens are single-use.

This module only imports the standard library, httpx and `socialdesk.adapters`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterator
from urllib.parse import parse_qsl, quote, urlsplit

import httpx

from socialdesk.adapters.base import AdapterError, AuthError, Vault
from socialdesk.adapters.http import JsonApi

TOKEN_URL = "/2/oauth2/token"
OAUTH1_KEYS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")


# --- OAuth 1.0a (RFC 5849, HMAC-SHA1) ------------------------------------------------------------


def pct(value: str) -> str:
    """RFC 3986 percent-encoding: everything but ALPHA, DIGIT and -._~ (OAuth's one true way)."""
    return quote(value, safe="-._~")


def signature_base_string(method: str, url: str, params: list[tuple[str, str]]) -> str:
    """METHOD&base-url&sorted-params, each part percent-encoded (RFC 5849 §3.4.1)."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    port = parts.port
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    base = f"{scheme}://{netloc}{parts.path or '/'}"
    pairs = sorted((pct(k), pct(v)) for k, v in params)
    normalized = "&".join(f"{k}={v}" for k, v in pairs)
    return "&".join((method.upper(), pct(base), pct(normalized)))


def oauth1_signature(base_string: str, consumer_secret: str, token_secret: str) -> str:
    key = f"{pct(consumer_secret)}&{pct(token_secret)}".encode()
    return base64.b64encode(hmac.new(key, base_string.encode(), hashlib.sha1).digest()).decode()


def request_params(url: str, body: bytes, content_type: str) -> list[tuple[str, str]]:
    """The query and form-body parameters that take part in an OAuth 1.0a signature."""
    params = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded" and body:
        params += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    return params


class OAuth1(httpx.Auth):
    """Signs every request with the app's consumer key and the brand's access token."""

    requires_request_body = True

    def __init__(self, consumer_key: str, consumer_secret: str, token: str, token_secret: str):
        self.consumer_key, self.consumer_secret = consumer_key, consumer_secret
        self.token, self.token_secret = token, token_secret

    def header(self, method: str, url: str, params: list[tuple[str, str]], *,
               nonce: str | None = None, timestamp: int | None = None) -> str:
        oauth = {
            "oauth_consumer_key": self.consumer_key,
            "oauth_nonce": nonce or secrets.token_hex(16),
            "oauth_signature_method": "HMAC-SHA1",
            "oauth_timestamp": str(int(time.time()) if timestamp is None else timestamp),
            "oauth_token": self.token,
            "oauth_version": "1.0",
        }
        base = signature_base_string(method, url, [*params, *oauth.items()])
        oauth["oauth_signature"] = oauth1_signature(base, self.consumer_secret, self.token_secret)
        return "OAuth " + ", ".join(f'{pct(k)}="{pct(v)}"' for k, v in sorted(oauth.items()))

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        params = request_params(str(request.url), request.content, request.headers.get("content-type", ""))
        request.headers["Authorization"] = self.header(request.method, str(request.url), params)
        yield request


# --- OAuth 2.0 -----------------------------------------------------------------------------------


class Bearer(httpx.Auth):
    """An OAuth 2.0 user access token, replaceable when it is refreshed."""

    def __init__(self, token: str):
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


def _fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


class Credentials:
    """The configured credentials as an httpx `auth` for every request, the `secrets` to keep
    out of messages, and (for an OAuth 2.0 pair with a refresh token) the means to refresh."""

    def __init__(self, text: str, vault: Vault | None):
        self.vault = vault
        self._oauth2: dict[str, str] | None = None  # a refreshable OAuth 2.0 pair, when given one
        self._bearer: Bearer | None = None
        self.auth, self.secrets = self._parse(text)

    @property
    def refreshable(self) -> bool:
        return self._oauth2 is not None

    def _parse(self, credentials: str) -> tuple[httpx.Auth, list[str]]:
        text = (credentials or "").strip()
        if not text:
            raise AuthError("X credentials are empty: give an OAuth 2.0 access token or the OAuth 1.0a keys")
        if not text.startswith("{"):
            self._bearer = Bearer(text)
            return self._bearer, [text]
        try:
            creds = json.loads(text)
        except ValueError:
            raise AuthError("X credentials look like JSON but do not parse; check the quoting") from None
        creds = {k: v for k, v in creds.items() if isinstance(v, str) and v} if isinstance(creds, dict) else {}
        if all(k in creds for k in OAUTH1_KEYS):
            return OAuth1(*(creds[k] for k in OAUTH1_KEYS)), [creds[k] for k in OAUTH1_KEYS]
        if "access_token" not in creds:
            raise AuthError("X credentials JSON needs consumer_key, consumer_secret, access_token and "
                            "access_token_secret (OAuth 1.0a), or access_token (+ refresh_token, client_id) "
                            "for OAuth 2.0")
        if "refresh_token" in creds:
            self._oauth2 = dict(creds, issued_for=_fingerprint(creds["refresh_token"]))
            stored = self.vault.get("oauth2") if self.vault is not None else None
            try:
                kept = json.loads(stored) if stored else None
            except ValueError:
                kept = None
            # A pair refreshed earlier is newer, unless the channel was authorised again since.
            if isinstance(kept, dict) and kept.get("issued_for") == self._oauth2["issued_for"]:
                for key in ("access_token", "refresh_token"):
                    if isinstance(kept.get(key), str) and kept[key]:
                        self._oauth2[key] = kept[key]
        pair = self._oauth2 or creds
        self._bearer = Bearer(pair["access_token"])
        return self._bearer, [v for k, v in pair.items() if k in ("access_token", "refresh_token", "client_secret")]

    def refresh(self, api: JsonApi) -> None:
        """Trade the refresh token for a new pair (`POST /2/oauth2/token`) and keep it in the vault:
        X refresh tokens are single-use."""
        assert self._oauth2 is not None and self._bearer is not None
        form = {"grant_type": "refresh_token", "refresh_token": self._oauth2["refresh_token"]}
        client_id, client_secret = self._oauth2.get("client_id"), self._oauth2.get("client_secret")
        if client_id:
            form["client_id"] = client_id
        auth = httpx.BasicAuth(client_id, client_secret) if client_id and client_secret else None
        what = "refreshing the OAuth 2.0 access token"
        try:
            body = api.object("POST", TOKEN_URL, what, data=form, auth=auth)
        except AdapterError as exc:
            if exc.retryable:
                raise
            raise AuthError(f"X would not refresh the access token ({exc}); authorise the channel again with "
                            "`socialdesk auth`") from None
        access, refresh = body.get("access_token"), body.get("refresh_token")
        if not isinstance(access, str) or not access:
            raise AdapterError("X's token answer has no access_token", retryable=True)
        api.add_secret(access)
        self._oauth2["access_token"] = access
        if isinstance(refresh, str) and refresh:
            api.add_secret(refresh)
            self._oauth2["refresh_token"] = refresh
        self._bearer.token = access
        if self.vault is not None:
            kept = {k: self._oauth2[k] for k in ("access_token", "refresh_token", "issued_for")}
            self.vault.set("oauth2", json.dumps(kept))
