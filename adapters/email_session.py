"""The email adapter's two servers: where they are, how to log in, and what their failures mean.

`MailServers` opens a logged-in IMAP or SMTP session for one operation (logged out, or dropped,
afterwards) and turns every imaplib/smtplib/socket/TLS failure into an AdapterError that says
where, while doing what, with the passwords redacted: the mail counterpart of `http.JsonApi`.

This module only imports the standard library and `socialdesk.adapters`.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import smtplib
import socket
import ssl
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from socialdesk.adapters.base import AdapterError, AuthError
from socialdesk.adapters.email_imap import error_text, quoted, shutdown

SECURITIES = ("ssl", "starttls", "plain")
MIN_SECRET = 4  # shorter passwords are not redacted (they would blank out ordinary words)

Endpoint = tuple[str, int, str]  # (host, port, security)
_Conn = TypeVar("_Conn")


class MailServers:
    """The IMAP and SMTP endpoints of one mailbox and the credentials for each."""

    def __init__(self, *, imap: Endpoint, smtp: Endpoint, username: str, password: str, smtp_username: str,
                 smtp_password: str | None, timeout: float):
        self.imap = imap
        self.smtp = smtp
        self.username = username
        self.smtp_username = smtp_username
        self.timeout = timeout
        self._password = password
        self._smtp_password = password if smtp_password is None else smtp_password
        self._secrets = sorted({s for s in (password, smtp_password) if s and len(s) >= MIN_SECRET}, key=len,
                               reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def where(self, service: str) -> str:
        """"the IMAP server host:port" (or SMTP), as error messages name it."""
        host, port, _ = self.imap if service == "IMAP" else self.smtp
        return f"the {service} server {host}:{port}"

    # -- sessions --

    def imap_session(self, what: str) -> contextlib.AbstractContextManager[imaplib.IMAP4]:
        """A logged-in IMAP connection for one operation; logged out (or dropped) afterwards."""
        return self._session("IMAP", what, self._imap_connect, lambda conn: conn.logout(), shutdown)

    def smtp_session(self, what: str) -> contextlib.AbstractContextManager[smtplib.SMTP]:
        """A connected SMTP session (EHLO, STARTTLS and login done); QUIT and closed afterwards."""
        return self._session("SMTP", what, self._smtp_connect, lambda smtp: smtp.quit(), lambda smtp: smtp.close())

    @contextlib.contextmanager
    def _session(self, service: str, what: str, connect: Callable[[], _Conn], leave: Callable[[_Conn], Any],
                 drop: Callable[[_Conn], Any]) -> Iterator[_Conn]:
        with self.errors(service, what):
            conn = connect()
            try:
                yield conn
                with contextlib.suppress(Exception):
                    leave(conn)  # only after success: a broken connection is just dropped
            finally:
                drop(conn)

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
            shutdown(conn)
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
            raise self._auth_error("IMAP", self.where("IMAP"), error_text(*exc.args)) from None

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

    # -- errors --

    @contextlib.contextmanager
    def errors(self, service: str, what: str) -> Iterator[None]:
        """Every IMAP/SMTP/socket/TLS failure as an AdapterError that says where, while doing what."""
        _, _, security = self.imap if service == "IMAP" else self.smtp
        where = self.where(service)
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
