"""Mail for the email tests: CPython's email test corpus (real-world messages, mostly 2001-era
list traffic; the whole of it in the shared corpus, a few in tests/fixtures/email) as a delivery
agent stores it, mails written as customers send them today, and
helpers to compose, restamp and parse messages."""

from __future__ import annotations

import email.policy
import functools
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime
from pathlib import Path

import corpus
from socialdesk.adapters.base import Inbound
from socialdesk.adapters.email_parse import parse_message
from socialdesk.adapters.values import json_object

CORPUS = "python__cpython-email"
ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")  # an address a reply can go to (a domain with a dot)


def parsed(data: bytes) -> EmailMessage:
    """A message as a mail client reads it (policy.default)."""
    return BytesParser(policy=email.policy.default).parsebytes(data)  # type: ignore[return-value]


def compose(**headers: str) -> EmailMessage:
    """A message with these headers, in order (`Reply_To` stands for Reply-To); no body yet."""
    msg = EmailMessage()
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    return msg


def customer_mail(n: int, *, subject: str = "Where is my order?", body: str = "Hello, any news?",
                  when: datetime | None = None, **headers: str) -> bytes:
    """Customer n's plain-text mail, Message-ID <c{n}@example.org>, with any further headers."""
    msg = compose(From=f"Customer {n} <customer{n}@example.org>", To="support@example.com", Subject=subject,
                  Date=format_datetime(when or datetime.now(UTC)), Message_ID=f"<c{n}@example.org>", **headers)
    msg.set_content(body)
    return msg.as_bytes()


def restamp(raw: bytes, message_id: str, when: datetime) -> bytes:
    """The message with a new Message-ID and Date (the old ones, folded lines included, removed)."""
    split = re.search(rb"\r?\n\r?\n", raw)
    head, body = (raw[:split.start()], raw[split.start():]) if split else (raw, b"\n\n")
    kept = re.sub(rb"(?im)^(message-id|date)[ \t]*:.*(\r?\n[ \t].*)*(\r?\n|$)", b"", head + b"\n").rstrip(b"\r\n")
    stamp = f"Message-ID: {message_id}\nDate: {format_datetime(when)}\n".encode()
    return stamp + kept + body


# --- the corpus ----------------------------------------------------------------------------------


def corpus_files() -> list[Path]:
    """The files of CPython's email test corpus (50 real-world messages)."""
    return sorted(corpus.platform_dir(CORPUS).glob("**/*.txt"))


def delivered(raw: bytes) -> bytes:
    """A corpus file as a delivery agent stores it: without the mbox "From " line."""
    if raw.startswith(b"From "):
        raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
    return raw


def fixture_files() -> list[Path]:
    """The project's copies of a few of those messages (tests/fixtures/email)."""
    return sorted(corpus.fixture_dir("email").glob("*.txt"))


@functools.cache
def _fixture_messages() -> tuple[bytes, ...]:
    return tuple(raw for raw in (delivered(p.read_bytes()) for p in fixture_files())
                 if isinstance(parse_message(raw), Inbound))


def fixture_messages() -> list[bytes]:
    """The fixture messages the adapter turns into customer messages (those with a sender)."""
    return list(_fixture_messages())


def answerable(raw: bytes) -> bool:
    """Whether a reply can be addressed to it ("From: foo" cannot): customers who can be
    answered, for traffic that gets replies."""
    ref = json_object(parse_message(raw).reply_ref)
    return bool(ADDRESS.fullmatch(ref.get("reply_to") or ref.get("from") or ""))


# --- mail as customers send it today -------------------------------------------------------------


def customer_mails() -> list[bytes]:
    """Mails as customers send them today (the corpus is mostly 2001-era list traffic)."""
    html = compose(From='"Amélie Durand" <amelie.durand@example.fr>', To="support@example.com",
                   Subject="Commande 48213 jamais arrivée")
    html.set_content("<html><head><style>p{color:red}</style></head><body><p>Bonjour,</p>"
                     "<p>Ma commande <b>48213</b> n&rsquo;est jamais arriv&eacute;e.<br>Pouvez-vous v&eacute;rifier ?"
                     "</p><p><a href=\"https://shop.example.com/orders/48213\">Voir la commande</a></p></body></html>",
                     subtype="html")
    html["Content-Language"] = "fr"  # after set_content, which replaces Content-* headers
    emoji = compose(From="Kenji Watanabe <kenji@example.jp>", To="support@example.com", Subject="返品について 📦")
    emoji.set_content("こんにちは、\n\n商品を返品したいです。[bold]not markup[/bold] \u202eRTL\u202c\n")
    reply = compose(From="Sam Taylor <sam.taylor@example.org>", To="support@example.com", Subject="Re: Your refund",
                    In_Reply_To="<case-1001@example.com>",
                    References="<case-1000@example.com> <case-1001@example.com>")
    reply.set_content("Still waiting for the refund.\n\nOn Mon, Support wrote:\n> We have issued your refund.\n")
    return [m.as_bytes() for m in (html, emoji, reply)]

