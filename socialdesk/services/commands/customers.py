"""Commands on the person behind a conversation: link and unlink their identities across
channels, edit their CRM id, notes and key-customer flag. Each acts on one conversation's
customer and is audited; linking a contact that belongs to another customer asks first."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from socialdesk.store import customers
from socialdesk.store.models import Contact, Conversation

from .actor import Actor, Refused


class MergeNeeded(Refused):
    """Linking would merge two customers: ask the person, then run it again with merge=True."""


@dataclass(frozen=True)
class LinkIdentity:
    contact_id: int
    merge: bool = False
    verb = "linked an identity to"


@dataclass(frozen=True)
class UnlinkIdentity:
    contact_id: int
    verb = "unlinked an identity from"


@dataclass(frozen=True)
class EditCustomer:
    crm_id: str | None = None
    notes: str | None = None
    key_customer: bool | None = None
    verb = "updated the customer of"


CustomerCommand = LinkIdentity | UnlinkIdentity | EditCustomer


def run(sessions: sessionmaker[Session], actor: Actor, command: CustomerCommand, ids: list[int]) -> str:
    if len(ids) != 1:
        raise Refused("Customer details are changed one conversation at a time: open it first.")
    with sessions.begin() as s:
        conversation = s.get(Conversation, ids[0])
        if conversation is None:
            raise Refused("That conversation no longer exists.")
        contact_id = conversation.contact_id
        if isinstance(command, EditCustomer):
            customers.edit(s, contact_id, actor=actor.name, crm_id=command.crm_id, notes=command.notes,
                           key_customer=command.key_customer)
            if command.key_customer is not None:
                return "Flagged as a key customer." if command.key_customer else "No longer a key customer."
            return "Customer updated."
        other = s.get(Contact, command.contact_id)
        if other is None:
            raise Refused("That identity no longer exists.")
        if isinstance(command, UnlinkIdentity):
            customers.unlink(s, command.contact_id, actor=actor.name)
            return f"Unlinked {other.handle}: a person of their own again."
        if command.contact_id == contact_id:
            raise Refused("That is this conversation's own contact.")
        try:
            customers.link(s, contact_id, command.contact_id, actor=actor.name, merge=command.merge)
        except customers.NeedsMerge as needs:
            raise MergeNeeded(f"{other.handle} belongs to the customer {needs.other!r}: linking merges the two "
                              "customers (their identities, notes and flags).") from None
    return f"Linked {other.handle}: the same person." + (" Two customers merged into one." if command.merge else "")
