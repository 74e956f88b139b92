"""Header values and text of real-world mail: bytes in their declared charset (with the fallbacks
mail clients use), RFC 2047 encoded words, raw 8-bit headers, the first address of a header, the
Message-IDs of a threading header and the `Date:`. Pure: no I/O, never raises on a value.

Standard library only."""

from __future__ import annotations

import base64
import binascii
import codecs
import email.utils
import quopri
import re
from datetime import UTC, datetime, timedelta
from email.message import Message

# --- charsets -------------------------------------------------------------------------------------

_ALIASES = {"iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "us-ascii": "utf-8",
            "ascii": "utf-8", "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030",
            "ks_c_5601-1987": "cp949", "unicode-1-1-utf-7": "utf-7", "x-unknown": "utf-8",
            "unknown-8bit": "utf-8", "x-user-defined": "utf-8", "iso-8859-8-i": "iso-8859-8"}


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes in their declared charset; mislabelled or unknown charsets fall back to UTF-8, then
    Windows-1252 (what mail clients do: "iso-8859-1" and "us-ascii" mail is often cp1252/UTF-8).
    Text declared UTF-8, or mostly UTF-8, with a few invalid bytes keeps its UTF-8 with U+FFFD
    for those bytes: one bad byte must not turn the whole part into mojibake."""
    declared = (charset or "").strip().strip('"').lower()
    name = _ALIASES.get(declared, declared)
    try:
        name = codecs.lookup(name).name if name else ""
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
            text = data.decode("utf-8", errors="replace")
            if declared in ("utf-8", "utf8") or _mostly_utf8(text):
                return text
    return data.decode("cp1252", errors="replace")


def _mostly_utf8(text: str) -> bool:
    """Whether bytes decoded as UTF-8 (with replacements) held more valid multi-byte characters
    than invalid bytes: UTF-8 with damage, not another charset."""
    invalid = text.count("\ufffd")
    valid = sum(1 for ch in text if ch > "\x7f") - invalid
    return valid > invalid


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


def decode_words(value: str) -> str:
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


# --- headers --------------------------------------------------------------------------------------

MAX_HEADER = 998  # RFC 5322's line limit: no sane header value is longer
MAX_SUBJECT = 250  # a subject longer than this is shortened (it is also sent back in Re: …)


def shorten(value: str, limit: int) -> str:
    """`value` cut to `limit` characters, ending "…" when it was cut."""
    return value if len(value) <= limit else value[:limit - 1].rstrip() + "…"


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
    """A header's decoded value, at most MAX_HEADER characters."""
    value = raw_header(msg, name)
    return shorten(decode_words(value[:MAX_HEADER * 4]).strip(), MAX_HEADER) if value is not None else None


def address(msg: Message, name: str) -> tuple[str, str]:
    """(display name, address) of the first mailbox in a header; ("", "") when none. In
    `alice@x.com <bob@y.com>` the address is bob's: the one in angle brackets, whatever the
    display name looks like (the standard library reads two addresses there and the first would
    be a spoofed one)."""
    value = raw_header(msg, name)
    if not value:
        return "", ""
    value = _unescape_8bit(value[:MAX_HEADER * 4])
    for entry in _mailboxes(value):
        angle = _ANGLE_ADDR.match(entry)
        try:
            display, addr = email.utils.parseaddr(entry)
        except Exception:
            display, addr = "", ""
        if angle is not None and addr != angle.group(2).strip():
            display, addr = angle.group(1).strip().strip('"'), angle.group(2).strip()
        display, addr = shorten(decode_words(display).strip(), MAX_SUBJECT), addr.strip()
        if addr or display:
            return display, addr
    return "", ""


# One mailbox ending in an angle address, with an optional trailing comment: "name <addr> (c)".
_ANGLE_ADDR = re.compile(r"^\s*(.*?)\s*<([^<>]*)>\s*(?:\([^()]*\)\s*)?$", re.S)


def _mailboxes(value: str) -> list[str]:
    """A header value split at the commas between mailboxes (not those in quotes, angle
    brackets or comments)."""
    out, current, quoted, depth, angle, escaped = [], [], False, 0, False, False
    for ch in value:
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"' and not angle and not depth:
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")" and depth:
            depth -= 1
        elif not quoted and not depth and ch in "<>":
            angle = ch == "<"
        elif ch == "," and not (quoted or depth or angle):
            out.append("".join(current))
            current = []
            continue
        current.append(ch)
    out.append("".join(current))
    return [entry for entry in out if entry.strip()]


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
