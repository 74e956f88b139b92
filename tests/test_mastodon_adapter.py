"""MastodonAdapter over real HTTP on loopback: a replay server fed with recorded corpus responses,
scripted failures, and the built-in simulator."""

from __future__ import annotations

import email.utils
import json
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import corpus
from fakes.server import LoopbackServer, Reply, Seen
from socialdesk.adapters.base import (
    AdapterError,
    AuthError,
    CannotVerify,
    Inbound,
    Outbound,
    Page,
    RateLimit,
    RateLimited,
    SendResult,
)
from socialdesk.adapters.mastodon import MastodonAdapter, reply_text
from socialdesk.adapters.simulator import Simulator

# --- a scriptable local server -------------------------------------------------------------------


@pytest.fixture(scope="module")
def _fake_server():
    with LoopbackServer() as server:
        yield server


@pytest.fixture
def fake(_fake_server):
    """A scripted Mastodon: each request gets the next Reply, else `handler(seen)`, else 200 []."""
    _fake_server.reset()
    _fake_server.handler = lambda seen: Reply(200, [])
    yield _fake_server
    _fake_server.reset()


@pytest.fixture
def adapter(fake):
    a = MastodonAdapter(fake.base_url, "secret-token", timeout=0.5)
    yield a
    a.close()


def recorded(inter: corpus.Interaction, base_url: str) -> Reply:
    """A recorded response with its Link header pointed at the local server."""
    headers = {}
    for name, value in inter.headers.items():
        if name in ("link", "content-type") or name.startswith("x-ratelimit-"):
            for origin in ("http://localhost:3000", "https://mastodon.social"):
                value = value.replace(origin, base_url)
            headers[name] = value
    return Reply(inter.status_code, inter.body_text, headers)


def find(cassette: str, index: int) -> corpus.Interaction:
    root = corpus.platform_dir(corpus.MASTODON)
    return corpus.load_cassette(root / cassette)[index]


def mention(nid: str, sid: str | None = None, text: str = "hi", **status: Any) -> dict[str, Any]:
    return {
        "id": nid,
        "type": "mention",
        "created_at": "2026-05-01T10:00:00.000Z",
        "account": {"id": "7", "acct": "ann@example.org"},
        "status": {
            "id": sid or f"9{nid}",
            "created_at": "2026-05-01T10:00:00.000Z",
            "visibility": "public",
            "content": f"<p>{text}</p>",
            "account": {"id": "7", "acct": "ann@example.org", "display_name": "Ann", "followers_count": 3},
            **status,
        },
    }


def rate_headers(remaining: int = 299, reset: datetime | None = None) -> dict[str, str]:
    reset = reset or datetime.now(UTC) + timedelta(minutes=5)
    return {
        "X-RateLimit-Limit": "300",
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


def page_reply(fake: LoopbackServer, items: list[dict], **kw: Any) -> Reply:
    headers = rate_headers(**kw)
    if items:
        newest, oldest = items[0]["id"], items[-1]["id"]
        base = f"{fake.base_url}/api/v1/notifications"
        headers["Link"] = (f'<{base}?types%5B%5D=mention&max_id={oldest}>; rel="next", '
                           f'<{base}?types%5B%5D=mention&min_id={newest}>; rel="prev"')
    return Reply(200, items, headers)


# --- polling recorded responses ------------------------------------------------------------------


def test_polls_recorded_mastodon_social_page_and_follows_its_link(fake, adapter):
    inter = find("tests/cassettes_entity_tests/test_entity_notification.yaml", 0)
    assert inter.request["uri"].startswith("https://mastodon.social/api/v1/notifications")
    fake.script = [recorded(inter, fake.base_url), Reply(200, [], rate_headers())]

    pages = list(adapter.poll("541461665"))

    first = fake.requests[0]
    assert (first.method, first.path) == ("GET", "/api/v1/notifications")
    assert first.query == [("types[]", "mention"), ("limit", "80"), ("min_id", "541461665")]
    assert first.headers["authorization"] == "Bearer secret-token"
    assert first.headers["user-agent"] == "socialdesk/0.1"
    # The second request is exactly the recorded rel="prev" link, on the local server.
    assert fake.requests[1].target == "/api/v1/notifications?min_id=550622655"
    assert len(fake.requests) == 2

    assert len(pages) == 1
    page = pages[0]
    assert page.cursor == "550622655"  # highest id, although that item was skipped
    assert [m.platform_id for m in page.messages] == ["116275331587890092"]
    assert page.messages[0].kind == "dm"
    assert len(page.skipped) == 39
    assert {s.reason for s in page.skipped} == {"status is null (deleted or unreachable)"}
    assert page.rate == RateLimit(300, 273, datetime(2026, 4, 11, 23, 15, 0, 381973, tzinfo=UTC))


def test_follows_a_chain_of_recorded_pages(fake, adapter):
    chain = {  # min_id asked -> the recorded page immediately newer (each links rel="prev" onwards)
        "19": find("tests/cassettes/test_notifications.yaml", 1),
        "20": find("tests/cassettes/test_notifications_mentions_only.yaml", 1),
        "21": find("tests/cassettes/test_notifications_types.yaml", 2),
        "23": find("tests/cassettes/test_notifications_exclude_and_types.yaml", 3),
        "24": find("tests/cassettes/test_notifications_dismiss.yaml", 1),
    }

    def handler(seen: Seen) -> Reply:
        inter = chain.get(seen.param("min_id") or "")
        return recorded(inter, fake.base_url) if inter else Reply(200, [], rate_headers())

    fake.handler = handler
    pages = list(adapter.poll("19"))

    assert [p.cursor for p in pages] == ["20", "21", "23", "24", "25"]
    messages = [m for p in pages for m in p.messages]
    assert [m.text for m in messages] == ["@mastodonpy_test hello!"] * 5
    assert all(m.kind == "mention" and m.author.handle == "admin" for m in messages)
    assert len({m.platform_id for m in messages}) == 5
    # Each follow-up request is the recorded link, types filter and all.
    assert fake.requests[2].target == "/api/v1/notifications?min_id=21&types%5B%5D=mention"
    assert fake.requests[-1].param("min_id") == "25"
    assert len(fake.requests) == 6


def test_first_poll_reads_only_the_newest_page(fake, adapter):
    items = [mention("12"), mention("11"), mention("10")]
    fake.script = [page_reply(fake, items), page_reply(fake, [mention("13")])]

    pages = list(adapter.poll(None))

    assert len(fake.requests) == 1
    assert fake.requests[0].query == [("types[]", "mention"), ("limit", "80")]
    assert len(pages) == 1
    assert pages[0].cursor == "12"
    assert [m.platform_id for m in pages[0].messages] == ["910", "911", "912"]  # oldest first


def test_first_poll_of_an_empty_account(fake, adapter):
    fake.script = [Reply(200, [], rate_headers())]
    pages = list(adapter.poll(None))
    # Nothing to skip: the next poll reads forward from the very beginning.
    assert len(pages) == 1 and pages[0].messages == [] and pages[0].cursor == "0"


def test_empty_poll_yields_one_page_with_the_same_cursor(fake, adapter):
    fake.script = [Reply(200, [], rate_headers(remaining=17))]
    pages = list(adapter.poll("55"))
    assert len(pages) == 1
    assert pages[0].cursor == "55" and pages[0].messages == [] and pages[0].skipped == []
    assert pages[0].rate.remaining == 17
    assert len(fake.requests) == 1


def test_cursor_moves_past_a_page_of_skipped_items(fake, adapter):
    items = [{"id": "31", "type": "mention", "status": None}, {"id": "30", "type": "follow", "account": {}}]
    fake.script = [page_reply(fake, items), Reply(200, [])]
    pages = list(adapter.poll("29"))
    assert len(pages) == 1
    assert pages[0].cursor == "31" and pages[0].messages == []
    assert [s.item_id for s in pages[0].skipped] == ["31", "30"]


def test_ids_are_compared_as_numbers_not_strings(fake, adapter):
    items = [mention("11"), mention("10"), mention("9")]
    fake.script = [page_reply(fake, items), Reply(200, [])]
    pages = list(adapter.poll("8"))
    assert pages[0].cursor == "11"
    assert [m.platform_id for m in pages[0].messages] == ["99", "910", "911"]
    assert fake.requests[1].param("min_id") == "11"


def test_stops_paging_when_the_rate_limit_is_used_up(fake, adapter):
    fake.script = [page_reply(fake, [mention("5")], remaining=0), page_reply(fake, [mention("6")])]
    pages = list(adapter.poll("4"))
    assert [p.cursor for p in pages] == ["5"]
    assert pages[0].rate.remaining == 0
    assert len(fake.requests) == 1


def test_without_a_link_header_it_pages_by_itself(fake, adapter):
    fake.script = [Reply(200, [mention("6"), mention("5")]), Reply(200, [mention("7")]), Reply(200, [])]
    pages = list(adapter.poll("4"))
    assert [p.cursor for p in pages] == ["6", "7"]
    assert [r.param("min_id") for r in fake.requests] == ["4", "6", "7"]


def test_never_follows_a_link_to_another_host(fake, adapter):
    evil = {"Link": '<https://evil.example/api/v1/notifications?min_id=6>; rel="prev"'}
    fake.script = [Reply(200, [mention("6")], evil), Reply(200, [])]
    pages = list(adapter.poll("5"))
    assert [p.cursor for p in pages] == ["6"]
    assert fake.requests[1].param("min_id") == "6"  # asked our own instance instead


# --- errors --------------------------------------------------------------------------------------


def _http_date(seconds: float) -> str:
    return email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=seconds), usegmt=True)


FAILURES: dict[str, tuple[Callable[[], Reply], type[AdapterError], bool, str]] = {
    "429-retry-after-seconds": (lambda: Reply(429, {"error": "Too many requests"}, {"Retry-After": "7"}),
                                RateLimited, True, "rate limit"),
    "429-retry-after-date": (lambda: Reply(429, {"error": "Too many requests"}, {"Retry-After": _http_date(120)}),
                             RateLimited, True, "rate limit"),
    "429-ratelimit-reset": (lambda: Reply(429, {"error": "Too many requests"},
                                          rate_headers(0, datetime.now(UTC) + timedelta(seconds=30))),
                            RateLimited, True, "rate limit"),
    "500": (lambda: Reply(500, {"error": "We're sorry, but something went wrong on our end."}),
            AdapterError, True, "server error"),
    "503-retry-after": (lambda: Reply(503, "<html>maintenance</html>", {"Retry-After": "5"}),
                        AdapterError, True, "HTTP 503"),
    "timeout": (lambda: Reply(200, [], mode="slow", delay=1.2), AdapterError, True, "did not answer"),
    "dropped-body": (lambda: Reply(200, [mention("77")], mode="dropped"), AdapterError, True,
                     "connection to Mastodon"),
    "truncated-json": (lambda: Reply(200, json.dumps([mention("77")])[:60]), AdapterError, True, "truncated JSON"),
    "malformed-json": (lambda: Reply(200, "<html><body>Bad gateway</body></html>"), AdapterError, True,
                       "malformed"),
    "not-a-list": (lambda: Reply(200, {"error": "oops"}), AdapterError, True, "where a list was expected"),
    "401": (lambda: Reply(401, {"error": "The access token is invalid"}), AuthError, False, "socialdesk auth"),
    "403": (lambda: Reply(403, {"error": "This action is outside the authorized scopes"}), AuthError, False,
            "outside the authorized scopes"),
    "404": (lambda: Reply(404, {"error": "Record not found"}), AdapterError, False, "Record not found"),
}


@pytest.mark.parametrize("kind", list(FAILURES))
def test_each_failure_raises_the_right_error(fake, adapter, kind):
    make, cls, retryable, text = FAILURES[kind]
    fake.script = [make()]
    with pytest.raises(cls) as info:
        list(adapter.poll("5"))
    err = info.value
    assert type(err) is cls
    assert err.retryable is retryable
    assert text in str(err)
    if kind == "429-retry-after-seconds":
        assert err.retry_after == 7
    elif kind == "429-retry-after-date":
        assert 100 < err.retry_after <= 120
    elif kind == "429-ratelimit-reset":
        assert 20 < err.retry_after <= 30
    elif kind == "503-retry-after":
        assert err.retry_after == 5


@pytest.mark.parametrize("kind", list(FAILURES))
def test_a_failure_after_the_first_page_loses_nothing(fake, adapter, kind):
    make, cls, _, _ = FAILURES[kind]
    first = [mention("7"), mention("6")]
    second = [mention("9"), mention("8")]
    fake.script = [page_reply(fake, first), make()]

    stored: list[Page] = []
    with pytest.raises(cls):
        for page in adapter.poll("5"):
            stored.append(page)  # what the ingest service would commit
    assert [p.cursor for p in stored] == ["7"]

    # The next poll resumes from the stored cursor and gets the rest, once.
    fake.script = [page_reply(fake, second), Reply(200, [], rate_headers())]
    stored.extend(adapter.poll(stored[-1].cursor))
    ids = [m.platform_id for p in stored for m in p.messages]
    assert ids == ["96", "97", "98", "99"]
    assert fake.requests[-2].param("min_id") == "7"


def test_unreachable_instance_is_retryable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    a = MastodonAdapter(f"http://127.0.0.1:{port}", "t", timeout=0.5)
    with pytest.raises(AdapterError) as info:
        list(a.poll("1"))
    assert info.value.retryable and "cannot reach" in str(info.value)
    a.close()


# --- sending -------------------------------------------------------------------------------------


def test_send_posts_json_with_idempotency_key(fake, adapter):
    inter = find("tests/cassettes/test_notifications_mentions_only.yaml", 0)  # a real POST answer
    fake.script = [recorded(inter, fake.base_url)]
    msg = Outbound("key-123", "Sorry! We're on it.", "public", in_reply_to="116", recipient="ann@example.org",
                   language="en")

    result = adapter.send(msg)

    req = fake.requests[0]
    assert (req.method, req.path) == ("POST", "/api/v1/statuses")
    assert req.headers["idempotency-key"] == "key-123"
    assert req.headers["content-type"] == "application/json"
    assert json.loads(req.body) == {"status": "@ann@example.org Sorry! We're on it.", "visibility": "public",
                                    "in_reply_to_id": "116", "language": "en"}
    assert result == SendResult(
        platform_id="117020577157693549",
        url="http://localhost:3000/@admin/117020577157693549",
        sent_at=datetime(2026, 8, 1, 13, 51, 42, 823000, tzinfo=UTC),
        text="@ann@example.org Sorry! We're on it.",
    )


@pytest.mark.parametrize(
    ("text", "recipient", "visibility", "posted", "api_visibility"),
    [
        ("Hi there", "bob", "private", "@bob Hi there", "direct"),
        ("Hi @Bob, see DM", "bob", "private", "Hi @Bob, see DM", "direct"),
        ("Thanks @bob.", "bob", "public", "Thanks @bob.", "public"),
        ("Hi @bob@other.example", "bob", "public", "@bob Hi @bob@other.example", "public"),
        ("Hi @bobby", "bob", "public", "@bob Hi @bobby", "public"),
        ("No recipient", None, "public", "No recipient", "public"),
        ("Hi", "@carol@example.org", "private", "@carol@example.org Hi", "direct"),
    ],
)
def test_send_mentions_the_recipient_once(fake, adapter, text, recipient, visibility, posted, api_visibility):
    fake.script = [Reply(200, {"id": "5", "created_at": "2026-05-01T10:00:00Z", "url": None})]
    msg = Outbound("k", text, visibility, recipient=recipient)
    assert reply_text(msg) == posted
    result = adapter.send(msg)
    body = json.loads(fake.requests[0].body)
    assert body == {"status": posted, "visibility": api_visibility}
    assert result.text == posted and result.url is None


@pytest.mark.parametrize(
    ("reply", "retryable", "text"),
    [
        (None, False, None),  # filled from the corpus: a localised 422
        (Reply(500, {"error": "boom"}), True, "boom"),
        (Reply(200, "{\"id\": \"1"), True, "truncated JSON"),
        (Reply(200, {"created_at": "2026-05-01T10:00:00Z"}), True, "Idempotency-Key"),
        (Reply(401, {"error": "The access token is invalid"}), False, "socialdesk auth"),
    ],
)
def test_send_errors(fake, adapter, reply, retryable, text):
    if reply is None:
        inter = next(i for i in corpus.load_cassette(
            corpus.platform_dir(corpus.MASTODON) / "tests/cassettes/test_status_empty.yaml") if i.status_code == 422)
        reply = recorded(inter, fake.base_url)
        text = inter.json()["error"]
    fake.script = [reply]
    with pytest.raises(AdapterError) as info:
        adapter.send(Outbound("k", "hello", "public"))
    assert info.value.retryable is retryable
    assert text in str(info.value)


def test_find_sent_on_recorded_shapes(fake, adapter):
    statuses = [
        {"id": "300", "in_reply_to_id": "55", "created_at": "2026-05-01T10:00:00Z", "url": "u300",
         "content": "<p>other reply</p>"},
        {"id": "301", "in_reply_to_id": "55", "created_at": "2026-05-01T10:01:00Z", "url": "u301",
         "content": '<p><span class="h-card"><a href="https://example.org/@ann" class="u-url mention">'
                    "@<span>ann</span></a></span> Thanks &amp; sorry!<br />We&#39;ll check.</p>"},
    ]
    fake.handler = lambda seen: (Reply(200, {"id": "42", "acct": "brand"}) if seen.path.endswith("verify_credentials")
                                 else Reply(200, statuses))
    msg = Outbound("k", "Thanks & sorry!\nWe'll check.", "public", in_reply_to="55", recipient="ann@example.org")
    found = adapter.find_sent(msg)
    assert found is not None and found.platform_id == "301" and found.url == "u301"
    assert found.text == "@ann@example.org Thanks & sorry!\nWe'll check."
    assert adapter.find_sent(Outbound("k", "never sent", "public", in_reply_to="55")) is None
    assert adapter.find_sent(Outbound("k", "other reply", "public", in_reply_to="56")) is None
    paths = [r.path for r in fake.requests]
    assert paths.count("/api/v1/accounts/verify_credentials") == 1  # cached
    assert paths.count("/api/v1/accounts/42/statuses") == 3
    assert fake.requests[1].param("limit") == "40"


# --- against the simulator -----------------------------------------------------------------------


@pytest.fixture
def sim():
    s = Simulator(rate=0, seed=11, ratelimit=100_000)
    s.start()
    yield s
    s.stop()


@pytest.fixture
def sim_adapter(sim):
    a = MastodonAdapter(sim.base_url, sim.token, timeout=2.0)
    yield a
    a.close()


def _one_mention(sim: Simulator, adapter: MastodonAdapter) -> Inbound:
    sim.generate(30)
    page = next(iter(adapter.poll(None)))
    return next(m for m in page.messages if not m.is_repost)


def test_same_idempotency_key_posts_once(sim, sim_adapter):
    m = _one_mention(sim, sim_adapter)
    msg = Outbound("outbox-1", "We're sorry — please DM us.", "public", in_reply_to=m.platform_id,
                   recipient=m.author.handle)
    first = sim_adapter.send(msg)
    second = sim_adapter.send(msg)
    assert first == second
    assert len(sim.sent) == 1
    sent = sim.sent[0]
    assert sent["text"] == f"@{m.author.handle} We're sorry — please DM us."
    assert sent["in_reply_to_id"] == m.platform_id and sent["visibility"] == "public"
    assert sent["idempotency_key"] == "outbox-1"
    other = sim_adapter.send(Outbound("outbox-2", "Second reply", "private", in_reply_to=m.platform_id,
                                      recipient=m.author.handle))
    assert other.platform_id != first.platform_id
    assert [s["visibility"] for s in sim.sent] == ["public", "direct"]


def test_lost_response_then_retry_posts_once_and_find_sent_sees_it(sim, sim_adapter):
    m = _one_mention(sim, sim_adapter)
    msg = Outbound("outbox-9", "Refund issued.\n\nSorry for the wait!", "private", in_reply_to=m.platform_id,
                   recipient=m.author.handle)
    sim.inject("lost")
    with pytest.raises(AdapterError) as info:
        sim_adapter.send(msg)
    assert info.value.retryable
    assert len(sim.sent) == 1  # it was posted; only the answer was lost

    found = sim_adapter.find_sent(msg)  # what the outbox does after a crash
    assert found is not None
    assert found.platform_id == sim.sent[0]["id"]
    assert found.text == reply_text(msg)

    retried = sim_adapter.send(msg)
    assert retried.platform_id == found.platform_id
    assert len(sim.sent) == 1

    assert sim_adapter.find_sent(Outbound("x", "Refund issued.", "private", in_reply_to=m.platform_id,
                                          recipient=m.author.handle)) is None


def test_failed_post_is_not_recorded_and_retry_posts_once(sim, sim_adapter):
    m = _one_mention(sim, sim_adapter)
    msg = Outbound("outbox-3", "On it!", "public", in_reply_to=m.platform_id)
    sim.inject("500", "429")
    with pytest.raises(AdapterError):
        sim_adapter.send(msg)
    with pytest.raises(RateLimited) as info:
        sim_adapter.send(msg)
    assert info.value.retry_after == 1
    assert sim.sent == []
    sim_adapter.send(msg)
    assert len(sim.sent) == 1


def test_empty_reply_is_rejected_by_the_simulator(sim, sim_adapter):
    with pytest.raises(AdapterError) as info:
        sim_adapter.send(Outbound("k", "   ", "public"))
    assert not info.value.retryable and "can't be blank" in str(info.value)
    assert sim.sent == []


def test_wrong_token_is_an_auth_error(sim):
    a = MastodonAdapter(sim.base_url, "wrong")
    with pytest.raises(AuthError) as info:
        list(a.poll(None))
    assert "The access token is invalid" in str(info.value)
    a.close()


def _busy(sim: Simulator, n: int) -> None:
    """The brand posts n other statuses (other agents' replies) after ours."""
    for i in range(n):
        sim.post_status({"status": f"Another customer's answer {i}", "visibility": "public"}, None)


def test_find_sent_pages_back_to_the_answered_message_on_a_busy_account(sim, sim_adapter):
    m = _one_mention(sim, sim_adapter)
    msg = Outbound("outbox-busy", "Refund on its way.", "public", in_reply_to=m.platform_id,
                   recipient=m.author.handle, reply_to_at=m.published_at)
    sim_adapter.send(msg)
    _busy(sim, 130)  # the reply is now four pages of 40 back
    found = sim_adapter.find_sent(msg)
    assert found is not None and found.platform_id == sim.sent[0]["id"]
    other = Outbound("outbox-other", "Never sent.", "public", in_reply_to=m.platform_id,
                     recipient=m.author.handle, reply_to_at=m.published_at)
    assert sim_adapter.find_sent(other) is None  # read back to the message's time, then stopped


def test_find_sent_says_it_cannot_tell_when_the_message_is_too_far_back(sim):
    m_adapter = MastodonAdapter(sim.base_url, sim.token, timeout=2.0, find_pages=2)
    try:
        m = _one_mention(sim, m_adapter)
        _busy(sim, 100)
        msg = Outbound("outbox-deep", "Sorry!", "public", in_reply_to=m.platform_id, recipient=m.author.handle,
                       reply_to_at=m.published_at)
        with pytest.raises(CannotVerify, match="check on Mastodon"):
            m_adapter.find_sent(msg)
    finally:
        m_adapter.close()
