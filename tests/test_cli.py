"""The command line as a newcomer meets it: the headless demo, config errors, db and audit."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def socialdesk(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "socialdesk", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def figure(output: str, label: str) -> int:
    match = re.search(rf"^{label} (\d+)", output, re.MULTILINE)
    assert match, f"no '{label}' line in:\n{output}"
    return int(match.group(1))


def in_store(output: str) -> int:
    match = re.search(r"^conversations \d+ new \((\d+) in the demo store\)$", output, re.MULTILINE)
    assert match, f"no conversations line in:\n{output}"
    return int(match.group(1))


def demo(data: Path, seconds: str, *options: str) -> subprocess.CompletedProcess:
    """`socialdesk demo --headless` on the store in `data`, run from the folder above it."""
    data.parent.mkdir(parents=True, exist_ok=True)
    result = socialdesk("demo", "--headless", "--seconds", seconds, "--data-dir", str(data), *options, cwd=data.parent)
    assert result.returncode == 0, result.stderr
    assert "ctrl+" not in result.stdout + result.stderr  # no keys of a TUI that is not there
    return result


def test_headless_demo_ingests_and_sends_and_resumes_after_a_restart(tmp_path):
    data = tmp_path / "demo"
    first = demo(data, "4", "--rate", "20", "--auto-reply", "0.3")
    assert figure(first.stdout, "ingested") > 100  # the backlog and live traffic
    sent = figure(first.stdout, "replies sent")
    assert sent > 0 and figure(first.stdout, "replies failed") == 0
    assert figure(first.stdout, "simulator received") == sent
    assert "channel demo: ok" in first.stdout
    assert figure(first.stdout, "conversations") == in_store(first.stdout)  # a new store: all of them are new

    second = demo(data, "3", "--rate", "20", "--backlog", "0")
    new = figure(second.stdout, "conversations")
    assert new > 0  # this run's, not the store's total
    assert in_store(second.stdout) == in_store(first.stdout) + new  # the same store goes on growing


def test_after_a_restart_replies_to_earlier_conversations_are_delivered(tmp_path):
    """The simulator keeps its posts in the demo's data dir: a reply to a conversation ingested
    before the restart reaches it (it used to fail with HTTP 404)."""
    data = tmp_path / "demo"
    first = demo(data, "2", "--backlog", "40", "--rate", "0")
    assert figure(first.stdout, "replies sent") == 0 and in_store(first.stdout) >= 30
    second = demo(data, "3", "--backlog", "0", "--rate", "0", "--auto-reply", "1")
    assert figure(second.stdout, "conversations") == 0  # every conversation answered is from the first run
    sent = figure(second.stdout, "replies sent")
    assert sent >= 10 and figure(second.stdout, "replies failed") == 0
    assert figure(second.stdout, "simulator received") == sent
    assert (data / "simulator.jsonl").is_file()


def test_fresh_starts_over_and_the_demo_logs_beside_its_store(tmp_path, monkeypatch):
    data = tmp_path / "demo"
    monkeypatch.setenv("SOCIALDESK_LOG__FILE", str(tmp_path / "team.log"))  # the team's log stays out of it
    demo(data, "1", "--backlog", "5", "--rate", "0")
    log = data / "socialdesk.log"
    with log.open("a") as fh:
        fh.write("a line of the earlier run\n")
    again = demo(data, "1", "--backlog", "5", "--rate", "0", "--fresh")
    assert in_store(again.stdout) == figure(again.stdout, "conversations")  # an empty store again
    assert log.is_file() and "a line of the earlier run" not in log.read_text()
    assert not (tmp_path / "team.log").exists()


def test_a_broken_config_stops_with_one_line_and_exit_2(tmp_path):
    (tmp_path / "socialdesk.toml").write_text('[store]\nurl = "sqlite:///x.db"\n\n[[channels]]\nname = "a"\nkind = "myspace"\n')
    result = socialdesk("config", "check", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("socialdesk: socialdesk.toml:6: channels[0].kind: unknown channel kind 'myspace'")


def test_a_missing_config_file_is_named(tmp_path):
    result = socialdesk("--config", "nope.toml", "config", "check", cwd=tmp_path)
    assert result.returncode == 2
    assert "nope.toml" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_the_example_config_checks_and_db_upgrade_and_audit_verify_run(tmp_path):
    config = ROOT / "socialdesk.toml"
    check = socialdesk("--config", str(config), "config", "check", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert "demo" in check.stdout and "brand-mastodon" in check.stdout
    env_store = tmp_path / "store.db"
    (tmp_path / "socialdesk.toml").write_text(f'[store]\nurl = "sqlite:///{env_store}"\n')
    assert socialdesk("db", "upgrade", cwd=tmp_path).returncode == 0
    assert env_store.exists()
    verify = socialdesk("audit", "verify", cwd=tmp_path)
    assert verify.returncode == 0 and "chain intact" in verify.stdout


def one_line_failure(result: subprocess.CompletedProcess, code: int = 1) -> str:
    assert result.returncode == code, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("command", [["serve"], []], ids=["serve", "tui"])
def test_a_read_only_store_is_one_line_and_exit_1(tmp_path, command):
    store = tmp_path / "desk.db"
    (tmp_path / "rw.toml").write_text(f'[store]\nurl = "sqlite:///{store}"\n')
    assert socialdesk("--config", "rw.toml", "db", "upgrade", cwd=tmp_path).returncode == 0
    # Root writes through file modes, so the store is opened read-only the way SQLite allows.
    (tmp_path / "ro.toml").write_text(f'[store]\nurl = "sqlite:///file:{store}?mode=ro&uri=true"\n')
    line = one_line_failure(socialdesk("--config", "ro.toml", *command, cwd=tmp_path, timeout=30))
    assert "read-only" in line and str(store) in line


def test_an_unusable_demo_data_dir_is_one_line_and_exit_1(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    line = one_line_failure(socialdesk("demo", "--headless", "--data-dir", str(tmp_path / "file" / "demo"),
                                       cwd=tmp_path))
    assert str(tmp_path / "file" / "demo") in line and "demo data" in line


def test_a_directory_as_config_says_it_is_a_directory(tmp_path):
    (tmp_path / "conf").mkdir()
    line = one_line_failure(socialdesk("--config", "conf", "config", "check", cwd=tmp_path), code=2)
    assert "conf" in line and "is a directory" in line
