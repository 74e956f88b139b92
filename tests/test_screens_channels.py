"""What an agent sees of the channels: the health screen per stream (opened with `c`), and
messages the customer edited or deleted on the platform, at 80×24."""

from __future__ import annotations

import time
from datetime import timedelta

from seed import T0
from ui import (  # noqa: F401 - fixtures
    CONTROL,
    frozen_clock,
    no_failed_workers,
    screen_lines,
    screen_text,
    settle,
    wait_for,
)

from socialdesk.app import SocialdeskApp
from socialdesk.screens.channels import ChannelsScreen
from socialdesk.store import commands
from socialdesk.store.ingest import IngestItem, write_batch


async def test_the_channels_screen_shows_each_stream_and_what_failed(desk):
    with desk.sessions.begin() as s:
        x = commands.ensure_channel(s, "brand-x", "x")
        mail = commands.ensure_channel(s, "brand-mail", "email")
        commands.ensure_channel(s, "brand-tg", "telegram")
        commands.record_poll(s, x, "mentions", rate=(450, 0, T0 + timedelta(hours=2, minutes=12)))
        commands.record_poll(s, x, "dms", error="X refused the credentials (HTTP 403) [b]dm.read[/b]\x1b[2J")
        commands.record_poll(s, mail, "inbox")
    app = SocialdeskApp(desk)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        assert "✖ brand-x: dms: X refused" in screen_lines(app)[-2]
        await pilot.press("c")
        await wait_for(pilot, lambda: "brand-mail" in screen_text(app))
        assert isinstance(app.screen, ChannelsScreen)
        text = screen_text(app)
        assert "brand-mail" in text and "inbox" in text and "● ok" in text
        assert "mentions" in text and "rate 0/450 left, resets in 12m" in text
        assert "✖ failing" in text and "[b]dm.read[/b]" in text  # remote text shown literally
        assert "– waiting" in text  # brand-tg has not run yet
        assert not CONTROL & set(text)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.id == "queue"


async def test_edited_and_deleted_messages_are_marked_in_the_timeline(desk):
    with desk.sessions.begin() as s:
        channel = commands.ensure_channel(s, "brand-tg", "telegram")
        write_batch(s, channel, [IngestItem(platform_id="1:1", kind="dm", visibility="private", text="first words",
                                            published_at=T0, author_id="7", author_handle="ann")])
    with desk.sessions.begin() as s:
        write_batch(s, channel, [IngestItem(platform_id="1:1", kind="dm", visibility="private",
                                            text="better words", published_at=T0, author_id="7",
                                            author_handle="ann", edited_at=T0 + timedelta(minutes=30)),
                                 IngestItem(platform_id="1:2", kind="dm", visibility="private", text="oops, my card",
                                            published_at=T0 + timedelta(minutes=40), author_id="7",
                                            author_handle="ann")])
    with desk.sessions.begin() as s:
        write_batch(s, channel, [], deleted=["1:2"])
    app = SocialdeskApp(desk)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        text = screen_text(app)
        assert "better words" in text and "first words" not in text
        assert "edited 1h ago" in text  # the frozen clock reads T0 + 2h
        assert "deleted by the author" in text and "oops, my card" in text


async def test_refreshing_by_hand_does_not_add_polling_clocks(desk, monkeypatch):
    import socialdesk.screens.channels as channels

    monkeypatch.setattr(channels, "REFRESH", 0.2)
    reads: list[float] = []
    health = desk.channel_health
    monkeypatch.setattr(desk, "channel_health", lambda: reads.append(time.monotonic()) or health())
    app = SocialdeskApp(desk)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        for _ in range(5):
            await pilot.press("r")
        await settle(pilot)
        since = time.monotonic()
        await pilot.pause(1.0)
        await settle(pilot)
        assert isinstance(app.screen, ChannelsScreen)
        # One clock every 0.2 s (the queue's own health line reads every 2 s): about 5, never 25.
        assert len([t for t in reads if t >= since]) <= 8
