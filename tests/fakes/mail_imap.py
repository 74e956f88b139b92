"""The IMAP server the email tests run against: Dovecot where it is installed (CI installs it),
else pymap (a pure-Python IMAP server from the test extras), both real servers on 127.0.0.1 with
STARTTLS and IMAPS and a self-signed certificate. One per test process (`shared_imap`).

`SOCIALDESK_TEST_DOVECOT` names the Dovecot binary (default: `dovecot` on PATH, else
/usr/sbin/dovecot); set it to `none` to run on pymap where Dovecot is installed."""

from __future__ import annotations

import atexit
import os
import random
import shutil
import socket
import subprocess
import threading
from pathlib import Path
from typing import Protocol

DOVECOT_VARIABLE = "SOCIALDESK_TEST_DOVECOT"


class ImapServer(Protocol):
    port: int  # plain IMAP, with STARTTLS
    imaps_port: int  # implicit TLS
    cert: Path  # trust it with SSL_CERT_FILE
    name: str

    def add_user(self) -> tuple[str, str]: ...

    def stop(self) -> None: ...


def free_port() -> int:
    """A TCP port nothing listens on at 127.0.0.1 (at the moment of asking)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed(root: Path) -> tuple[Path, Path]:
    """(certificate, key) for localhost and 127.0.0.1, valid two days, written to `root`."""
    cert, key = root / "cert.pem", root / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert),
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


def mailbox_owner(n: int) -> tuple[str, str]:
    """The n-th test mailbox's (address, password)."""
    return f"brand{n}@example.com", f"pw-{n}-{random.randrange(10**9)}"


def dovecot_binary() -> str | None:
    """The Dovecot to run, or None when there is none (or the tests were told to do without)."""
    named = os.environ.get(DOVECOT_VARIABLE)
    if named is not None:
        if named.strip().lower() in ("", "none"):
            return None
        if not os.access(named, os.X_OK):
            raise RuntimeError(f"{DOVECOT_VARIABLE}={named}: not an executable (set it to 'none' to use pymap)")
        return named
    found = shutil.which("dovecot") or "/usr/sbin/dovecot"
    return found if os.access(found, os.X_OK) else None


_shared: ImapServer | None = None
_shared_lock = threading.Lock()


def shared_imap() -> ImapServer:
    """The IMAP server of this test process: started on first use, stopped at exit."""
    global _shared
    with _shared_lock:
        if _shared is None:
            binary = dovecot_binary()
            if binary is not None:
                from fakes.mail_dovecot import Dovecot

                _shared = Dovecot(binary).start()
            else:
                from fakes.mail_pymap import Pymap

                _shared = Pymap().start()
            atexit.register(_shared.stop)
        return _shared
