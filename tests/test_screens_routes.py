"""Choosing how a reply goes out, on the conversation screen: p lists the routes (a closed one
says why), :email takes an address, the composer shows the route, the outbox records it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from ui import frozen_clock, no_failed_workers, screen_text, settle, wait_for  # noqa: F401

from socialdesk.adapters.base import Capabilities
from socialdesk.app import SocialdeskApp
from socialdesk.services.commands import ChannelLimits
from socialdesk.services.desk import Desk
from socialdesk.store import commands
from socialdesk.store.ingest import IngestItem, write_batch
from socialdesk.store.models import Outbox

META = Capabilities(public_reply=True, private_reply=True, dm=True, email=False, max_length=8000,
                    private_reply_window=timedelta(days=7), private_kind="private_reply")
MAIL = Capabilities(public_reply=False, private_reply=False, dm=False, email=True, max_length=100_000)


def desk_with_a_comment(store, age: timedelta) -> Desk:
    with store.begin() as s:
        fb = commands.ensure_channel(s, "brand-fb", "facebook")
        commands.ensure_channel(s, "brand-mail", "email")
        write_batch(s, fb, [IngestItem(platform_id="c1", kind="comment", visibility="public", text="charged twice!",
                                       published_at=datetime.now(UTC) - age, author_id="u1", author_handle="ann")])
    return Desk(store, "alice", brand="Acme", limits={"brand-fb": ChannelLimits(8000, "chars", META),
                                                      "brand-mail": ChannelLimits(100_000, "chars", MAIL)})


def outbox(store) -> list[tuple]:
    with store() as s:
        return [(o.kind, o.visibility, o.recipient) for o in s.execute(select(Outbox).order_by(Outbox.id)).scalars()]


async def test_p_offers_the_private_reply_and_an_email_then_the_reply_takes_it(store):
    desk = desk_with_a_comment(store, timedelta(hours=2))
    app = SocialdeskApp(desk)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("p")
        await wait_for(pilot, lambda: "private reply to the comment to @ann on brand-fb" in screen_text(app))
        assert "public reply on brand-fb" in screen_text(app) and "email to another address" in screen_text(app)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: "· private reply to the comment to @ann on brand-fb" in screen_text(app))
        await pilot.press(*"Sorry, look at your inbox", "ctrl+s")
        await wait_for(pilot, lambda: "Reply queued: private_reply on brand-fb." in screen_text(app))
        await pilot.press("escape", "colon", *"email Ann Lee <ann@example.com>", "enter")
        await wait_for(pilot, lambda: "email to ann@example.com (brand-mail)" in screen_text(app))
        await pilot.press("w", *"Please send the details here", "ctrl+s")
        await wait_for(pilot, lambda: "outbox · queued · email on brand-mail to ann@example.com" in screen_text(app))
    assert outbox(store) == [("private_reply", "private", "ann"), ("email", "private", "ann@example.com")]


async def test_a_closed_route_says_why_and_a_bad_address_is_refused(store):
    desk = desk_with_a_comment(store, timedelta(days=9))
    app = SocialdeskApp(desk)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("p")
        await wait_for(pilot, lambda: "allows a private reply to a public message only within 7 days" in
                       " ".join(screen_text(app).split()))
        await pilot.press("escape", "colon", *"email alice@x.com bob", "enter")
        await wait_for(pilot, lambda: "'alice@x.com bob' is not an email address" in " ".join(
            line.strip("▊▎ ") for line in screen_text(app).splitlines()))
    assert outbox(store) == []
