"""A Bluesky session on the account's PDS, and the authenticated XRPC calls made with it.

Sessions are precious (createSession: 30 per 5 minutes, 300 a day), so the JWTs live in the
vault across restarts; an expired access token is refreshed with the refresh token, and a new
session is only created when that fails. Chat calls go through the PDS with the `atproto-proxy`
header naming the chat service.

This module only imports the standard library, httpx and `socialdesk.adapters`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from socialdesk.adapters.base import AdapterError, AuthError, MemoryVault, RateLimit, Vault
from socialdesk.adapters.bluesky_payloads import jwt_expiry
from socialdesk.adapters.http import JsonApi, header_rate

RENEW_MARGIN = 30.0  # seconds before an access token expires that it is renewed


def parse_rate(headers: Mapping[str, str]) -> RateLimit | None:
    """`ratelimit-limit/remaining/reset` (reset in unix seconds); `ratelimit-policy` says the window."""
    return header_rate(headers, "ratelimit-", reset="epoch")


class XrpcError(AdapterError):
    """An XRPC error answer `{"error", "message"}` (HTTP 400): `error` is its machine name."""

    def __init__(self, message: str, error: str, detail: str):
        super().__init__(message, retryable=False)
        self.error, self.detail = error, detail


class SessionExpired(AuthError):
    """The access (or refresh) token was refused: renew the session and try again."""

    def __init__(self, message: str, error: str, detail: str):
        super().__init__(message)
        self.error, self.detail = error, detail


def _classify(response: httpx.Response, body: Any, redact: Callable[[str], str] = str) -> AdapterError | None:
    """XRPC error answers as typed errors. `redact` runs before any cut, so no prefix of a
    secret the server echoed survives."""
    code = response.status_code
    if code == 429 or code >= 500 or not isinstance(body, dict):
        return None
    error = redact(body["error"])[:100] if isinstance(body.get("error"), str) else ""
    detail = redact(str(body.get("message") or ""))[:200]
    text = f"{error}: {detail}" if detail else error or f"HTTP {code}"
    if error in ("AccountTakedown", "AccountDeactivated", "AuthFactorTokenRequired"):
        return AuthError(f"Bluesky will not open a session ({text}); sign in on bsky.app to see why, "
                         "and use an app password (2FA by email does not apply to app passwords)")
    if error in ("ExpiredToken", "InvalidToken") or code == 401:
        return SessionExpired(f"Bluesky refused the session token (HTTP {code} {text})", error, detail)
    if 400 <= code < 500 and error:
        return XrpcError(f"Bluesky rejected the request (HTTP {code} {text})", error, detail)
    return None


class XrpcSession:
    """The account's session (created once, kept in the vault, refreshed) and XRPC calls with it."""

    def __init__(self, identifier: str, app_password: str, *, base_url: str, chat_proxy: str, timeout: float,
                 transport: httpx.BaseTransport | None, vault: Vault | None):
        self.api = JsonApi("Bluesky", base_url, timeout=timeout, transport=transport, secrets=[app_password],
                           rate=parse_rate, classify=lambda r, b: _classify(r, b, self.api.redact),
                           auth_hint="check the handle and app password with `socialdesk auth test`")
        self.identifier = identifier.strip().lstrip("@")
        self._password = app_password
        self.chat_proxy = chat_proxy
        self.vault: Vault = vault if vault is not None else MemoryVault()
        self._session: dict[str, str] | None = None

    def _adopt(self, body: Any, *, save: bool) -> dict[str, str]:
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) and body[k]
                                                 for k in ("accessJwt", "refreshJwt", "did")):
            raise AdapterError("Bluesky's session answer lacks accessJwt, refreshJwt or did", retryable=True)
        session = {k: body[k] for k in ("accessJwt", "refreshJwt", "did")}
        session["handle"] = body["handle"] if isinstance(body.get("handle"), str) else session["did"]
        self.api.add_secret(session["accessJwt"])
        self.api.add_secret(session["refreshJwt"])
        self._session = session
        if save:
            self.vault.set("session", json.dumps(session))
        return session

    def _stored(self) -> dict[str, str] | None:
        try:
            return self._adopt(json.loads(self.vault.get("session") or "null"), save=False)
        except (ValueError, AdapterError):
            return None

    def _create(self) -> dict[str, str]:
        what = "creating a session (createSession)"
        try:
            body = self.api.object("POST", "/xrpc/com.atproto.server.createSession", what,
                                   json={"identifier": self.identifier, "password": self._password})
        except (SessionExpired, XrpcError) as exc:
            why = f"{exc.error or 'HTTP 401'}: {exc.detail}"
            raise AuthError(f"Bluesky refused the handle or app password for {self.identifier} ({why}); create an "
                            "app password under Settings → Privacy and security → App passwords and store it with "
                            "`socialdesk auth`") from None
        return self._adopt(body, save=True)

    def _renew(self, stale: Mapping[str, str]) -> dict[str, str]:
        """A fresh session: another process's newer one from the vault, else a refresh, else a
        new session (the only step that counts against createSession's limit)."""
        stored = self._stored()
        if stored is not None and stored["accessJwt"] != stale["accessJwt"]:
            return stored
        try:
            body = self.api.object("POST", "/xrpc/com.atproto.server.refreshSession", "refreshing the session",
                                   headers={"Authorization": f"Bearer {stale['refreshJwt']}"})
        except (SessionExpired, XrpcError):
            stored = self._stored()
            if stored is not None and stored["refreshJwt"] != stale["refreshJwt"]:
                return stored  # refreshed meanwhile by another process: its rotation spent ours
            return self._create()
        return self._adopt(body, save=True)

    def ensure(self) -> dict[str, str]:
        """The session (accessJwt, refreshJwt, did, handle), renewed when about to expire."""
        session = self._session or self._stored() or self._create()
        expiry = jwt_expiry(session["accessJwt"])
        if expiry is not None and expiry - time.time() < RENEW_MARGIN:
            session = self._renew(session)
        return session

    def did(self) -> str:
        return self.ensure()["did"]

    def call(self, method: str, nsid: str, what: str, *, chat: bool = False, **kwargs: Any) -> dict[str, Any]:
        """One authenticated call; a refused access token is renewed once and the call repeated."""
        session = self.ensure()
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {session['accessJwt']}"}
            if chat:
                headers["atproto-proxy"] = self.chat_proxy
            try:
                return self.api.object(method, f"/xrpc/{nsid}", what, headers=headers, **kwargs)
            except SessionExpired as exc:
                if chat and "scope" in exc.detail.lower():
                    raise AuthError(f"Bluesky refused the chat request ({exc.error}: {exc.detail}) while {what}; "
                                    "the app password needs \"Allow access to your direct messages\"") from None
                if attempt == 2:
                    raise AuthError(f"{exc} while {what}, even with a renewed session; "
                                    "check the app password with `socialdesk auth test`") from None
                session = self._renew(session)
            except XrpcError as exc:
                exc.args = (f"{exc} while {what}",)
                raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.api.close()
