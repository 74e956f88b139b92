"""Meta's Graph API on loopback for the Facebook and Instagram adapters (`FakeFacebook`,
`FakeInstagram`; what they share is in `graph_api`), and the steps the tests of both adapters
take against them: a first poll, draining a stream, the outbox entry answering a message,
an answer lost on the way, polling on through injected faults."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from fakes.graph_api import DAY, GraphFake, Sent, graph_error
from fakes.graph_facebook import FakeFacebook
from fakes.graph_instagram import FakeInstagram
from fakes.server import Seen
from socialdesk.adapters.base import AdapterError, Inbound, Outbound
from socialdesk.adapters.graph_adapter import GraphAdapter

__all__ = ["DAY", "FakeFacebook", "FakeInstagram", "Sent", "graph_error", "ago", "answer", "drain", "first_cursors",
           "poll_until_all", "posts_made", "send_lost", "start"]


def ago(seconds: int) -> int:
    return int(time.time()) - seconds


def start(adapter: GraphAdapter, stream: str = "comments") -> str:
    """The cursor of a first poll (which reads nothing)."""
    (page,) = adapter.poll(None, stream)
    assert page.messages == [] and page.cursor
    return page.cursor


def drain(adapter: GraphAdapter, cursor: str, stream: str = "comments") -> tuple[list[Inbound], str]:
    """Every message after `cursor`, and the cursor after them."""
    messages = []
    for page in adapter.poll(cursor, stream):
        messages += page.messages
        cursor = page.cursor or cursor
    return messages, cursor


def answer(message: Inbound, text: str, visibility: str | None = None, **changes: Any) -> Outbound:
    """The outbox entry the app would build to answer `message`."""
    fields: dict[str, Any] = dict(
        idempotency_key=str(uuid.uuid4()), text=text, visibility=visibility or message.visibility,
        in_reply_to=message.platform_id, recipient=message.author.handle, recipient_id=message.author.platform_id,
        reply_to_kind=message.kind, reply_to_at=message.published_at, reply_ref=message.reply_ref)
    return Outbound(**{**fields, **changes})


def posts_made(fake: GraphFake) -> list[Seen]:
    return [s for s in fake.server.requests if s.method == "POST"]


def send_lost(fake: GraphFake, adapter: GraphAdapter, outbound: Outbound) -> AdapterError:
    """Send `outbound` and lose the answer on the way (the platform carried the write out): the
    error the adapter raised. The network is sound again afterwards."""
    fake.server.faults, fake.server.fault_kinds = 1.0, ("lost",)
    fake.server.fault_filter = lambda seen: seen.method == "POST"
    with pytest.raises(AdapterError) as caught:
        adapter.send(outbound)
    fake.server.faults = 0.0
    return caught.value


def first_cursors(adapter: GraphAdapter) -> dict[str, str | None]:
    """Every stream's first cursor, polled again after each (retryable) injected fault."""
    cursors: dict[str, str | None] = {stream.name: None for stream in adapter.streams}
    for stream in cursors:
        while cursors[stream] is None:
            try:
                cursors[stream] = list(adapter.poll(None, stream))[-1].cursor
            except AdapterError as exc:
                assert exc.retryable
    return cursors


def poll_until_all(adapter: GraphAdapter, cursors: dict[str, str | None], fake: GraphFake, *, rounds: int,
                   stored: list[str]) -> list[str]:
    """Poll every stream, storing what comes and moving its cursor, until `stored` holds every
    message the fake expects or `rounds` polls went by; every fault on the way must be retryable."""
    for _ in range(rounds):
        for stream, cursor in cursors.items():
            try:
                for page in adapter.poll(cursor, stream):
                    stored += [m.platform_id for m in page.messages]
                    cursors[stream] = page.cursor or cursors[stream]
            except AdapterError as exc:
                assert exc.retryable, exc
        if set(stored) >= fake.expected_ids():
            break
    return stored
