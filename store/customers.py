"""The customer: one person behind several contacts (Ann on X, Ann by email). Linking, unlinking
and merging identities, the customer's details, their history, and the links worth suggesting.

A contact without a customer is a person of its own; the first link (or a key-customer flag)
creates the customer. Linking a contact that already belongs to another customer merges the two
customers, and only when the caller says so (`merge=True`): the person must be asked first."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from . import audit
from .models import Channel, Contact, Conversation, Customer, Message
from .views import CustomerView, IdentityView, PastConversation, Suggestion

HISTORY = 20  # previous conversations shown
_HANDLE = re.compile(r"(?<![\w.@])@([A-Za-z0-9_][A-Za-z0-9_.]{0,29}[A-Za-z0-9_])")
_ADDRESS = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


class NeedsMerge(Exception):
    """The contact belongs to another customer: linking would merge them (ask first)."""

    def __init__(self, other: str):
        super().__init__(other)
        self.other = other


@dataclass(frozen=True, slots=True)
class _Contact:
    id: int
    customer_id: int | None
    handle: str
    display_name: str
    channel_kind: str


def _contact(session: Session, contact_id: int) -> _Contact:
    row = session.execute(select(Contact.id, Contact.customer_id, Contact.handle, Contact.display_name, Channel.kind)
                          .join(Channel, Channel.id == Contact.channel_id).where(Contact.id == contact_id)).one_or_none()
    if row is None:
        raise LookupError(f"no contact {contact_id}")
    return _Contact(*row)


def ensure_customer(session: Session, contact_id: int) -> int:
    """The contact's customer, created from the contact when it has none."""
    contact = _contact(session, contact_id)
    if contact.customer_id is not None:
        return contact.customer_id
    customer = Customer(display_name=contact.display_name or contact.handle)
    session.add(customer)
    session.flush()
    session.execute(update(Contact).where(Contact.id == contact_id).values(customer_id=customer.id))
    return customer.id


def link(session: Session, contact_id: int, other_id: int, *, actor: str, merge: bool = False) -> int:
    """Make `other_id` an identity of `contact_id`'s customer; the customer's id."""
    audit.begin_write(session)
    other = _contact(session, other_id)
    customer_id = ensure_customer(session, contact_id)
    events = [audit.Event("customer.link", "customer", customer_id, {"contact": other_id, "handle": other.handle})]
    if other.customer_id is not None and other.customer_id != customer_id:
        previous = session.get(Customer, other.customer_id)
        if not merge:
            raise NeedsMerge(previous.display_name if previous else f"customer {other.customer_id}")
        _merge_into(session, customer_id, other.customer_id)
        events.append(audit.Event("customer.merge", "customer", customer_id, {"merged": other.customer_id}))
    else:
        session.execute(update(Contact).where(Contact.id == other_id).values(customer_id=customer_id))
    audit.record(session, actor, events)
    return customer_id


def _merge_into(session: Session, keep_id: int, gone_id: int) -> None:
    keep, gone = session.get(Customer, keep_id), session.get(Customer, gone_id)
    session.execute(update(Contact).where(Contact.customer_id == gone_id).values(customer_id=keep_id))
    keep.key_customer = keep.key_customer or gone.key_customer
    keep.crm_id = keep.crm_id or gone.crm_id
    keep.notes = "\n".join(n for n in (keep.notes, gone.notes) if n) or None
    session.execute(delete(Customer).where(Customer.id == gone_id))


def unlink(session: Session, contact_id: int, *, actor: str) -> None:
    """The contact is a person of its own again (the customer keeps the other identities)."""
    audit.begin_write(session)
    contact = _contact(session, contact_id)
    if contact.customer_id is None:
        return
    session.execute(update(Contact).where(Contact.id == contact_id).values(customer_id=None))
    audit.record(session, actor, [audit.Event("customer.unlink", "customer", contact.customer_id,
                                              {"contact": contact_id, "handle": contact.handle})])


def edit(session: Session, contact_id: int, *, actor: str, crm_id: str | None = None, notes: str | None = None,
         key_customer: bool | None = None) -> int:
    """Change the customer's CRM id, notes or key-customer flag (None: left as it is)."""
    audit.begin_write(session)
    customer = session.get(Customer, ensure_customer(session, contact_id))
    changed = {}
    for name, value in (("crm_id", crm_id), ("notes", notes), ("key_customer", key_customer)):
        if value is not None:
            value = (value.strip() or None) if isinstance(value, str) else value
            if getattr(customer, name) != value:
                setattr(customer, name, value)
                changed[name] = value
    if changed:
        audit.record(session, actor, [audit.Event("customer.edit", "customer", customer.id, changed)])
    return customer.id


def customer_view(session: Session, contact_id: int, conversation_id: int | None = None) -> CustomerView:
    """The person behind a contact: identities, details, previous conversations, suggestions."""
    contact = _contact(session, contact_id)
    customer = session.get(Customer, contact.customer_id) if contact.customer_id else None
    same = Contact.customer_id == contact.customer_id if customer else Contact.id == contact_id
    identities = tuple(IdentityView(cid, channel, handle, name or "", last)
                       for cid, channel, handle, name, last in session.execute(
                           select(Contact.id, Channel.name, Contact.handle, Contact.display_name, Contact.last_message_at)
                           .join(Channel, Channel.id == Contact.channel_id).where(same).order_by(Contact.id)))
    ids = [identity.contact_id for identity in identities]
    past = tuple(PastConversation(*row) for row in session.execute(
        select(Conversation.id, Channel.name, Conversation.status, Conversation.resolution_code, Conversation.csat,
               Conversation.published_at, Conversation.last_message_at)
        .join(Channel, Channel.id == Conversation.channel_id)
        .where(Conversation.contact_id.in_(ids), Conversation.id != (conversation_id or 0))
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc()).limit(HISTORY)))
    last = session.execute(select(func.max(Message.published_at)).where(
        Message.author_contact_id.in_(ids), Message.direction == "in")).scalar()
    return CustomerView(
        id=customer.id if customer else None, name=(customer.display_name if customer else "") or contact.display_name
        or contact.handle, key_customer=bool(customer and customer.key_customer),
        crm_id=customer.crm_id if customer else None, notes=customer.notes if customer else None,
        identities=identities, previous=past, last_contact_at=last,
        suggestions=suggestions(session, contact_id, conversation_id) if conversation_id else ())


def of_conversation(session: Session, conversation_id: int) -> CustomerView | None:
    contact_id = session.execute(select(Conversation.contact_id).where(Conversation.id == conversation_id)).scalar()
    return customer_view(session, contact_id, conversation_id) if contact_id is not None else None


def suggestions(session: Session, contact_id: int, conversation_id: int) -> tuple[Suggestion, ...]:
    """Contacts on other channels that are probably the same person, with the reason:
    - the same email address (named in the conversation, or the contact's own address);
    - an email that names a social handle ("I'm @ann_x on X");
    - the same display name, and their handle named in the conversation."""
    me = _contact(session, contact_id)
    texts = session.execute(select(Message.text).where(
        Message.conversation_id == conversation_id, Message.direction == "in").order_by(Message.id.desc())
        .limit(50)).scalars().all()
    handles = {h.lower() for text in texts for h in _HANDLE.findall(text)}
    addresses = {a.lower() for text in texts for a in _ADDRESS.findall(text)}
    if me.channel_kind == "email":
        addresses.add(me.handle.lower())
    named = handles | {"@" + h for h in handles} | addresses
    if not named:
        return ()
    rows = session.execute(
        select(Contact.id, Contact.customer_id, Contact.handle, Contact.display_name, Channel.kind, Channel.name)
        .join(Channel, Channel.id == Contact.channel_id)
        .where(func.lower(Contact.handle).in_(named), Contact.id != contact_id,
               or_(Contact.customer_id.is_(None), Contact.customer_id != (me.customer_id or 0)))
        .order_by(Contact.id).limit(20)).all()
    found = []
    for cid, customer_id, handle, name, kind, channel in rows:
        bare = handle.lower().lstrip("@")
        if kind == "email" and bare in addresses:
            reason = "same email address"
        elif me.channel_kind == "email" and bare in handles:
            reason = f"the email names @{bare}"
        elif name and me.display_name and name.casefold() == me.display_name.casefold() and bare in handles:
            reason = f"same name, and @{bare} is named here"
        else:
            continue
        found.append(Suggestion(cid, channel, handle, name or "", reason, customer_id is not None))
    return tuple(found)
