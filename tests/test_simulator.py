"""The built-in Mastodon simulator: API behaviour, paging, faults, and the traffic it generates."""

from __future__ import annotations

import collections
import json
import random
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import httpx
import pytest

from socialdesk.adapters.base import AdapterError, Inbound, Outbound, RateLimited, Skipped
from socialdesk.adapters.mastodon import MastodonAdapter, html_to_text, parse_notification, parse_rate
from socialdesk.adapters.simulator import BRAND_ID, Simulator, notifications


@pytest.fixture
def sim():
    s = Simulator(rate=0, seed=2, other_share=0.2, ratelimit=100_000)
    s.start()
    yield s
    s.stop()


@pytest.fixture
def api(sim):
    with httpx.Client(base_url=sim.base_url, headers={"Authorization": f"Bearer {sim.token}"},
                      timeout=5) as client:
        yield client


def _ids(items):
    return [item["id"] for item in items]


def _links(response: httpx.Response) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', response.headers.get("link", ""))}


# --- the API -------------------------------------------------------------------------------------


def test_start_returns_a_loopback_url_and_stop_frees_it():
    s = Simulator(rate=0)
    url = s.start()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
    assert httpx.get(f"{url}/api/v1/instance").json()["configuration"]["statuses"]["max_characters"] == 500
    s.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/api/v1/instance", timeout=1)


def test_bearer_token_is_required(sim):
    for headers in ({}, {"Authorization": "Bearer nope"}):
        r = httpx.get(f"{sim.base_url}/api/v1/notifications", headers=headers)
        assert r.status_code == 401
        assert r.json() == {"error": "The access token is invalid"}


def test_notifications_are_newest_first_with_mastodon_paging(sim, api):
    sim.generate(150)
    every = _ids(sim.notifications)
    mentions = _ids(sim.mentions)
    assert len(mentions) == 150 and len(every) > 150  # other types are mixed in
    assert every == sorted(every, key=int) and len(set(every)) == len(every)

    r = api.get("/api/v1/notifications")
    assert r.status_code == 200
    page = r.json()
    assert len(page) == 40  # default limit
    assert _ids(page) == sorted(every, key=int, reverse=True)[:40]
    assert {n["type"] for n in api.get("/api/v1/notifications", params={"limit": 80}).json()} > {"mention"}
    assert len(api.get("/api/v1/notifications", params={"limit": 500}).json()) == 80

    # Walk backwards through rel="next" (older): every mention once, newest first.
    seen, url = [], "/api/v1/notifications?types[]=mention&limit=30"
    while True:
        r = api.get(url)
        if not r.json():
            break
        seen += _ids(r.json())
        links = _links(r)
        assert "types%5B%5D=mention" in links["next"] and f"min_id={r.json()[0]['id']}" in links["prev"]
        url = links["next"]
    assert seen == list(reversed(mentions))

    # Walk forwards through rel="prev" (newer) from the start: every mention once.
    seen, url = [], "/api/v1/notifications?types[]=mention&limit=30&min_id=0"
    while True:
        r = api.get(url)
        if not r.json():
            assert "link" not in r.headers
            break
        batch = _ids(r.json())
        assert batch == sorted(batch, key=int, reverse=True)
        seen += reversed(batch)
        url = _links(r)["prev"]
    assert seen == mentions

    # since_id: the newest page above it; max_id: strictly older.
    newest = api.get("/api/v1/notifications", params={"since_id": every[10], "limit": 5}).json()
    assert _ids(newest) == list(reversed(every))[:5]
    older = api.get("/api/v1/notifications", params={"max_id": every[10], "since_id": every[4]}).json()
    assert _ids(older) == list(reversed(every[5:10]))
    assert api.get(f"/api/v1/notifications/{mentions[3]}").json()["id"] == mentions[3]


def test_rate_limit_headers(sim, api):
    first = parse_rate(api.get("/api/v1/notifications").headers)
    second = parse_rate(api.get("/api/v1/notifications").headers)
    assert first.limit == 100_000 and second.remaining == first.remaining - 1
    assert datetime.now(UTC) < first.reset_at and (first.reset_at - datetime.now(UTC)).total_seconds() <= 300


def test_rate_limit_is_enforced_like_mastodon():
    s = Simulator(rate=0, ratelimit=3)
    s.start()
    try:
        a = MastodonAdapter(s.base_url, s.token)
        pages = [list(a.poll("0")) for _ in range(3)]
        assert pages[-1][0].rate.remaining == 0
        with pytest.raises(RateLimited) as info:
            list(a.poll("0"))
        assert 0 < info.value.retry_after <= 300  # from X-RateLimit-Reset: no Retry-After header
        a.close()
    finally:
        s.stop()


def test_posting_statuses(sim, api):
    target = next(n["status"] for n in sim.generate(20) if n["status"] and not n["status"]["reblog"])
    acct = target["account"]["acct"]

    form = api.post("/api/v1/statuses", data={"status": f"@{acct} Form post", "in_reply_to_id": target["id"],
                                              "visibility": "direct"})
    assert form.status_code == 200
    status = form.json()
    assert status["visibility"] == "direct" and status["in_reply_to_id"] == target["id"]
    assert status["in_reply_to_account_id"] == target["account"]["id"]
    assert status["account"]["id"] == BRAND_ID
    assert html_to_text(status["content"]) == f"@{acct.split('@')[0]} Form post"  # remote mention: short form
    assert [m["acct"] for m in status["mentions"]] == [acct]

    key = {"Idempotency-Key": "abc"}
    one = api.post("/api/v1/statuses", json={"status": "Line one\nLine two\n\nPara <b>&"}, headers=key).json()
    two = api.post("/api/v1/statuses", json={"status": "something else"}, headers=key).json()
    assert one == two
    assert one["content"] == "<p>Line one<br />Line two</p><p>Para &lt;b&gt;&amp;</p>"
    assert len(sim.sent) == 2 and sim.sent[1]["text"] == "Line one\nLine two\n\nPara <b>&"

    assert api.post("/api/v1/statuses", json={"status": "  "}).status_code == 422
    assert api.post("/api/v1/statuses", json={"status": "x" * 501}).json()["error"].startswith("Validation failed")
    assert api.post("/api/v1/statuses", json={"status": "x", "in_reply_to_id": "404"}).status_code == 404
    assert api.post("/api/v1/statuses", content=b"{nope", headers={"Content-Type": "application/json"}
                    ).status_code == 400
    assert len(sim.sent) == 2

    assert api.get(f"/api/v1/statuses/{status['id']}").json() == status
    assert api.get("/api/v1/statuses/1").status_code == 404
    me = api.get("/api/v1/accounts/verify_credentials").json()
    assert me["id"] == BRAND_ID and me["acct"] == "brand"
    mine = api.get(f"/api/v1/accounts/{BRAND_ID}/statuses").json()
    assert _ids(mine) == [one["id"], status["id"]]
    assert _ids(api.get(f"/api/v1/accounts/{BRAND_ID}/statuses", params={"limit": 1}).json()) == [one["id"]]
    theirs = api.get(f"/api/v1/accounts/{target['account']['id']}/statuses").json()
    assert target["id"] in _ids(theirs)
    assert api.get("/api/v1/accounts/999/statuses").status_code == 404


def test_customers_follow_up_on_the_brands_replies():
    s = Simulator(rate=0, seed=4, followup_probability=1.0, followup_delay=(0.0, 0.0), ratelimit=100_000)
    s.start()
    try:
        a = MastodonAdapter(s.base_url, s.token)
        s.generate(10)
        first = list(a.poll(None))[0]
        original = next(m for m in first.messages if not m.is_repost)
        reply = a.send(Outbound("k1", "Sorry! Checking now.", original.visibility,
                                in_reply_to=original.platform_id, recipient=original.author.handle))
        s.tick()
        follow = [m for p in a.poll(first.cursor) for m in p.messages]
        assert len(follow) == 1
        f = follow[0]
        assert f.in_reply_to == reply.platform_id
        assert f.author.platform_id == original.author.platform_id
        assert f.kind == ("dm" if original.visibility == "private" else "reply")

        context = httpx.get(f"{s.base_url}/api/v1/statuses/{f.platform_id}/context",
                            headers={"Authorization": "Bearer simulator"}).json()
        assert _ids(context["ancestors"])[-2:] == [original.platform_id, reply.platform_id]
        down = httpx.get(f"{s.base_url}/api/v1/statuses/{original.platform_id}/context",
                         headers={"Authorization": "Bearer simulator"}).json()
        assert _ids(down["descendants"]) == [reply.platform_id, f.platform_id]
        a.close()
    finally:
        s.stop()


def test_background_traffic_and_spike():
    s = Simulator(rate=60, seed=9, ratelimit=100_000)
    assert s.effective_rate == 60
    s.spike = True
    assert s.effective_rate == 1200
    s.spike = False
    s.start()
    try:
        time.sleep(0.5)
        count = len(s.mentions)
        assert 5 <= count <= 120
    finally:
        s.stop()
    time.sleep(0.2)
    assert len(s.mentions) == count  # stopped means stopped


def test_backlog_is_waiting_in_the_past():
    s = Simulator(rate=5, backlog=120, seed=3)
    mentions = s.mentions
    assert len(mentions) == 120
    created = [datetime.fromisoformat(n["created_at"]) for n in mentions]
    assert created == sorted(created) and created[-1] <= datetime.now(UTC)
    status_ids = [n["status"]["id"] for n in mentions if n["status"]]
    assert status_ids == sorted(status_ids, key=int)


# --- exactly once under faults -------------------------------------------------------------------


def _drain(adapter: MastodonAdapter, cursor: str | None, seen: list[str], errors: collections.Counter) -> str:
    for _ in range(200):
        try:
            for page in adapter.poll(cursor):
                seen.extend(m.raw["id"] for m in page.messages)
                seen.extend(s.item_id for s in page.skipped)
                cursor = page.cursor
            return cursor
        except AdapterError as exc:
            assert exc.retryable, exc
            errors[type(exc).__name__] += 1
    raise AssertionError("the simulator never answered")


def test_polling_sees_every_mention_exactly_once_despite_faults():
    s = Simulator(rate=40, seed=21, faults=0.3, slow_seconds=0.4, ratelimit=100_000)
    s.generate(15)
    s.start()
    a = MastodonAdapter(s.base_url, s.token, page_limit=20, timeout=0.25)
    rng = random.Random(5)
    seen: list[str] = []
    errors: collections.Counter = collections.Counter()
    try:
        cursor = _drain(a, None, seen, errors)
        for _ in range(12):
            s.generate(rng.randrange(0, 70))
            cursor = _drain(a, cursor, seen, errors)
        s.rate = 0
        time.sleep(0.05)
        cursor = _drain(a, cursor, seen, errors)
        cursor = _drain(a, cursor, seen, errors)
    finally:
        a.close()
        s.stop()
    expected = _ids(s.mentions)
    assert len(expected) > 300
    assert len(seen) == len(set(seen)), "a mention was delivered twice"
    assert sorted(seen, key=int) == expected, "a mention was lost"
    assert sum(errors.values()) >= 5 and len({f for _, _, f in s.faults_injected}) >= 4


def test_posting_under_faults_posts_each_reply_once():
    s = Simulator(rate=0, seed=8, faults=0.5, slow_seconds=0.3, ratelimit=100_000)
    s.start()
    a = MastodonAdapter(s.base_url, s.token, timeout=0.2)
    try:
        results = {}
        for i in range(12):
            msg = Outbound(f"key-{i}", f"Reply number {i}", "public")
            for _ in range(50):
                try:
                    results[msg.idempotency_key] = a.send(msg)
                    break
                except AdapterError as exc:
                    assert exc.retryable
        time.sleep(0.35)  # let slow handlers finish
        sent = s.sent
        assert sorted(x["idempotency_key"] for x in sent) == sorted(results)
        assert {x["idempotency_key"]: x["id"] for x in sent} == {k: r.platform_id for k, r in results.items()}
        assert any(f == "lost" for _, _, f in s.faults_injected)
    finally:
        a.close()
        s.stop()


# --- traffic -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample():
    return notifications(5000, seed=1)


def test_traffic_is_realistic(sample):
    assert [n["id"] for n in sample[:3]] == ["1", "2", "3"]
    parsed = [parse_notification(n) for n in sample]
    inbound = [m for m in parsed if isinstance(m, Inbound)]
    skipped = [m for m in parsed if isinstance(m, Skipped)]
    assert len(inbound) + len(skipped) == 5000 and len(skipped) < 50

    authors = collections.Counter(m.author.platform_id for m in inbound)
    assert len(authors) > 1500, "several thousand distinct authors expected"
    assert authors.most_common(1)[0][1] >= 15, "repeat customers expected"
    assert max(m.author.followers for m in inbound) >= 50_000
    assert any(m.author.bot for m in inbound)
    assert any("@" in m.author.handle for m in inbound) and any("@" not in m.author.handle for m in inbound)

    languages = collections.Counter(m.language for m in inbound)
    assert set(languages) >= {"en", "de", "fr", "es", "pt", "ja"}
    assert languages["en"] > languages["ja"] > 50

    dm_share = sum(m.kind == "dm" for m in inbound) / len(inbound)
    assert 0.10 < dm_share < 0.20
    assert sum(m.kind == "reply" for m in inbound) > 100
    assert sum(m.is_repost for m in inbound) > 50
    texts = [m.text for m in inbound]
    assert sum(t.startswith("RT @brand") for t in texts) > 20
    assert all("@brand" in t for m, t in zip(inbound, texts, strict=True) if not m.is_repost)
    for needle in ("[bold red]", "\x1b[31m", "\u202e", "\u200d", "<script>", "&lt;b&gt;", "\u0336"):
        assert any(needle in t for t in texts), needle
    for word in ("refund", "order", "log in", "delivery"):
        assert any(word in t.lower() for t in texts), word

    contents = [n["status"]["content"] for n in sample if n["status"] and n["status"]["content"]]
    assert all(c.startswith("<p>") and c.endswith("</p>") for c in contents)
    assert all('class="h-card"' in c for c in contents)
    assert any('class="mention hashtag"' in c for c in contents)
    assert any("&lt;script&gt;" in c for c in contents)


def test_traffic_ids_and_times_increase(sample):
    status_ids = [n["status"]["id"] for n in sample if n["status"]]
    assert status_ids == sorted(status_ids, key=int) and len(set(status_ids)) == len(status_ids)
    times = [n["created_at"] for n in sample]
    assert times == sorted(times)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", t) for t in times)
    assert notifications(3, seed=1, start_id=500)[0]["id"] == "500"


def test_traffic_is_deterministic():
    assert json.dumps(notifications(300, seed=5)) == json.dumps(notifications(300, seed=5))
    assert json.dumps(notifications(300, seed=5)) != json.dumps(notifications(300, seed=6))


def test_traffic_generation_is_fast():
    start = time.perf_counter()
    out = notifications(20_000, seed=3)
    elapsed = time.perf_counter() - start
    assert len(out) == 20_000
    # About 15 µs each on a laptop (200,000 in ~3 s); generous bound for loaded CI machines.
    assert elapsed < 4.0, f"{elapsed:.2f}s for 20,000 notifications"


# --- command line --------------------------------------------------------------------------------


def test_command_line_serves_until_interrupted():
    proc = subprocess.Popen(
        [sys.executable, "-m", "socialdesk.adapters.simulator", "--port", "0", "--rate", "50", "--seed", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        url = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        time.sleep(0.3)
        r = httpx.get(f"{url}/api/v1/notifications", headers={"Authorization": "Bearer simulator"})
        assert r.status_code == 200 and r.json()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        assert "Ctrl+C" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_command_line_stops_on_sigterm_too():
    proc = subprocess.Popen(
        [sys.executable, "-m", "socialdesk.adapters.simulator", "--port", "0", "--rate", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # as in a background job
    )
    try:
        assert proc.stdout.readline().startswith("http://127.0.0.1:")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        proc = subprocess.Popen(
            [sys.executable, "-m", "socialdesk.adapters.simulator", "--port", "0", "--rate", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        assert proc.stdout.readline().startswith("http://127.0.0.1:")
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
