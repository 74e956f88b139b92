"""The reply as it goes out, built from an `Outbound` and the customer's `reply_ref`: addressed to
their Reply-To (else From), threaded under their message (In-Reply-To, References), "Re:" once, with
a Message-ID derived from the outbox entry's idempotency key (a resend carries the same one, so
mail clients show it once). Pure: no I/O.

This module only imports the standard library and `socialdesk.adapters`.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, formataddr

from socialdesk.adapters.base import NotAllowed, Outbound
from socialdesk.adapters.email_headers import MAX_SUBJECT, message_ids, shorten
from socialdesk.adapters.values import json_object

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_RE_PREFIX = re.compile(r"^(\s*(re|aw|sv|vs|antw|r)\s*(\[\d+\])?\s*:\s*)+", re.I)  # Re, German, Nordic, Dutch, Italian


def message_id_for(key: str, address: str) -> str:
    """The Message-ID of the reply for one outbox entry: `<key@domain of address>`, stable across
    retries (a key that is not a valid dot-atom is hashed)."""
    domain = address.rpartition("@")[2].strip().lower()
    try:
        domain = domain.encode("idna").decode("ascii") if domain else ""
    except UnicodeError:
        domain = ""
    if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)*", domain):
        domain = "socialdesk.invalid"
    if len(key) > 100 or not re.fullmatch(f"{_ATOM}(\\.{_ATOM})*", key):
        key = "sd." + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"<{key}@{domain}>"


def reply_subject(subject: str | None) -> str:
    """"Re: <subject>", never "Re: Re:" (nor "Re: AW:", "Re: SV:")."""
    bare = _RE_PREFIX.sub("", " ".join((subject or "").split()))
    return f"Re: {bare}" if bare else "Re: your message"


def _single_line(value: str) -> str:
    return " ".join(value.replace("\r", " ").replace("\n", " ").split())


def build_reply(message: Outbound, sender: str, now: datetime) -> EmailMessage:
    """The reply as sent: to the customer's Reply-To (else From), threaded under their message.

    With no message to answer (a conversation moved here from another channel) the subject in
    `reply_ref` ({"subject": "Case 123"}) opens a new thread as written, and `recipient` is the
    address."""
    ref = json_object(message.reply_ref)
    to = _single_line(str(ref.get("reply_to") or ref.get("from") or message.recipient_id or message.recipient or ""))
    if not re.fullmatch(r"[^@\s<>(),;:\"]+@[^@\s<>(),;:\"]+", to):
        raise NotAllowed(f"no email address to answer ({to or 'none'} is not one): the message has no usable "
                         "From or Reply-To; write to the customer from a mail client")
    parent_ids = message_ids(ref.get("message_id") or message.in_reply_to)
    parent = parent_ids[0] if parent_ids and "@" in parent_ids[0] else None
    chain = [r for r in ref.get("references") or [] if isinstance(r, str) and message_ids(r) == [r]]
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["From"] = sender
    msg["Reply-To"] = sender  # the team mailbox, whoever's client the customer answers from
    name = _single_line(str(ref.get("name") or "")) if to == ref.get("from") else ""
    msg["To"] = formataddr((name, to))
    subject = shorten(_single_line(str(ref.get("subject") or "")), MAX_SUBJECT)
    msg["Subject"] = subject if subject and not parent else reply_subject(subject)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id_for(message.idempotency_key, sender)
    if parent:
        msg["In-Reply-To"] = parent
        msg["References"] = " ".join([r for r in chain if r != parent] + [parent])
    if message.automatic:
        msg["Auto-Submitted"] = "auto-replied"
    if message.language and re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*", message.language):
        msg["Content-Language"] = message.language
    text = message.text.encode("utf-8", "replace").decode("utf-8")
    msg.set_content(text, charset="utf-8")
    return msg
