"""Alerts reach the webhook and the mailbox exactly once, through a queue in the store: a daemon
killed (SIGKILL) right after an alert is raised leaves it to the next one, and two daemons
delivering at once send each alert once. Real processes (`socialdesk serve`), real servers on
loopback."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from conftest import Hook, Inbox
from sqlalchemy import func, select

from socialdesk.store import commands

EMAIL = "oncall@example.com"


def daemon(tmp_path: Path, name: str, url: str, webhook: str, smtp: str) -> subprocess.Popen:
    config = tmp_path / f"{name}.toml"
    config.write_text(f'[store]\nurl = "{url}"\n\n[log]\nfile = "{tmp_path / name}.log"\n\n'
                      f'[rules.alerts]\nwebhook = "{webhook}"\nemail = "{EMAIL}"\nsmtp = "{smtp}"\n')
    return subprocess.Popen([sys.executable, "-m", "socialdesk", "--config", str(config), "serve"], cwd=tmp_path,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(*daemons: subprocess.Popen) -> None:
    for process in daemons:
        process.kill()
        process.wait(10)


def raise_alert(store, message: str) -> str:
    with store.begin() as s:
        commands.raise_alert(s, "keyword", message)
    return message


def wait_until(condition: Callable[[], bool], timeout: float = 90.0) -> None:
    """Up to 90 s: a send cut off by the kill is repeated after a minute."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out; the webhook has {dict(hooked())}"
        time.sleep(0.05)


def hooked() -> Counter:
    return Counter(body["message"] for body, _ in Hook.received)


def mailed(inbox: Inbox) -> Counter:
    return Counter(line for mail in inbox.messages for line in mail.splitlines() if line.startswith("alert "))


def all_marked_sent(store, count: int) -> bool:
    """Every delivery recorded as sent: nothing is in flight any more."""
    from socialdesk.store.models import AlertDelivery

    with store() as s:
        return s.execute(select(func.count()).where(AlertDelivery.state == "sent")).scalar_one() == count


def test_an_alert_raised_right_before_a_kill_goes_out_once_after_the_restart(store, database_url, tmp_path,
                                                                              webhook, mailbox):
    inbox, smtp = mailbox
    first = daemon(tmp_path, "first", database_url, webhook, smtp)
    try:
        early = [raise_alert(store, f"alert {i} at start-up") for i in range(3)]  # before it is up
        wait_until(lambda: set(hooked()) == set(mailed(inbox)) == set(early))
        wait_until(lambda: all_marked_sent(store, 2 * len(early)))
        Hook.refusing = inbox.refusing = True  # whatever it tries now does not arrive
        late = raise_alert(store, "alert 3 before the crash")
        first.kill()
    finally:
        stop(first)
    assert late not in hooked() and late not in mailed(inbox)

    Hook.refusing = inbox.refusing = False
    second = daemon(tmp_path, "second", database_url, webhook, smtp)
    try:
        wait_until(lambda: late in hooked() and late in mailed(inbox))
        wait_until(lambda: all_marked_sent(store, 2 * len(early) + 2))
    finally:
        stop(second)
    expected = Counter(early + [late])
    assert hooked() == expected and mailed(inbox) == expected  # none lost, none twice


def test_two_daemons_delivering_at_once_send_each_alert_once(store, database_url, tmp_path, webhook, mailbox):
    inbox, smtp = mailbox
    daemons = [daemon(tmp_path, name, database_url, webhook, smtp) for name in ("one", "two")]
    raised = []
    try:
        for burst in range(4):
            raised += [raise_alert(store, f"alert {burst}.{i}") for i in range(3)]
            time.sleep(0.4)
        wait_until(lambda: set(hooked()) == set(mailed(inbox)) == set(raised))
        wait_until(lambda: all_marked_sent(store, 2 * len(raised)))
    finally:
        stop(*daemons)
    assert hooked() == Counter(raised) and mailed(inbox) == Counter(raised)
    (_, headers), *_ = Hook.received
    assert headers["Idempotency-Key"]  # a receiver can drop the repeat of a send cut off by a crash
