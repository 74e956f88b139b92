"""XAdapter over real HTTP on loopback: the FakeX server (X API v2 with real shapes, auth checked,
rate limits counted), recorded corpus answers replayed, and X's documented OAuth 1.0a example."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

import corpus
from fakes.server import Reply
from fakes.x import BRAND, OAUTH1, FakeX, Sent
from socialdesk.adapters.base import (
    AdapterError,
    AuthError,
    CannotVerify,
    Inbound,
    MemoryVault,
    NotAllowed,
    Outbound,
    RateLimited,
    SendResult,
)
from socialdesk.adapters.x import XAdapter
from socialdesk.adapters.x_auth import OAuth1, request_params, signature_base_string


@pytest.fixture
def fake():
    with FakeX(seed=7, enforce_limits=True) as server:
        yield server


@pytest.fixture
def adapter(fake):
    a = fake.adapter(timeout=0.5, page_limit=5)
    yield a
    a.close()


def ids(pages) -> list[str]:
    return [m.platform_id for p in pages for m in p.messages]


def answer(m: Inbound, text: str, visibility: str = "public", key: str = "k1") -> Outbound:
    """The outbox entry the app builds to answer `m`."""
    return Outbound(key, text, visibility, in_reply_to=m.platform_id, recipient=m.author.handle,
                    recipient_id=m.author.platform_id, reply_to_kind=m.kind, reply_to_at=m.published_at,
                    reply_ref=m.reply_ref)


def mention(fake: FakeX, text: str = "@TweepyDev my parcel is late") -> str:
    return fake.post(fake.customer(), text)


# --- OAuth 1.0a ----------------------------------------------------------------------------------

DOC = OAuth1("xvz1evFS4wEEPTGEFPHBog", "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
             "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb", "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE")
DOC_BODY = b"status=Hello%20Ladies%20%2b%20Gentlemen%2c%20a%20signed%20OAuth%20request%21"


def test_oauth1_signature_matches_xs_documented_example():
    """docs.x.com "Creating a signature" / "Authorizing a request" (nonce, timestamp, keys, body)."""
    url = "https://api.twitter.com/1/statuses/update.json?include_entities=true"
    params = request_params(url, DOC_BODY, "application/x-www-form-urlencoded")
    oauth = {"oauth_consumer_key": "xvz1evFS4wEEPTGEFPHBog",
             "oauth_nonce": "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg",
             "oauth_signature_method": "HMAC-SHA1", "oauth_timestamp": "1318622958",
             "oauth_token": "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb", "oauth_version": "1.0"}
    assert signature_base_string("POST", url, [*params, *oauth.items()]) == (
        "POST&https%3A%2F%2Fapi.twitter.com%2F1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue%26oauth_consumer_key"
        "%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%3DkYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg%26oauth_signature_method"
        "%3DHMAC-SHA1%26oauth_timestamp%3D1318622958%26oauth_token%3D370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"
        "%26oauth_version%3D1.0%26status%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%2520OAuth"
        "%2520request%2521")
    header = DOC.header("POST", url, params, nonce=oauth["oauth_nonce"], timestamp=1318622958)
    assert header == (
        'OAuth oauth_consumer_key="xvz1evFS4wEEPTGEFPHBog", oauth_nonce="kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg", '
        'oauth_signature="tnnArxj06cWHq44gCs1OSKk%2FjLY%3D", oauth_signature_method="HMAC-SHA1", '
        'oauth_timestamp="1318622958", oauth_token="370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb", '
        'oauth_version="1.0"')
    # The same request to the 1.1 path: the value the 1.1-era page printed.
    url11 = "https://api.twitter.com/1.1/statuses/update.json?include_entities=true"
    header11 = DOC.header("POST", url11, request_params(url11, DOC_BODY, "application/x-www-form-urlencoded"),
                          nonce=oauth["oauth_nonce"], timestamp=1318622958)
    assert 'oauth_signature="hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D"' in header11


def test_every_request_is_signed_and_the_fake_checks_it(fake, adapter):
    assert adapter.verify() == "X account @TweepyDev (id 1072250532645998596)"
    mention(fake)
    assert len(list(adapter.poll("1"))) == 1
    assert all(r.headers["authorization"].startswith("OAuth oauth_consumer_key=") for r in fake.server.requests)
    wrong = XAdapter(json.dumps({**OAUTH1, "consumer_secret": "not-the-consumer-secret"}), base_url=fake.base_url,
                     timeout=0.5)
    with pytest.raises(AuthError) as caught:
        wrong.verify()
    assert "HTTP 401" in str(caught.value) and "socialdesk auth test" in str(caught.value)
    assert not any(s in str(caught.value) for s in ("not-the-consumer-secret", OAUTH1["access_token"]))
    wrong.close()


def test_a_replayed_signature_is_refused(fake, adapter):
    adapter.verify()
    first = fake.server.requests[-1]
    replay = httpx.get(fake.base_url + first.target, headers={"Authorization": first.headers["authorization"]})
    assert replay.status_code == 401 and replay.json()["title"] == "Unauthorized"


# --- polling mentions ------------------------------------------------------------------------------


def test_first_poll_starts_from_now(fake, adapter):
    old = [mention(fake) for _ in range(7)]
    pages = list(adapter.poll(None))
    assert len(pages) == 1 and len(fake.server.requests) == 2  # users/me, one page
    assert ids(pages) == old[-5:]  # the newest page, oldest first
    assert pages[0].cursor == old[-1]
    new = mention(fake)
    assert ids(adapter.poll(pages[0].cursor)) == [new]


def test_first_poll_of_an_empty_account_marks_now(fake, adapter):
    pages = list(adapter.poll(None))
    assert pages[0].messages == [] and int(pages[0].cursor) > 0
    later = mention(fake)
    assert ids(adapter.poll(pages[0].cursor)) == [later]


def test_paging_several_pages_yields_oldest_first_each_with_its_own_cursor(fake, adapter):
    posted = [mention(fake) for _ in range(13)]
    pages = list(adapter.poll("1"))
    assert [len(p.messages) for p in pages] == [3, 5, 5]
    assert ids(pages) == posted
    assert [p.cursor for p in pages] == [posted[2], posted[7], posted[12]]
    reads = [r for r in fake.server.requests if r.path.endswith("/mentions")]
    assert [r.param("since_id") for r in reads] == ["1", "1", "1"]
    assert reads[0].param("pagination_token") is None and reads[1].param("pagination_token")
    asked = reads[0]
    assert "author_id" in asked.param("tweet.fields") and "note_tweet" in asked.param("tweet.fields")
    assert asked.param("expansions").startswith("author_id,referenced_tweets.id")
    assert "public_metrics" in asked.param("user.fields") and "location" in asked.param("user.fields")
    assert pages[-1].rate is not None and pages[-1].rate.limit == 300 and pages[-1].rate.remaining == 300 - 3


def test_a_crash_between_pages_loses_and_repeats_nothing(fake, adapter):
    posted = [mention(fake) for _ in range(13)]
    stored: list[str] = []
    cursor = "1"
    for page in adapter.poll(cursor):  # the app stores the page, then the process dies
        stored += [m.platform_id for m in page.messages]
        cursor = page.cursor
        break
    newer = mention(fake)
    for page in adapter.poll(cursor):
        stored += [m.platform_id for m in page.messages]
        cursor = page.cursor
    assert stored == [*posted, newer] and cursor == newer
    assert list(adapter.poll(cursor))[0].messages == []


def test_rate_limit_running_out_mid_poll_keeps_the_cursor(fake, adapter):
    adapter.account_id()
    posted = [mention(fake) for _ in range(13)]
    fake.use_up("mentions", remaining=1)
    pages = list(adapter.poll("1"))
    assert len(pages) == 1 and pages[0].messages == [] and pages[0].cursor == "1"
    assert pages[0].rate.remaining == 0
    with pytest.raises(RateLimited) as caught:
        list(adapter.poll("1"))
    assert 890 < caught.value.retry_after <= 900  # until x-rate-limit-reset, the window's end
    assert "Too Many Requests" in str(caught.value)
    fake.use_up("mentions", remaining=300)
    assert ids(adapter.poll("1")) == posted


def test_recorded_mentions_answer_is_read_and_followed(fake, adapter):
    """tweepy's recording of GET /2/users/783214/mentions (default fields: no author to keep)."""
    root = corpus.platform_dir("tweepy__tweepy")
    inter = corpus.load_cassette(root / "cassettes/test_client_get_users_mentions.yaml")[0]
    adapter.account_id()
    headers = {k: v for k, v in inter.headers.items() if k.startswith("x-rate-limit-")}
    fake.server.script = [Reply(200, inter.body_text, headers), Reply(200, {"meta": {"result_count": 0}})]
    pages = list(adapter.poll("1578516000000000000"))
    assert len(pages) == 1 and pages[0].messages == []
    assert len(pages[0].skipped) == 10 and pages[0].cursor == "1578516295611748353"  # meta.newest_id
    assert pages[0].rate.limit == 450 and pages[0].rate.reset_at == datetime.fromtimestamp(1665183228, UTC)
    follow = fake.server.requests[-1]
    assert follow.param("pagination_token") == "7140dibdnow9c7btw423i3sy3u5zupmkcpofxcsmxj48j"


def test_partial_errors_do_not_fail_the_page(fake, adapter):
    customer = fake.customer()
    root = fake.post(customer, "@TweepyDev hello?")
    reply = fake.post(fake.customer(), "@TweepyDev same problem here", reply_to=root)
    fake.deleted.add(root)
    pages = list(adapter.poll("1"))
    assert ids(pages) == [reply]
    assert pages[0].messages[0].in_reply_to == root
    assert [s.reason for s in pages[0].skipped] == [f"partial error: Could not find tweet with "
                                                    f"referenced_tweets.id: [{root}]."]


def test_an_edit_replaces_the_text_and_the_reply_goes_to_the_latest_version(fake, adapter):
    author = fake.customer()
    first = fake.post(author, "@TweepyDev my order 123 is lost")
    (page,) = adapter.poll("1")
    edited = fake.post(author, "@TweepyDev my order 124 is lost", edit_of=first)
    (again,) = adapter.poll(page.cursor)
    m = again.messages[0]
    assert (m.platform_id, m.text, m.reply_ref) == (first, "@TweepyDev my order 124 is lost", f"post:{edited}")
    assert m.edited_at is not None and m.published_at == page.messages[0].published_at
    adapter.send(answer(m, "Found it, sorry!"))
    assert fake.server.requests[-1].json()["reply"] == {"in_reply_to_tweet_id": edited}
    assert fake.sent() == [Sent(first, "public", "Found it, sorry!")]


def test_own_posts_are_skipped(fake, adapter):
    fake.post(BRAND["id"], "@TweepyDev note to self")
    (page,) = adapter.poll("1")
    assert page.messages == [] and page.skipped == []  # X does not list one's own posts as mentions


def test_errors_map_to_what_the_sender_can_act_on(fake, adapter):
    adapter.account_id()
    fake.server.script = [Reply(200, '{"data": [{"id": "1"')]
    with pytest.raises(AdapterError) as caught:
        list(adapter.poll("1"))
    assert caught.value.retryable and "malformed or truncated JSON" in str(caught.value)
    day = str(int(time.time()) + 3600)
    too_many = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
    fake.server.script = [Reply(429, too_many, {"x-rate-limit-remaining": "90", "x-rate-limit-reset": "1",
                                                "x-user-limit-24hour-remaining": "0",
                                                "x-user-limit-24hour-reset": day})]
    with pytest.raises(RateLimited) as limited:
        adapter.send(Outbound("k", "hi", "public"))
    assert 3590 < limited.value.retry_after <= 3600 and "24-hour" in str(limited.value)
    fake.server.script = [Reply(201, {"data": {"text": "hi"}})]  # carried out, but the answer lacks its id
    with pytest.raises(AdapterError) as broken:
        adapter.send(Outbound("k", "hi", "public"))
    assert broken.value.retryable and broken.value.maybe_sent
    with pytest.raises(AdapterError, match="no stream 'likes'"):
        list(adapter.poll("1", "likes"))


# --- DMs -----------------------------------------------------------------------------------------


def test_dms_stop_at_the_cursor_and_skip_the_brands_own(fake, adapter):
    before = fake.dm(fake.customer(), "old news")
    (first,) = adapter.poll(None, "dms")
    assert ids([first]) == [before] and first.cursor == before
    customers = [fake.customer() for _ in range(6)]
    new = [fake.dm(c, f"help {i} — my card was charged twice") for i, c in enumerate(customers)]
    mine = fake.dm(BRAND["id"], "we are on it", to=customers[0])
    fake.server.requests.clear()
    pages = list(adapter.poll(first.cursor, "dms"))
    assert ids(pages) == new
    assert pages[-1].cursor == mine
    assert [s.reason for p in pages for s in p.skipped] == ["sent by the brand"]
    assert len(fake.server.requests) == 2  # the second page reached the cursor
    m = pages[0].messages[0]
    assert (m.kind, m.visibility, m.author.platform_id) == ("dm", "private", customers[0])
    assert m.reply_ref == "dm:" + "-".join(sorted((customers[0], BRAND["id"]), key=int))
    assert adapter.streams[1].name == "dms" and adapter.streams[1].min_interval == 60


def test_dm_reads_are_limited_to_15_per_window(fake, adapter):
    adapter.account_id()
    fake.use_up("dm_events", remaining=0)
    with pytest.raises(RateLimited):
        list(adapter.poll("1", "dms"))


# --- sending -------------------------------------------------------------------------------------


def test_public_reply_and_dm(fake, adapter):
    mention(fake)
    fake.dm(fake.customer(), "my account is locked")
    m = list(adapter.poll("1"))[0].messages[0]
    d = list(adapter.poll("1", "dms"))[0].messages[0]
    result = adapter.send(answer(m, "Sorry! We'll look into it & get back to you"))
    assert isinstance(result, SendResult) and result.url == f"https://x.com/i/web/status/{result.platform_id}"
    post = fake.server.requests[-1]
    assert (post.method, post.path) == ("POST", "/2/tweets")
    assert post.json() == {"text": "Sorry! We'll look into it & get back to you",
                           "reply": {"in_reply_to_tweet_id": m.platform_id}}
    private = adapter.send(answer(d, "Can you tell us your username?", "private", "k2"))
    assert fake.server.requests[-1].path == f"/2/dm_conversations/{d.reply_ref[3:]}/messages"
    assert private.url == f"https://x.com/messages/{d.reply_ref[3:]}"
    moved = adapter.send(answer(m, "We sent you a DM", "private", "k3"))  # a public mention, answered privately
    assert fake.server.requests[-1].path == f"/2/dm_conversations/with/{m.author.platform_id}/messages"
    assert moved.platform_id != private.platform_id
    assert fake.sent() == [Sent(m.platform_id, "public", "Sorry! We'll look into it & get back to you"),
                           Sent(d.platform_id, "private", "Can you tell us your username?"),
                           Sent(m.platform_id, "private", "We sent you a DM")]


def a_mention_and_a_dm(fake, adapter, public_text: str) -> tuple[Inbound, Outbound, Outbound]:
    """A mention and a DM as polled, and the public and private answers to them."""
    mention(fake)
    fake.dm(fake.customer(), "refund please")
    m = list(adapter.poll("1"))[0].messages[0]
    d = list(adapter.poll("1", "dms"))[0].messages[0]
    return m, answer(m, public_text), answer(d, "Refund sent", "private", "k2")


def test_find_sent_after_a_lost_response(fake, adapter):
    _, public, private = a_mention_and_a_dm(fake, adapter, "On it! https://example.com/help")
    assert adapter.find_sent(public) is None and adapter.find_sent(private) is None
    fake.server.faults, fake.server.fault_kinds = 1.0, ("lost",)  # every write done, then the line drops
    for message in (public, private):
        with pytest.raises(AdapterError) as caught:
            adapter.send(message)
        assert caught.value.retryable
    fake.server.faults = 0.0
    found = adapter.find_sent(public)
    assert found is not None and found.text == public.text and found.platform_id in fake.posts
    assert adapter.find_sent(private).platform_id == fake.dm_events[-1]["id"]
    assert [s.visibility for s in fake.sent()] == ["public", "private"]


def test_duplicate_content_is_already_posted(fake, adapter):
    mention(fake)
    m = list(adapter.poll("1"))[0].messages[0]
    first = adapter.send(answer(m, "Thanks, fixed!"))
    again = adapter.send(answer(m, "Thanks, fixed!"))  # a retry that did not know the first got through
    assert again.platform_id == first.platform_id and len(fake.sent()) == 1
    assert fake.server.requests[-3].path == "/2/tweets"  # refused 403, then found among the brand's posts


def test_the_same_text_to_another_message_must_be_reworded(fake, adapter):
    author = fake.customer()
    fake.post(author, "@TweepyDev one")
    fake.post(author, "@TweepyDev two")
    one, two = list(adapter.poll("1"))[0].messages
    adapter.send(answer(one, "Thanks, fixed!"))
    with pytest.raises(CannotVerify, match="duplicate.*reword the reply"):
        adapter.send(answer(two, "Thanks, fixed!"))


def test_replies_x_refuses(fake, adapter):
    stranger = fake.post(fake.customer(), "no mention of the brand here")
    with pytest.raises(NotAllowed, match="not been mentioned"):
        adapter.send(Outbound("k", "Hello!", "public", in_reply_to=stranger))
    with pytest.raises(NotAllowed, match="user id"):
        adapter.send(Outbound("k", "Hello!", "private", in_reply_to=stranger))
    with pytest.raises(NotAllowed, match="in public"):
        adapter.send(Outbound("k", "Hello!", "public", in_reply_to="5", reply_to_kind="dm"))
    with pytest.raises(AdapterError, match="too long") as caught:
        adapter.send(Outbound("k", "é" * 200 + "🙂" * 50, "public"))
    assert not caught.value.retryable


# --- backfill ------------------------------------------------------------------------------------


def test_backfill_mentions_since_a_time(fake, adapter):
    now = datetime.now(UTC)
    old = [fake.post(fake.customer(), f"@TweepyDev old {i}", at=now - timedelta(days=3, minutes=i))
           for i in range(3, 0, -1)]
    recent = [mention(fake) for _ in range(7)]
    pages = list(adapter.backfill(now - timedelta(days=1)))
    assert all(p.cursor is None for p in pages)
    assert [len(p.messages) for p in pages] == [5, 2]
    assert ids(pages[1:]) + ids(pages[:1]) == recent  # newest page first
    assert fake.server.requests[-1].param("start_time") == (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert set(ids(adapter.backfill(now - timedelta(days=4)))) == set(old + recent)


def test_backfill_dms_reaches_back_30_days_at_most(fake, adapter):
    dms = [fake.dm(fake.customer(), f"dm {i}") for i in range(3)]
    pages = list(adapter.backfill(datetime(2020, 1, 1), "dms"))  # a naive time is UTC
    assert set(ids(pages)) == set(dms) and all(p.cursor is None for p in pages)


# --- OAuth 2.0 -----------------------------------------------------------------------------------


def test_oauth2_refresh_on_401_and_the_new_pair_is_kept():
    with FakeX(auth="oauth2") as fake:
        a = fake.adapter(timeout=0.5)
        assert a.verify().startswith("X account @TweepyDev")
        fake.expire_access_token()
        mention(fake)
        assert len(ids(a.poll("1"))) == 1 and fake.refreshes == 1
        kept = json.loads(fake.vault.get("oauth2"))
        assert (kept["access_token"], kept["refresh_token"]) == ("fake-oauth2-access-1", "fake-oauth2-refresh-1")
        assert fake.server.requests[-1].headers["authorization"] == "Bearer fake-oauth2-access-1"
        # Restarted with the same configured credentials: the vault's pair is used, not the spent one.
        b = fake.adapter(timeout=0.5)
        assert b.verify() and fake.refreshes == 1
        # Refresh refused (the app's access was revoked): an AuthError that says what to do.
        fake.expire_access_token()
        fake.refresh_token = "revoked"
        with pytest.raises(AuthError, match="authorise the channel again") as caught:
            b.verify()
        assert "fake-oauth2-refresh-1" not in str(caught.value) and "fake-oauth2-access" not in str(caught.value)
        a.close()
        b.close()


def test_a_plain_bearer_token_and_bad_credentials():
    with FakeX(auth="bearer") as fake:
        a = fake.adapter(timeout=0.5)
        a.verify()
        assert fake.server.requests[-1].headers["authorization"] == "Bearer fake-oauth2-access-0"
        fake.expire_access_token()
        with pytest.raises(AuthError, match="HTTP 401") as caught:
            a.verify()
        assert "fake-oauth2-access-0" not in str(caught.value)
        a.close()
    with pytest.raises(AuthError, match="consumer_key"):
        XAdapter('{"consumer_key": "a"}')
    with pytest.raises(AuthError, match="empty"):
        XAdapter("  ")


# --- the fake under faults -----------------------------------------------------------------------


def test_under_faults_every_message_arrives_once_and_every_reply_is_posted_once():
    with FakeX(faults=0.3, seed=3, slow_seconds=0.4) as fake:
        a = fake.adapter(timeout=0.3, vault=MemoryVault())
        fake.generate(30)
        cursors: dict[str, str | None] = {"mentions": "1", "dms": "1"}
        seen: dict[str, Inbound] = {}
        for _ in range(60):
            for stream in cursors:
                try:
                    for page in a.poll(cursors[stream], stream):
                        for m in page.messages:
                            assert m.platform_id not in seen
                            seen[m.platform_id] = m
                        cursors[stream] = page.cursor
                except AdapterError:
                    continue
            if set(seen) == fake.expected_ids():
                break
        assert set(seen) == fake.expected_ids()
        for i, m in enumerate(seen.values()):
            message = answer(m, f"Thanks for writing, case {i}", "private" if m.kind == "dm" else "public", f"k{i}")
            for _ in range(20):
                try:
                    if a.find_sent(message) is None:
                        a.send(message)
                    break
                except AdapterError:
                    continue
        assert sorted(fake.sent()) == sorted(Sent(m.platform_id, "private" if m.kind == "dm" else "public",
                                                  f"Thanks for writing, case {i}") for i, m in enumerate(seen.values()))
        assert sum(fake.faults_injected.values()) > 10
        a.close()


def test_find_sent_reads_pages_back_to_the_message_and_no_further(fake, adapter):
    m, public, private = a_mention_and_a_dm(fake, adapter, "On it!")
    adapter.send(public)
    adapter.send(private)
    for i in range(250):  # a busy brand: ours are now three pages of 100 back
        fake.post(BRAND["id"], f"Another customer's answer {i}")
        fake.dm(BRAND["id"], f"Another DM {i}", to=private.recipient_id)
    assert adapter.find_sent(public) is not None and adapter.find_sent(private) is not None
    assert adapter.find_sent(answer(m, "Never sent")) is None
    for i in range(800):
        fake.post(BRAND["id"], f"Yet another answer {i}")
    with pytest.raises(CannotVerify, match="too many replies"):
        adapter.find_sent(answer(m, "Never sent"))
