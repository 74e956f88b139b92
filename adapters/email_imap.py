"""IMAP protocol details for the email adapter: mailbox names (modified UTF-7), quoting, FETCH
and SEARCH answers as imaplib hands them over, the few commands it runs on a logged-in imaplib
connection (EXAMINE, UID SEARCH, UID FETCH, CAPABILITY), and a line reader with timeouts for IDLE.

This module only imports the standard library and `socialdesk.adapters`."""

from __future__ import annotations

import base64
import contextlib
import imaplib
import re
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from socialdesk.adapters.base import AdapterError

_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                       "nov", "dec"), 1)}


def imap_utf7(name: str) -> str:
    """A mailbox name in IMAP's modified UTF-7 (RFC 3501 §5.1.3), e.g. "Éléments envoyés"."""
    out, pending = [], ""

    def flush() -> None:
        nonlocal pending
        if pending:
            data = pending.encode("utf-16-be")
            out.append("&" + base64.b64encode(data).decode("ascii").rstrip("=").replace("/", ",") + "-")
            pending = ""

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending += ch
    flush()
    return "".join(out)


def quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def mailbox_name(name: str) -> str:
    return quoted(imap_utf7(name))


def internaldate(text: bytes) -> datetime | None:
    match = re.search(rb'INTERNALDATE "\s*(\d{1,2})-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)"', text)
    if not match:
        return None
    day, mon, year, hh, mm, ss, sign, oh, om = (g.decode("ascii") for g in match.groups())
    try:
        offset = timedelta(hours=int(oh), minutes=int(om)) * (1 if sign == "+" else -1)
        local = datetime(int(year), _MONTHS[mon.lower()], int(day), int(hh), int(mm), int(ss), tzinfo=UTC)
    except (KeyError, ValueError):
        return None
    return local - offset


def parse_fetch(data: list[Any]) -> dict[int, dict[str, Any]]:
    """imaplib's FETCH answer as {uid: {"body": bytes | None, "internal_date": dt, "flags": str}}.
    Attributes may come before or after the literal; unsolicited FETCHes (flag changes) merge in."""
    records: list[list[Any]] = []  # [attribute text, literal]
    for item in data:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], bytes):
            records.append([item[0], item[1]])
        elif isinstance(item, bytes):
            if records and not re.match(rb"\d+ \(", item):
                records[-1][0] += item  # what follows the literal, up to ")"
            else:
                records.append([item, None])
    out: dict[int, dict[str, Any]] = {}
    for head, literal in records:
        uid = re.search(rb"UID (\d+)", head)
        if not uid:
            continue
        entry = out.setdefault(int(uid.group(1)), {"body": None, "internal_date": None, "flags": None})
        if isinstance(literal, bytes):
            entry["body"] = literal
        entry["internal_date"] = internaldate(head) or entry["internal_date"]
        flags = re.search(rb"FLAGS \(([^)]*)\)", head)
        if flags:
            entry["flags"] = flags.group(1).decode("ascii", "replace")
    return out


def search_result(data: list[Any]) -> list[int]:
    return sorted({int(n) for chunk in data if isinstance(chunk, bytes) for n in chunk.split() if n.isdigit()})


def imap_date(day: datetime) -> str:
    return f"{day.day:02d}-{list(_MONTHS)[day.month - 1].title()}-{day.year}"


def parse_cursor(cursor: str | None) -> tuple[int, int] | None:
    match = re.fullmatch(r"\s*(\d+):(\d+)\s*", cursor or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def error_text(*args: Any) -> str:
    """What a server said (imaplib/smtplib hand over bytes, strings or lists of them), cut to 300 characters."""
    parts = [a.decode("utf-8", "replace") if isinstance(a, bytes)
             else error_text(*a) if isinstance(a, (list, tuple)) else str(a) for a in args if a is not None]
    return " ".join(p for p in parts if p).strip()[:300]


# --- commands on a logged-in connection ----------------------------------------------------------


def expect_ok(answer: tuple[str, list[Any]], command: str) -> list[Any]:
    """The data of an imaplib answer that is OK; anything else raises IMAP4.error naming `command`."""
    typ, data = answer
    if typ != "OK":
        raise imaplib.IMAP4.error(f"{command}: {error_text(data)}")
    return data


def examine(conn: imaplib.IMAP4, mailbox: str) -> tuple[int, int | None]:
    """EXAMINE (read-only SELECT) a mailbox: its UIDVALIDITY and UIDNEXT."""
    expect_ok(conn.select(mailbox_name(mailbox), readonly=True), f"EXAMINE {mailbox}")
    values = {}
    for code in ("UIDVALIDITY", "UIDNEXT"):
        found = [int(v) for v in conn.response(code)[1] if isinstance(v, bytes) and v.strip().isdigit()]
        values[code] = found[-1] if found else None
    if values["UIDVALIDITY"] is None:
        raise AdapterError(f"the IMAP server sent no UIDVALIDITY for {mailbox}; it cannot be polled safely",
                           retryable=False)
    return values["UIDVALIDITY"], values["UIDNEXT"]


def uid_search(conn: imaplib.IMAP4, *criteria: str) -> list[int]:
    return search_result(expect_ok(conn.uid("SEARCH", *criteria), f"SEARCH {' '.join(criteria)}"))


def uid_fetch(conn: imaplib.IMAP4, uids: list[int], items: str) -> dict[int, dict[str, Any]]:
    return parse_fetch(expect_ok(conn.uid("FETCH", ",".join(map(str, uids)), items), "FETCH"))


def capabilities(conn: imaplib.IMAP4) -> set[str]:
    """The capabilities after login (some servers list IDLE or UIDPLUS only then)."""
    typ, data = conn.capability()
    if typ != "OK":
        return set(conn.capabilities)
    return {w.decode("ascii", "replace").upper() for d in data if isinstance(d, bytes) for w in d.split()}


def shutdown(conn: imaplib.IMAP4) -> None:
    """Drop the connection without a word (after LOGOUT, or instead of it when something broke)."""
    with contextlib.suppress(Exception):
        conn.shutdown()


# --- the IDLE wire -------------------------------------------------------------------------------


class Wire:
    """Line reading with a timeout on the raw socket of a logged-in imaplib connection (imaplib's
    own file object is unusable after a timeout, and IDLE is mostly waiting)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = b""
        self.tag = 0

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode("ascii") + b"\r\n")

    def command(self, line: str) -> str:
        self.tag += 1
        tag = f"W{self.tag}"
        self.send(f"{tag} {line}")
        return tag

    def readline(self, timeout: float) -> bytes | None:
        """The next line (without CRLF), or None when none came within `timeout` seconds. Socket
        timeouts, not select(): no limit on descriptor numbers, and TLS records are handled."""
        deadline = time.monotonic() + timeout
        restore = self.sock.gettimeout()
        try:
            while b"\n" not in self.buffer:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.sock.settimeout(left)
                try:
                    chunk = self.sock.recv(65536)
                except TimeoutError:  # socket.timeout
                    return None
                if not chunk:
                    raise ConnectionResetError("the server closed the connection")
                self.buffer += chunk
        finally:
            self.sock.settimeout(restore)
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.rstrip(b"\r")

    def until_tagged(self, tag: str, timeout: float, seen: Callable[[bytes], None] = lambda line: None) -> bytes:
        """Read to the tagged answer (returned); every untagged line goes to `seen` first."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.readline(max(0.0, deadline - time.monotonic()))
            if line is None:
                raise TimeoutError(f"no answer to {tag} within {timeout:g}s")
            if line.startswith(tag.encode("ascii") + b" "):
                return line[len(tag) + 1:]
            seen(line)


