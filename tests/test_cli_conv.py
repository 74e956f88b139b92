"""`socialdesk conv`: the TUI's commands from a shell, in a real process, on the same store."""

from __future__ import annotations

import subprocess
import sys

import pytest
from seed import seed_conversations

from socialdesk.services.desk import Desk
from socialdesk.store.views import QueueFilter


@pytest.fixture
def shell(store, database_url, tmp_path):
    """Run `socialdesk conv …` as the supervisor carol against the test's store."""
    (tmp_path / "socialdesk.toml").write_text(f'[store]\nurl = "{database_url}"\n\n[desk]\nconfirm_above = 10\n'
                                              '\n[[agents]]\nname = "carol"\nrole = "supervisor"\n'
                                              '\n[[teams]]\nname = "billing"\n')
    seed_conversations(Desk(store, "alice"), 40)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "socialdesk", "--agent", "carol", "conv", *args],
                              cwd=tmp_path, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)

    return run


def test_a_dry_run_prints_how_many_match_and_changes_nothing(shell, store):
    done = shell("tag", "--query", "refund", "--dry-run")
    assert (done.returncode, done.stdout.strip()) == (0, "8 conversations match."), done.stderr
    done = shell("tag", "+outage", "--query", "refund", "--dry-run")
    assert done.stdout.strip() == "Would have tagged 8 conversations."
    assert Desk(store, "alice").queue_count(QueueFilter(tags=("outage",))) == 0


def test_tag_assign_and_close_by_query_and_filter(shell, store):
    desk = Desk(store, "alice")
    assert shell("tag", "+outage", "--query", "refund").stdout.strip() == "Tagged 8 conversations."
    done = shell("assign", "--team", "billing", "--filter", "tag:outage")
    assert done.stdout.strip() == "Assigned 8 conversations.", done.stderr
    assert desk.queue_count(QueueFilter(team="billing")) == 8
    done = shell("close", "--filter", "tag:outage team:billing")
    assert done.stdout.strip() == "Closed as noise 8 conversations."
    assert desk.queue_count(QueueFilter()) == 32


def test_many_conversations_need_yes_when_nobody_can_be_asked(shell, store):
    done = shell("priority", "P1", "--filter", "status:open")
    assert done.returncode == 1 and "nothing changed: 40 conversations match; add --yes" in done.stderr
    assert shell("priority", "P1", "--filter", "status:open", "--yes").stdout.startswith("Reprioritised")


@pytest.mark.parametrize(("args", "message"), [
    (("tag", "outgae", "--query", "refund"), "No tag 'outgae'. Tags:"),
    (("tag", "--query", "refund"), "conv tag: give a tag, e.g. socialdesk conv tag outage --query"),
    (("assign", "zed", "--query", "refund"), "No agent 'zed'. Agents:"),
    (("resolve", "fixd", "--query", "refund"), "No resolution code 'fixd'. Codes: answered, fixed, refunded"),
    (("tag", "+x", "--filter", "chanel:demo"), "unknown filter 'chanel'"),
    (("tag", "+x", "--query", '"((( NEAR(*'), "0 conversations"),
    (("tag", "+x"), "say which conversations: --query WORDS"),
    (("tag", "+x", "--ids", "12,x"), "--ids: expected conversation numbers"),
])
def test_bad_input_says_what_exists_in_one_line(shell, args, message):
    done = shell(*args)
    output = done.stdout + done.stderr
    assert message in output, output
    assert "Traceback" not in output
