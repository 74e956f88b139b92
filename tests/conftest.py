"""Fixtures: a fresh store per test on SQLite and, when SOCIALDESK_TEST_DATABASE_URL is set (CI
sets it), on PostgreSQL too; and no developer config or keyring leaking into a test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
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


def pytest_terminal_summary(terminalreporter) -> None:
    """One line for the tests that replay the shared corpus and did not run because it is missing."""
    from corpus import SKIP_REASON, WHERE, corpus_root

    skipped = [r for r in terminalreporter.stats.get("skipped", []) if SKIP_REASON in str(r.longrepr)]
    if skipped:
        terminalreporter.write_line(f"socialdesk: {len(skipped)} tests that replay the shared corpus were not run: "
                                    f"{corpus_root()} not found; {WHERE}.", yellow=True)
