"""Email: one mailbox read over IMAP, replies sent over SMTP (stdlib imaplib and smtplib).

Polling (`poll`) opens a connection, EXAMINEs the mailbox (a read-only SELECT: no flag ever
changes, fetches use BODY.PEEK) and reads the messages whose UID is above the cursor
"<uidvalidity>:<last uid>", `page_limit` at a time, oldest first. A new UIDVALIDITY means the old
UIDs mean nothing: the whole mailbox is read again, and the store de-duplicates on the platform
id, which is the Message-ID. `watch` keeps a second connection in IDLE and wakes the poller on
`* n EXISTS`.

Sending saves the reply in the Sent mailbox first, flagged \\Draft, then hands it to SMTP, then
clears the flag. So `find_sent` can tell: no copy → never handed over (send again); a copy
without \\Draft → sent; a copy still \\Draft → handed over but no answer came back
(CannotVerify). The Message-ID is derived from the idempotency key, so a resend carries the same
one and mail clients show it once.

This module only imports the standard library and `socialdesk.adapters`.
"""

from __future__ import annotations

import contextlib
import hashlib
import imaplib
import logging
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any, ClassVar

from socialdesk.adapters.base import (
    AdapterError,
    AuthError,
    Capabilities,
    CannotVerify,
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
    error_text,
    imap_date,
    mailbox_name,
    parse_cursor,
    parse_fetch,
    quoted,
    search_result,
)
from socialdesk.adapters.email_parse import message_ids, parse_message, reply_ref_fields

__all__ = ["EmailAdapter", "INBOX", "build_reply", "message_id_for", "reply_subject"]

log = logging.getLogger(__name__)
INBOX = Stream("inbox")
SECURITIES = ("ssl", "starttls", "plain")
MAX_FETCH = 10 * 1024 * 1024  # bytes of one message read (text parts come first; attachments may be cut)
IDLE_RESTART = 29 * 60  # RFC 2177: servers may drop a client idle for 30 minutes
DATA_WAIT = 300.0  # RFC 5321 §4.5.3.2.6 gives the server 10 minutes to answer the end of DATA


# --- replies ---------------------------------------------------------------------------------------

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
    ref = reply_ref_fields(message.reply_ref)
    to = _single_line(str(ref.get("reply_to") or ref.get("from") or message.recipient_id or message.recipient or ""))
    if not re.fullmatch(r"[^@\s<>(),;:\"]+@[^@\s<>(),;:\"]+", to):
        raise NotAllowed(f"no email address to answer ({to or 'none'} is not one): the message has no usable "
                         "From or Reply-To; write to the customer from a mail client")
    parent_ids = message_ids(ref.get("message_id") or message.in_reply_to)
    parent = parent_ids[0] if parent_ids and "@" in parent_ids[0] else None
    chain = [r for r in ref.get("references") or [] if isinstance(r, str) and message_ids(r) == [r]]
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["From"] = sender
    name = _single_line(str(ref.get("name") or "")) if to == ref.get("from") else ""
    msg["To"] = formataddr((name, to))
    subject = _single_line(str(ref.get("subject") or ""))
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


# --- the adapter ---------------------------------------------------------------------------------


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
        self._password = password
        self._smtp_password = password if smtp_password is None else smtp_password
        self._secrets = sorted({s for s in (password, smtp_password) if s and len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    # -- errors --

    @contextlib.contextmanager
    def _errors(self, service: str, what: str) -> Iterator[None]:
        """Every IMAP/SMTP/socket/TLS failure as an AdapterError that says where, while doing what."""
        host, port, security = self.imap if service == "IMAP" else self.smtp
        where = f"the {service} server {host}:{port}"
        try:
            yield
        except AdapterError as exc:
            exc.args = (self.redact(str(exc)),)
            raise
        except Exception as exc:
            error = self._error(exc, service, where, what, security)
            if error is None:
                raise
            error.args = (self.redact(str(error)),)
            raise error from None

    def _error(self, exc: Exception, service: str, where: str, what: str, security: str) -> AdapterError | None:
        text = error_text(*exc.args) or type(exc).__name__
        if isinstance(exc, imaplib.IMAP4.abort):
            return AdapterError(f"the connection to {where} broke while {what} ({text})", retryable=True)
        if isinstance(exc, imaplib.IMAP4.error):
            if re.search(r"NONEXISTENT|doesn't exist|does not exist|unknown mailbox|no such mailbox", text, re.I):
                return AdapterError(f"{where} has no such mailbox while {what} ({text}); check the channel's "
                                    "mailbox / sent_mailbox setting", retryable=False)
            return AdapterError(f"{where} refused a command while {what}: {text}", retryable=True)
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return self._auth_error(service, where, f"{exc.smtp_code} {error_text(exc.smtp_error)}")
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return AdapterError(f"{where} closed the connection while {what} ({text})", retryable=True)
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            codes = [(code, error_text(msg)) for code, msg in exc.recipients.values()] or [(550, "refused")]
            code, reason = codes[0]
            return AdapterError(f"{where} refused the recipient while {what} ({code} {reason})",
                                retryable=400 <= code < 500)
        if isinstance(exc, smtplib.SMTPResponseException):
            reason = error_text(exc.smtp_error)
            return AdapterError(f"{where} answered {exc.smtp_code} while {what}: {reason}",
                                retryable=400 <= exc.smtp_code < 500)
        if isinstance(exc, smtplib.SMTPException):
            return AdapterError(f"{where} cannot be used as configured while {what} ({text}); check "
                                f"{service.lower()}_security and the port", retryable=False)
        if isinstance(exc, ssl.SSLCertVerificationError):
            return AdapterError(f"{where} presented a certificate that does not verify ({exc.verify_message}); "
                                f"check the {service.lower()}_host name", retryable=False)
        if isinstance(exc, ssl.SSLError):
            hint = "ssl for 993/465, starttls for 143/587" if security != "plain" else "plain is for loopback only"
            return AdapterError(f"TLS with {where} failed while {what} ({text}); check {service.lower()}_security "
                                f"({hint})", retryable=False)
        if isinstance(exc, (socket.timeout, TimeoutError)):
            return AdapterError(f"{where} did not answer within {self.timeout:g}s while {what}", retryable=True)
        if isinstance(exc, (ConnectionRefusedError, socket.gaierror)):
            return AdapterError(f"cannot reach {where} while {what} ({text}); check the host and port",
                                retryable=True)
        if isinstance(exc, OSError):
            return AdapterError(f"the connection to {where} failed while {what} ({type(exc).__name__}: {text})",
                                retryable=True)
        if isinstance(exc, UnicodeEncodeError):
            return AdapterError(f"{where} cannot be sent a non-ASCII user name or password over this "
                                "protocol; use an ASCII app password", retryable=False)
        return None

    def _auth_error(self, service: str, where: str, reason: str) -> AdapterError:
        if re.search(r"\[UNAVAILABLE\]|\[INUSE\]|^454|^4\d\d", reason):
            return AdapterError(f"{where} cannot check the login right now ({reason})", retryable=True)
        user = self.username if service == "IMAP" else self.smtp_username
        return AuthError(f"{where} refused the login for {user} ({reason}); check the user name and password "
                         "(Gmail, Outlook and iCloud want an app password) with `socialdesk auth test`")

    # -- IMAP --

    def _imap_connect(self) -> imaplib.IMAP4:
        host, port, security = self.imap
        if security == "ssl":
            conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(host, port, ssl_context=ssl.create_default_context(),
                                                    timeout=self.timeout)
        else:
            conn = imaplib.IMAP4(host, port, timeout=self.timeout)
        try:
            if security == "starttls":
                conn.starttls(ssl_context=ssl.create_default_context())
            self._imap_login(conn)
        except BaseException:
            _shutdown(conn)
            raise
        return conn

    def _imap_login(self, conn: imaplib.IMAP4) -> None:
        try:
            if "AUTH=PLAIN" in conn.capabilities:  # UTF-8 safe, unlike LOGIN's quoted strings
                secret = f"\0{self.username}\0{self._password}".encode()
                conn.authenticate("PLAIN", lambda _challenge: secret)
            else:
                conn.login(quoted(self.username), self._password)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as exc:
            host, port, _ = self.imap
            raise self._auth_error("IMAP", f"the IMAP server {host}:{port}", error_text(*exc.args)) from None

    @contextlib.contextmanager
    def _session(self, what: str) -> Iterator[imaplib.IMAP4]:
        """A logged-in IMAP connection for one operation; logged out (or dropped) afterwards."""
        with self._errors("IMAP", what):
            conn = self._imap_connect()
            ok = False
            try:
                yield conn
                ok = True
            finally:
                if ok:
                    with contextlib.suppress(Exception):
                        conn.logout()
                _shutdown(conn)

    def _examine(self, conn: imaplib.IMAP4, mailbox: str) -> tuple[int, int | None]:
        """EXAMINE (read-only SELECT) a mailbox: its UIDVALIDITY and UIDNEXT."""
        typ, data = conn.select(mailbox_name(mailbox), readonly=True)
        if typ != "OK":
            raise imaplib.IMAP4.error(f"EXAMINE {mailbox}: {error_text(data)}")
        values = {}
        for code in ("UIDVALIDITY", "UIDNEXT"):
            found = [int(v) for v in conn.response(code)[1] if isinstance(v, bytes) and v.strip().isdigit()]
            values[code] = found[-1] if found else None
        if values["UIDVALIDITY"] is None:
            raise AdapterError(f"the IMAP server sent no UIDVALIDITY for {mailbox}; it cannot be polled safely",
                               retryable=False)
        return values["UIDVALIDITY"], values["UIDNEXT"]

    def _search(self, conn: imaplib.IMAP4, *criteria: str) -> list[int]:
        typ, data = conn.uid("SEARCH", *criteria)
        if typ != "OK":
            raise imaplib.IMAP4.error(f"SEARCH {' '.join(criteria)}: {error_text(data)}")
        return search_result(data)

    def _fetch(self, conn: imaplib.IMAP4, uids: list[int], items: str) -> dict[int, dict[str, Any]]:
        typ, data = conn.uid("FETCH", ",".join(map(str, uids)), items)
        if typ != "OK":
            raise imaplib.IMAP4.error(f"FETCH: {error_text(data)}")
        return parse_fetch(data)

    def _page(self, conn: imaplib.IMAP4, uids: list[int],
              since: datetime | None = None) -> tuple[list[Inbound], list[Skipped]]:
        fetched = self._fetch(conn, uids, f"(UID INTERNALDATE BODY.PEEK[]<0.{MAX_FETCH}>)")
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

    # -- polling --

    def poll(self, cursor: str | None, stream: str = "inbox") -> Iterator[Page]:
        """New mail after `cursor` ("<uidvalidity>:<last uid>"), `page_limit` messages a page, oldest
        first. No cursor: start from now. Another UIDVALIDITY (or a cursor that is not one of
        ours): read the whole mailbox again; Message-IDs keep the store free of duplicates."""
        self._check(stream)
        with self._session(f"reading new mail in {self.mailbox}") as conn:
            uidvalidity, uidnext = self._examine(conn, self.mailbox)
            if cursor is None:
                last = uidnext - 1 if uidnext else max(self._search(conn, "ALL") or [0])
                yield Page(messages=[], cursor=f"{uidvalidity}:{last}")
                return
            known = parse_cursor(cursor)
            last = known[1] if known is not None and known[0] == uidvalidity else 0
            uids = [uid for uid in self._search(conn, "UID", f"{last + 1}:*") if uid > last]
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
        with self._session(f"reading older mail in {self.mailbox}") as conn:
            self._examine(conn, self.mailbox)
            # SINCE compares whole days in the server's time zone: ask from the day before.
            uids = self._search(conn, "SINCE", imap_date(since - timedelta(days=1)))
            for chunk in reversed(self._chunks(uids)):
                messages, skipped = self._page(conn, chunk, since)
                yield Page(messages=messages[::-1], cursor=None, skipped=skipped)

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
                with self._session(f"waiting for new mail in {self.mailbox}") as conn:
                    if not self._has_idle(conn):
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

    def _has_idle(self, conn: imaplib.IMAP4) -> bool:
        return "IDLE" in self._caps(conn)

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
        """Save the reply in Sent (flagged \\Draft), hand it to SMTP, clear the flag. A final copy
        already in Sent means an earlier attempt went out: nothing is sent again. A refused reply
        leaves no copy. An answer lost after the message went out raises CannotVerify and keeps the
        \\Draft copy; sending the entry again later (a person's decision) reuses its Message-ID."""
        if len(message.text) > self.capabilities.max_length:
            raise NotAllowed(f"the reply is {len(message.text)} characters; email replies stop at "
                             f"{self.capabilities.max_length}")
        now = datetime.now(UTC)
        msg = build_reply(message, self.address, now)
        message_id = str(msg["Message-ID"])
        payload = msg.as_bytes()
        with self._session(f"saving the reply in {self.sent_mailbox}") as conn:
            copy = self._sent_copy(conn, message_id)
            if copy is not None and "\\draft" not in copy[1].lower():
                return SendResult(platform_id=message_id, url=None, sent_at=copy[2] or now, text=message.text)
            if copy is None:
                self._append_pending(conn, payload, now)
        try:
            self._smtp_send(parseaddr(str(msg["To"]))[1], payload, message_id)
        except CannotVerify:
            raise  # the copy stays \Draft: find_sent says the same
        except AdapterError:
            self._settle(message_id, delete=True)  # the server said no: no trace of a send that did not happen
            raise
        self._settle(message_id, delete=False)
        return SendResult(platform_id=message_id, url=None, sent_at=now, text=message.text)

    def _sent_copy(self, conn: imaplib.IMAP4, message_id: str) -> tuple[int, str, datetime | None] | None:
        """(uid, flags, internal date) of the Sent copy of a reply, or None. Selects sent_mailbox."""
        typ, _ = conn.select(mailbox_name(self.sent_mailbox))
        if typ != "OK":
            return None
        uids = self._search(conn, "HEADER", "Message-ID", quoted(message_id), "NOT", "DELETED")
        if not uids:
            return None
        entry = self._fetch(conn, uids[:1], "(UID FLAGS INTERNALDATE)").get(uids[0], {})
        return uids[0], entry.get("flags") or "", entry.get("internal_date")

    def _append_pending(self, conn: imaplib.IMAP4, payload: bytes, now: datetime) -> None:
        mailbox = mailbox_name(self.sent_mailbox)
        when = imaplib.Time2Internaldate(now.timestamp())
        typ, data = conn.append(mailbox, r"(\Seen \Draft)", when, payload)
        if typ != "OK" and re.search(rb"TRYCREATE|exist", b" ".join(d for d in data if isinstance(d, bytes)), re.I):
            conn.create(mailbox)
            conn.subscribe(mailbox)
            typ, data = conn.append(mailbox, r"(\Seen \Draft)", when, payload)
        if typ != "OK":
            raise AdapterError(f"the IMAP server would not save the reply in {self.sent_mailbox} "
                               f"({error_text(data)}); nothing was sent", retryable=True)

    def _settle(self, message_id: str, *, delete: bool) -> None:
        """Clear the \\Draft flag of the Sent copy (sent), or remove the copy (refused). Best effort:
        the SMTP answer already decided the outcome."""
        try:
            with self._session(f"updating the reply in {self.sent_mailbox}") as conn:
                copy = self._sent_copy(conn, message_id)
                if copy is None:
                    return
                target = str(copy[0])
                if not delete:
                    conn.uid("STORE", target, "-FLAGS.SILENT", r"(\Draft)")
                    return
                conn.uid("STORE", target, "+FLAGS.SILENT", r"(\Deleted)")
                if "UIDPLUS" in self._caps(conn):
                    conn.xatom("UID", "EXPUNGE", target)  # only this message; a plain EXPUNGE could take others
        except AdapterError as exc:
            log.warning("email %s: could not update the Sent copy of %s: %s", self.address, message_id, exc)

    @staticmethod
    def _caps(conn: imaplib.IMAP4) -> set[str]:
        """The capabilities after login (some servers list IDLE or UIDPLUS only then)."""
        typ, data = conn.capability()
        if typ != "OK":
            return set(conn.capabilities)
        return {w.decode("ascii", "replace").upper() for d in data if isinstance(d, bytes) for w in d.split()}

    def _smtp_connect(self) -> smtplib.SMTP:
        host, port, security = self.smtp
        if security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=self.timeout,
                                                  context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(host, port, timeout=self.timeout)
        try:
            smtp.ehlo()
            if security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if smtp.has_extn("auth"):
                smtp.login(self.smtp_username, self._smtp_password)
        except BaseException:
            with contextlib.suppress(Exception):
                smtp.close()
            raise
        return smtp

    def _smtp_send(self, to: str, payload: bytes, message_id: str) -> None:
        """MAIL, RCPT, DATA. Until the message is on the wire any failure means "not sent"; after
        that, a lost answer means nobody can tell (CannotVerify)."""
        host, port, _ = self.smtp
        with self._errors("SMTP", "sending the reply"):
            smtp = self._smtp_connect()
            try:
                code, reply = smtp.mail(self.address)
                if code != 250:
                    raise smtplib.SMTPSenderRefused(code, reply, self.address)
                code, reply = smtp.rcpt(to)
                if code not in (250, 251):
                    raise smtplib.SMTPRecipientsRefused({to: (code, reply)})
                code, reply = smtp.docmd("DATA")
                if code != 354:
                    raise smtplib.SMTPDataError(code, reply)
                body = re.sub(rb"(?m)^\.", b"..", payload)
                body += b"" if body.endswith(b"\r\n") else b"\r\n"
                try:
                    smtp.send(body + b".\r\n")
                    if smtp.sock is not None:
                        smtp.sock.settimeout(max(self.timeout, DATA_WAIT))
                    code, reply = smtp.getreply()
                except OSError as exc:  # SMTPServerDisconnected included
                    raise CannotVerify(
                        f"the SMTP server {host}:{port} took the reply {message_id} but its answer never came "
                        f"({error_text(*exc.args) or type(exc).__name__}); it may have been delivered. Look for "
                        "this Message-ID in the customer's thread or the mail server log before sending again"
                    ) from None
                if code != 250:
                    raise smtplib.SMTPDataError(code, reply)
                with contextlib.suppress(Exception):
                    smtp.quit()
            finally:
                smtp.close()

    def find_sent(self, message: Outbound) -> SendResult | None:
        """The Sent copy decides: none → never handed to SMTP; without \\Draft → sent; still \\Draft
        → handed over, answer lost: CannotVerify."""
        message_id = message_id_for(message.idempotency_key, self.address)
        with self._session(f"looking for the reply in {self.sent_mailbox}") as conn:
            copy = self._sent_copy(conn, message_id)
        if copy is None:
            return None
        if "\\draft" in copy[1].lower():
            raise CannotVerify(f"the reply {message_id} was being handed to the SMTP server when the sender "
                               f"stopped; it may or may not have gone out. Look for it in the customer's thread "
                               f"or the mail server log, then mark it sent or send it again")
        return SendResult(platform_id=message_id, url=None, sent_at=copy[2] or datetime.now(UTC),
                          text=message.text)

    # -- the rest --

    def verify(self) -> str:
        """IMAP login, then SMTP connect, EHLO and login."""
        with self._session("checking the login"):
            pass
        with self._errors("SMTP", "checking the login"):
            smtp = self._smtp_connect()
            with contextlib.suppress(Exception):
                smtp.quit()
            smtp.close()
        (ih, ip, _), (sh, sp, _) = self.imap, self.smtp
        return f"email {self.address} (IMAP {ih}:{ip}, SMTP {sh}:{sp})"

    def close(self) -> None:
        """Nothing to close: every operation opens and closes its own connections."""

    def __enter__(self) -> EmailAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _shutdown(conn: imaplib.IMAP4) -> None:
    with contextlib.suppress(Exception):
        conn.shutdown()
