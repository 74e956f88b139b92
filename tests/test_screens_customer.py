"""The customer on the conversation screen: the contact line says what is known (identities,
earlier conversations, links to make), c opens the customer, Enter on a suggestion links it —
asking first when that merges two customers — and an earlier conversation opens from there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from ui import frozen_clock, no_failed_workers, screen_lines, screen_text, settle, wait_for  # noqa: F401

from socialdesk.app import SocialdeskApp
from socialdesk.services.commands import EditCustomer, Selection
from socialdesk.services.desk import Desk
from socialdesk.store import commands
from socialdesk.store.ingest import IngestItem, write_batch
from socialdesk.store.models import Contact, Customer


def item(pid: str, text: str, author: str, kind: str, visibility: str, minutes_ago: float) -> IngestItem:
    return IngestItem(platform_id=pid, kind=kind, visibility=visibility, text=text, author_id=author,
                      author_handle=author, author_name="Ann Lee",
                      published_at=datetime.now(UTC) - timedelta(minutes=minutes_ago))


def desk_with_ann(store) -> Desk:
    """Ann on X (an older conversation, with a CRM id on her customer) and by email, naming @ann_x."""
    with store.begin() as s:
        x = commands.ensure_channel(s, "brand-x", "x")
        mail = commands.ensure_channel(s, "brand-mail", "email")
        write_batch(s, x, [item("t1", "@brand charged twice", "ann_x", "mention", "public", 600)])
        write_batch(s, mail, [item("<m1@example.com>", "Subject: card\n\nI'm @ann_x on X, still charged twice",
                                   "ann@example.com", "email", "private", 5)])
    desk = Desk(store, "alice")
    desk.run(EditCustomer(crm_id="CRM-7"), Selection((1,)))
    return desk


async def test_c_shows_the_suggested_identity_and_enter_links_it_after_asking_to_merge(store):
    desk = desk_with_ann(store)
    app = SocialdeskApp(desk)
    async with app.run_test(size=(110, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("end", "enter")  # the email (the queue shows the oldest first)
        await wait_for(pilot, lambda: "1 to link (c)" in screen_lines(app)[1])
        await pilot.press("c")
        await wait_for(pilot, lambda: "+ brand-x · ann_x — the email names @ann_x (another customer's:"
                       in screen_text(app))
        await pilot.press("enter")
        await wait_for(pilot, lambda: "belongs to the customer 'Ann Lee'" in screen_text(app)
                       and "them?" in screen_text(app))
        await pilot.press("y")
        await wait_for(pilot, lambda: "Linked ann_x: the same person." in screen_text(app))
        await wait_for(pilot, lambda: "CRM CRM-7 · 2 identities · 1 earlier (c)" in screen_lines(app)[1])
        await pilot.press("c")
        await wait_for(pilot, lambda: "#1 · brand-x · new" in screen_text(app))
        await pilot.press("down", "down", "enter")  # past the two identities, to the earlier conversation
        await wait_for(pilot, lambda: screen_lines(app)[0].startswith(" #1 "))
        assert "charged twice" in screen_text(app)
    with store() as s:
        assert len(s.execute(select(Customer)).scalars().all()) == 1
        assert {c.customer_id for c in s.execute(select(Contact)).scalars()} == {s.execute(select(Customer.id)).scalar()}


async def test_k_in_the_customer_flags_a_key_customer_and_i_asks_for_the_crm_id(store):
    desk = desk_with_ann(store)
    app = SocialdeskApp(desk)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("home", "enter")  # the X conversation
        await wait_for(pilot, lambda: "CRM CRM-7" in screen_lines(app)[1])
        await pilot.press("c")
        await wait_for(pilot, lambda: "no CRM id" not in screen_text(app) and "CRM CRM-7" in screen_text(app))
        await pilot.press("k")
        await wait_for(pilot, lambda: "Flagged as a key" in screen_text(app))
        await pilot.press("c")
        await wait_for(pilot, lambda: "★ key customer" in screen_text(app))
        await pilot.press("i")
        await wait_for(pilot, lambda: ":crm" in screen_text(app).replace(": crm", ":crm"))
        await pilot.press(*"CRM-8", "enter")
        await wait_for(pilot, lambda: "Customer updated." in screen_text(app))
    assert desk.customer(1).crm_id == "CRM-8" and desk.customer(1).key_customer
