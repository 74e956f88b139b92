"""pymap for the email tests where Dovecot is not installed (see `mail_imap`): its in-memory
backend served from an event loop in a thread of the test process, on 127.0.0.1 with STARTTLS on
`port`, implicit TLS on `imaps_port` and a self-signed certificate. Logins without TLS are allowed
from loopback, as the Dovecot set-up allows them."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import tempfile
import threading
from argparse import Namespace
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from proxyprotocol.reader import ProxyProtocolReader
from pymap.backend.dict import Config, DictBackend, Login
from pymap.imap import IMAPServer
from pymap.user import Passwords, UserMetadata
from pysasl.hashing import Cleartext

from fakes.mail_imap import free_port, mailbox_owner, self_signed

START_SECONDS = 15


class _Config(Config):
    @property
    def greeting(self) -> bytes:
        return b"Server ready (pymap)"  # pymap's own looks the host name up in DNS


class Pymap:
    name = "pymap"

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="sd-pymap-"))
        self.port, self.imaps_port = free_port(), free_port()
        self.cert, self.key = self_signed(self.root)
        self._users = itertools.count(1)
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pymap", daemon=True)
        self._stack = AsyncExitStack()

    def start(self) -> Pymap:
        self._thread.start()
        self._call(self._serve())
        return self

    def stop(self) -> None:
        if self._loop.is_running():
            self._call(self._stack.aclose())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        shutil.rmtree(self.root, ignore_errors=True)

    def add_user(self) -> tuple[str, str]:
        """A fresh mailbox owner: (address, password)."""
        with self._lock:
            user, password = mailbox_owner(next(self._users))
        self._call(self._add(user, password))
        return user, password

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(START_SECONDS)

    async def _serve(self) -> None:
        args = Namespace(passlib_cfg=None, proxy_protocol=None, inherited_sockets=None)
        self.config = _Config(args, host="127.0.0.1", port=self.port, demo_data=False, demo_user="",
                              demo_password="", cert_file=str(self.cert), key_file=str(self.key),
                              invalid_user_sleep=0.0, reject_dnsbl=False, bad_command_limit=None,
                              hash_context=Cleartext())  # its default hash costs 0.1 s a login
        self.config.apply_context()
        self.login = Login(self.config)
        await DictBackend(self.login, self.config).start(self._stack)
        handler = ProxyProtocolReader(self.config.proxy_protocol).get_callback(IMAPServer(self.login, self.config))
        for port, tls in ((self.port, None), (self.imaps_port, self.config.ssl_context)):
            server = await asyncio.start_server(handler, "127.0.0.1", port, ssl=tls)
            await self._stack.enter_async_context(server)
            await server.start_serving()

    async def _add(self, user: str, password: str) -> None:
        hashed = await Passwords(self.config).hash_password(password)
        self.login.users_dict[user] = UserMetadata(self.config, user, password=hashed)
