"""The customer: Ann on X and Ann by email are one person once linked — by hand, or by accepting a
suggestion — with one history; a new private message on any of her identities joins her open
conversation; merging two customers is asked first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from socialdesk.services.commands import (
    EditCustomer,
    LinkIdentity,
    MergeNeeded,
    Resolve,
    Selection,
    UnlinkIdentity,
)
from socialdesk.services.desk import Desk
from socialdesk.store import commands
from socialdesk.store.ingest import IngestItem, write_batch
from socialdesk.store.models import AuditEvent, Contact, Conversation, Message

NOW = datetime.now(UTC)


def item(pid: str, text: str, author: str, *, name: str = "", kind: str = "mention", visibility: str = "public",
         minutes_ago: float = 0) -> IngestItem:
    return IngestItem(platform_id=pid, kind=kind, visibility=visibility, text=text, author_id=author,
                      author_handle=author, author_name=name, published_at=NOW - timedelta(minutes=minutes_ago))


@pytest.fixture
def world(store):
    """Ann on X (a public mention), on Bluesky, and by email; Bob on X."""
    with store.begin() as s:
        x = commands.ensure_channel(s, "brand-x", "x")
        bsky = commands.ensure_channel(s, "brand-bsky", "bluesky")
        mail = commands.ensure_channel(s, "brand-mail", "email")
        write_batch(s, x, [item("t1", "@brand my card was charged twice", "ann_x", name="Ann Lee", minutes_ago=60),
                           item("t2", "@brand hello", "bob", name="Bob", minutes_ago=50)])
        write_batch(s, bsky, [item("b1", "@brand.bsky.social I'm @ann_x on X, same problem", "ann.bsky.social",
                                   name="Ann Lee", minutes_ago=40)])
        write_batch(s, mail, [item("<m1@example.com>", "Subject: My card\n\nI wrote to you as @ann_x on twitter",
                                   "ann@example.com", name="Ann Lee", kind="email", visibility="private",
                                   minutes_ago=30)])
    return Desk(store, "alice"), {"x": x, "bsky": bsky, "mail": mail}


def conversation_of(store, author: str) -> int:
    with store() as s:
        return s.execute(select(Conversation.id).join(Contact, Contact.id == Conversation.contact_id)
                         .where(Contact.handle == author).order_by(Conversation.id)).scalars().first()


def contact(store, handle: str) -> int:
    with store() as s:
        return s.execute(select(Contact.id).where(Contact.handle == handle)).scalar_one()


def test_an_email_that_names_the_social_handle_is_suggested_and_linking_joins_the_history(store, world):
    desk, _ = world
    on_mail, on_x = conversation_of(store, "ann@example.com"), conversation_of(store, "ann_x")
    (suggestion,) = desk.customer(on_mail).suggestions
    assert (suggestion.handle, suggestion.channel, suggestion.reason) == ("ann_x", "brand-x", "the email names @ann_x")
    outcome = desk.run(LinkIdentity(suggestion.contact_id), Selection((on_mail,)))
    assert outcome.summary == "Linked ann_x: the same person."
    customer = desk.customer(on_mail)
    assert [(i.channel, i.handle) for i in customer.identities] == [("brand-x", "ann_x"),
                                                                   ("brand-mail", "ann@example.com")]
    assert [p.id for p in customer.previous] == [on_x]  # her X conversation, seen from the email one
    assert customer.suggestions == ()  # linked: nothing left to suggest
    assert desk.customer(on_x).id == customer.id


def test_the_same_name_and_a_handle_named_in_the_text_is_suggested(store, world):
    desk, _ = world
    (suggestion,) = desk.customer(conversation_of(store, "ann.bsky.social")).suggestions
    assert (suggestion.handle, suggestion.reason) == ("ann_x", "same name, and @ann_x is named here")


def test_an_address_given_in_a_dm_suggests_the_email_identity(store, world):
    desk, channels = world
    with store.begin() as s:
        write_batch(s, channels["x"], [item("d1", "my email is Ann@Example.com", "ann_x", kind="dm",
                                            visibility="private")])
    with store() as s:
        on_dm = s.execute(select(Message.conversation_id).where(Message.platform_id == "d1")).scalar_one()
    suggestions = [(x.handle, x.reason) for x in desk.customer(on_dm).suggestions]
    assert ("ann@example.com", "same email address") in suggestions


def test_a_new_private_message_on_a_linked_identity_joins_the_customers_open_conversation(store, world):
    desk, channels = world
    on_x = conversation_of(store, "ann_x")
    desk.run(LinkIdentity(contact(store, "ann@example.com")), Selection((on_x,)))
    # The email conversation is finished; her next email (no thread, no case reference) joins the X one.
    desk.run(Resolve(), Selection((conversation_of(store, "ann@example.com"),)))
    with store.begin() as s:
        write_batch(s, channels["mail"], [item("<m2@example.com>", "Subject: still charged\n\nAny news?",
                                               "ann@example.com", kind="email", visibility="private")])
    with store() as s:
        assert s.execute(select(Message.conversation_id).where(Message.platform_id == "<m2@example.com>")).scalar() == on_x
    # Unlinked, she is a person of her own again: the next one starts its own conversation.
    desk.run(UnlinkIdentity(contact(store, "ann@example.com")), Selection((on_x,)))
    with store.begin() as s:
        write_batch(s, channels["mail"], [item("<m3@example.com>", "Subject: hello\n\nagain", "ann@example.com",
                                               kind="email", visibility="private")])
    with store() as s:
        assert s.execute(select(Message.conversation_id).where(Message.platform_id == "<m3@example.com>")).scalar() \
            not in (on_x, None)


def test_linking_an_identity_of_another_customer_asks_before_merging(store, world):
    desk, _ = world
    on_x, on_bob = conversation_of(store, "ann_x"), conversation_of(store, "bob")
    desk.run(EditCustomer(crm_id="CRM-7", notes="prefers email", key_customer=True), Selection((on_x,)))
    desk.run(EditCustomer(notes="VIP since 2019"), Selection((on_bob,)))
    with pytest.raises(MergeNeeded, match="belongs to the customer 'Ann Lee'"):
        desk.run(LinkIdentity(contact(store, "ann_x")), Selection((on_bob,)))
    outcome = desk.run(LinkIdentity(contact(store, "ann_x"), merge=True), Selection((on_bob,)))
    assert outcome.summary.endswith("Two customers merged into one.")
    customer = desk.customer(on_bob)
    assert (customer.key_customer, customer.crm_id, customer.notes) == (True, "CRM-7", "VIP since 2019\nprefers email")
    assert {i.handle for i in customer.identities} == {"bob", "ann_x"}
    with store() as s:
        actions = s.execute(select(AuditEvent.action).where(AuditEvent.action.like("customer.%"))).scalars().all()
    assert actions == ["customer.edit", "customer.edit", "customer.link", "customer.merge"]


def test_the_key_customer_flag_is_the_customers(store, world):
    desk, _ = world
    on_x = conversation_of(store, "ann_x")
    desk.flag_key_customer(on_x, True)
    assert desk.conversation(on_x).key_customer and desk.customer(on_x).key_customer
    desk.flag_key_customer(on_x, False)
    assert not desk.customer(on_x).key_customer
