"""The audit chain is anchored where the store's writer cannot silently rewrite it: its head
(event count and newest hash) is signed with a key the store does not hold and appended to a log
outside the database, so `socialdesk audit verify` reports a chain whose newest events were
deleted, or whose events were edited and every later hash recomputed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from test_cli import socialdesk

from socialdesk.config import load_config
from socialdesk.services.setup import open_configured_store
from socialdesk.store import audit, commands
from socialdesk.store.anchor import Anchor, LogCheck, attach, logged_heads, signed_by
from socialdesk.store.db import make_sessions
from socialdesk.store.models import AuditEvent, AuditHead

KEY = "a long random audit key, the same on every host"


@pytest.fixture
def desk(tmp_path, database_url, monkeypatch):
    """A store written through the services, as the TUI and the daemon write it: (config, sessions)."""
    monkeypatch.setenv("SOCIALDESK_AUDIT_KEY", KEY)
    config = tmp_path / "socialdesk.toml"
    config.write_text(f'[store]\nurl = "{database_url}"\n')
    engine, sessions = open_configured_store(load_config(config))
    for status in ("available", "away", "available", "offline", "available"):  # a transaction each
        with sessions.begin() as s:
            commands.set_agent_status(s, "ana", status)
    yield config, sessions
    engine.dispose()


def verify(config: Path):
    return socialdesk("--config", str(config), "audit", "verify", cwd=config.parent)


def truncate(sessions, newest: int) -> None:
    with sessions.begin() as s:
        ids = s.execute(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(newest)).scalars().all()
        s.execute(delete(AuditEvent).where(AuditEvent.id.in_(ids)))


def rewrite(sessions, position: int) -> None:
    """Edit one event and recompute its hash and every later one, as a forger would."""
    with sessions.begin() as s:
        rows = s.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
        rows[position].details = '{"status": "forged"}'
        prev = rows[position - 1].hash if position else audit.GENESIS
        for row in rows[position:]:
            event = audit.Event(row.action, row.object_type, row.object_id)
            row.prev_hash, row.hash = prev, audit._digest(prev, row.at.isoformat(), row.actor, event, row.details)
            prev = row.hash
    with sessions() as s:
        assert audit.verify(s)[1] is None  # the hash chain alone cannot tell


def test_an_untouched_chain_verifies(desk):
    config, _ = desk
    result = verify(config)
    assert result.returncode == 0 and "5 audit events checked; chain intact" in result.stdout, result.stdout


def test_deleting_the_newest_events_is_reported(desk):
    config, sessions = desk
    truncate(sessions, 2)
    result = verify(config)
    assert result.returncode == 1 and "truncated" in result.stdout and "chain intact" not in result.stdout


def test_editing_an_event_and_recomputing_later_hashes_is_reported(desk):
    config, sessions = desk
    rewrite(sessions, 1)
    result = verify(config)
    assert result.returncode == 1 and "rewritten" in result.stdout and "chain intact" not in result.stdout


def test_sign_refuses_a_truncated_chain(desk):
    config, sessions = desk
    truncate(sessions, 1)
    result = socialdesk("--config", str(config), "audit", "sign", cwd=config.parent)
    assert result.returncode == 1 and "not signed" in result.stdout and "truncated" in result.stdout


# The anchor in the store layer --------------------------------------------------------------------
def anchored(sessions, tmp_path: Path, key: str | None = KEY) -> Anchor:
    anchor = Anchor(key.encode() if key else None, tmp_path / "audit.heads")
    attach(sessions, anchor)
    return anchor


def write(sessions, times: int = 1) -> None:
    for _ in range(times):
        with sessions.begin() as s:
            commands.set_agent_status(s, "ana", "available")


def check(sessions, anchor: Anchor) -> audit.Report:
    with sessions() as s:
        return audit.check(s, anchor)


def test_a_head_is_logged_signed_once_committed_and_never_for_a_rollback(store, tmp_path):
    anchor = anchored(store, tmp_path)
    write(store, 2)
    with pytest.raises(RuntimeError), store.begin() as s:
        commands.set_agent_status(s, "ana", "away")
        raise RuntimeError("rolled back")
    heads = list(logged_heads(anchor.log))
    assert [h.events for h in heads] == [1, 2] and all(signed_by(anchor.key, h) for h in heads)
    report = check(store, anchor)
    assert report.intact and report.checked == 2 and report.notes == ()


def test_a_forged_head_fails_its_signature_and_an_old_signed_one_put_back_fails_the_log(store, tmp_path):
    anchor = anchored(store, tmp_path)
    write(store, 3)
    with store() as s:  # a forger copies the signed head of three events...
        kept = s.execute(select(AuditHead.events, AuditHead.hash, AuditHead.mac)).one()
    write(store, 2)
    truncate(store, 2)  # ...deletes the two newest, and makes the head match what is left
    with store.begin() as s:
        s.execute(update(AuditHead).values(events=kept.events, hash=kept.hash, mac="0" * 64))
    forged = check(store, anchor)
    assert "altered" in forged.unsigned
    *_, newest = logged_heads(anchor.log)
    assert forged.problems == (f"chain truncated: the head log {anchor.log} ({newest.at}) records 5 events, 3 remain",)
    with store.begin() as s:  # the copy has a genuine signature: only the log outside can tell
        s.execute(update(AuditHead).values(mac=kept.mac))
    replayed = check(store, anchor)
    assert replayed.unsigned is None and len(replayed.problems) == 1 and "records 5 events" in replayed.problems[0]
    write(store, 3)  # the chain grows past what the log saw: the heads logged before still disagree
    regrown = check(store, anchor)
    assert regrown.unsigned is None and len(regrown.problems) == 1
    assert regrown.problems[0].startswith("chain rewritten: its event no. 4 is not the one the head log")


def test_heads_logged_out_of_order_are_each_held_against_their_event(tmp_path):
    chain = [f"{n:064x}" for n in range(1, 8)]
    logged = [(2, chain[1]), (5, chain[4]), (4, chain[3]), (7, "f" * 64)]  # 4 was appended after 5
    (tmp_path / "heads").write_text("".join(f"t{n} {n} {digest} -\n" for n, digest in logged) + "torn lin")
    log = LogCheck(tmp_path / "heads", None)
    for n, digest in enumerate(chain, 1):
        log.walked(n, digest)
    problems, notes = log.finish(len(chain))
    assert log.read == 4 and notes == []
    assert problems == [f"chain rewritten: its event no. 7 is not the one the head log {tmp_path / 'heads'} records (t7)"]


def test_a_deleted_head_is_reported_and_stops_writes_building_a_new_one(store, tmp_path):
    anchor = anchored(store, tmp_path)
    write(store, 2)
    with store.begin() as s:
        s.execute(delete(AuditHead))
    assert check(store, anchor).problems == ("the chain's head is missing from the store: it was deleted",)
    with pytest.raises(LookupError, match="audit head is missing"):
        write(store)


def test_heads_written_without_the_key_are_reported_until_signed(store, tmp_path):
    keyed = anchored(store, tmp_path)
    write(store, 2)
    keyless = make_sessions(store.kw["bind"])  # another process, without the key
    attach(keyless, Anchor(None, keyed.log))
    write(keyless)
    report = check(store, keyed)
    assert report.problems == () and "a process without the key wrote" in report.unsigned
    write(store)  # a keyed writer does not vouch for a head it cannot check
    assert check(store, keyed).unsigned
    assert "no audit key here" in check(keyless, Anchor(None, keyed.log)).notes[0]
    with store.begin() as s:
        assert audit.sign_head(s, keyed).problems == ()
    write(store)
    assert check(store, keyed).intact


def test_the_key_kept_in_the_encrypted_credentials_file_signs_the_head(tmp_path, monkeypatch):
    monkeypatch.setenv("SOCIALDESK_CREDENTIALS_PASSPHRASE", "a passphrase for the test")
    config = tmp_path / "socialdesk.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "desk.db"}"\n\n[credentials]\n'
                      f'backend = "encrypted-file"\nfile = "{tmp_path / "credentials.enc"}"\n\n'
                      f'[audit]\nhead_log = "{tmp_path / "desk.heads"}"\n')
    short = subprocess.run([sys.executable, "-m", "socialdesk", "--config", str(config), "audit", "key"],
                           input="short\n", capture_output=True, text=True, timeout=60)
    assert short.returncode == 2 and "at least 16" in short.stderr
    stored = subprocess.run([sys.executable, "-m", "socialdesk", "--config", str(config), "audit", "key"],
                            input=KEY + "\n", capture_output=True, text=True, timeout=60)
    assert stored.returncode == 0 and "encrypted file" in stored.stdout, stored.stderr
    engine, sessions = open_configured_store(load_config(config))
    write(sessions, 2)
    engine.dispose()
    *_, head = logged_heads(tmp_path / "desk.heads")
    assert head.events == 2 and signed_by(KEY.encode(), head)
    assert verify(config).returncode == 0
    monkeypatch.setenv("SOCIALDESK_AUDIT_KEY", "another key of sixteen or more")  # wins over the stored one
    other = verify(config)
    assert other.returncode == 1 and "signed with another key" in other.stdout
