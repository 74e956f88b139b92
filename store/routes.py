"""Where a conversation continues: a private chat with someone on a channel, an email thread.

Route keys: "dm:<the customer's platform id>" for a private chat (an X DM, Messenger, a Bluesky
chat, a Telegram private chat, a Mastodon direct thread), "mail:<Message-ID>" for an email the
brand sent. The sender records a route when a private reply goes out; ingest looks them up so the
customer's private answer joins the conversation it answers, not a new one."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from .db import upsert
from .models import ConversationRoute, utcnow


def dm_key(platform_user_id: str) -> str:
    return f"dm:{platform_user_id}"


def mail_key(message_id: str) -> str:
    return f"mail:{message_id}"


def remember(session: Session, channel_id: int, key: str, conversation_id: int) -> None:
    """The route now leads to this conversation (the newest private exchange wins)."""
    stmt = upsert(session)(ConversationRoute).values(channel_id=channel_id, route_key=key[:300],
                                                      conversation_id=conversation_id, updated_at=utcnow())
    session.execute(stmt.on_conflict_do_update(index_elements=["channel_id", "route_key"], set_={
        "conversation_id": conversation_id, "updated_at": utcnow()}))


def lookup(session: Session, channel_id: int, keys: Iterable[str]) -> dict[str, int]:
    """The conversation each known route key leads to."""
    wanted = {key[:300] for key in keys}
    if not wanted:
        return {}
    return dict(session.execute(select(ConversationRoute.route_key, ConversationRoute.conversation_id).where(
        ConversationRoute.channel_id == channel_id, ConversationRoute.route_key.in_(wanted))).all())
