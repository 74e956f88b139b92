"""Deterministic conversations for tests and snapshots, written through the real ingest path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from socialdesk.services.desk import Desk
from socialdesk.store import commands
from socialdesk.store.ingest import IngestItem, write_batch

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
TEXTS = (
    "My order #{n} never arrived, can you help?",
    "Refund still not processed after two weeks",
    "Love the new app update, great job!",
    "How do I reset my password? The link expired",
    "[bold red]not markup[/] \x1b[31mred\x1b[0m \u202eevil",
)


def seed_conversations(desk: Desk, n: int, *, channel: str = "demo", batch: int = 5_000,
                       start: datetime = T0) -> int:
    """Store `n` single-message conversations; priorities cycle P1..P4. Returns the channel id."""
    with desk.sessions.begin() as s:
        channel_id = commands.ensure_channel(s, channel, "simulator")
    for first in range(0, n, batch):
        items = [
            IngestItem(
                platform_id=f"{channel}-{i}", kind="dm" if i % 6 == 0 else "mention",
                visibility="private" if i % 6 == 0 else "public",
                text=TEXTS[i % len(TEXTS)].format(n=i), published_at=start + timedelta(seconds=i),
                author_id=str(i % 997), author_handle=f"customer{i % 997}", author_name=f"Customer {i % 997}",
                followers=50_000 if i % 97 == 0 else i % 800, priority=(3 - i % 4) * 25 + 5,
                tags=("customer-service",) if i % 3 else ("marketing",), sla_minutes=60)
            for i in range(first, min(n, first + batch))
        ]
        with desk.sessions.begin() as s:
            write_batch(s, channel_id, items)
    return channel_id
