"""The audit chain's anchor: its head (how many events, the newest hash) kept where the store's
writer cannot silently rewrite it.

- The head row in the store is signed (HMAC-SHA256) with a key the store does not hold: the
  services pass it in from the keyring or the environment. A writer without the key cannot make
  a shortened or rewritten chain carry a valid signature.
- After every commit that wrote events the head is appended to a log file outside the database:
  a chain shortened or rewritten since a head was logged fails that head, also one given back an
  old signed head after the events written since were deleted.

`attach` sets both up for every session of a sessionmaker; store.audit writes and checks them."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
_ANCHOR, _PENDING = "audit_anchor", "audit_head_pending"


@dataclass(frozen=True)
class Anchor:
    key: bytes | None = field(default=None, repr=False)  # None: heads are written unsigned
    log: Path | None = None  # None: no head log


@dataclass(frozen=True, slots=True)
class Head:
    events: int
    hash: str
    mac: str | None = None
    at: str = ""  # when it was logged (ISO), for the report


def sign(key: bytes, events: int, digest: str) -> str:
    return hmac.new(key, f"{events}:{digest}".encode(), hashlib.sha256).hexdigest()


def signed_by(key: bytes, head: Head) -> bool:
    return head.mac is not None and hmac.compare_digest(sign(key, head.events, head.hash), head.mac)


def attach(sessions: sessionmaker[Session], anchor: Anchor) -> None:
    """Sessions from `sessions` sign the heads they write and log them once committed."""
    sessions.configure(info={_ANCHOR: anchor})
    if not event.contains(sessions, "after_commit", _log_pending):
        event.listen(sessions, "after_commit", _log_pending)
        event.listen(sessions, "after_rollback", _forget_pending)


def attached(sessions: sessionmaker[Session]) -> Anchor:
    """The anchor `attach` gave `sessions` (for another sessionmaker on the same store)."""
    return sessions.kw.get("info", {}).get(_ANCHOR) or Anchor()


def anchor_of(session: Session) -> Anchor:
    return session.info.get(_ANCHOR) or Anchor()


def pending(session: Session, head: Head) -> None:
    """The head a transaction wrote, logged when (and only if) it commits."""
    session.info[_PENDING] = head


def _forget_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _log_pending(session: Session) -> None:
    head, path = session.info.pop(_PENDING, None), anchor_of(session).log
    if head is None or path is None:
        return
    line = f"{datetime.now().astimezone().isoformat(timespec='seconds')} {head.events} {head.hash} {head.mac or '-'}\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())  # one write of one short line: appends never interleave
        finally:
            os.close(fd)
    except OSError as exc:  # the commit stands; the log only misses this head
        log.warning("audit head log %s: %s", path, exc)


def logged_heads(path: Path, upto: int | None = None) -> Iterator[Head]:
    """The heads in the log (in its first `upto` bytes), oldest line first; lines that do not
    parse are skipped."""
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        return
    with fh:
        for line in fh if upto is None else fh.read(upto).splitlines():
            parts = line.decode("ascii", "replace").split()
            if len(parts) == 4 and parts[1].isdigit() and len(parts[2]) == 64:
                yield Head(int(parts[1]), parts[2], None if parts[3] == "-" else parts[3], parts[0])


class LogCheck:
    """The heads of the log held against the chain while it is walked in order: one pass over
    both, in bounded memory. Each head is checked when the walk reaches its event count (one a
    concurrent writer appended late, against the last WINDOW hashes walked). Every head counts:
    after an old head is put back and the chain grows again, the heads logged before that no
    longer match."""

    WINDOW = 10_000

    def __init__(self, path: Path, key: bytes | None):
        self.path, self.key = path, key
        # Heads logged from now on may be newer than what the caller's snapshot of the chain holds.
        size = path.stat().st_size if path.exists() else 0
        self._heads = logged_heads(path, size)
        self._next = next(self._heads, None)
        self._recent: deque[str] = deque(maxlen=self.WINDOW)
        self.read = self.foreign = self.unchecked = self.failed = 0
        self.rewritten: Head | None = None  # the first head the chain no longer matches
        self.beyond: Head | None = None  # the head with the most events, if past the chain's end

    def walked(self, events: int, digest: str) -> None:
        """The walk's event number `events` has hash `digest`."""
        self._recent.append(digest)
        while self._next is not None and self._next.events <= events:
            self._hold(self._next, events)
            self._next = next(self._heads, None)

    def _hold(self, head: Head, walked: int) -> None:
        self.read += 1
        self.foreign += self.key is not None and head.mac is not None and not signed_by(self.key, head)
        back = walked - head.events
        if head.events > walked:
            self.beyond = head if self.beyond is None or head.events >= self.beyond.events else self.beyond
        elif back >= len(self._recent):
            self.unchecked += 1
        elif self._recent[-1 - back] != head.hash:
            self.failed += 1
            self.rewritten = self.rewritten or head

    def finish(self, count: int) -> tuple[list[str], list[str]]:
        """(problems, notes) once the walk has ended, `count` events long."""
        for head in [self._next, *self._heads] if self._next else []:
            self._hold(head, count)
        problems, notes = [], []
        if self.beyond is not None:
            problems.append(f"chain truncated: the head log {self.path} ({self.beyond.at}) records "
                            f"{self.beyond.events} events, {count} remain")
        if self.rewritten is not None:
            more = f" ({self.failed - 1} later logged heads differ too)" if self.failed > 1 else ""
            problems.append(f"chain rewritten: its event no. {self.rewritten.events} is not the one the head log "
                            f"{self.path} records ({self.rewritten.at}){more}")
        if self.foreign:
            problems.append(f"{self.foreign} heads in the log {self.path} are not signed with the audit key: the log "
                            "was altered, or written with another key")
        if not self.read:
            notes.append(f"no head logged in {self.path} yet")
        if self.unchecked:
            notes.append(f"{self.unchecked} heads in the log came too far out of order to be checked")
        return problems, notes
