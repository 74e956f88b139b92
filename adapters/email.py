"""Email: one mailbox read over IMAP, replies sent over SMTP (stdlib imaplib and smtplib).

Polling (`poll`) opens a connection, EXAMINEs the mailbox (a read-only SELECT: no flag ever
changes, fetches use BODY.PEEK) and reads the messages whose UID is above the cursor
"<uidvalidity>:<last uid>", `page_limit` at a time, oldest first. A new UIDVALIDITY means the old
UIDs mean nothing: the whole mailbox is read again, and the store de-duplicates on the platform
id, which is the Message-ID. `watch` keeps a second connection in IDLE and wakes the poller on
`* n EXISTS`.

Sending (`email_send.Mailer`) keeps each reply in the Sent mailbox, whose \\Draft flag says
whether SMTP answered; the reply itself is built in `email_reply`. Connections, logins and error
messages are `email_session.MailServers`; parsing a message is `email_parse`.

This module only imports the standard library and `socialdesk.adapters`.
"""

from __future__ import annotations

import imaplib
import logging
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from socialdesk.adapters.base import (
    AdapterError,
    AuthError,
    Capabilities,
    Inbound,
    NotAllowed,
    Outbound,
    Page,
    SendResult,
    Skipped,
    Stream,
)
from socialdesk.adapters.email_imap import (
    Wire,
    capabilities,
    examine,
    imap_date,
    mailbox_name,
    parse_cursor,
    uid_fetch,
    uid_search,
)
from socialdesk.adapters.email_parse import parse_message
from socialdesk.adapters.email_reply import build_reply, message_id_for, reply_subject
from socialdesk.adapters.email_send import Mailer
from socialdesk.adapters.email_session import SECURITIES, MailServers

__all__ = ["EmailAdapter", "INBOX", "build_reply", "message_id_for", "reply_subject"]

log = logging.getLogger(__name__)
INBOX = Stream("inbox")
MAX_FETCH = 10 * 1024 * 1024  # bytes of one message read (text parts come first; attachments may be cut)
IDLE_RESTART = 29 * 60  # RFC 2177: servers may drop a client idle for 30 minutes


class EmailAdapter:
    kind: ClassVar[str] = "email"
    capabilities = Capabilities(public_reply=False, private_reply=False, dm=False, email=True, max_length=100_000,
                                backfill=True, push=True)
    streams = (INBOX,)

    def __init__(self, *, address: str, password: str, imap_host: str, smtp_host: str, username: str | None = None,
                 imap_port: int = 993, imap_security: str = "ssl", smtp_port: int = 587,
                 smtp_security: str = "starttls", smtp_username: str | None = None,
                 smtp_password: str | None = None, mailbox: str = "INBOX", sent_mailbox: str = "Sent",
                 idle: bool = True, page_limit: int = 50, timeout: float = 30.0):
        for name, value in (("imap_security", imap_security), ("smtp_security", smtp_security)):
            if value not in SECURITIES:
                raise ValueError(f"{name} must be one of {', '.join(SECURITIES)}, not {value!r}")
        self.address = address.strip()
        self.username = username or self.address
        self.imap = (imap_host.strip(), int(imap_port), imap_security)
        self.smtp = (smtp_host.strip(), int(smtp_port), smtp_security)
        self.smtp_username = smtp_username or self.username
        self.mailbox = mailbox
        self.sent_mailbox = sent_mailbox
        self.idle = idle
        self.page_limit = max(1, int(page_limit))
        self.timeout = float(timeout)
        self.idle_restart: float = IDLE_RESTART
        self.capabilities = Capabilities(public_reply=False, private_reply=False, dm=False, email=True,
                                         max_length=100_000, backfill=True, push=bool(idle))
        self.servers = MailServers(imap=self.imap, smtp=self.smtp, username=self.username, password=password,
                                   smtp_username=self.smtp_username, smtp_password=smtp_password,
                                   timeout=self.timeout)
        self.mailer = Mailer(self.servers, self.address, sent_mailbox)

    def redact(self, text: str) -> str:
        return self.servers.redact(text)

    # -- reading --

    def poll(self, cursor: str | None, stream: str = "inbox") -> Iterator[Page]:
        """New mail after `cursor` ("<uidvalidity>:<last uid>"), `page_limit` messages a page, oldest
        first. No cursor: start from now. Another UIDVALIDITY (or a cursor that is not one of
        ours): read the whole mailbox again; Message-IDs keep the store free of duplicates."""
        self._check(stream)
        with self.servers.imap_session(f"reading new mail in {self.mailbox}") as conn:
            uidvalidity, uidnext = examine(conn, self.mailbox)
            if cursor is None:
                last = uidnext - 1 if uidnext else max(uid_search(conn, "ALL") or [0])
                yield Page(messages=[], cursor=f"{uidvalidity}:{last}")
                return
            known = parse_cursor(cursor)
            last = known[1] if known is not None and known[0] == uidvalidity else 0
            uids = [uid for uid in uid_search(conn, "UID", f"{last + 1}:*") if uid > last]
            if not uids:
                yield Page(messages=[], cursor=f"{uidvalidity}:{last}")
                return
            for chunk in self._chunks(uids):
                messages, skipped = self._page(conn, chunk)
                yield Page(messages=messages, cursor=f"{uidvalidity}:{chunk[-1]}", skipped=skipped)

    def backfill(self, since: datetime, stream: str = "inbox") -> Iterator[Page]:
        """Mail the server received from `since` on (`UID SEARCH SINCE`, refined by INTERNALDATE),
        newest page first."""
        self._check(stream)
        since = since.replace(tzinfo=UTC) if since.tzinfo is None else since.astimezone(UTC)
        with self.servers.imap_session(f"reading older mail in {self.mailbox}") as conn:
            examine(conn, self.mailbox)
            # SINCE compares whole days in the server's time zone: ask from the day before.
            uids = uid_search(conn, "SINCE", imap_date(since - timedelta(days=1)))
            for chunk in reversed(self._chunks(uids)):
                messages, skipped = self._page(conn, chunk, since)
                yield Page(messages=messages[::-1], cursor=None, skipped=skipped)

    def _page(self, conn: imaplib.IMAP4, uids: list[int],
              since: datetime | None = None) -> tuple[list[Inbound], list[Skipped]]:
        fetched = uid_fetch(conn, uids, f"(UID INTERNALDATE BODY.PEEK[]<0.{MAX_FETCH}>)")
        messages: list[Inbound] = []
        skipped: list[Skipped] = []
        for uid in uids:
            entry = fetched.get(uid)
            if entry is None or entry["body"] is None:
                skipped.append(Skipped(f"uid {uid}", "expunged before it could be read"))
                continue
            if since is not None and entry["internal_date"] is not None and entry["internal_date"] < since:
                continue
            result = parse_message(entry["body"], received_at=entry["internal_date"], uid=uid)
            (skipped if isinstance(result, Skipped) else messages).append(result)  # type: ignore[arg-type]
        return messages, skipped

    def _chunks(self, uids: list[int]) -> list[list[int]]:
        return [uids[i:i + self.page_limit] for i in range(0, len(uids), self.page_limit)]

    def _check(self, stream: str) -> None:
        if stream not in ("inbox", "mentions"):
            raise AdapterError(f"the email channel has one stream, inbox, not {stream!r}", retryable=False)

    # -- push --

    def watch(self, wake: Callable[[], None], stopped: Callable[[], bool]) -> None:
        """IMAP IDLE on a connection of its own: `wake()` on every `* n EXISTS` (and once per
        connection, for mail that came while it was not listening). IDLE is re-issued every
        `idle_restart` seconds; errors reconnect with back-off. Returns when `stopped()`, at once
        when idle is off or the server has no IDLE, and on refused credentials (polling reports them)."""
        if not self.idle:
            return
        delay = 1.0
        while not stopped():
            try:
                with self.servers.imap_session(f"waiting for new mail in {self.mailbox}") as conn:
                    if "IDLE" not in capabilities(conn):
                        log.info("email %s: the IMAP server has no IDLE; polling only", self.address)
                        return
                    delay = 1.0
                    self._idle(conn, wake, stopped)
            except AuthError as exc:
                log.warning("email %s: IDLE stopped: %s", self.address, exc)
                return
            except AdapterError as exc:
                log.info("email %s: IDLE connection lost (%s); reconnecting in %.0fs", self.address, exc, delay)
                deadline = time.monotonic() + delay
                while not stopped() and time.monotonic() < deadline:
                    time.sleep(0.05)
                delay = min(delay * 2, 300.0)

    def _idle(self, conn: imaplib.IMAP4, wake: Callable[[], None], stopped: Callable[[], bool]) -> None:
        wire = Wire(conn.socket())  # imaplib's buffer is empty after LOGIN/CAPABILITY: the wire takes over
        answer = wire.until_tagged(wire.command(f"EXAMINE {mailbox_name(self.mailbox)}"), self.timeout)
        if not answer.upper().startswith(b"OK"):
            raise imaplib.IMAP4.error(f"EXAMINE {self.mailbox}: {answer.decode('utf-8', 'replace')}")

        def seen(line: bytes) -> None:
            if re.match(rb"\* \d+ EXISTS", line, re.I):
                wake()
            elif line.upper().startswith(b"* BYE"):
                raise imaplib.IMAP4.abort(line.decode("utf-8", "replace"))

        first = True
        while not stopped():
            tag = wire.command("IDLE")
            while True:
                line = wire.readline(self.timeout)
                if line is None:
                    raise TimeoutError("no answer to IDLE")
                if line.startswith(b"+"):
                    break
                if line.startswith(tag.encode() + b" "):
                    raise imaplib.IMAP4.error(f"IDLE refused: {line.decode('utf-8', 'replace')}")
                seen(line)
            if first:
                wake()  # whatever arrived before IDLE started
                first = False
            restart = time.monotonic() + self.idle_restart
            while not stopped() and time.monotonic() < restart:
                line = wire.readline(0.1)
                if line is not None:
                    seen(line)
            wire.send("DONE")
            wire.until_tagged(tag, self.timeout, seen)

    # -- sending --

    def send(self, message: Outbound) -> SendResult:
        """The reply, by SMTP, recorded in the Sent mailbox (see `Mailer.send`): a repeat after a
        crash sends nothing again, an answer lost after the message went out is CannotVerify."""
        if len(message.text) > self.capabilities.max_length:
            raise NotAllowed(f"the reply is {len(message.text)} characters; email replies stop at "
                             f"{self.capabilities.max_length}")
        return self.mailer.send(message)

    def find_sent(self, message: Outbound) -> SendResult | None:
        """Whether the reply went out, as its Sent copy says (see `Mailer.find_sent`); CannotVerify
        when nobody can tell."""
        return self.mailer.find_sent(message)

    # -- the rest --

    def verify(self) -> str:
        """IMAP login, then SMTP connect, EHLO and login."""
        with self.servers.imap_session("checking the login"):
            pass
        with self.servers.smtp_session("checking the login"):
            pass
        (ih, ip, _), (sh, sp, _) = self.imap, self.smtp
        return f"email {self.address} (IMAP {ih}:{ip}, SMTP {sh}:{sp})"

    def close(self) -> None:
        """Nothing to close: every operation opens and closes its own connections."""

    def __enter__(self) -> EmailAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
