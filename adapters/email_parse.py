"""RFC 5322 messages to normalised `Inbound` (or `Skipped` with the reason). Pure: no I/O, never
raises on a message.

The text an agent reads is the subject as a first line ("Subject: …", then a blank line), then the
`text/plain` body (HTML turned into text when there is no plain part), forwarded messages inlined
under a "Forwarded message" line, and one "[attachment: name]" line per attachment. Quoted reply
tails stay. `reply_ref` is a small JSON object with what a proper reply needs (`reply_ref_fields`).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email.policy
import email.utils
import hashlib
import json
import quopri
import re
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.parser import BytesParser
from html.parser import HTMLParser
from typing import Any

from socialdesk.adapters.base import Contact, Inbound, Skipped

MAX_ID = 200  # longer Message-IDs become a hash (platform ids are indexed)
MAX_TEXT = 100_000
MAX_DEPTH = 8  # nested multiparts / forwarded messages followed
MAX_REFERENCES = 20
SYNTHETIC = "sha256:"  # prefix of ids made up for messages without a usable Message-ID

# --- decoding ------------------------------------------------------------------------------------

_ALIASES = {"iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "us-ascii": "utf-8",
            "ascii": "utf-8", "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030",
            "ks_c_5601-1987": "cp949", "unicode-1-1-utf-7": "utf-7", "x-unknown": "utf-8",
            "unknown-8bit": "utf-8", "x-user-defined": "utf-8", "iso-8859-8-i": "iso-8859-8"}


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes in their declared charset; mislabelled or unknown charsets fall back to UTF-8, then
    Windows-1252 (what mail clients do: "iso-8859-1" and "us-ascii" mail is often cp1252/UTF-8)."""
    name = (charset or "").strip().strip('"').lower()
    name = _ALIASES.get(name, name)
    if name:
        try:
            codecs.lookup(name)
        except LookupError:
            name = ""
    if name and name not in ("utf-8", "cp1252"):
        try:
            return data.decode(name)
        except (UnicodeDecodeError, LookupError, ValueError):
            pass
    if name != "cp1252":
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return data.decode("cp1252", errors="replace")


def _unescape_8bit(text: str) -> str:
    # The parser keeps raw 8-bit header bytes as surrogate escapes.
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        return decode_bytes(text.encode("utf-8", "surrogateescape"), None)
    return text


_ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?\s]*)\?=")


def _word_bytes(kind: str, text: str) -> bytes | None:
    try:
        if kind in "bB":
            return base64.b64decode(text + "=" * (-len(text) % 4))
        return quopri.decodestring(text.encode("ascii", "replace"), header=True)
    except (binascii.Error, ValueError):
        return None


def _words(value: str) -> str:
    """RFC 2047 encoded words decoded (runs in one charset joined first: mailers split multi-byte
    characters across words), raw 8-bit text decoded tolerantly."""
    value = _unescape_8bit(value)
    if "=?" not in value:
        return value
    out: list[str] = []
    run: tuple[str, bytes] | None = None  # (charset, bytes) of adjacent encoded words
    position = 0
    for match in _ENCODED_WORD.finditer(value):
        between = value[position:match.start()]
        data = _word_bytes(match.group(2), match.group(3))
        if data is None:
            continue
        charset = match.group(1).lower()
        if run is not None and not between.strip() and run[0] == charset:
            run = (charset, run[1] + data)  # whitespace between encoded words is not text
        else:
            if run is not None:
                out.append(decode_bytes(run[1], run[0]))
            if run is None or between.strip():
                out.append(between)
            run = (charset, data)
        position = match.end()
    if run is not None:
        out.append(decode_bytes(run[1], run[0]))
    out.append(value[position:])
    return "".join(out)


def raw_header(msg: Message, name: str) -> str | None:
    """The first `name` header, unfolded, without trusting the policy's header parser (which
    raises on some malformed headers)."""
    wanted = name.lower()
    try:
        items = list(msg.raw_items())
    except Exception:
        return None
    for key, value in items:
        if str(key).lower() == wanted:
            text = value if isinstance(value, str) else str(value)
            return re.sub(r"\r?\n[ \t]*", " ", text).replace("\r", " ").replace("\n", " ").strip()
    return None


def header(msg: Message, name: str) -> str | None:
    value = raw_header(msg, name)
    return _words(value).strip() if value is not None else None


def address(msg: Message, name: str) -> tuple[str, str]:
    """(display name, address) of the first address in a header; ("", "") when none."""
    value = raw_header(msg, name)
    if not value:
        return "", ""
    try:
        pairs = email.utils.getaddresses([_unescape_8bit(value)])
    except Exception:
        pairs = []
    for display, addr in pairs:
        display, addr = _words(display).strip(), addr.strip()
        if addr or display:
            return display, addr
    return "", ""


_MSGID = re.compile(r"<([^<>]*)>")


def message_ids(value: str | None) -> list[str]:
    """The `<id>`s in a Message-ID / In-Reply-To / References value, in order (folding removed)."""
    if not value:
        return []
    found = ["<" + re.sub(r"\s+", "", inner) + ">" for inner in _MSGID.findall(value)]
    found = [f for f in found if f != "<>"]
    if not found and value.split():
        bare = value.split()[0].strip("<>")
        found = [f"<{bare}>"] if bare else []
    return found


def id_key(message_id: str) -> str:
    """A Message-ID as a platform id: as written (with its angle brackets), or a hash when it is
    too long to index."""
    if len(message_id) <= MAX_ID:
        return message_id
    return SYNTHETIC + hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()[:40]


# --- dates ---------------------------------------------------------------------------------------


def parse_date(value: str | None, reference: datetime) -> datetime | None:
    """A `Date:` header as aware UTC; None when missing, unparseable or absurd (before 1980, or
    more than a day after `reference`, the time the server received it)."""
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    if when.year < 1980 or when > reference + timedelta(days=1):
        return None
    return when


# --- HTML → text ---------------------------------------------------------------------------------

_BLOCKS = {"p", "div", "tr", "li", "ul", "ol", "dl", "dt", "dd", "table", "blockquote", "pre", "hr",
           "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "header", "footer", "address",
           "center", "form", "fieldset", "figure", "main", "nav", "aside"}
_PARAGRAPHS = {"p", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "pre"}
_HIDDEN = {"script", "style", "head", "title", "template", "noscript", "xml"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.hidden = 0
        self.pre = 0
        self.links: list[tuple[str | None, int]] = []  # (href, where its text starts in out)

    def _break(self, lines: int) -> None:
        if not self.out:
            return
        tail = "".join(self.out[-4:]).rstrip(" ")
        have = len(tail) - len(tail.rstrip("\n"))
        if have < lines:
            self.out.append("\n" * (lines - have))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag == "br":
            self.out.append("\n")
        elif tag in _BLOCKS:
            self._break(2 if tag in _PARAGRAPHS else 1)
            self.pre += tag == "pre"
        elif tag in ("td", "th"):
            self.out.append(" ")
        elif tag == "a":
            href = dict(attrs).get("href")
            self.links.append((href if href and href.startswith(("http://", "https://")) else None, len(self.out)))

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCKS:
            if tag == "pre" and self.pre > 0:
                self.pre -= 1
            self._break(2 if tag in _PARAGRAPHS else 1)
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            label = "".join(self.out[start:]).strip()
            if href and label and href.rstrip("/") not in label:
                self.out.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        if not self.pre:
            data = re.sub(r"\s+", " ", data)
            if not self.out or self.out[-1].endswith("\n"):
                data = data.lstrip(" ")
        self.out.append(data)


def html_to_text(html_text: str) -> str:
    """HTML mail as plain text: scripts, styles and the head dropped, entities decoded, block
    elements and `<br>` kept as line breaks, link targets kept after their text."""
    parser = _Text()
    try:
        parser.feed(html_text)
        parser.close()
    except Exception:  # HTMLParser is lenient; this only guards against the unforeseen
        pass
    text = "".join(parser.out)
    text = "\n".join(line.rstrip(" \t") for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# --- bodies --------------------------------------------------------------------------------------


def _is_attachment(part: Message) -> bool:
    disposition = (raw_header(part, "content-disposition") or "").split(";")[0].strip().lower()
    return disposition == "attachment"


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        return None
    return _words(str(name)).strip() or None if name else None


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
        text = "\n\n".join("\n".join(f"{k}: {_words(str(v)).strip()}" for k, v in b.raw_items()) for b in blocks)
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


def reply_ref_fields(ref: str | None) -> dict[str, Any]:
    """`Inbound.reply_ref` back as a dict: message_id, references (list), subject, reply_to,
    from, name. Missing or broken refs give an empty dict."""
    if not ref:
        return {}
    try:
        value = json.loads(ref)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


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
    subject = header(msg, "subject")
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
    if not isinstance(data, (bytes, bytearray)) or not data.strip():
        return Skipped(f"uid {uid}" if uid is not None else "", "empty message")
    data = bytes(data)
    failure: Exception | None = None
    for policy in (email.policy.default, email.policy.compat32):
        try:
            msg = BytesParser(policy=policy).parsebytes(data)
            return _build(data, msg, received, extra)
        except Exception as exc:  # policy.default breaks on a few malformed headers: retry compat32
            failure = exc
    return Skipped(f"uid {uid}" if uid is not None else "",
                   f"unparseable message ({type(failure).__name__}: {failure})")
