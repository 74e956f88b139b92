"""Telegram Bot API payloads to normalised messages: Update and Message objects to `Inbound` (or
`Skipped` with the reason), UTF-16 entity slicing, and the reply reference `send` reads back.
Pure: no I/O, never raises on a payload.

What counts as a customer message: everything in a private chat with the bot; in groups only
what is addressed to the bot (a mention, a command naming it, a reply to one of its messages) or
a comment on the brand's channel post in its discussion group. Channel posts are the channel's
own broadcasts and service messages are chat housekeeping: both are skipped with a reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple

from socialdesk.adapters.base import Contact, Inbound, Skipped
from socialdesk.adapters.values import as_id, json_object, parse_epoch

MESSAGE_UPDATES = ("message", "edited_message", "channel_post", "edited_channel_post")

# Message keys that make it a service message (chat housekeeping, not something a person wrote).
SERVICE_KEYS = (
    "new_chat_members", "left_chat_member", "new_chat_title", "new_chat_photo", "delete_chat_photo",
    "group_chat_created", "supergroup_chat_created", "channel_chat_created", "message_auto_delete_timer_changed",
    "migrate_to_chat_id", "migrate_from_chat_id", "pinned_message", "successful_payment", "refunded_payment",
    "users_shared", "chat_shared", "connected_website", "write_access_allowed", "proximity_alert_triggered",
    "boost_added", "chat_background_set", "forum_topic_created", "forum_topic_edited", "forum_topic_closed",
    "forum_topic_reopened", "general_forum_topic_hidden", "general_forum_topic_unhidden", "giveaway_created",
    "giveaway_completed", "video_chat_scheduled", "video_chat_started", "video_chat_ended",
    "video_chat_participants_invited", "web_app_data", "passport_data", "invoice",
)


class Bot(NamedTuple):
    """The bot the updates are addressed to (from getMe): who "mentions the bot" means."""

    id: str
    username: str


class _Skip(Exception):
    pass


# --- text ------------------------------------------------------------------------------------------




def utf16_slice(text: str, offset: Any, length: Any) -> str:
    """The part of `text` an entity covers (offset and length in UTF-16 code units)."""
    if not isinstance(offset, int) or not isinstance(length, int) or offset < 0 or length <= 0:
        return ""
    units = text.encode("utf-16-le")
    return units[2 * offset: 2 * (offset + length)].decode("utf-16-le", "replace")


def _name(person: Mapping[str, Any]) -> str:
    parts = [person.get("first_name"), person.get("last_name")]
    return " ".join(p for p in parts if isinstance(p, str) and p).strip()


def _field(obj: Any, key: str) -> str:
    value = obj.get(key) if isinstance(obj, dict) else None
    return str(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else ""


def _media(message: Mapping[str, Any]) -> str | None:
    """A short, literal description of what a message carries besides text, or None."""
    if "photo" in message:
        return "photo"
    if "document" in message and "animation" not in message:
        name = _field(message["document"], "file_name")
        return f"document: {name}" if name else "document"
    if "sticker" in message:
        return f"sticker {_field(message['sticker'], 'emoji')}".rstrip()
    if "contact" in message:
        contact = message["contact"]
        who = _name(contact) if isinstance(contact, dict) else ""
        return ", ".join(p for p in ("contact: " + who if who else "contact", _field(contact, "phone_number")) if p)
    if "venue" in message:
        return f"venue: {_field(message['venue'], 'title')} {_field(message['venue'], 'address')}".strip()
    if "location" in message:
        return f"location: {_field(message['location'], 'latitude')}, {_field(message['location'], 'longitude')}"
    if "poll" in message:
        return f"poll: {_field(message['poll'], 'question')}"
    if "dice" in message:
        return f"dice {_field(message['dice'], 'emoji')} {_field(message['dice'], 'value')}"
    for key, label in (("animation", "GIF"), ("video", "video"), ("video_note", "video message"),
                       ("voice", "voice message"), ("audio", "audio"), ("story", "story"), ("game", "game")):
        if key in message:
            return label
    return None


def _forwarded(message: Mapping[str, Any]) -> str | None:
    origin = message.get("forward_origin")
    if not isinstance(origin, dict):
        return None
    source = origin.get("sender_user") or origin.get("sender_chat") or origin.get("chat")
    if isinstance(source, dict):
        name = source.get("title") or _name(source) or source.get("username")
    else:
        name = origin.get("sender_user_name")
    return f"forwarded from {name}" if isinstance(name, str) and name else "forwarded"


def message_text(message: Mapping[str, Any]) -> str:
    """The text a person wrote (text or caption), after a literal note of any attachment or
    forward, e.g. "(photo) the caption". Raises _Skip when there is nothing to show."""
    text = message.get("text")
    if not isinstance(text, str):
        text = message.get("caption") if isinstance(message.get("caption"), str) else ""
    notes = [note for note in (_forwarded(message), _media(message)) if note]
    if not text and not notes:
        raise _Skip("message has no text, caption or content we can show")
    prefix = "".join(f"({note}) " for note in notes)
    return (prefix + text) if text else prefix.rstrip()


def _entities(message: Mapping[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    if isinstance(message.get("text"), str):
        text, entities = message["text"], message.get("entities")
    else:
        text, entities = message.get("caption") or "", message.get("caption_entities")
    if not isinstance(text, str) or not isinstance(entities, list):
        return "", []
    return text, [e for e in entities if isinstance(e, dict)]


def mentions_bot(message: Mapping[str, Any], bot: Bot) -> bool:
    """An @mention of the bot, a text_mention of its user, or a command naming it (/help@bot)."""
    text, entities = _entities(message)
    handle = "@" + bot.username.lower()
    for entity in entities:
        kind = entity.get("type")
        if kind == "text_mention":
            user = entity.get("user")
            if isinstance(user, dict) and as_id(user.get("id")) == bot.id:
                return True
        elif kind in ("mention", "bot_command"):
            covered = utf16_slice(text, entity.get("offset"), entity.get("length")).lower()
            if covered == handle or (kind == "bot_command" and covered.endswith(handle)):
                return True
    return False


# --- people and places -----------------------------------------------------------------------------


def _contact(person: Any, *, chat: bool = False) -> Contact:
    if not isinstance(person, dict):
        raise _Skip("message has no sender")
    person_id = as_id(person.get("id"))
    if person_id is None:
        raise _Skip("sender id is missing")
    username = person.get("username") if isinstance(person.get("username"), str) else ""
    name = (person.get("title") if chat and isinstance(person.get("title"), str) else _name(person)) or ""
    language = person.get("language_code")
    return Contact(
        platform_id=person_id,
        handle=username or name or person_id,
        display_name=name,
        bot=person.get("is_bot") is True,
        language=language if isinstance(language, str) and language else None,
    )


def message_url(chat: Mapping[str, Any], message_id: str) -> str | None:
    """A t.me link: public groups by username; private supergroups by t.me/c/ (members only)."""
    username = chat.get("username")
    if isinstance(username, str) and username:
        return f"https://t.me/{username}/{message_id}"
    chat_id = as_id(chat.get("id")) or ""
    if chat_id.startswith("-100"):
        return f"https://t.me/c/{chat_id[4:]}/{message_id}"
    return None


def make_ref(chat_id: str, message_id: str, *, thread: str | None = None, user: str | None = None,
             private: bool = False, title: str | None = None) -> str:
    """What `send` needs to answer a message, as compact JSON (kept by the store as reply_ref)."""
    ref: dict[str, Any] = {"chat": chat_id, "message": message_id, "private": private}
    if thread:
        ref["thread"] = thread
    if user:
        ref["user"] = user
    if title:
        ref["title"] = title
    return json.dumps(ref, ensure_ascii=False, separators=(",", ":"))


def _numeric(value: Any) -> bool:
    value = as_id(value)
    return value is not None and value.removeprefix("-").isdigit()


def read_ref(ref: str | None, in_reply_to: str | None) -> dict[str, Any]:
    """A reply_ref back as a dict; without one, the chat and message ids from the platform id
    ("{chat_id}:{message_id}"). Empty when neither says anything usable."""
    data = json_object(ref)
    if _numeric(data.get("chat")) and _numeric(data.get("message")) and _numeric(data.get("thread", "0")) \
            and _numeric(data.get("user", "0")):
        return data
    if in_reply_to and ":" in in_reply_to:
        chat_id, _, message_id = in_reply_to.rpartition(":")
        if _numeric(chat_id) and _numeric(message_id):
            return {"chat": chat_id, "message": message_id, "private": not chat_id.startswith("-")}
    return {}


# --- messages and updates --------------------------------------------------------------------------


def _real_reply(message: Mapping[str, Any]) -> dict[str, Any] | None:
    """The message this one answers. In a forum topic every message "replies" to the topic's
    creation message; that is the topic, not an answer to anyone, so it does not count."""
    reply = message.get("reply_to_message")
    if not isinstance(reply, dict) or "forum_topic_created" in reply:
        return None
    return reply


def _group_kind(message: Mapping[str, Any], bot: Bot) -> str:
    reply = _real_reply(message)
    if reply is not None:
        sender = reply.get("from")
        if isinstance(sender, dict) and as_id(sender.get("id")) == bot.id:
            return "reply"
    if mentions_bot(message, bot):
        return "mention"
    if reply is not None and reply.get("is_automatic_forward") is True:
        return "comment"  # a comment under the brand's channel post, in its discussion group
    raise _Skip("group message that neither mentions the bot nor replies to it")


def _parse(message: Any, bot: Bot, raw: Mapping[str, Any], channel_update: bool) -> Inbound:
    if not isinstance(message, dict):
        raise _Skip("message is not an object")
    chat = message.get("chat")
    if not isinstance(chat, dict) or as_id(chat.get("id")) is None:
        raise _Skip("message.chat.id is missing")
    chat_id, chat_type = as_id(chat["id"]), chat.get("type")
    message_id = as_id(message.get("message_id"))
    if message_id is None:
        raise _Skip("message.message_id is missing")
    if channel_update or chat_type == "channel":
        raise _Skip("channel post: the channel's own broadcast, not a customer message")
    service = next((key for key in SERVICE_KEYS if key in message), None)
    if service is not None:
        raise _Skip(f"service message ({service})")
    sender = message.get("from")
    if isinstance(sender, dict) and as_id(sender.get("id")) == bot.id:
        raise _Skip("sent by this bot")
    if chat_type == "private":
        if isinstance(sender, dict) and sender.get("is_bot") is True:
            raise _Skip("sent by a bot")
        author, kind, visibility = _contact(sender), "dm", "private"
    elif chat_type in ("group", "supergroup"):
        sender_chat = message.get("sender_chat")
        if message.get("is_automatic_forward") is True:
            raise _Skip("channel post forwarded automatically to its discussion group")
        if isinstance(sender_chat, dict):
            if as_id(sender_chat.get("id")) == chat_id:
                raise _Skip("sent by an anonymous admin of the group")
            author = _contact(sender_chat, chat=True)  # a user writing as their channel
        else:
            author = _contact(sender)
        kind, visibility = _group_kind(message, bot), "public"
    else:
        raise _Skip(f"chat type {chat_type!r} is not a private chat or a group")
    published_at = parse_epoch(message.get("date"))
    if published_at is None:
        raise _Skip(f"message.date is missing or not a unix time: {message.get('date')!r:.40}")
    edited_at = parse_epoch(message.get("edit_date")) if "edit_date" in message else None
    if raw.get("edited_message") is message and edited_at is None:
        edited_at = published_at
    reply = _real_reply(message)
    reply_id = as_id(reply.get("message_id")) if reply is not None else None
    thread = as_id(message.get("message_thread_id")) if message.get("is_topic_message") is True else None
    return Inbound(
        platform_id=f"{chat_id}:{message_id}",
        kind=kind,  # type: ignore[arg-type]
        visibility=visibility,  # type: ignore[arg-type]
        text=message_text(message),
        author=author,
        published_at=published_at,
        in_reply_to=f"{chat_id}:{reply_id}" if reply_id else None,
        url=message_url(chat, message_id) if visibility == "public" else None,
        raw=raw,
        reply_ref=make_ref(chat_id, message_id, thread=thread, user=author.platform_id,
                           private=visibility == "private",
                           title=chat.get("title") if isinstance(chat.get("title"), str) else None),
        edited_at=edited_at,
    )


def _item_id(message: Any, fallback: str) -> str:
    if isinstance(message, dict) and isinstance(message.get("chat"), dict):
        chat_id, message_id = as_id(message["chat"].get("id")), as_id(message.get("message_id"))
        if chat_id and message_id:
            return f"{chat_id}:{message_id}"
    return fallback


def parse_message(message: Any, bot: Bot, *, raw: Mapping[str, Any] | None = None,
                  channel_update: bool = False) -> Inbound | Skipped:
    """One Message object as an `Inbound`, or a `Skipped` saying why not. Never raises."""
    try:
        return _parse(message, bot, raw if raw is not None else message, channel_update)
    except _Skip as exc:
        return Skipped(_item_id(message, ""), str(exc))
    except Exception as exc:  # a payload shape nobody foresaw must not stop a poll
        return Skipped(_item_id(message, ""), f"unparseable message ({type(exc).__name__}: {exc})")


def parse_update(update: Any, bot: Bot) -> Inbound | Skipped:
    """One Update object (`message`, `edited_message`, `channel_post`, …) as an `Inbound` or a
    `Skipped`. An edited message keeps its platform id and carries `edited_at`. Never raises."""
    if not isinstance(update, dict):
        return Skipped("", f"update is not an object ({type(update).__name__})")
    update_id = as_id(update.get("update_id")) or ""
    key = next((k for k in MESSAGE_UPDATES if k in update), None)
    if key is None:
        other = next((k for k in update if k != "update_id"), "nothing")
        return Skipped(f"update {update_id}", f"update type {other}")
    result = parse_message(update[key], bot, raw=update, channel_update=key.endswith("channel_post"))
    if isinstance(result, Skipped) and not result.item_id:
        return Skipped(f"update {update_id}", result.reason)
    return result


def update_id(update: Any) -> int | None:
    """An update's id as an int (ids are JSON numbers; a numeric string is accepted)."""
    if isinstance(update, dict):
        value = update.get("update_id")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.isdigit():
            return int(value)
    return None
