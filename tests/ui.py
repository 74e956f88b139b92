"""The UI test kit: a frozen clock, no failed workers, and what the terminal shows.

Import the fixtures into a test module (`from ui import frozen_clock, no_failed_workers`) and
they apply to every test there."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from seed import T0

from socialdesk.app import SocialdeskApp
from socialdesk.screens import format as fmt

CONTROL = {chr(c) for c in range(0x20) if c != 0x0A} | {chr(c) for c in range(0x7F, 0xA0)} | {"\u202e", "\u202d"}


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    monkeypatch.setattr(fmt, "now", lambda: T0 + timedelta(hours=2))


@pytest.fixture(autouse=True)
def no_failed_workers(monkeypatch):
    """Every failed worker ends in the app's one error notification: none may happen here."""
    failures: list[str] = []
    notify = SocialdeskApp.notify

    def recording_notify(self, message, *, title="", **kwargs):
        if title == "Something went wrong":
            failures.append(message)
        return notify(self, message, title=title, **kwargs)

    monkeypatch.setattr(SocialdeskApp, "notify", recording_notify)
    yield failures
    assert not failures


async def settle(pilot, rounds: int = 3) -> None:
    """Let the workers finish and their messages reach the widgets."""
    for _ in range(rounds):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def screen_lines(app) -> list[str]:
    """The screen as the terminal shows it, one string per line."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def screen_text(app) -> str:
    return "\n".join(screen_lines(app))


async def wait_for(pilot, predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out:\n" + screen_text(pilot.app)
        await pilot.pause(0.05)
    await settle(pilot, 1)
