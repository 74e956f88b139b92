"""X (Twitter) API v2: mentions and DMs in, replies and DMs out.

Polling reads `GET /2/users/{id}/mentions` forward from a `since_id`, and `GET /2/dm_events`
(no since_id there: events newer than the newest one seen). X answers newest first and pages
backwards, so one poll fetches every page down to the cursor first, then yields them oldest
first, each page carrying the id of its newest item: whatever page a crash interrupts, the next
poll resumes right above what was stored. A poll that cannot reach the cursor (the rate limit
ran out half-way) yields no messages and keeps the cursor, rather than skip the gap.

Replies: `POST /2/tweets` with `reply.in_reply_to_tweet_id`; private answers are DMs. X has no
idempotency key, so `find_sent` reads back the brand's recent posts (or the DM conversation);
X's 403 "duplicate content" is answered the same way.

Credentials (`x_auth`): an OAuth 2.0 user access token (Bearer); an OAuth 1.0a JSON object
(every request signed with HMAC-SHA1, RFC 5849); or an OAuth 2.0 JSON object with a refresh
token, refreshed on a 401 and kept in the vault.

This module only imports the standard library, httpx and `socialdesk.adapters`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx

from socialdesk.adapters.base import (
    MENTIONS,
    AdapterError,
    AuthError,
    CannotVerify,
    Capabilities,
    Inbound,
    NotAllowed,
    Outbound,
    Page,
    RateLimit,
    RateLimited,
    SendResult,
    Skipped,
    Stream,
    Vault,
)
from socialdesk.adapters.http import JsonApi, header_rate
from socialdesk.adapters.values import as_id
from socialdesk.adapters.x_auth import Credentials, OAuth1, oauth1_signature, request_params, signature_base_string
from socialdesk.adapters.x_payloads import (
    Includes,
    comparable,
    error_text,
    id_key,
    newest,
    parse_dm_event,
    parse_post,
    partial_errors,
    references,
    snowflake_at,
    when,
)

DMS = Stream("dms", min_interval=60.0)  # GET /2/dm_events: 15 requests per 15 minutes per user
TWEET_FIELDS = ("created_at,author_id,conversation_id,in_reply_to_user_id,referenced_tweets,public_metrics,lang,"
                "entities,edit_history_tweet_ids,note_tweet")
USER_FIELDS = "username,name,public_metrics,location,verified,verified_type"
DM_FIELDS = "id,text,event_type,created_at,dm_conversation_id,sender_id,participant_ids,referenced_tweets,entities"
MAX_PAGES = 50  # mentions reach back ~800 posts: far fewer pages; this only stops a looping token
DM_HISTORY = timedelta(days=30)


def parse_rate(headers: Mapping[str, str]) -> RateLimit | None:
    """`x-rate-limit-limit/remaining/reset` (the reset in unix seconds)."""
    return header_rate(headers, "x-rate-limit-", reset="epoch")


class _Unauthorized(AuthError):
    """HTTP 401: the access token is expired or revoked (an OAuth 2.0 one may be refreshed)."""


class _Duplicate(NotAllowed):
    """HTTP 403 "duplicate content": the brand recently posted this very text."""


def _x_time(when: datetime) -> str:
    """`start_time` as X wants it: YYYY-MM-DDTHH:mm:ssZ."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the adapter ---------------------------------------------------------------------------------


class XAdapter:
    kind: ClassVar[str] = "x"
    capabilities = Capabilities(public_reply=True, private_reply=True, dm=True, email=False, max_length=280,
                                length_counting="weighted", private_max_length=10000, backfill=True)
    streams = (MENTIONS, DMS)

    def __init__(
        self,
        credentials: str,
        *,
        base_url: str = "https://api.x.com",
        account_id: str | None = None,
        page_limit: int = 100,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        vault: Vault | None = None,
    ):
        self.vault = vault
        self._credentials = Credentials(credentials, vault)
        self.api = JsonApi("X", base_url, timeout=timeout, transport=transport, secrets=self._credentials.secrets,
                           rate=parse_rate, error_text=error_text, classify=self._classify,
                           auth_hint="check the X credentials and their scopes with `socialdesk auth test`")
        self.api.client.auth = self._credentials.auth
        self.base_url = self.api.base_url
        self.page_limit = max(5, min(int(page_limit), 100))
        self._account_id = as_id(account_id)

    def _request(self, method: str, url: str, what: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.api.request(method, url, what, **kwargs)
        except _Unauthorized:
            if not self._credentials.refreshable:
                raise
            self._credentials.refresh(self.api)
            return self.api.request(method, url, what, **kwargs)

    def _classify(self, response: httpx.Response, body: Any) -> AdapterError | None:
        code = response.status_code
        request = f"{response.request.method} {response.request.url.path}"
        details = self.api.error_text(response)  # redacted, then cut
        if code == 401:
            return _Unauthorized(f"X refused the credentials ({request}: HTTP 401 {details}); check them with "
                                 "`socialdesk auth test`")
        if code == 429:
            # The 24-hour posting caps outlast the 15-minute window the x-rate-limit-* headers describe.
            for prefix in ("x-user-limit-24hour-", "x-app-limit-24hour-"):
                day = header_rate(response.headers, prefix)
                if day is not None and day.remaining == 0 and day.reset_at is not None:
                    wait = max(0.0, (day.reset_at - datetime.now(UTC)).total_seconds())
                    return RateLimited(f"X's 24-hour limit is used up ({request}: {details})", retry_after=wait)
            return None
        if code != 403 or not isinstance(body, dict):
            return None
        kind = f"{body.get('type', '')} {body.get('reason', '')}"
        if "duplicate content" in details.lower():
            return _Duplicate(f"X refused a duplicate of a recent post ({details})")
        if response.request.method == "POST" and not any(
                k in kind for k in ("client-forbidden", "client-not-enrolled", "unsupported-authentication")):
            return NotAllowed(f"X will not take this reply: {details}")
        return None

    # -- reading --

    def _get(self, url: str, params: Mapping[str, str], what: str) -> tuple[dict[str, Any], RateLimit | None]:
        response = self._request("GET", url, what, params=params)
        body = self.api.json(response, what)
        if not isinstance(body, dict):
            raise AdapterError(f"X sent a JSON {type(body).__name__} where an object was expected while {what}",
                               retryable=True)
        if "data" not in body and body.get("errors") and not body.get("meta"):
            raise AdapterError(f"X answered only with errors while {what}: {self.api.error_text(response)}",
                               retryable=False)
        return body, parse_rate(response.headers)

    def account_id(self) -> str:
        """The brand's user id (given, or read once from `GET /2/users/me`)."""
        if self._account_id is None:
            self._me()
        assert self._account_id is not None
        return self._account_id

    def _me(self) -> dict[str, Any]:
        body, _ = self._get("/2/users/me", {"user.fields": "username,name"}, "checking the credentials")
        me = body.get("data") if isinstance(body.get("data"), dict) else {}
        user_id = as_id(me.get("id"))
        if user_id is None:
            raise AdapterError("X's /2/users/me answer has no user id", retryable=True)
        self._account_id = user_id
        return me

    def verify(self) -> str:
        me = self._me()
        return f"X account @{me.get('username', '?')} (id {self._account_id})"

    def _stream(self, stream: str) -> tuple[str, dict[str, str], bool]:
        """(url, params, is_dm) of a stream."""
        if stream == "mentions":
            return f"/2/users/{self.account_id()}/mentions", {
                "max_results": str(self.page_limit), "tweet.fields": TWEET_FIELDS, "user.fields": USER_FIELDS,
                "expansions": "author_id,referenced_tweets.id,referenced_tweets.id.author_id"}, False
        if stream == "dms":
            return "/2/dm_events", {
                "max_results": str(self.page_limit), "event_types": "MessageCreate", "dm_event.fields": DM_FIELDS,
                "expansions": "sender_id,referenced_tweets.id", "user.fields": USER_FIELDS,
                "tweet.fields": TWEET_FIELDS}, True
        raise AdapterError(f"X has no stream {stream!r} (streams: mentions, dms)", retryable=False)

    def _parse(self, body: dict[str, Any], dm: bool, above: str | None = None) -> tuple[Page, str | None, bool]:
        """A page of one answer: (page sorted oldest first with cursor = its newest id, that id,
        whether some item was at or below `above`)."""
        includes, account_id = Includes(body), self.account_id()
        items = body.get("data") if isinstance(body.get("data"), list) else []
        messages: list[tuple[tuple[int, str], Inbound]] = []
        skipped: list[Skipped] = partial_errors(body) if "data" in body else []
        top: str | None = None
        reached = False
        for item in items:
            item_id = as_id(item.get("id")) if isinstance(item, dict) else None
            if item_id is not None and above is not None and id_key(item_id) <= id_key(above):
                reached = True
                continue
            result = parse_dm_event(item, includes, account_id) if dm else parse_post(item, includes, account_id)
            top = newest(top, item_id)
            if isinstance(result, Skipped):
                skipped.append(result)
            else:
                messages.append((id_key(item_id or "0"), result))
        messages.sort(key=lambda pair: pair[0])
        return Page([m for _, m in messages], top, skipped), top, reached

    def _pages(self, url: str, params: Mapping[str, str], what: str,
               limit: int = MAX_PAGES) -> Iterator[tuple[dict[str, Any], RateLimit | None, bool]]:
        """Each answer of a paged list, newest first, following `meta.next_token`: (body, rate,
        whether another page follows)."""
        token: str | None = None
        for _ in range(limit):
            body, rate = self._get(url, {**params, **({"pagination_token": token} if token else {})}, what)
            meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
            following = meta.get("next_token") if isinstance(meta.get("next_token"), str) else None
            more = bool(following) and following != token
            yield body, rate, more
            if not more:
                return
            token = following

    def poll(self, cursor: str | None, stream: str = "mentions") -> Iterator[Page]:
        url, params, dm = self._stream(stream)
        what = f"reading {stream}"
        if cursor is None:
            # First poll ever: start from now — the newest page only.
            body, rate = self._get(url, params, what)
            page, top, _ = self._parse(body, dm)
            meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
            top = newest(top, None if dm else as_id(meta.get("newest_id")))
            # Nothing there yet: an id for "now" (a minute early, for clocks that run ahead).
            mark = top or snowflake_at(datetime.now(UTC) - timedelta(minutes=1))
            yield Page(page.messages, mark, page.skipped, rate)
            return
        if not dm:
            params["since_id"] = cursor
        fetched: list[Page] = []
        rate: RateLimit | None = None
        for body, answered, more in self._pages(url, params, what):
            rate = answered or rate
            page, _, reached = self._parse(body, dm, above=cursor)
            if page.messages or page.skipped or not fetched:
                fetched.append(page)
            if reached or not more:
                break
            if rate is not None and rate.remaining == 0:
                # The older pages are out of reach until the window resets: yielding only the newer
                # ones would move the cursor over a gap.
                yield Page([], cursor, rate=rate)
                return
        for page in reversed(fetched):
            cursor = newest(cursor, page.cursor)
            yield Page(page.messages, cursor, page.skipped, rate)

    def backfill(self, since: datetime, stream: str = "mentions") -> Iterator[Page]:
        """Mentions since `since` (`start_time`), or DMs within X's 30 days; newest first."""
        url, params, dm = self._stream(stream)
        since = since if since.tzinfo is not None else since.replace(tzinfo=UTC)
        if dm:
            since = max(since, datetime.now(UTC) - DM_HISTORY + timedelta(minutes=1))
        else:
            params["start_time"] = _x_time(since)
        for body, rate, _ in self._pages(url, params, f"reading older {stream}"):
            page, _, _ = self._parse(body, dm)
            kept = [m for m in page.messages if m.published_at >= since]
            yield Page(kept, None, page.skipped, rate)
            if len(kept) < len(page.messages) or (rate is not None and rate.remaining == 0):
                return

    # -- sending --

    def _private_route(self, message: Outbound) -> str:
        """The DM conversation to write in: the one the message came from, else one with its author."""
        ref = message.reply_ref or ""
        if ref.startswith("dm:") and len(ref) > 3:
            return f"/2/dm_conversations/{ref[3:]}"
        if message.recipient_id:
            return f"/2/dm_conversations/with/{message.recipient_id}"
        raise NotAllowed("X needs the customer's user id to send them a DM, and this reply has none")

    def _target(self, message: Outbound) -> str | None:
        ref = message.reply_ref or ""
        return ref[5:] if ref.startswith("post:") and len(ref) > 5 else message.in_reply_to

    def send(self, message: Outbound) -> SendResult:
        """A public reply (`POST /2/tweets`), or a DM in the customer's conversation."""
        if message.visibility == "private":
            path = self._private_route(message)
            event_id, data = self._write(f"{path}/messages", "sending a direct message", {"text": message.text},
                                         "dm_event_id")
            return self._dm_result(event_id, as_id(data.get("dm_conversation_id")), None, message.text)
        if message.reply_to_kind == "dm":
            raise NotAllowed("a DM cannot be answered in public on X; answer it privately")
        payload: dict[str, Any] = {"text": message.text}
        target = self._target(message)
        if target:
            payload["reply"] = {"in_reply_to_tweet_id": target}
        try:
            post_id, _ = self._write("/2/tweets", "posting a reply", payload, "id")
        except _Duplicate as exc:
            found = self.find_sent(message)
            if found is not None:
                return found
            # The same text to another message of this customer, or a reply X has not listed yet.
            raise CannotVerify(f"{exc}, and no reply with this text to this message shows on X yet: check "
                               "x.com, and if it is not there, reword the reply") from None
        return self._post_result(post_id, None, message.text)

    def _write(self, url: str, what: str, payload: dict[str, Any], key: str) -> tuple[str, dict[str, Any]]:
        """POST, and the new object's id (`data[key]`): an answer without one means X took the
        request but its answer broke on the way, so the reply may be there (`maybe_sent`)."""
        response = self._request("POST", url, what, json=payload)
        body = self.api.json(response, what)
        data = body.get("data") if isinstance(body, dict) and isinstance(body.get("data"), dict) else {}
        new_id = as_id(data.get(key))
        if new_id is None:
            raise AdapterError(f"X took the request but its answer has no {key} while {what}; it will be looked "
                               "for before any retry", retryable=True, maybe_sent=True)
        return new_id, data

    def _post_result(self, post_id: str, created_at: Any, text: str) -> SendResult:
        return SendResult(post_id, f"https://x.com/i/web/status/{post_id}", when(created_at, post_id), text)

    def _dm_result(self, event_id: str, conversation: str | None, created_at: Any, text: str) -> SendResult:
        url = f"https://x.com/messages/{conversation}" if conversation else None
        return SendResult(event_id, url, when(created_at, event_id), text)

    def find_sent(self, message: Outbound) -> SendResult | None:
        """A reply already on X for this outbox entry: among the brand's posts since the message
        (replying to it, same text), or the brand's DMs in the conversation since then."""
        wanted = comparable(message.text)
        since = message.reply_to_at - timedelta(seconds=1) if message.reply_to_at else None
        private = message.visibility == "private"
        if private:
            url = f"{self._private_route(message)}/dm_events"
            params = {"dm_event.fields": DM_FIELDS, "event_types": "MessageCreate", "max_results": "100"}
        else:
            url = f"/2/users/{self.account_id()}/tweets"
            params = {"tweet.fields": "created_at,referenced_tweets,conversation_id,edit_history_tweet_ids",
                      "max_results": "100", "exclude": "retweets"}
            if since is not None:
                params["start_time"] = _x_time(since)
        targets = {t for t in (message.in_reply_to, self._target(message)) if t}
        me = self.account_id()
        for body, _, more in self._pages(url, params, "looking for an already sent reply", limit=10):
            data = body.get("data") if isinstance(body.get("data"), list) else []
            items = [(i, as_id(i.get("id"))) for i in data if isinstance(i, dict) and as_id(i.get("id"))]
            for item, item_id in items:
                text, created = item.get("text"), item.get("created_at")
                if not isinstance(text, str) or comparable(text) != wanted:
                    continue
                if not private and (not targets or references(item).get("replied_to") in targets):
                    return self._post_result(item_id, created, message.text)
                mine = as_id(item.get("sender_id")) == me
                if private and mine and (since is None or when(created, item_id) >= since):
                    return self._dm_result(item_id, as_id(item.get("dm_conversation_id")), created, message.text)
            older = [when(i.get("created_at"), i_id) for i, i_id in items]
            if not more or (since is not None and older and min(older) < since):
                return None
        raise CannotVerify("X shows too many replies by the brand since this message to be sure this one was "
                           "not sent; check the brand's posts and DMs on x.com before sending it again")

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> XAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["DMS", "OAuth1", "XAdapter", "oauth1_signature", "parse_rate", "request_params", "signature_base_string"]
