"""Sending an email reply, with the Sent mailbox as the record of what went out.

The reply is saved in the Sent mailbox first, flagged \\Draft, then handed to SMTP, then the flag
is cleared. So `find_sent` can tell: no copy → never handed over (send again); a copy without
\\Draft → sent; a copy still \\Draft → handed over but no answer came back (CannotVerify).

This module only imports the standard library and `socialdesk.adapters`.
"""

from __future__ import annotations

import imaplib
import logging
import re
import smtplib
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import NamedTuple

from socialdesk.adapters.base import AdapterError, CannotVerify, Outbound, SendResult
from socialdesk.adapters.email_imap import capabilities, error_text, mailbox_name, quoted, uid_fetch, uid_search
from socialdesk.adapters.email_reply import build_reply, message_id_for
from socialdesk.adapters.email_session import MailServers

log = logging.getLogger("socialdesk.adapters.email")  # the adapter's logger: one name for the channel
DATA_WAIT = 300.0  # RFC 5321 §4.5.3.2.6 gives the server 10 minutes to answer the end of DATA
PENDING = r"(\Seen \Draft)"  # the flags of a copy saved before SMTP has answered


class SentCopy(NamedTuple):
    """The copy of a reply in the Sent mailbox."""

    uid: int
    flags: str
    internal_date: datetime | None

    @property
    def pending(self) -> bool:
        """Still \\Draft: handed to SMTP (or about to be) with no answer recorded."""
        return "\\draft" in self.flags.lower()


class Mailer:
    """Replies from `address` over SMTP, each recorded in `sent_mailbox` on the IMAP server."""

    def __init__(self, servers: MailServers, address: str, sent_mailbox: str):
        self.servers = servers
        self.address = address
        self.sent_mailbox = sent_mailbox

    def send(self, message: Outbound) -> SendResult:
        """Save the reply in Sent (flagged \\Draft), hand it to SMTP, clear the flag. A final copy
        already in Sent means an earlier attempt went out: nothing is sent again. A refused reply
        leaves no copy. An answer lost after the message went out raises CannotVerify and keeps the
        \\Draft copy; sending the entry again later (a person's decision) reuses its Message-ID."""
        now = datetime.now(UTC)
        msg = build_reply(message, self.address, now)
        message_id = str(msg["Message-ID"])
        payload = msg.as_bytes()
        with self.servers.imap_session(f"saving the reply in {self.sent_mailbox}") as conn:
            copy = self._copy(conn, message_id)
            if copy is not None and not copy.pending:
                return _result(message, message_id, copy.internal_date or now)
            if copy is None:
                self._append_pending(conn, payload, now)
        try:
            self._transmit(parseaddr(str(msg["To"]))[1], payload, message_id)
        except CannotVerify:
            raise  # the copy stays \Draft: find_sent says the same
        except AdapterError:
            self._settle(message_id, delete=True)  # the server said no: no trace of a send that did not happen
            raise
        self._settle(message_id, delete=False)
        return _result(message, message_id, now)

    def find_sent(self, message: Outbound) -> SendResult | None:
        """The Sent copy decides: none → never handed to SMTP; without \\Draft → sent; still \\Draft
        → handed over, answer lost: CannotVerify."""
        message_id = message_id_for(message.idempotency_key, self.address)
        with self.servers.imap_session(f"looking for the reply in {self.sent_mailbox}") as conn:
            copy = self._copy(conn, message_id)
        if copy is None:
            return None
        if copy.pending:
            raise CannotVerify(f"the reply {message_id} was being handed to the SMTP server when the sender "
                               f"stopped; it may or may not have gone out. Look for it in the customer's thread "
                               f"or the mail server log, then mark it sent or send it again")
        return _result(message, message_id, copy.internal_date or datetime.now(UTC))

    # -- the Sent mailbox --

    def _copy(self, conn: imaplib.IMAP4, message_id: str) -> SentCopy | None:
        """The Sent copy of a reply, or None. Selects sent_mailbox."""
        typ, _ = conn.select(mailbox_name(self.sent_mailbox))
        if typ != "OK":
            return None
        uids = uid_search(conn, "HEADER", "Message-ID", quoted(message_id), "NOT", "DELETED")
        if not uids:
            return None
        entry = uid_fetch(conn, uids[:1], "(UID FLAGS INTERNALDATE)").get(uids[0], {})
        return SentCopy(uids[0], entry.get("flags") or "", entry.get("internal_date"))

    def _append_pending(self, conn: imaplib.IMAP4, payload: bytes, now: datetime) -> None:
        mailbox = mailbox_name(self.sent_mailbox)
        when = imaplib.Time2Internaldate(now.timestamp())
        typ, data = conn.append(mailbox, PENDING, when, payload)
        if typ != "OK" and re.search(rb"TRYCREATE|exist", b" ".join(d for d in data if isinstance(d, bytes)), re.I):
            conn.create(mailbox)
            conn.subscribe(mailbox)
            typ, data = conn.append(mailbox, PENDING, when, payload)
        if typ != "OK":
            raise AdapterError(f"the IMAP server would not save the reply in {self.sent_mailbox} "
                               f"({error_text(data)}); nothing was sent", retryable=True)

    def _settle(self, message_id: str, *, delete: bool) -> None:
        """Clear the \\Draft flag of the Sent copy (sent), or remove the copy (refused). Best effort:
        the SMTP answer already decided the outcome."""
        try:
            with self.servers.imap_session(f"updating the reply in {self.sent_mailbox}") as conn:
                copy = self._copy(conn, message_id)
                if copy is None:
                    return
                target = str(copy.uid)
                if not delete:
                    conn.uid("STORE", target, "-FLAGS.SILENT", r"(\Draft)")
                    return
                conn.uid("STORE", target, "+FLAGS.SILENT", r"(\Deleted)")
                if "UIDPLUS" in capabilities(conn):
                    conn.xatom("UID", "EXPUNGE", target)  # only this message; a plain EXPUNGE could take others
        except AdapterError as exc:
            log.warning("email %s: could not update the Sent copy of %s: %s", self.address, message_id, exc)

    # -- SMTP --

    def _transmit(self, to: str, payload: bytes, message_id: str) -> None:
        """MAIL, RCPT, DATA. Until the message is on the wire any failure means "not sent"; after
        that, a lost answer means nobody can tell (CannotVerify)."""
        with self.servers.smtp_session("sending the reply") as smtp:
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
                    smtp.sock.settimeout(max(self.servers.timeout, DATA_WAIT))
                code, reply = smtp.getreply()
            except OSError as exc:  # SMTPServerDisconnected included
                raise CannotVerify(
                    f"{self.servers.where('SMTP')} took the reply {message_id} but its answer never came "
                    f"({error_text(*exc.args) or type(exc).__name__}); it may have been delivered. Look for "
                    "this Message-ID in the customer's thread or the mail server log before sending again"
                ) from None
            if code != 250:
                raise smtplib.SMTPDataError(code, reply)


def _result(message: Outbound, message_id: str, sent_at: datetime) -> SendResult:
    return SendResult(platform_id=message_id, url=None, sent_at=sent_at, text=message.text)
