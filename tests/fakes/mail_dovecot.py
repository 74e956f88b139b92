"""Dovecot for the email tests (see `mail_imap`): on 127.0.0.1 in a temp dir, with STARTTLS and
IMAPS, a self-signed certificate for 127.0.0.1/localhost, and one passwd-file per user so a test
can add a mailbox owner without a reload."""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from fakes.mail_imap import free_port, mailbox_owner, self_signed

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

    name = "Dovecot"

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.root = Path(tempfile.mkdtemp(prefix="sd-dovecot-"))
        self.root.chmod(0o755)
        self.port, self.imaps_port = free_port(), free_port()
        self.cert, self.key = self_signed(self.root)
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
        self.process = subprocess.Popen([self.binary, "-F", "-c", str(self.root / "dovecot.conf")],
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
            user, password = mailbox_owner(next(self._users))
        home = self.root / "mail" / user
        (self.root / "users" / user).write_text(f"{user}:{{PLAIN}}{password}:{self.uid}:{self.gid}::{home}::\n")
        return user, password

