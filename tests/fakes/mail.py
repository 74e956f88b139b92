"""Real mail servers on loopback for the email adapter: IMAP with STARTTLS and IMAPS (Dovecot, else
pymap; started once per test process, `mail_imap`), aiosmtpd (SMTP submission with AUTH and STARTTLS),
and a TCP proxy in front of IMAP that injects faults (`mail_proxy`). A self-signed certificate
serves both; tests trust it through SSL_CERT_FILE.

`FakeMail` follows the fake contract of the other platforms (`tests/fakes/server.py`): one fresh
mailbox owner per instance, `generate(n)` appends real messages of tests/fixtures/email (fresh Message-ID and Date)
and a few realistic customer mails (`mail_messages`), `sent()` lists what the SMTP server accepted.
Faults: a share of IMAP connections is reset or stalled by the proxy; a share of SMTP sessions gets
a 421 or 451, is dropped before the message, or loses the server's answer after accepting it ("lost").
"""

from __future__ import annotations

import imaplib
import itertools
import logging
import random
import ssl
import threading
from collections import Counter
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any, NamedTuple

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from fakes.mail_imap import ImapServer, free_port, shared_imap
from fakes.mail_messages import ADDRESS, answerable, customer_mails, fixture_messages, parsed, restamp
from fakes.mail_proxy import FaultProxy
from socialdesk.adapters.email import EmailAdapter

logging.getLogger("mail.log").setLevel(logging.CRITICAL)  # aiosmtpd logs every dropped session


class Sent(NamedTuple):
    in_reply_to: str
    visibility: str
    text: str


# --- SMTP ----------------------------------------------------------------------------------------


class _SmtpHandler:
    """Submission as a real provider runs it: AUTH required (without TLS: loopback), the envelope
    sender must be the logged-in user, From and Date must be present; accepted messages are recorded."""

    def __init__(self, fake: FakeMail):
        self.fake = fake

    def _fault(self, session: Any) -> str | None:
        if not hasattr(session, "fault"):
            fake = self.fake
            with fake._lock:
                if fake.script:
                    session.fault = fake.script.pop(0)
                else:
                    hit = fake._rng.random() < fake.faults
                    session.fault = fake._rng.choice(("421", "451", "drop", "lost")) if hit else None
                if session.fault:
                    fake.faults_injected[session.fault] += 1
        return session.fault

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        if address.lower() != (login or "").lower():
            return "553 5.7.1 Sender address rejected: not owned by user"
        envelope.mail_from = address
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if self._fault(session) == "drop":
            server.transport.abort()
            return "421 4.4.2 connection dropped"
        if not ADDRESS.fullmatch(address):
            return "501 5.1.3 Bad recipient address syntax"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        fault = self._fault(session)
        if fault == "421":
            return "421 4.3.2 Service shutting down, try again later"
        if fault == "451":
            return "451 4.3.0 Temporary lookup failure, try again later"
        if fault == "554":
            return "554 5.7.1 Message rejected: looks like spam"
        data = envelope.original_content or envelope.content
        msg = parsed(data)
        if msg["From"] is None or msg["Date"] is None:
            return "550 5.6.0 Message is not RFC 5322 compliant: From and Date are required"
        with self.fake._lock:
            self.fake.accepted.append(data)
        if fault == "lost":
            server.transport.abort()  # accepted, but the client never hears it
            return "250 2.0.0 Ok: queued"
        return "250 2.0.0 Ok: queued"


def _authenticator(fake: FakeMail) -> Any:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login.decode() == fake.address \
            and data.password.decode() == fake.password
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)
    return check


# --- the fake ------------------------------------------------------------------------------------


class FakeMail:
    kind = "email"

    def __init__(self, *, faults: float = 0.0, seed: int = 0, slow_seconds: float = 1.0,
                 server: ImapServer | None = None):
        self.faults = faults
        self.slow_seconds = slow_seconds
        self.faults_injected: Counter[str] = Counter()
        self.accepted: list[bytes] = []
        self.script: list[str | None] = []  # what the next SMTP sessions do: None (normal) or a fault
        self._rng = random.Random(seed)  # SMTP sessions and Message-IDs
        self._proxy_rng = random.Random(seed + 1)  # IMAP connections (another thread)
        self._lock = threading.Lock()
        self._server = server
        self._generated: list[str] = []
        self._counter = itertools.count(1)
        self.base_url = ""

    # -- life --

    def start(self) -> FakeMail:
        self.server = self._server or shared_imap()
        self.address, self.password = self.server.add_user()
        self.proxy = FaultProxy(("127.0.0.1", self.server.port), faults=self.faults, rng=self._proxy_rng,
                                slow_seconds=self.slow_seconds, counter=self.faults_injected).start()
        self.smtp_port = free_port()
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(self.server.cert, self.server.key)
        self.controller = Controller(_SmtpHandler(self), hostname="127.0.0.1", port=self.smtp_port,
                                     authenticator=_authenticator(self), auth_require_tls=False, tls_context=tls)
        self.controller.start()
        self.base_url = f"imap://127.0.0.1:{self.proxy.port}"
        return self

    def stop(self) -> None:
        self.proxy.stop()
        self.controller.stop()

    def __enter__(self) -> FakeMail:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def adapter(self, **overrides: Any) -> EmailAdapter:
        settings: dict[str, Any] = dict(address=self.address, password=self.password, imap_host="127.0.0.1",
                                        imap_port=self.proxy.port, imap_security="plain", smtp_host="127.0.0.1",
                                        smtp_port=self.smtp_port, smtp_security="plain", timeout=2.0)
        settings.update(overrides)
        return EmailAdapter(**settings)

    # -- the mailbox, straight to the IMAP server (no faults) --

    def imap(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4("127.0.0.1", self.server.port, timeout=5)
        conn.login(self.address, self.password)
        return conn

    def flags(self, mailbox: str = "INBOX") -> list[str]:
        """The FLAGS of every message in a mailbox, as the server lists them."""
        conn = self.imap()
        try:
            conn.select(mailbox, readonly=True)
            typ, data = conn.uid("FETCH", "1:*", "(FLAGS)")
            return [d.decode() for d in data if isinstance(d, bytes)]
        finally:
            conn.logout()

    def uids(self, mailbox: str = "INBOX") -> list[int]:
        """The UIDs of a mailbox, oldest first (servers number from 1, or from where they like)."""
        conn = self.imap()
        try:
            conn.select(mailbox, readonly=True)
            typ, data = conn.uid("SEARCH", "ALL")
            return sorted(int(uid) for uid in data[0].split())
        finally:
            conn.logout()

    def deliver(self, raw: bytes, mailbox: str = "INBOX", *, when: datetime | None = None) -> None:
        """Put one message in a mailbox, as the mail server's delivery agent would."""
        self.deliver_all([raw], mailbox, when=when)

    def deliver_all(self, raws: list[bytes], mailbox: str = "INBOX", *, when: datetime | None = None) -> None:
        conn = self.imap()
        try:
            if mailbox != "INBOX":
                conn.create(mailbox)
            for raw in raws:
                stamp = imaplib.Time2Internaldate((when or datetime.now(UTC)).timestamp())
                typ, data = conn.append(mailbox, None, stamp, raw)
                assert typ == "OK", data
        finally:
            conn.logout()

    # -- the fake contract --

    def generate(self, n: int, *, private_share: float = 0.25) -> None:
        """n new customer mails: real messages (tests/fixtures/email) with a fresh Message-ID and Date, and the
        few of `customer_mails` (HTML-only, UTF-8 with emoji, a reply with a quoted tail). Every email is
        private, so `private_share` does not apply."""
        sources = [raw for raw in fixture_messages() if answerable(raw)] + customer_mails()
        batch, ids = [], []
        for _ in range(n):
            i = next(self._counter)
            ids.append(f"<gen-{i}-{self._rng.randrange(16**8):08x}@customer.example>")
            batch.append(restamp(sources[(i - 1) % len(sources)], ids[-1], datetime.now(UTC)))
        self.deliver_all(batch)
        with self._lock:
            self._generated += ids

    def expected_ids(self) -> set[str]:
        with self._lock:
            return set(self._generated)

    def sent(self) -> list[Sent]:
        out = []
        for msg in self.accepted_messages():
            body = msg.get_body(("plain",))
            text = body.get_content().replace("\r\n", "\n").rstrip("\n") if body is not None else ""
            out.append(Sent(str(msg.get("In-Reply-To") or "").strip(), "private", text))
        return out

    def accepted_messages(self) -> list[EmailMessage]:
        """What the SMTP server accepted, parsed (policy.default)."""
        with self._lock:
            accepted = list(self.accepted)
        return [parsed(data) for data in accepted]
