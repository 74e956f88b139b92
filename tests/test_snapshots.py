"""One snapshot per main screen, from a deterministic SQLite store with the clock frozen.

Update with `pytest tests/test_snapshots.py --snapshot-update` after a deliberate UI change.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from seed import T0, seed_conversations

from socialdesk.app import SocialdeskApp
from socialdesk.screens import format as fmt
from socialdesk.services.desk import Desk
from socialdesk.store import commands
from socialdesk.store.db import open_store

SIZE = (80, 24)


@pytest.fixture
def snapshot_desk(tmp_path, monkeypatch):
    """Always SQLite, so the snapshot names do not depend on which backends CI runs."""
    monkeypatch.setattr(fmt, "now", lambda: T0 + timedelta(hours=2))
    engine, sessions = open_store(f"sqlite:///{tmp_path / 'snap.db'}")
    desk = Desk(sessions, "alice")
    seed_conversations(desk, 60)
    with sessions.begin() as s:
        commands.record_poll(s, commands.ensure_channel(s, "demo", "simulator"), "mentions", rate=(300, 298, None))
    yield desk
    engine.dispose()


async def settle(pilot) -> None:
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def test_queue_screen(snap_compare, snapshot_desk):
    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("j", "j", "space", "j")
        await settle(pilot)

    assert snap_compare(SocialdeskApp(snapshot_desk), terminal_size=SIZE, run_before=run_before)


def test_conversation_screen(snap_compare, snapshot_desk):
    first = 1
    snapshot_desk.reply(first, "Sorry about that! Could you DM us the order number?", "public")

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(SocialdeskApp(snapshot_desk), terminal_size=SIZE, run_before=run_before)
