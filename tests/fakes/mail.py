"""Real mail servers on loopback for the email adapter: Dovecot (IMAP with STARTTLS, and IMAPS;
started once per test process in a temp dir), aiosmtpd (SMTP submission with AUTH and STARTTLS),
and a TCP proxy in front of IMAP that injects faults. A self-signed certificate (openssl, which
comes with dovecot-core) serves both; tests trust it through SSL_CERT_FILE.

`FakeMail` follows the fake contract of the other platforms (`tests/fakes/server.py`): one fresh
Dovecot user per instance, `generate(n)` appends real corpus messages (fresh Message-ID and Date)
and a few realistic customer mails, `sent()` lists what the SMTP server accepted. Faults: a share
of IMAP connections is reset or stalled by the proxy; a share of SMTP sessions gets a 421 or 451,
is dropped before the message, or loses the server's answer after accepting it ("lost").
"""

from __future__ import annotations

import atexit
import email.policy
import functools
import itertools
import json
import logging
import os
import pwd
import random
import re
import select
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
from collections import Counter
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

import corpus
from socialdesk.adapters.email import EmailAdapter
from socialdesk.adapters.email_parse import parse_message
from socialdesk.adapters.base import Inbound

DOVECOT = "/usr/sbin/dovecot"
CORPUS = "python__cpython-email"
INSTALL_HINT = "Dovecot is needed for the email tests: apt-get install dovecot-imapd"

logging.getLogger("mail.log").setLevel(logging.CRITICAL)  # aiosmtpd logs every dropped session


class Sent(NamedTuple):
    in_reply_to: str
    visibility: str
    text: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _reset(sock: socket.socket) -> None:
    """Close with RST: the other side sees 'connection reset by peer'."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


# --- Dovecot -------------------------------------------------------------------------------------

_CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = socialdesk-test-{port}
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = 1
mail_location = maildir:~/Maildir
mailbox_idle_check_interval = 1 secs
passdb {{
  driver = passwd-file
  args = {root}/users/%u
}}
userdb {{
  driver = passwd-file
  args = {root}/users/%u
}}
protocol imap {{
  mail_max_userip_connections = 200
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
  }}
}}
service anvil {{
  chroot =
}}
"""


class Dovecot:
    """One Dovecot instance in a temp dir on 127.0.0.1: IMAP with plaintext LOGIN allowed and
    STARTTLS on `port`, implicit TLS on `imaps_port`, with a self-signed certificate for
    127.0.0.1/localhost (`cert`; trust it with SSL_CERT_FILE)."""

    def __init__(self) -> None:
        if not os.access(DOVECOT, os.X_OK):
            raise RuntimeError(f"{DOVECOT} not found. {INSTALL_HINT}")
        self.root = Path(tempfile.mkdtemp(prefix="sd-dovecot-"))
        self.root.chmod(0o755)
        self.port, self.imaps_port = free_port(), free_port()
        self.cert, self.key = self.root / "cert.pem", self.root / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "2", "-subj", "/CN=localhost", "-keyout", str(self.key),
                        "-out", str(self.cert), "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       check=True, capture_output=True)
        self.process: subprocess.Popen[bytes] | None = None
        self._users = itertools.count(1)
        self._lock = threading.Lock()
        if os.geteuid() == 0:  # Dovecot will not run mail processes as root
            internal, login = "dovecot", "dovenull"
            mail = pwd.getpwnam("nobody")
        else:
            internal = login = pwd.getpwuid(os.geteuid()).pw_name
            mail = pwd.getpwuid(os.geteuid())
        self.uid, self.gid = mail.pw_uid, mail.pw_gid
        (self.root / "mail").mkdir()
        os.chown(self.root / "mail", self.uid, self.gid)
        (self.root / "users").mkdir()  # one passwd-file per user: a new user needs no reload
        (self.root / "dovecot.conf").write_text(
            _CONFIG.format(root=self.root, port=self.port, imaps_port=self.imaps_port, internal=internal,
                           login=login))

    def start(self) -> Dovecot:
        self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        penalty = self.root / "run" / "anvil-auth-penalty"
        while not penalty.exists() and self.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        # Without the auth-penalty socket (before the auth process starts and connects to it)
        # Dovecot skips its growing delay after failed logins: tests fail logins on purpose.
        penalty.unlink(missing_ok=True)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Dovecot exited at start: {self.process.stderr.read().decode()[-800:]} "
                                   f"{self.log()[-800:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if s.recv(100).startswith(b"* OK"):
                        break
            except OSError:
                time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError(f"Dovecot did not answer on port {self.port}: {self.log()[-800:]}")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        try:
            return (self.root / "dovecot.log").read_text(errors="replace")
        except OSError:
            return ""

    def add_user(self) -> tuple[str, str]:
        """A fresh mailbox owner: (address, password)."""
        with self._lock:
            n = next(self._users)
        user, password = f"brand{n}@example.com", f"pw-{n}-{random.randrange(10**9)}"
        home = self.root / "mail" / user
        (self.root / "users" / user).write_text(f"{user}:{{PLAIN}}{password}:{self.uid}:{self.gid}::{home}::\n")
        return user, password


_shared: Dovecot | None = None
_shared_lock = threading.Lock()


def shared_dovecot() -> Dovecot:
    """The Dovecot of this test process: started on first use, stopped at exit."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Dovecot().start()
            atexit.register(_shared.stop)
        return _shared


# --- the IMAP fault proxy ------------------------------------------------------------------------


class FaultProxy:
    """A TCP proxy to `target`. A seeded share of connections is reset after the greeting
    ("reset") or stalls for `slow_seconds` then closes ("stall")."""

    def __init__(self, target: tuple[str, int], *, faults: float, rng: random.Random, slow_seconds: float,
                 counter: Counter[str]):
        self.target = target
        self.faults = faults
        self.rng = rng
        self.slow_seconds = slow_seconds
        self.counter = counter
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.open: set[socket.socket] = set()
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> FaultProxy:
        threading.Thread(target=self._accept, name="imap-proxy", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.listener.close()

    def reset_all(self) -> None:
        """Break every open connection (a NAT timeout, a server restart)."""
        with self._lock:
            open_now, self.open = list(self.open), set()
        for sock in open_now:
            _reset(sock)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self.open.add(client)
                fault = self.rng.choice(("reset", "stall")) if self.rng.random() < self.faults else None
                if fault:
                    self.counter[fault] += 1
            threading.Thread(target=self._pipe, args=(client, fault), daemon=True).start()

    def _pipe(self, client: socket.socket, fault: str | None) -> None:
        try:
            server = socket.create_connection(self.target, timeout=5)
        except OSError:
            _reset(client)
            return
        server.settimeout(None)
        greeted = False
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([client, server], [], [], 0.2)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (server if sock is client else client).sendall(data)
                    if sock is server and not greeted:
                        greeted = True
                        if fault == "reset":
                            return
                        if fault == "stall":
                            time.sleep(self.slow_seconds)
                            return
        except (OSError, ValueError):  # ValueError: reset_all closed the socket under select()
            pass
        finally:
            with self._lock:
                self.open.discard(client)
            _reset(client) if fault == "reset" else client.close()
            server.close()


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
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", address):
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
        msg = BytesParser(policy=email.policy.default).parsebytes(data)
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
                 dovecot: Dovecot | None = None):
        self.faults = faults
        self.slow_seconds = slow_seconds
        self.faults_injected: Counter[str] = Counter()
        self.accepted: list[bytes] = []
        self.script: list[str | None] = []  # what the next SMTP sessions do: None (normal) or a fault
        self._rng = random.Random(seed)  # SMTP sessions and Message-IDs
        self._proxy_rng = random.Random(seed + 1)  # IMAP connections (another thread)
        self._lock = threading.Lock()
        self._dovecot = dovecot
        self._generated: list[str] = []
        self._counter = itertools.count(1)
        self.base_url = ""

    # -- life --

    def start(self) -> FakeMail:
        self.dovecot = self._dovecot or shared_dovecot()
        self.address, self.password = self.dovecot.add_user()
        self.proxy = FaultProxy(("127.0.0.1", self.dovecot.port), faults=self.faults, rng=self._proxy_rng,
                                slow_seconds=self.slow_seconds, counter=self.faults_injected).start()
        self.smtp_port = free_port()
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(self.dovecot.cert, self.dovecot.key)
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

    # -- the mailbox, straight to Dovecot (no faults) --

    def imap(self) -> Any:
        import imaplib
        conn = imaplib.IMAP4("127.0.0.1", self.dovecot.port, timeout=5)
        conn.login(self.address, self.password)
        return conn

    def deliver(self, raw: bytes, mailbox: str = "INBOX", *, when: datetime | None = None) -> None:
        """Put one message in a mailbox, as the mail server's delivery agent would."""
        self.deliver_all([raw], mailbox, when=when)

    def deliver_all(self, raws: list[bytes], mailbox: str = "INBOX", *, when: datetime | None = None) -> None:
        import imaplib
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
        """n new customer mails: real corpus messages with a fresh Message-ID and Date, and a few
        written here (HTML-only, UTF-8 with emoji, a reply with a quoted tail). Every email is
        private, so `private_share` does not apply."""
        sources = [raw for raw in corpus_messages() if answerable(raw)] + customer_mails()
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
        with self._lock:
            accepted = list(self.accepted)
        for data in accepted:
            msg = BytesParser(policy=email.policy.default).parsebytes(data)
            body = msg.get_body(("plain",))
            text = body.get_content().replace("\r\n", "\n").rstrip("\n") if body is not None else ""
            out.append(Sent(str(msg.get("In-Reply-To") or "").strip(), "private", text))
        return out

    def accepted_messages(self) -> list[Any]:
        """What the SMTP server accepted, parsed (policy.default)."""
        with self._lock:
            return [BytesParser(policy=email.policy.default).parsebytes(d) for d in self.accepted]


# --- messages ------------------------------------------------------------------------------------


def corpus_files() -> list[Path]:
    return sorted(corpus.platform_dir(CORPUS).glob("**/*.txt"))


def delivered(raw: bytes) -> bytes:
    """A corpus file as a delivery agent stores it: without the mbox "From " line."""
    if raw.startswith(b"From "):
        raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
    return raw


@functools.cache
def _corpus_messages() -> tuple[bytes, ...]:
    return tuple(raw for raw in (delivered(p.read_bytes()) for p in corpus_files())
                 if isinstance(parse_message(raw), Inbound))


def corpus_messages() -> list[bytes]:
    """The corpus messages the adapter turns into customer messages (those with a sender)."""
    return list(_corpus_messages())


def answerable(raw: bytes) -> bool:
    """Whether a reply can be addressed to it ("From: foo" cannot): customers who can be
    answered, for traffic that gets replies."""
    ref = json.loads(parse_message(raw).reply_ref or "{}")
    return bool(re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", ref.get("reply_to") or ref.get("from") or ""))


def restamp(raw: bytes, message_id: str, when: datetime) -> bytes:
    """The message with a new Message-ID and Date (the old ones, folded lines included, removed)."""
    split = re.search(rb"\r?\n\r?\n", raw)
    head, body = (raw[:split.start()], raw[split.start():]) if split else (raw, b"\n\n")
    kept = re.sub(rb"(?im)^(message-id|date)[ \t]*:.*(\r?\n[ \t].*)*(\r?\n|$)", b"", head + b"\n").rstrip(b"\r\n")
    stamp = f"Message-ID: {message_id}\nDate: {format_datetime(when)}\n".encode()
    return stamp + kept + body


def customer_mails() -> list[bytes]:
    """Mails as customers send them today (the corpus is mostly 2001-era list traffic)."""
    html = EmailMessage()
    html["From"] = '"Amélie Durand" <amelie.durand@example.fr>'
    html["To"] = "support@example.com"
    html["Subject"] = "Commande 48213 jamais arrivée"
    html.set_content("<html><head><style>p{color:red}</style></head><body><p>Bonjour,</p>"
                     "<p>Ma commande <b>48213</b> n&rsquo;est jamais arriv&eacute;e.<br>Pouvez-vous v&eacute;rifier ?"
                     "</p><p><a href=\"https://shop.example.com/orders/48213\">Voir la commande</a></p></body></html>",
                     subtype="html")
    html["Content-Language"] = "fr"  # after set_content, which replaces Content-* headers
    emoji = EmailMessage()
    emoji["From"] = "Kenji Watanabe <kenji@example.jp>"
    emoji["To"] = "support@example.com"
    emoji["Subject"] = "返品について 📦"
    emoji.set_content("こんにちは、\n\n商品を返品したいです。[bold]not markup[/bold] \u202eRTL\u202c\n")
    reply = EmailMessage()
    reply["From"] = "Sam Taylor <sam.taylor@example.org>"
    reply["To"] = "support@example.com"
    reply["Subject"] = "Re: Your refund"
    reply["In-Reply-To"] = "<case-1001@example.com>"
    reply["References"] = "<case-1000@example.com> <case-1001@example.com>"
    reply.set_content("Still waiting for the refund.\n\nOn Mon, Support wrote:\n> We have issued your refund.\n")
    return [m.as_bytes() for m in (html, emoji, reply)]
