"""Ingest: adapter page → normalise → rules → one store transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import orjson
from sqlalchemy.orm import Session, sessionmaker

from socialdesk.adapters.base import Inbound, Page
from socialdesk.rules.basic import Settings, classify
from socialdesk.store.ingest import IngestItem, IngestResult, write_batch
from socialdesk.text import clean_text

log = logging.getLogger(__name__)


def to_item(message: Inbound, settings: Settings) -> IngestItem:
    author = message.author
    verdict = classify(followers=author.followers, private=message.visibility == "private",
                       is_repost=message.is_repost, bot=author.bot, settings=settings)
    return IngestItem(
        platform_id=message.platform_id, kind=message.kind, visibility=message.visibility,
        text=clean_text(message.text), published_at=message.published_at,
        author_id=author.platform_id, author_handle=clean_text(author.handle),
        author_name=clean_text(author.display_name), followers=author.followers,
        verified=author.verified, bot=author.bot,
        location=clean_text(author.location) if author.location else None,
        in_reply_to=message.in_reply_to, language=message.language, url=message.url,
        likes=message.likes, reposts=message.reposts, replies=message.replies,
        is_repost=message.is_repost,
        raw=orjson.dumps(message.raw, default=str).decode() if message.raw else None,
        priority=verdict.priority, tags=verdict.tags,
        status="closed" if verdict.noise else "new",
        sla_minutes=None if verdict.noise else settings.sla_minutes)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A page normalised and classified, ready for one store transaction."""

    items: list[IngestItem]
    cursor: str | None
    skipped: int


class Ingestor:
    def __init__(self, sessions: sessionmaker[Session], settings: Settings):
        self.sessions = sessions
        self.settings = settings

    def prepare(self, page: Page) -> Prepared:
        """The CPU half: clean and classify (no I/O, safe to run ahead in another thread)."""
        for skipped in page.skipped:
            log.info("skipped %s: %s", skipped.item_id, skipped.reason)
        return Prepared([to_item(m, self.settings) for m in page.messages], page.cursor, len(page.skipped))

    def store(self, channel_id: int, prepared: Prepared, stream: str = "mentions") -> IngestResult:
        """The I/O half: one transaction with the page's cursor."""
        cursor = (stream, prepared.cursor) if prepared.cursor is not None else None
        with self.sessions.begin() as session:
            return write_batch(session, channel_id, prepared.items, cursor=cursor)

    def ingest_page(self, channel_id: int, page: Page, stream: str = "mentions") -> IngestResult:
        return self.store(channel_id, self.prepare(page), stream)
