"""Fixtures: a fresh store per test on SQLite and, when SOCIALDESK_TEST_DATABASE_URL is set (CI
sets it), on PostgreSQL too; no developer config or keyring leaking into a test; and the alert
receivers (a webhook and a mailbox on loopback)."""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, text

from socialdesk.services.desk import Desk
from socialdesk.store.db import open_store

PG_URL = os.environ.get("SOCIALDESK_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(home / var.lower()))
    for var in list(os.environ):
        if var.startswith("SOCIALDESK_") and not var.startswith("SOCIALDESK_TEST_") and var != "SOCIALDESK_CORPUS":
            monkeypatch.delenv(var)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def store(database_url):
    engine, sessions = open_store(database_url)
    yield sessions
    engine.dispose()


@pytest.fixture
def desk(store) -> Desk:
    return Desk(store, "alice")


class Hook(BaseHTTPRequestHandler):
    """A webhook: keeps each POST's JSON body and headers; while `refusing`, answers 503."""

    received: list[tuple[dict, dict]] = []
    refusing = False

    def do_POST(self):  # noqa: N802 - the stdlib's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if Hook.refusing:
            self.send_response(503)
        else:
            Hook.received.append((body, dict(self.headers)))
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    Hook.received, Hook.refusing = [], False
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/alerts"
    server.shutdown()


class Inbox:
    """A mailbox: keeps each message as text; while `refusing`, answers 451 (try again later)."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.refusing = False

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        if self.refusing:
            return "451 try again later"
        self.messages.append(envelope.content.decode())
        return "250 OK"


@pytest.fixture
def mailbox() -> Iterator[tuple[Inbox, str]]:
    with socket.socket() as probe:  # a free port: aiosmtpd's start-up check cannot use port 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, f"127.0.0.1:{port}"
    controller.stop()


def pytest_terminal_summary(terminalreporter) -> None:
    """One line for the tests that replay the shared corpus and did not run because it is missing."""
    from corpus import SKIP_REASON, WHERE, corpus_root

    skipped = [r for r in terminalreporter.stats.get("skipped", []) if SKIP_REASON in str(r.longrepr)]
    if skipped:
        terminalreporter.write_line(f"socialdesk: {len(skipped)} tests that replay the shared corpus were not run: "
                                    f"{corpus_root()} not found; {WHERE}.", yellow=True)
