"""Telegram: a bot's updates in, `sendMessage` out (Bot API over HTTPS, one bot token).

Polling is `getUpdates` long polling on one stream, "updates". The cursor is the next update id
(last update_id + 1, as a string); Telegram forgets every update below the offset of a later
call, so an update is only confirmed once the poll *after* the one that stored it asks for more.
One request per `poll` call: the poller reads ahead of what it has stored, and a read-ahead
`getUpdates` would confirm (delete on Telegram) a page that was never stored.

The first poll ever takes what is pending instead of starting "from now": Telegram keeps
undelivered updates for 24 hours only, they are addressed to this bot, and starting from now
would confirm — and so throw away — the customers' messages that arrived while the channel was
being set up. Bots cannot read history (no backfill) and are not told about deletions.

Sending has no idempotency key on Telegram and a bot cannot read back what it sent, so a send
whose outcome is unknown (timeout, reset, 5xx after the request went out) is never retried: it
raises `CannotVerify` telling the agent where to look.

This module only imports the standard library, httpx and `socialdesk.adapters`.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from socialdesk.adapters.base import (
    AdapterError,
    AuthError,
    Capabilities,
    CannotVerify,
    NotAllowed,
    Outbound,
    Page,
    RateLimited,
    SendResult,
    Skipped,
    Stream,
)
from socialdesk.adapters.http import JsonApi, retry_after
from socialdesk.adapters.values import as_id, parse_epoch, utf16_len
from socialdesk.adapters.telegram_payloads import (  # re-exported: the parsing half of this module's API
    Bot,
    message_url,
    parse_message,
    parse_update,
    read_ref,
    update_id,
    utf16_slice,
)

__all__ = ["Bot", "TelegramAdapter", "classify", "parse_message", "parse_update", "utf16_slice"]

UPDATES = Stream("updates")
ALLOWED_UPDATES = json.dumps(["message", "edited_message", "channel_post", "edited_channel_post"])
MAX_LENGTH = 4096
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)

_FORBIDDEN_HINTS = (
    ("can't initiate conversation", "the customer has never opened a private chat with this bot, and Telegram "
     "lets a bot write privately only to people who have: answer them in the group instead, or ask them to "
     "open the bot and press Start"),
    ("blocked by the user", "the customer has blocked this bot, so it cannot write to them any more"),
    ("deactivated", "the customer's Telegram account has been deleted"),
    ("kicked", "the bot was removed from this chat; add it back to answer there"),
    ("not a member", "the bot is not a member of this chat; add it back to answer there"),
    ("bots can't send messages to bots", "Telegram does not let a bot write to another bot"),
)


def classify(response: httpx.Response, body: Any) -> AdapterError | None:
    """Telegram's error envelope `{"ok": false, "error_code", "description", "parameters"}` as the
    right AdapterError; None leaves other answers (a proxy's 502 page) to JsonApi."""
    if not isinstance(body, dict) or body.get("ok") is not False:
        return None
    code = body.get("error_code") if isinstance(body.get("error_code"), int) else response.status_code
    description = body.get("description") if isinstance(body.get("description"), str) else ""
    said = f"{code} {description}".strip()
    parameters = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
    wait = parameters.get("retry_after")
    error: AdapterError
    if code == 429 or isinstance(wait, (int, float)) and not isinstance(wait, bool):
        seconds = float(wait) if isinstance(wait, (int, float)) else retry_after(response.headers)
        error = RateLimited(f"Telegram flood control ({said}); wait before trying again", retry_after=seconds)
    elif code == 401:
        error = AuthError(f"Telegram: the bot token was refused ({said}); get the current token from "
                          "@BotFather and store it with `socialdesk auth set`")
    elif code == 404 and description.lower() in ("not found", ""):
        error = AuthError(f"Telegram: the bot token was refused ({said}: Telegram's answer to a malformed "
                          "token; also check that base_url is the Bot API server)")
    elif code == 409:
        if "webhook" in description.lower():
            hint = ("a webhook is set for this bot; delete it (Bot API method deleteWebhook) so that "
                    "socialdesk can poll")
        else:
            hint = ("another program is reading this bot's updates; stop it: only one process may "
                    "call getUpdates per bot token")
        error = AdapterError(f"Telegram refused to deliver updates ({said}): {hint}", retryable=False)
    elif code == 403:
        hint = next((h for key, h in _FORBIDDEN_HINTS if key in description.lower()), "")
        error = NotAllowed(f"Telegram refused ({said})" + (f": {hint}" if hint else ""))
    elif "migrate_to_chat_id" in parameters:
        error = AdapterError(f"Telegram: {said} (new chat id {parameters['migrate_to_chat_id']})", retryable=False)
    elif "thread not found" in description.lower() or "topic_closed" in description.lower():
        error = NotAllowed(f"Telegram refused ({said}): the forum topic is closed or deleted; reopen it, "
                           "or answer the customer privately")
    elif 400 <= code < 500:
        error = AdapterError(f"Telegram rejected the request ({said})", retryable=False)
    else:
        return None
    error.telegram = {"code": code, "description": description, "parameters": parameters}  # type: ignore[attr-defined]
    return error


class TelegramAdapter:
    kind: ClassVar[str] = "telegram"
    capabilities = Capabilities(public_reply=True, private_reply=True, dm=True, email=False,
                                max_length=MAX_LENGTH, length_counting="utf16", backfill=False,
                                private_needs_invite=True)
    streams = (UPDATES,)

    def __init__(self, bot_token: str, *, base_url: str = "https://api.telegram.org", long_poll: int = 20,
                 page_limit: int = 100, timeout: float = 10.0, transport: httpx.BaseTransport | None = None):
        token = bot_token.strip()
        self.api = JsonApi("Telegram", base_url, timeout=timeout, transport=transport,
                           secrets=[token, quote(token, safe="")], classify=classify,
                           auth_hint="get the current token from @BotFather and store it with `socialdesk auth set`")
        self.base_url = self.api.base_url
        self.long_poll = max(0, int(long_poll))
        self.page_limit = max(1, min(int(page_limit), 100))
        self.timeout = timeout
        self._prefix = f"/bot{token}/"
        self._bot: Bot | None = None
        self._sent: OrderedDict[str, SendResult] = OrderedDict()
        self._lock = threading.Lock()
        self._closed = threading.Event()

    # -- calls --

    def _call(self, method: str, what: str, *, params: dict[str, Any] | None = None,
              timeout: httpx.Timeout | None = None) -> Any:
        """`result` of one Bot API read; `{"ok": false}` (even with HTTP 200) raises."""
        extra: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
        return self._result(self.api.object("GET", self._prefix + method, what, params=params, **extra), what)

    def _result(self, body: dict[str, Any], what: str) -> Any:
        if body.get("ok") is not True:
            error = classify(httpx.Response(200), {**body, "ok": False}) or AdapterError(
                f"Telegram answered without ok=true while {what}", retryable=True)
            error.args = (self.api.redact(str(error)),)
            raise error
        if "result" not in body:
            raise AdapterError(f"Telegram's answer has no result while {what}", retryable=True)
        return body["result"]

    def bot(self) -> Bot:
        """Who this bot is (getMe, cached): needed to tell a mention of it from group chatter."""
        if self._bot is None:
            self._bot = self._bot_from(self._call("getMe", "checking the bot token"))
        return self._bot

    @staticmethod
    def _bot_from(me: Any) -> Bot:
        bot_id = as_id(me.get("id")) if isinstance(me, dict) else None
        username = me.get("username") if isinstance(me, dict) else None
        if bot_id is None or not isinstance(username, str) or not username:
            raise AdapterError("Telegram's getMe answer has no bot id or username", retryable=True)
        return Bot(bot_id, username)

    def verify(self) -> str:
        me = self._call("getMe", "checking the bot token")
        self._bot = self._bot_from(me)
        groups = " (reads all group messages)" if me.get("can_read_all_group_messages") is True else ""
        return f"Telegram bot @{self._bot.username} (id {self._bot.id}){groups}"

    # -- polling --

    def poll(self, cursor: str | None, stream: str = "updates") -> Iterator[Page]:
        """One page of updates after `cursor` (long polling up to `long_poll` seconds when
        nothing is pending). With no cursor, the updates Telegram still holds for the bot."""
        if stream != UPDATES.name:
            raise AdapterError(f"Telegram has one stream, 'updates' (asked for {stream!r})", retryable=False)
        offset = _offset(cursor)
        bot = self.bot()
        params: dict[str, Any] = {"timeout": self.long_poll, "limit": self.page_limit,
                                  "allowed_updates": ALLOWED_UPDATES}
        if offset is not None:
            params["offset"] = offset
        # The read timeout must outlast the long poll, or every quiet poll would end in an error.
        timeout = httpx.Timeout(self.timeout, read=self.timeout + self.long_poll)
        what = f"reading updates (long poll of {self.long_poll}s)"
        updates = self._until_closed(lambda: self._call("getUpdates", what, params=params, timeout=timeout))
        if self._closed.is_set():
            return  # closed while waiting: the updates stay with Telegram for the next start
        if not isinstance(updates, list):
            raise AdapterError(f"Telegram sent a JSON {type(updates).__name__} where a list of updates was "
                               f"expected while {what}", retryable=True)
        yield self._page(updates, bot, cursor)

    def _until_closed(self, call: Callable[[], Any]) -> Any:
        """Run a long poll in a thread of its own, so that `close` does not wait up to
        `long_poll` seconds for it (a blocked read cannot be woken from another thread).
        Abandoning its answer loses nothing: an update stays with Telegram until a later
        offset confirms it."""
        if self.long_poll == 0:
            return call()
        outcome: dict[str, Any] = {}
        done = threading.Event()

        def run() -> None:
            try:
                outcome["value"] = call()
            except BaseException as exc:  # handed to the caller below
                outcome["error"] = exc
            finally:
                done.set()

        threading.Thread(target=run, name="telegram-long-poll", daemon=True).start()
        while not done.wait(0.1):
            if self._closed.is_set():
                return None
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    def _page(self, updates: list[Any], bot: Bot, cursor: str | None) -> Page:
        messages, skipped, ids = [], [], []
        for update in updates:
            uid = update_id(update)
            if uid is not None:
                ids.append(uid)
            result = parse_update(update, bot)
            (skipped if isinstance(result, Skipped) else messages).append(result)
        # The highest id returned, not max(cursor, …): after a week of silence Telegram may
        # renumber updates below an old offset and then serves them from the head of its queue.
        next_cursor = str(max(ids) + 1) if ids else cursor
        return Page(messages=messages, cursor=next_cursor, skipped=skipped)

    def backfill(self, since: datetime, stream: str = "updates") -> Iterator[Page]:
        raise NotAllowed("Telegram bots cannot read chat history: a bot only receives the updates sent to it "
                         "(kept by Telegram for 24 hours), so there is nothing older to fetch")

    # -- sending --

    def send(self, message: Outbound) -> SendResult:
        text = message.text
        if not text.strip():
            raise NotAllowed("Telegram does not send an empty message")
        if utf16_len(text) > MAX_LENGTH:
            raise NotAllowed(f"the reply is {utf16_len(text)} UTF-16 units long; Telegram's limit is {MAX_LENGTH}: "
                             "shorten it or split it in two")
        ref = read_ref(message.reply_ref, message.in_reply_to)
        if not ref:
            raise NotAllowed("cannot tell which Telegram chat this reply goes to (no reply reference and no "
                             "'{chat_id}:{message_id}' id to answer)")
        payload: dict[str, Any] = {"text": text}
        reply_to = {"message_id": int(ref["message"]), "allow_sending_without_reply": True}
        if message.visibility == "private" and not ref.get("private"):
            user = message.recipient_id or ref.get("user")
            if not user:
                raise NotAllowed("cannot answer privately: the customer's Telegram user id is unknown")
            # A private chat's id is the user's id; quote the group message so they see what is answered.
            payload.update(chat_id=user, reply_parameters={**reply_to, "chat_id": ref["chat"]})
        else:
            payload.update(chat_id=ref["chat"], reply_parameters=reply_to)
            if ref.get("thread"):
                payload["message_thread_id"] = int(ref["thread"])
        result = self._send(message, payload, ref)
        with self._lock:
            self._sent[message.idempotency_key] = result
            while len(self._sent) > 1000:
                self._sent.popitem(last=False)
        return result

    def _send(self, message: Outbound, payload: dict[str, Any], ref: dict[str, Any]) -> SendResult:
        what = "sending a reply"
        for _ in range(2):  # a second time only when a group became a supergroup (new chat id)
            try:
                response = self.api.request("POST", self._prefix + "sendMessage", what, json=payload)
            except AdapterError as exc:
                moved = getattr(exc, "telegram", {}).get("parameters", {}).get("migrate_to_chat_id")
                if moved is not None and as_id(moved):
                    payload["chat_id"] = as_id(moved)
                    payload.pop("message_thread_id", None)
                    continue
                if _outcome_unknown(exc):
                    raise CannotVerify(self._unknown(message, ref, f"the request failed after it was sent: {exc}")) \
                        from None
                raise
            try:
                body = self.api.json(response, what)
            except AdapterError:
                body = None  # HTTP 200 with a cut or garbled body: Telegram did send it
            if isinstance(body, dict) and body.get("ok") is False:
                self._result(body, what)  # raises: Telegram said no
            sent = body.get("result") if isinstance(body, dict) else None
            return self._send_result(sent, message, payload)
        raise AdapterError("Telegram moved the chat twice while sending; try again", retryable=True)

    def _send_result(self, sent: Any, message: Outbound, payload: dict[str, Any]) -> SendResult:
        chat_id = str(payload["chat_id"])
        sent_id = as_id(sent.get("message_id")) if isinstance(sent, dict) else None
        if sent_id is None:
            # Accepted, but the answer was cut or garbled: an id that is stable for this outbox
            # entry, so a retry of the bookkeeping never looks like a second message.
            digest = hashlib.sha256(message.idempotency_key.encode("utf-8")).hexdigest()[:16]
            return SendResult(platform_id=f"{chat_id}:sent-{digest}", url=None, sent_at=datetime.now(UTC),
                              text=message.text)
        chat = sent.get("chat") if isinstance(sent.get("chat"), dict) else {"id": chat_id}
        chat_id = as_id(chat.get("id")) or chat_id
        return SendResult(
            platform_id=f"{chat_id}:{sent_id}",
            url=message_url(chat, sent_id) if chat.get("type") != "private" else None,
            sent_at=parse_epoch(sent.get("date")) or datetime.now(UTC),
            text=message.text,
        )

    @staticmethod
    def _unknown(message: Outbound, ref: dict[str, Any], why: str) -> str:
        if message.visibility == "private" or ref.get("private"):
            user = ref.get("chat") if ref.get("private") else (message.recipient_id or ref.get("user"))
            where = f"the private chat with {message.recipient or f'user {user}'}"
        else:
            title = ref.get("title")
            where = f"the group «{title}»" if title else f"the group chat {ref.get('chat')}"
            if ref.get("thread"):
                where += " (in the forum topic of the message answered)"
        start = message.text[:60] + ("…" if len(message.text) > 60 else "")
        return (f"Telegram may or may not have posted this reply ({why}). Telegram gives bots no way to read "
                f"back what they sent: open {where} in Telegram and look for the reply beginning "
                f"“{start}”; if it is not there, send it again by hand.")

    def find_sent(self, message: Outbound) -> SendResult | None:
        """A reply this process saw Telegram accept; otherwise CannotVerify, since a bot can neither
        search nor list the messages it sent."""
        with self._lock:
            known = self._sent.get(message.idempotency_key)
        if known is not None:
            return known
        raise CannotVerify(self._unknown(message, read_ref(message.reply_ref, message.in_reply_to),
                                         "an earlier attempt was interrupted"))

    def close(self) -> None:
        self._closed.set()
        self.api.close()

    def __enter__(self) -> TelegramAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _offset(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        return int(cursor.strip())
    except ValueError:
        raise AdapterError(f"the stored Telegram cursor {cursor[:40]!r} is not an update id; reset the "
                           "channel's cursor", retryable=False) from None


def _outcome_unknown(exc: AdapterError) -> bool:
    """Whether a failed send may still have been posted: the connection broke after the request
    went out, or a server error or timeout came back (retryable, but not a rate limit). A refused
    connection, a rate limit and every 4xx mean it was not."""
    cause = exc.__context__
    if isinstance(cause, httpx.HTTPError):
        return not isinstance(cause, _NOT_SENT)
    return exc.retryable and not isinstance(exc, RateLimited)
