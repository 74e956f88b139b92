"""`socialdesk auth` and `socialdesk backfill` as an admin meets them, in a real process: secrets
piped in and kept in the encrypted file, never echoed; a check against a real API on loopback
(the simulator speaks Mastodon's); the advice a headless box gets; history read back in."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from socialdesk.adapters.simulator import Simulator
from socialdesk.services.credentials import EncryptedFile
from socialdesk.store.db import open_store
from socialdesk.store.models import Cursor, Message

TOKEN = "simulator"  # the simulator's own token; anything else is refused like a bad token


def run(*args: str, cwd, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "socialdesk", *args], cwd=cwd, input=stdin, text=True,
                          capture_output=True, timeout=60, env={**os.environ, **(env or {})})


@pytest.fixture
def simulator():
    sim = Simulator(rate=0, seed=11, followup_probability=0.0)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def workdir(tmp_path, simulator):
    (tmp_path / "socialdesk.toml").write_text(f'''
[store]
url = "sqlite:///{tmp_path / 'store.db'}"

[credentials]
backend = "encrypted-file"
file = "{tmp_path / 'credentials.enc'}"

[[channels]]
name = "brand"
kind = "mastodon"
base_url = "{simulator.base_url}"

[[channels]]
name = "brand-mail"
kind = "email"
address = "help@example.com"
imap_host = "127.0.0.1"
smtp_host = "127.0.0.1"
enabled = false
''')
    return tmp_path


PASS = {"SOCIALDESK_CREDENTIALS_PASSPHRASE": "a long passphrase for tests"}


def test_set_test_list_remove_round_trip(workdir):
    stored = run("auth", "set", "brand", cwd=workdir, stdin=TOKEN + "\n", env=PASS)
    assert stored.returncode == 0, stored.stderr
    assert "stored the secret of 'brand' in the encrypted file" in stored.stdout
    assert TOKEN not in (workdir / "credentials.enc").read_text()

    checked = run("auth", "test", "brand", cwd=workdir, env=PASS)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("ok: brand is Mastodon account @")

    listed = run("auth", "list", cwd=workdir, env=PASS)
    assert "brand       mastodon   the encrypted file" in listed.stdout
    assert "brand-mail  email      not stored: run `socialdesk auth set brand-mail`  (disabled)" in listed.stdout
    assert listed.returncode == 0  # the disabled channel needs nothing yet

    smtp = run("auth", "set", "brand-mail", "--smtp", cwd=workdir, stdin="smtp-password-1\n", env=PASS)
    assert smtp.returncode == 0 and "stored the smtp secret of 'brand-mail'" in smtp.stdout
    removed = run("auth", "remove", "brand", cwd=workdir, env=PASS)
    assert removed.returncode == 0 and "removed secret of 'brand'" in removed.stdout
    again = run("auth", "test", "brand", cwd=workdir, env=PASS)
    assert again.returncode == 1 and "socialdesk auth set brand" in again.stderr
    for result in (stored, checked, listed, smtp, removed, again):
        assert TOKEN not in result.stdout + result.stderr and "smtp-password-1" not in result.stdout + result.stderr


def test_a_refused_token_is_explained_without_showing_it(workdir):
    run("auth", "set", "brand", cwd=workdir, stdin="wrong-token-0123456789\n", env=PASS)
    checked = run("auth", "test", "brand", cwd=workdir, env=PASS)
    assert checked.returncode == 1
    assert "Mastodon refused the credentials" in checked.stderr and "HTTP 401" in checked.stderr
    assert "wrong-token-0123456789" not in checked.stderr + checked.stdout


def test_a_headless_box_without_a_keyring_is_told_what_to_do(workdir):
    config = (workdir / "socialdesk.toml").read_text().replace('backend = "encrypted-file"', 'backend = "system"')
    (workdir / "socialdesk.toml").write_text(config)
    result = run("auth", "set", "brand", cwd=workdir, stdin=TOKEN + "\n")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "No usable system keyring" in result.stderr
    assert "SOCIALDESK_CREDENTIALS_PASSPHRASE" in result.stderr and "Secret Service" in result.stderr
    # Opted in to the file without its passphrase: told, not prompted (stdin is closed here).
    no_pass = run("auth", "list", cwd=workdir, env={"SOCIALDESK_CREDENTIALS__BACKEND": "encrypted-file"})
    assert "brand       mastodon   no secret store here (see below)" in no_pass.stdout
    assert no_pass.stderr.count("SOCIALDESK_CREDENTIALS_PASSPHRASE is not set") == 1  # told once
    assert no_pass.returncode == 1


def test_x_oauth1_keys_are_stored_together_and_a_new_secret_forgets_old_sessions(workdir):
    config = (workdir / "socialdesk.toml").read_text()
    (workdir / "socialdesk.toml").write_text(config + '\n[[channels]]\nname = "brand-x"\nkind = "x"\nenabled = false\n')
    store = EncryptedFile(workdir / "credentials.enc", passphrase=PASS["SOCIALDESK_CREDENTIALS_PASSPHRASE"])
    store.set("brand-x/oauth2", '{"access_token": "old-refreshed-token"}')
    keys = "ck-123456\ncs-123456\nat-123456\nas-123456\n"
    stored = run("auth", "set", "brand-x", "--oauth1", cwd=workdir, stdin=keys, env=PASS)
    assert stored.returncode == 0, stored.stderr
    assert json.loads(store.get("brand-x")) == {"consumer_key": "ck-123456", "consumer_secret": "cs-123456",
                                                "access_token": "at-123456", "access_token_secret": "as-123456"}
    assert store.get("brand-x/oauth2") is None
    short = run("auth", "set", "brand-x", "--oauth1", cwd=workdir, stdin="ck-123456\n\n", env=PASS)
    assert short.returncode == 2 and "all four OAuth 1.0a keys are needed" in short.stderr


def test_unknown_channels_and_wrong_flags_are_usage_errors(workdir):
    assert run("auth", "set", "nope", cwd=workdir, env=PASS).returncode == 2
    wrong = run("auth", "set", "brand", "--smtp", cwd=workdir, env=PASS)
    assert wrong.returncode == 2 and "--smtp is for email channels" in wrong.stderr


def test_backfill_reads_history_once_and_leaves_the_cursor_alone(workdir, simulator):
    simulator.generate(120)
    n = len({m["status"]["id"] for m in simulator.mentions if m.get("status")})
    run("auth", "set", "brand", cwd=workdir, stdin=TOKEN + "\n", env=PASS)
    first = run("backfill", "brand", "--since", "2d", cwd=workdir, env=PASS)
    assert first.returncode == 0, first.stderr
    assert f"brand: {n} messages since" in first.stdout and f"{n} new, 0 already stored" in first.stdout
    assert "100%" in first.stdout  # the progress bar, finished
    again = run("backfill", "brand", "--since", "2d", cwd=workdir, env=PASS)
    assert f"0 new, {n} already stored" in again.stdout
    engine, sessions = open_store(f"sqlite:///{workdir / 'store.db'}")
    with sessions() as s:
        assert s.execute(select(func.count()).select_from(Message)).scalar() == n
        assert s.execute(select(func.count()).select_from(Cursor)).scalar() == 0
    engine.dispose()
    bad = run("backfill", "brand", "--since", "forever", cwd=workdir, env=PASS)
    assert bad.returncode == 2 and "expected a span like 30d" in bad.stderr
