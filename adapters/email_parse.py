"""RFC 5322 messages to normalised `Inbound` (or `Skipped` with the reason). Pure: no I/O, never
raises on a message.

The text an agent reads is the subject as a first line ("Subject: …", then a blank line), then the
`text/plain` body (HTML turned into text when there is no plain part), forwarded messages inlined
under a "Forwarded message" line, and one "[attachment: name]" line per attachment. Quoted reply
tails stay. `reply_ref` is a small JSON object with what a proper reply needs (`values.json_object` reads it back).
Header and charset decoding live in `email_headers`, HTML to text in `email_html`.
"""

from __future__ import annotations

import email.policy
import hashlib
import json
import re
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesParser
from typing import Any

from socialdesk.adapters.base import Contact, Inbound, Skipped
from socialdesk.adapters.email_headers import (
    address,
    decode_bytes,
    MAX_SUBJECT,
    decode_words,
    header,
    message_ids,
    parse_date,
    raw_header,
    shorten,
)
from socialdesk.adapters.email_html import html_to_text

MAX_ID = 200  # longer Message-IDs become a hash (platform ids are indexed)
MAX_TEXT = 100_000
MAX_DEPTH = 8  # nested multiparts / forwarded messages followed
MAX_REFERENCES = 20
SYNTHETIC = "sha256:"  # prefix of ids made up for messages without a usable Message-ID


# --- bodies --------------------------------------------------------------------------------------


def _is_attachment(part: Message) -> bool:
    disposition = (raw_header(part, "content-disposition") or "").split(";")[0].strip().lower()
    return disposition == "attachment"


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        return None
    return decode_words(str(name)).strip() or None if name else None


def _part_text(part: Message) -> str:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        payload = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    return decode_bytes(payload, charset).replace("\r\n", "\n").replace("\r", "\n")


def unflow(text: str, delsp: bool = False) -> str:
    """RFC 3676 format=flowed text with its soft line breaks joined (quote depth respected)."""
    lines: list[tuple[int, str]] = []
    joining = False
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        body = line[depth:]
        body = body[1:] if body.startswith(" ") else body  # space-stuffing
        soft = body.endswith(" ") and body != "-- "
        if soft and delsp:
            body = body[:-1]
        if joining and lines and lines[-1][0] == depth:
            lines[-1] = (depth, lines[-1][1] + body)
        else:
            lines.append((depth, body))
        joining = soft
    return "\n".join(">" * depth + (" " if depth and body else "") + body for depth, body in lines)


def _param(part: Message, name: str) -> str:
    try:
        value = part.get_param(name)
    except Exception:
        return ""
    return str(value).lower() if isinstance(value, str) else ""


def _children(part: Message) -> list[Message]:
    payload = part.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _note(part: Message, ctype: str) -> str:
    return f"[attachment: {_filename(part) or ctype}]"


def _render(part: Message, depth: int) -> list[str]:
    """Blocks of text for one MIME part (recursive, depth-limited)."""
    if depth > MAX_DEPTH:
        return []
    ctype = part.get_content_type().lower()
    main, _, sub = ctype.partition("/")
    if main == "multipart":
        children = _children(part)
        if not children:
            return [_part_text(part).strip()] if sub != "encrypted" else []
        if sub == "alternative":
            plain = [c for c in children if c.get_content_type().lower() == "text/plain" and not _is_attachment(c)]
            for child in plain + [c for c in children if c not in plain]:
                blocks = _render(child, depth + 1)
                if any(b.strip() for b in blocks):
                    return blocks
            return []
        if sub == "encrypted":
            return ["[encrypted message: open it in a mail client that has the key]"]
        if sub == "related":
            children = children[:1]
        if sub == "signed":
            children = [c for c in children if not c.get_content_type().lower().endswith("signature")]
        if sub == "report":
            children = [c for c in children if c.get_content_type().lower() != "text/rfc822-headers"]
        return [b for child in children for b in _render(child, depth + 1)]
    if ctype == "message/rfc822":
        inner = _children(part)
        if not inner:
            return []
        lines = ["---------- Forwarded message ----------"]
        for name in ("From", "Date", "Subject", "To"):
            value = header(inner[0], name)
            if value:
                lines.append(f"{name}: {value}")
        return ["\n".join(lines), *_render(inner[0], depth + 1)]
    if ctype == "message/delivery-status":
        blocks = _children(part)
        text = "\n\n".join("\n".join(f"{k}: {decode_words(str(v)).strip()}" for k, v in b.raw_items()) for b in blocks)
        return [text] if text else []
    if _is_attachment(part) or (main != "text" and main != "message"):
        return [_note(part, ctype)]
    if main == "text" and sub in ("calendar", "vcard", "x-vcard", "directory", "csv") or _filename(part):
        return [_note(part, ctype)]
    text = _part_text(part)
    if sub == "html":
        return [html_to_text(text)]
    if sub == "plain" and _param(part, "format") == "flowed":
        text = unflow(text, _param(part, "delsp") == "yes")
    return [text.strip("\n").rstrip()]


def body_text(msg: Message) -> str:
    """The readable body of a message: text/plain (else HTML as text), forwarded messages
    inlined, attachments named; at most MAX_TEXT characters."""
    blocks: list[str] = []
    for block in _render(msg, 0):
        block = block.strip("\n")
        if block.strip() and (not blocks or block != blocks[-1]):
            blocks.append(block)
    text = "\n\n".join(blocks)
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT] + "\n[… message shortened]"
    return text


# --- the message ---------------------------------------------------------------------------------

_AUTO_SENDERS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailer)(@|$)", re.I)
_REPORT_TYPES = ("multipart/report",)


def is_auto_generated(msg: Message, sender: str) -> bool:
    """Machine-sent mail (RFC 3834 Auto-Submitted, bulk/list mail, DSNs, daemon senders), which
    nothing may answer automatically."""
    auto = (header(msg, "Auto-Submitted") or "").split(";")[0].strip().lower()
    if auto and auto != "no":
        return True
    if (header(msg, "Precedence") or "").strip().lower() in ("bulk", "list", "junk"):
        return True
    if header(msg, "List-Id") is not None or header(msg, "X-Autoreply") or header(msg, "X-Autorespond"):
        return True
    try:
        if msg.get_content_type().lower() in _REPORT_TYPES:
            return True
    except Exception:
        pass
    return bool(_AUTO_SENDERS.match(sender))




def id_key(message_id: str) -> str:
    """A Message-ID as a platform id: as written (with its angle brackets), or a hash when it is
    too long to index."""
    if len(message_id) <= MAX_ID:
        return message_id
    return SYNTHETIC + hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def _synthetic_id(data: bytes, msg: Message) -> str:
    # Stable for the same stored message: the headers that identify it, and its body.
    digest = hashlib.sha256()
    for name in ("from", "to", "date", "subject"):
        digest.update((raw_header(msg, name) or "").encode("utf-8", "surrogateescape") + b"\0")
    split = re.search(rb"\r?\n\r?\n", data)
    digest.update((data[split.end():] if split else data).replace(b"\r\n", b"\n"))  # servers store CRLF
    return SYNTHETIC + digest.hexdigest()[:40]


def _language(value: str | None) -> str | None:
    if not value:
        return None
    tag = value.split(",")[0].strip().split("-")[0].lower()
    return tag if re.fullmatch(r"[a-z]{2,3}", tag) else None


def _build(data: bytes, msg: Message, received_at: datetime, extra: dict[str, Any]) -> Inbound | Skipped:
    ids = message_ids(raw_header(msg, "message-id"))
    message_id = ids[0] if ids else None
    platform_id = id_key(message_id) if message_id else _synthetic_id(data, msg)
    name, addr = address(msg, "from")
    if not addr:
        for fallback in ("sender", "return-path"):
            addr = address(msg, fallback)[1] or addr
            if addr:
                break
    auto = is_auto_generated(msg, addr)
    if not addr:
        if not auto:
            return Skipped(platform_id, "no sender address (From, Sender and Return-Path are missing or empty)")
        addr = "mailer-daemon"  # a bounce from the null sender "<>"
    subject = shorten(header(msg, "subject") or "", MAX_SUBJECT)
    references = message_ids(raw_header(msg, "references"))
    parents = message_ids(raw_header(msg, "in-reply-to"))
    parent = parents[0] if parents else (references[-1] if references else None)
    body = body_text(msg)
    text = f"Subject: {subject}\n\n{body}" if subject else body
    reply_to = address(msg, "reply-to")[1]
    if len(references) > MAX_REFERENCES:
        references = references[:1] + references[-(MAX_REFERENCES - 1):]
    ref = {"message_id": message_id, "references": references or ([parent] if parent else []),
           "subject": subject or "", "reply_to": reply_to or None, "from": addr, "name": name}
    headers = {k: header(msg, k) for k in ("From", "To", "Cc", "Reply-To", "Subject", "Date", "Message-ID",
                                           "In-Reply-To", "Auto-Submitted", "List-Id", "Content-Language")}
    return Inbound(
        platform_id=platform_id,
        kind="email",
        visibility="private",
        text=text,
        author=Contact(platform_id=addr.lower(), handle=addr.lower(), display_name=name, bot=auto),
        published_at=parse_date(header(msg, "date"), received_at) or received_at,
        in_reply_to=id_key(parent) if parent else None,
        language=_language(header(msg, "content-language")),
        raw={**extra, "size": len(data), "headers": {k: v for k, v in headers.items() if v is not None}},
        reply_ref=json.dumps(ref, ensure_ascii=False, separators=(",", ":")),
        auto_generated=auto,
    )


def parse_message(data: bytes, *, received_at: datetime | None = None, uid: int | None = None) -> Inbound | Skipped:
    """One RFC 5322 message as an `Inbound`, or a `Skipped` saying why not. Never raises.

    `received_at` (IMAP INTERNALDATE) stands in for a missing or absurd `Date:`; `uid` is kept in
    `raw` for the agent's reference."""
    received = received_at or datetime.now(UTC)
    extra: dict[str, Any] = {"uid": uid} if uid is not None else {}
    if received_at is not None:
        extra["internal_date"] = received_at.isoformat()
    where = f"uid {uid}" if uid is not None else ""
    if not isinstance(data, (bytes, bytearray)) or not data.strip():
        return Skipped(where, "empty message")
    data = bytes(data)
    failure: Exception | None = None
    for policy in (email.policy.default, email.policy.compat32):
        try:
            msg = BytesParser(policy=policy).parsebytes(data)
            return _build(data, msg, received, extra)
        except Exception as exc:  # policy.default breaks on a few malformed headers: retry compat32
            failure = exc
    return Skipped(where, f"unparseable message ({type(failure).__name__}: {failure})")
