"""A Bot API server on loopback: `getUpdates` with Telegram's offset semantics and long polling,
`sendMessage`, `getMe`, `deleteWebhook`, and Telegram's error envelopes.

What it enforces, as Telegram does: the token in the path (401 for a wrong token, 404 for a
malformed one); one getUpdates at a time (a newer call ends a waiting one with 409) and none
while a webhook is set (409); an update is forgotten once a call asks for a higher offset, and
updates are kept 24 hours; sendMessage needs chat_id and 1–4096 UTF-16 units of text, finds the
message replied to (or not, with allow_sending_without_reply), the forum topic, and writes
privately only to users who have started the bot (403 otherwise); a group upgraded to a
supergroup answers 400 with `migrate_to_chat_id`. Flood control comes as injected 429 faults
with Telegram's body (`parameters.retry_after`, no Retry-After header).

Customers' messages are built from the real Message shapes logged by OpenIntegrations (copies in
tests/fixtures/telegram; the whole set is in the shared corpus) (private chat and forum
supergroup layouts, photo with caption, topic messages that "reply" to the topic's creation
message), with the corpus's real texts and names plus real hostile strings, fresh ids and times.
"""

from __future__ import annotations

import copy
import json
import random
import re
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, NamedTuple

import corpus
from fakes.server import LoopbackServer, Reply, Seen
from socialdesk.adapters.telegram import TelegramAdapter
from socialdesk.adapters.values import utf16_len

FOLDER = "Bayselonarrend__OpenIntegrations"
TELEGRAM = "docs/ru/results/Telegram"
TOKEN = "6129457865:AAFakeLoopbackTokenForSocialdeskTests0"  # <bot id>:<35 characters>, like @BotFather's
TOKEN_SHAPE = re.compile(r"\d+:[\w-]{30,}")
KEEP_SECONDS = 24 * 3600
DEFAULT_UPDATES = ("message", "edited_message", "channel_post", "edited_channel_post")


class Sent(NamedTuple):
    in_reply_to: str
    visibility: str
    text: str


def envelope(code: int, description: str, **parameters: Any) -> Reply:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return Reply(code, body)


def flood() -> Reply:
    """Telegram's flood control answer: the wait is in the body only."""
    return envelope(429, "Too Many Requests: retry after 1", retry_after=1)


def recorded() -> Path:
    """The shared corpus's folder of logged Bot API answers (all of them)."""
    return corpus.platform_dir(FOLDER) / TELEGRAM


def load(name: str, folder: Path | None = None) -> Any:
    """One logged Bot API answer (leading whitespace and all), from tests/fixtures/telegram unless
    another folder is given."""
    return json.loads(((folder or corpus.fixture_dir("telegram")) / name).read_text("utf-8"))


def logged_messages(folder: Path | None = None) -> list[tuple[str, dict[str, Any]]]:
    """Every Message object in the logs (tests/fixtures/telegram unless another folder is given),
    with where it was found, nested ones included (reply_to_message, pinned_message)."""
    found: list[tuple[str, dict[str, Any]]] = []

    def walk(obj: Any, where: str) -> None:
        if isinstance(obj, dict):
            if "message_id" in obj and "chat" in obj and "date" in obj and "type" not in obj:  # not a MessageOrigin
                found.append((where, obj))
            for key, value in obj.items():
                walk(value, f"{where}.{key}")
        elif isinstance(obj, list):
            for i, value in enumerate(obj):
                walk(value, f"{where}[{i}]")

    for path in sorted((folder or corpus.fixture_dir("telegram")).glob("*.log")):
        walk(json.loads(path.read_text("utf-8")), path.name)
    return found


def as_customer(message: dict[str, Any]) -> dict[str, Any]:
    """A bot-side private-chat message as the customer's copy: sent by the chat's user."""
    chat = message["chat"]
    out = copy.deepcopy(message)
    out["from"] = {"id": chat["id"], "is_bot": False,
                   **{k: chat[k] for k in ("first_name", "last_name", "username") if k in chat}}
    return out


class FakeTelegram:
    kind = "telegram"

    def __init__(self, *, faults: float = 0.0, seed: int = 0, slow_seconds: float = 1.0,
                 noise: float = 0.15, token: str = TOKEN):
        self.token = token
        self.noise = noise
        self.server = LoopbackServer(self._handle, faults=faults, seed=seed, slow_seconds=slow_seconds,
                                     rate_limited=flood)
        self.base_url = self.server.base_url
        self.faults_injected: Counter[str] = self.server.faults_injected
        self.webhook_url = ""
        self.allowed_updates: tuple[str, ...] = DEFAULT_UPDATES
        self.rng = random.Random(seed)
        self.updates: list[dict[str, Any]] = []
        self.chats: dict[str, dict[str, Any]] = {}
        self.messages: dict[tuple[str, int], dict[str, Any]] = {}
        self.started: set[str] = set()  # users with a private chat with the bot
        self.blocked: set[str] = set()
        self.migrated: dict[str, str] = {}
        self._expected: list[str] = []
        self._customer_messages: list[dict[str, Any]] = []
        self._sent: list[Sent] = []
        self._customers: dict[str, dict[str, Any]] = {}
        self._next_update = 291366000  # the corpus's own numbering
        self._next_message: dict[str, int] = {}
        self._next_user = 7_100_000_000
        self._poll_generation = 0
        self._stopped = False
        self._cond = threading.Condition()
        self._seed_shapes()

    # -- life --

    def start(self) -> FakeTelegram:
        self.server.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self.server.stop()

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def adapter(self, **overrides: Any) -> TelegramAdapter:
        """Wired as the app wires it; short polling (long_poll=0) unless asked, so a quiet poll
        does not wait: pass long_poll= to exercise long polling."""
        options: dict[str, Any] = {"bot_token": self.token, "base_url": self.base_url, "long_poll": 0, **overrides}
        return TelegramAdapter(options.pop("bot_token"), **options)

    # -- the contract --

    def expected_ids(self) -> set[str]:
        return set(self._expected)

    def sent(self) -> list[Sent]:
        with self._cond:
            return list(self._sent)

    def generate(self, n: int, *, private_share: float = 0.25) -> None:
        """n customer messages: DMs (text, or a photo with a caption) and, in groups, mentions of
        the bot in a forum topic (sometimes after an emoji) and replies to the bot's messages.
        With `noise`, service messages and edits of earlier messages come in between."""
        for _ in range(n):
            if self.rng.random() < private_share:
                message = self._dm()
            elif self.rng.random() < 0.5:
                message = self._topic_mention()
            else:
                message = self._reply_to_bot()
            self._expected.append(f"{message['chat']['id']}:{message['message_id']}")
            self._customer_messages.append(message)
            self.push({"message": message})
            if self.rng.random() < self.noise:
                self.push(self._noise())

    def push(self, update: dict[str, Any]) -> int:
        """Queue one update (its id is given here); types the bot did not ask for never queue."""
        with self._cond:
            kind = next(k for k in update if k != "update_id")
            if kind not in self.allowed_updates:
                return 0
            update_id = self._next_update
            self._next_update += 1
            self.updates.append({"update_id": update_id, **update})
            self._cond.notify_all()
            return update_id

    # -- building messages from the corpus's shapes --

    def _seed_shapes(self) -> None:
        updates = load("ПолучитьОбновления.log")["result"]
        sent = load("ОтправитьТекстовоеСообщение.log")["result"]
        self.bot_user = dict(sent["from"])
        self.bot_user["id"] = int(self.token.split(":")[0])
        self.username = self.bot_user["username"]
        self.photo = load("ОтправитьКартинку.log")["result"]
        self.private_chat = sent["chat"]
        self.service_shapes = [u["message"] for u in updates if "message" in u]
        topic = next(m for m in self.service_shapes if "forum_topic_created" in m)
        self.texts = [m.get("text") or m.get("caption") for _, m in logged_messages()
                      if m.get("text") or m.get("caption")]
        self.texts += [topic["forum_topic_created"]["name"], load("ОтправитьОпрос.log")["result"]["poll"]["question"]]
        self.hostile = corpus.naughty_strings()
        contact = load("ОтправитьКонтакт.log")["result"]["contact"]
        self.people = [{k: self.private_chat[k] for k in ("first_name", "last_name", "username")},
                       {"first_name": contact["first_name"], "last_name": contact["last_name"]}]
        # A forum supergroup (the corpus's "Тест") with the bot's topic, and a public supergroup.
        self.forum = self._chat({**topic["chat"], "id": -1001971186208})
        self.group = self._chat({"id": -1001893407334, "title": self.forum["title"] + " 2",
                                 "username": "sicheegroup", "type": "supergroup"})
        self.topic = self._new_message(self.forum, {**topic, "from": self.bot_user})
        self.topic["message_thread_id"] = self.topic["message_id"]

    def _chat(self, chat: dict[str, Any]) -> dict[str, Any]:
        self.chats[str(chat["id"])] = chat
        return chat

    def _new_message(self, chat: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        with self._cond:
            key = str(chat["id"])
            message_id = self._next_message.get(key, 2400 if key.startswith("-") else 16900)
            self._next_message[key] = message_id + 1
            message = {**fields, "message_id": message_id, "chat": chat, "date": int(time.time())}
            self.messages[(key, message_id)] = message
            return message

    def _customer(self, *, started: bool) -> dict[str, Any]:
        if self._customers and self.rng.random() < 0.3:
            user = self.rng.choice(list(self._customers.values()))
        else:
            self._next_user += self.rng.randint(1, 999)
            person = dict(self.rng.choice(self.people))
            if self.rng.random() < 0.1:
                person["first_name"] = self.rng.choice(self.hostile)[:64]
            if "username" in person:
                person["username"] = f"{person['username']}{len(self._customers)}"
            user = {"id": self._next_user, "is_bot": False, **person,
                    "language_code": self.rng.choice(["ru", "en", "uk"])}
            self._customers[str(user["id"])] = user
        if started:
            self.started.add(str(user["id"]))
        return user

    def _text(self) -> str:
        return self.rng.choice(self.hostile if self.rng.random() < 0.3 else self.texts)

    def _dm(self) -> dict[str, Any]:
        user = self._customer(started=True)
        chat = self._chat({"id": user["id"], **{k: user[k] for k in ("first_name", "last_name", "username")
                                                 if k in user}, "type": "private"})
        if self.rng.random() < 0.2:
            fields = {"from": user, "photo": copy.deepcopy(self.photo["photo"]), "caption": self._text()}
        else:
            fields = {"from": user, "text": self._text()}
        return self._new_message(chat, fields)

    def _topic_mention(self) -> dict[str, Any]:
        user = self._customer(started=self.rng.random() < 0.5)
        before = self.rng.choice(["", "👋🏽 ", "Здравствуйте, ", "🇺🇦👨‍👩‍👧 "])
        handle = "@" + self.username
        text = f"{before}{handle} {self._text()}"
        return self._new_message(self.forum, {
            "from": user, "message_thread_id": self.topic["message_id"], "is_topic_message": True,
            "reply_to_message": self.topic, "text": text,
            "entities": [{"offset": utf16_len(before), "length": utf16_len(handle), "type": "mention"}]})

    def _reply_to_bot(self) -> dict[str, Any]:
        user = self._customer(started=self.rng.random() < 0.5)
        ours = [m for (chat, _), m in self.messages.items()
                if chat == str(self.group["id"]) and m.get("from", {}).get("id") == self.bot_user["id"]]
        if not ours or self.rng.random() < 0.3:
            ours.append(self._new_message(self.group, {"from": self.bot_user, "text": self.rng.choice(self.texts)}))
        return self._new_message(self.group, {"from": user, "reply_to_message": self.rng.choice(ours),
                                              "text": self._text()})

    def _noise(self) -> dict[str, Any]:
        if self._customer_messages and self.rng.random() < 0.5:
            edited = copy.deepcopy(self.rng.choice(self._customer_messages[-20:]))
            key = "text" if "text" in edited else "caption"
            edited[key] = edited[key] + " (edit)"
            edited["edit_date"] = int(time.time())
            self.messages[(str(edited["chat"]["id"]), edited["message_id"])] = edited
            return {"edited_message": edited}
        shape = copy.deepcopy(self.rng.choice(self.service_shapes))
        shape.pop("message_id", None)
        return {"message": self._new_message(self.forum, {**shape, "chat": self.forum})}

    # -- the Bot API --

    def _handle(self, seen: Seen) -> Reply:
        match = re.fullmatch(r"/bot([^/]*)/([A-Za-z]+)", seen.path)
        if match is None:
            return envelope(404, "Not Found")
        token, method = match.groups()
        if token != self.token:
            return envelope(401, "Unauthorized") if TOKEN_SHAPE.fullmatch(token) else envelope(404, "Not Found")
        params = self._params(seen)
        handler = {"getme": self._get_me, "getupdates": self._get_updates, "sendmessage": self._send_message,
                   "deletewebhook": self._delete_webhook}.get(method.lower())
        return handler(params) if handler else envelope(404, "Not Found")

    @staticmethod
    def _params(seen: Seen) -> dict[str, Any]:
        """Query string, form or JSON body, as Telegram accepts them all."""
        params: dict[str, Any] = dict(seen.query)
        content_type = seen.headers.get("content-type", "")
        if seen.body and "json" in content_type:
            body = seen.json()
            if isinstance(body, dict):
                params.update(body)
        elif seen.body and "urlencoded" in content_type:
            params.update(seen.form())
        return params

    def _ok(self, result: Any) -> Reply:
        return Reply(200, {"ok": True, "result": result})

    def _get_me(self, params: dict[str, Any]) -> Reply:
        return self._ok({**self.bot_user, "can_join_groups": True, "can_read_all_group_messages": False,
                         "supports_inline_queries": False})

    def _delete_webhook(self, params: dict[str, Any]) -> Reply:
        was, self.webhook_url = self.webhook_url, ""
        return Reply(200, {"ok": True, "result": True,
                           "description": "Webhook was deleted" if was else "Webhook is already deleted"})

    def _get_updates(self, params: dict[str, Any]) -> Reply:
        try:
            offset = int(params.get("offset") or 0)
            limit = min(max(int(params.get("limit") or 100), 1), 100)
            timeout = max(int(params.get("timeout") or 0), 0)
        except ValueError:
            return envelope(400, "Bad Request: wrong parameter value")
        allowed = params.get("allowed_updates")
        if allowed:
            wanted = json.loads(allowed) if isinstance(allowed, str) else allowed
            self.allowed_updates = tuple(wanted) or DEFAULT_UPDATES  # applies to updates from now on
        with self._cond:
            if self.webhook_url:
                return envelope(409, "Conflict: can't use getUpdates method while webhook is active; "
                                     "use deleteWebhook to delete the webhook first")
            self._poll_generation += 1
            generation = self._poll_generation
            self._cond.notify_all()  # a waiting getUpdates is ended by this one
            deadline = time.monotonic() + timeout
            while True:
                found = self._take(offset, limit)
                if found or timeout == 0 or self._stopped:
                    return self._ok(found)
                left = deadline - time.monotonic()
                if left <= 0:
                    return self._ok([])
                self._cond.wait(left)
                if self._poll_generation != generation:
                    return envelope(409, "Conflict: terminated by other getUpdates request; "
                                         "make sure that only one bot instance is running")

    def _take(self, offset: int, limit: int) -> list[dict[str, Any]]:
        """Telegram's queue: a positive offset forgets every update below it (an offset beyond the
        newest reads from the head), a negative one keeps the last -offset; updates older than
        24 hours are gone."""
        now = time.time()
        self.updates = [u for u in self.updates if _date(u) > now - KEEP_SECONDS]
        if offset > 0 and offset <= self._next_update:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        elif offset < 0:
            self.updates = self.updates[offset:]
        return copy.deepcopy(self.updates[:limit])

    def _send_message(self, params: dict[str, Any]) -> Reply:
        chat_id = str(params.get("chat_id") or "")
        text = params.get("text")
        if not chat_id:
            return envelope(400, "Bad Request: chat_id is empty")
        if not isinstance(text, str) or not text.strip():
            return envelope(400, "Bad Request: message text is empty")
        if utf16_len(text) > 4096:
            return envelope(400, "Bad Request: message is too long")
        if chat_id in self.migrated:
            return envelope(400, "Bad Request: group chat was upgraded to a supergroup chat",
                            migrate_to_chat_id=int(self.migrated[chat_id]))
        with self._cond:
            chat = self.chats.get(chat_id)
            if chat is None or chat["type"] == "private":
                if chat_id in self.blocked:
                    return envelope(403, "Forbidden: bot was blocked by the user")
                if chat_id not in self.started:
                    if chat_id in self._customers:
                        return envelope(403, "Forbidden: bot can't initiate conversation with a user")
                    return envelope(400, "Bad Request: chat not found")
                if chat is None:
                    user = self._customers[chat_id]
                    chat = self._chat({"id": user["id"], "first_name": user.get("first_name", ""),
                                       "type": "private"})
            reply = params.get("reply_parameters") or {}
            if isinstance(reply, str):
                reply = json.loads(reply)
            if "reply_to_message_id" in params:
                reply = {"message_id": params["reply_to_message_id"]}
            replied = None
            if reply:
                where = str(reply.get("chat_id") or chat_id)
                replied = self.messages.get((where, int(reply.get("message_id") or 0)))
                if replied is None and not reply.get("allow_sending_without_reply"):
                    return envelope(400, "Bad Request: message to be replied not found")
            fields: dict[str, Any] = {"from": self.bot_user, "text": text}
            thread = params.get("message_thread_id")
            if thread is None and replied is not None and str(replied["chat"]["id"]) == chat_id:
                thread = replied.get("message_thread_id") if replied.get("is_topic_message") else None
            if thread is not None:
                if not chat.get("is_forum") or (chat_id, int(thread)) not in self.messages:
                    return envelope(400, "Bad Request: message thread not found")
                fields.update(message_thread_id=int(thread), is_topic_message=True)
            if replied is not None:
                fields["reply_to_message"] = {k: v for k, v in replied.items() if k != "reply_to_message"}
            message = self._new_message(chat, fields)
            in_reply_to = f"{replied['chat']['id']}:{replied['message_id']}" if replied else ""
            self._sent.append(Sent(in_reply_to, "private" if chat["type"] == "private" else "public", text))
            return self._ok(message)


def _date(update: dict[str, Any]) -> int:
    message = next((v for k, v in update.items() if k != "update_id" and isinstance(v, dict)), {})
    return int(message.get("edit_date") or message.get("date") or 0)
