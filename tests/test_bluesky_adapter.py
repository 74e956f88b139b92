"""BlueskyAdapter over real HTTP against FakeBluesky: sessions kept and refreshed, notifications
paged backwards yet yielded oldest first with crash-safe cursors, the chat log, replies with
thread refs and facets, chat sends, find_sent after a lost answer, rate limits, backfill."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from fakes.bluesky import APP_PASSWORD, BRAND_DID, BRAND_HANDLE, FakeBluesky, Sent, error
from fakes.bluesky_world import fixture
from fakes.server import Reply
from socialdesk.adapters.base import (
    AdapterError,
    AuthError,
    CannotVerify,
    Inbound,
    NotAllowed,
    Outbound,
    RateLimited,
)
from socialdesk.adapters.bluesky import EVERYTHING, BlueskyAdapter
from socialdesk.adapters.bluesky_payloads import facet_text

TIMEOUT = 0.4


@pytest.fixture
def fake():
    with FakeBluesky(slow_seconds=0.6) as server:
        yield server


@pytest.fixture
def adapter(fake):
    a = fake.adapter(timeout=TIMEOUT)
    yield a
    a.close()


def drain(adapter, cursor, stream="notifications", stop_after=None):
    """Poll like the ingest service: store each page, then move the cursor; optionally 'crash'."""
    messages, deleted = [], []
    for n, page in enumerate(adapter.poll(cursor, stream), 1):
        messages += page.messages
        deleted += page.deleted
        cursor = page.cursor if page.cursor is not None else cursor
        if stop_after == n:
            break
    return messages, deleted, cursor


# --- sessions ------------------------------------------------------------------------------------


def test_one_session_is_created_and_reused_across_adapter_instances(fake):
    first = fake.adapter(timeout=TIMEOUT)
    assert first.verify() == f"Bluesky account @{BRAND_HANDLE} (did {BRAND_DID}) on {fake.base_url}"
    drain(first, None)
    first.close()
    stored = json.loads(fake.vault.get("session"))
    assert set(stored) == {"accessJwt", "refreshJwt", "did", "handle"} and stored["did"] == BRAND_DID
    for _ in range(3):  # restarts
        with fake.adapter(timeout=TIMEOUT) as again:
            drain(again, None, "chat")
    assert fake.sessions_created == 1
    body = fake.calls("com.atproto.server.createSession")[0].json()
    assert body == {"identifier": BRAND_HANDLE, "password": APP_PASSWORD}
    listed = fake.calls("app.bsky.notification.listNotifications")[0]
    assert listed.headers["authorization"] == f"Bearer {stored['accessJwt']}"


def test_an_expired_access_token_is_refreshed_not_recreated(fake, adapter):
    adapter.verify()
    old = json.loads(fake.vault.get("session"))
    fake.expire_access_tokens()
    fake.generate(3, private_share=0)
    messages, _, _ = drain(adapter, EVERYTHING)
    assert len(messages) == 3
    assert (fake.sessions_created, fake.refreshes) == (1, 1)
    new = json.loads(fake.vault.get("session"))
    assert new["accessJwt"] != old["accessJwt"] and new["refreshJwt"] != old["refreshJwt"]
    refresh = fake.calls("com.atproto.server.refreshSession")[0]
    assert refresh.headers["authorization"] == f"Bearer {old['refreshJwt']}"
    fake.expire_access_tokens()
    with fake.adapter(timeout=TIMEOUT) as restarted:  # the stored session is refreshed after a restart too
        restarted.verify()
    assert (fake.sessions_created, fake.refreshes) == (1, 2)


def test_a_new_session_only_when_the_refresh_token_is_refused_too(fake, adapter):
    adapter.verify()
    fake.expire_access_tokens()
    fake.revoke_refresh_tokens()
    assert adapter.verify().startswith("Bluesky account @")
    assert fake.sessions_created == 2


def test_an_instance_with_a_stale_session_adopts_the_one_another_refreshed(fake):
    one, two = fake.adapter(timeout=TIMEOUT), fake.adapter(timeout=TIMEOUT)
    one.verify()
    two.verify()
    fake.expire_access_tokens()
    one.verify()  # refreshes: the refresh token `two` holds is now spent
    two.verify()  # finds the newer session in the vault
    assert (fake.sessions_created, fake.refreshes) == (1, 1)


def test_a_token_about_to_expire_is_renewed_before_it_is_refused():
    with FakeBluesky(access_ttl=5) as fake:
        with fake.adapter(timeout=TIMEOUT) as adapter:
            adapter.verify()
            adapter.verify()
        assert fake.refreshes >= 1
        assert fake.sessions_created == 1


def test_a_wrong_app_password_says_so_without_repeating_it(fake):
    with BlueskyAdapter(BRAND_HANDLE, "wrong-pass-word", base_url=fake.base_url, timeout=TIMEOUT) as adapter:
        with pytest.raises(AuthError) as caught:
            adapter.verify()
    assert "refused the handle or app password" in str(caught.value)
    assert "wrong-pass-word" not in str(caught.value)


def test_session_tokens_never_appear_in_error_messages(fake, adapter):
    adapter.verify()
    token = json.loads(fake.vault.get("session"))["accessJwt"]
    fake.server.script.append(error(400, "InvalidRequest", f"bad header Bearer {token}"))
    with pytest.raises(AdapterError) as caught:
        list(adapter.poll(EVERYTHING))
    assert token not in str(caught.value) and "***" in str(caught.value)
    assert "while reading notifications" in str(caught.value)


def test_a_recorded_xrpc_error_body_is_reported_and_not_retried(fake, adapter):
    adapter.verify()
    fake.server.script.append(Reply(400, fixture("error.json")))
    with pytest.raises(AdapterError) as caught:
        list(adapter.poll(EVERYTHING))
    assert "InvalidRequestError: parameter is missing" in str(caught.value)
    assert caught.value.retryable is False


def test_chat_without_the_dm_permission_is_an_auth_error_not_a_new_session(fake, adapter):
    adapter.verify()
    fake.chat_allowed = False
    with pytest.raises(AuthError, match="Allow access to your direct messages"):
        list(adapter.poll(None, "chat"))
    assert fake.sessions_created == 1


# --- notifications -------------------------------------------------------------------------------


def test_first_poll_starts_from_now(fake, adapter):
    fake.generate(4, private_share=0)
    pages = list(adapter.poll(None))
    assert len(pages) == 1 and len(pages[0].messages) == 4  # the newest page, to mark the place
    newest = max(pages[0].messages, key=lambda m: m.published_at)
    assert pages[0].cursor.endswith("|" + newest.platform_id)
    assert drain(adapter, pages[0].cursor)[0] == []
    fake.generate(2, private_share=0)
    assert len(drain(adapter, pages[0].cursor)[0]) == 2


def test_polling_walks_back_across_pages_then_yields_oldest_first(fake):
    with fake.adapter(timeout=TIMEOUT, page_limit=40) as adapter:
        _, _, cursor = drain(adapter, None)
        assert cursor == EVERYTHING
        fake.generate(100, private_share=0)
        pages = list(adapter.poll(cursor))
    assert [len(p.messages) for p in pages] == [40, 40, 20]
    order = [m.published_at for p in pages for m in p.messages]
    assert order == sorted(order)
    assert {m.platform_id for p in pages for m in p.messages} == fake.expected_ids()
    listed = fake.calls("app.bsky.notification.listNotifications")
    assert listed[-1].params("reasons") == ["mention", "reply", "quote"] and listed[-1].param("limit") == "40"
    for nsid, name in (("app.bsky.actor.getProfiles", "actors"), ("app.bsky.feed.getPosts", "uris")):
        assert fake.calls(nsid) and all(len(s.params(name)) <= 25 for s in fake.calls(nsid))
    hydrated = [m for p in pages for m in p.messages]
    assert any(m.author.followers for m in hydrated) and any(m.likes for m in hydrated)


def test_a_crash_between_pages_neither_loses_nor_repeats(fake):
    with fake.adapter(timeout=TIMEOUT, page_limit=30) as adapter:
        _, _, cursor = drain(adapter, None)
        fake.generate(70, private_share=0)
        first, _, cursor = drain(adapter, cursor, stop_after=1)  # stored page 1, then crashed
        fake.generate(10, private_share=0)  # more arrive meanwhile
        rest, _, cursor = drain(adapter, cursor)
        again, _, _ = drain(adapter, cursor)
    ids = [m.platform_id for m in first + rest]
    assert len(first) == 30 and len(ids) == len(set(ids)) == 80
    assert set(ids) == fake.expected_ids()
    assert again == []


def test_out_of_rate_mid_walk_stores_what_it_has_without_moving_the_cursor():
    with FakeBluesky(rate_limit=4) as fake:
        with fake.adapter(timeout=TIMEOUT, page_limit=30) as adapter:
            adapter.verify()  # createSession + getSession
            fake.generate(70, private_share=0)
            pages = list(adapter.poll(EVERYTHING))  # 2 listNotifications, then none left
    assert [p.cursor for p in pages] == [None, None]
    assert sum(len(p.messages) for p in pages) == 60
    assert pages[-1].rate.remaining == 0
    assert not fake.calls("app.bsky.actor.getProfiles")


def test_a_429_is_rate_limited_with_the_reset_time(fake, adapter):
    adapter.verify()
    fake.server.script.append(fake._rate_limited())
    with pytest.raises(RateLimited) as caught:
        list(adapter.poll(EVERYTHING))
    assert caught.value.retry_after is not None and 0 <= caught.value.retry_after <= 2
    assert "RateLimitExceeded" in str(caught.value)


def test_backfill_reads_back_to_since_newest_first(fake):
    fake.generate(30, private_share=0)
    with fake.adapter(timeout=TIMEOUT, page_limit=10) as adapter:
        everything = [m for p in adapter.backfill(fake_time(0)) for m in p.messages]
        since = sorted(m.published_at for m in everything)[12]
        pages = list(adapter.backfill(since))
    assert len(everything) == 30
    assert all(p.cursor is None for p in pages)
    got = [m for p in pages for m in p.messages]
    assert len(got) == 18 and all(m.published_at >= since for m in got)
    assert len(fake.calls("app.bsky.notification.listNotifications")) == 4 + 2


def fake_time(seconds):
    return datetime.fromtimestamp(seconds, UTC)


# --- chat ----------------------------------------------------------------------------------------


def test_chat_log_from_now_with_pages_deletions_and_the_brands_own_messages():
    with FakeBluesky(log_page=3) as fake:
        fake.customer_chat(fake.customers[0], "an old message, from before")
        with fake.adapter(timeout=TIMEOUT) as adapter:
            _, _, cursor = drain(adapter, None, "chat")
            assert all(s.headers["atproto-proxy"] == "did:web:api.bsky.chat#bsky_chat"
                       for s in fake.server.requests if s.path.startswith("/xrpc/chat."))
            new = [fake.customer_chat(fake.customers[i % 3], f"help {i} 🙏") for i in range(5)]
            first, _, mid = drain(adapter, cursor, "chat", stop_after=1)  # crash after page 1
            rest, _, cursor = drain(adapter, mid, "chat")
            assert [m.platform_id for m in first + rest] == new
            assert (first + rest)[0].text == "help 0 🙏" and (first + rest)[0].kind == "dm"
            assert (first + rest)[0].author.handle == fake.profiles[fake.customers[0]]["handle"]
            adapter.send(Outbound("k1", "On it!", "private", in_reply_to=new[-1], reply_ref=rest[-1].reply_ref))
            fake.delete_chat(new[1])
            after, deleted, _ = drain(adapter, cursor, "chat")
    assert after == [] and deleted == [new[1]]
    assert fake.sent() == [Sent(new[-1], "private", "On it!")]


def test_chat_with_no_convo_yet_reads_the_whole_log_later(fake, adapter):
    _, _, cursor = drain(adapter, None, "chat")
    assert cursor == "-"
    made = fake.customer_chat(fake.customers[1], "first ever")
    assert [m.platform_id for m in drain(adapter, cursor, "chat")[0]] == [made]


def test_chat_backfill(fake, adapter):
    old = fake.customer_chat(fake.customers[0], "old")
    cut = fake_time(fake.clock / 1e6 + 0.0005)
    newer = [fake.customer_chat(fake.customers[i], f"new {i}") for i in range(3)]
    got = [m.platform_id for p in adapter.backfill(cut, "chat") for m in p.messages]
    assert sorted(got) == sorted(newer) and old not in got


# --- sending -------------------------------------------------------------------------------------


def test_a_reply_deep_in_a_thread_points_at_the_root_and_its_parent(fake, adapter):
    _, _, cursor = drain(adapter, None)
    deepest = fake.customer_thread(4)
    messages = drain(adapter, cursor)[0]
    target = next(m for m in messages if m.platform_id == deepest["uri"])
    result = adapter.send(Outbound("k1", "Sorry about that! Fixed now.", "public", in_reply_to=target.platform_id,
                                   reply_ref=target.reply_ref, language="en", recipient_id=target.author.platform_id))
    record = fake.repo[result.platform_id.rsplit("/", 1)[1]]["value"]
    assert record["reply"] == {"root": fake.brand_root, "parent": deepest}
    assert record["langs"] == ["en"] and record["text"] == "Sorry about that! Fixed now."
    assert record["createdAt"].endswith("Z")
    assert result.url == f"https://bsky.app/profile/{BRAND_HANDLE}/post/{result.platform_id.rsplit('/', 1)[1]}"
    assert fake.sent() == [Sent(deepest["uri"], "public", "Sorry about that! Fixed now.")]


def test_a_reply_without_a_reply_ref_reads_the_recorded_thread_post(fake, adapter):
    thread = fixture("app/bsky/feed/getPostThread.json")["thread"]
    node = thread
    while node.get("replies"):
        node = next((r for r in node["replies"] if r.get("replies")), node["replies"][0])
    post = node["post"]
    adapter.send(Outbound("k1", "Thanks!", "public", in_reply_to=post["uri"]))
    record = next(r["value"] for r in fake.repo.values() if r["value"]["text"] == "Thanks!")
    root = post["record"]["reply"]["root"]
    assert root["uri"] != post["record"]["reply"]["parent"]["uri"]  # deep in the thread
    assert record["reply"] == {"root": {"uri": root["uri"], "cid": root["cid"]},
                               "parent": {"uri": post["uri"], "cid": post["cid"]}}
    assert fake.calls("app.bsky.feed.getPosts")[-1].params("uris") == [post["uri"]]
    with pytest.raises(NotAllowed, match="no longer shows the post"):
        adapter.send(Outbound("k2", "Hi", "public", in_reply_to="at://did:plc:gone/app.bsky.feed.post/3k6k4as23yu2g"))


def test_outgoing_mentions_and_links_get_byte_offset_facets(fake, adapter):
    customer = fake.profiles[fake.customers[0]]
    text = f"ご不便をおかけしました 🙇 @{customer['handle']} @nobody.invalid-x.example — https://acme.example/fix."
    result = adapter.send(Outbound("k1", text, "public"))
    record = fake.repo[result.platform_id.rsplit("/", 1)[1]]["value"]
    assert [(facet_text(text, f), f["features"][0]) for f in record["facets"]] == [
        ("@" + customer["handle"], {"$type": "app.bsky.richtext.facet#mention", "did": customer["did"]}),
        ("https://acme.example/fix", {"$type": "app.bsky.richtext.facet#link", "uri": "https://acme.example/fix"}),
    ]
    assert record["facets"][0]["index"]["byteStart"] == len(text[:text.index("@")].encode())
    assert "reply" not in record and "langs" not in record


def test_an_over_long_reply_gets_bluesky_s_400_and_an_over_heavy_one_is_not_sent(fake, adapter):
    """The core refuses a reply over 300 (1000) graphemes before it is queued; one that gets here
    anyway comes back with Bluesky's 400, not retried. The lexicon's UTF-8 byte limits, which the
    core does not count, are checked here before anything is sent."""
    decomposed = "e\u0301" * 300  # 300 graphemes, 600 code points
    adapter.send(Outbound("k1", decomposed, "public"))
    with pytest.raises(AdapterError, match="longer than 300 graphemes") as post:
        adapter.send(Outbound("k2", decomposed + "!", "public"))
    with pytest.raises(AdapterError, match="longer than 1000 graphemes") as chat:
        adapter.send(Outbound("k3", "x" * 1001, "private", recipient_id=fake.customers[0]))
    assert not post.value.retryable and not chat.value.retryable
    assert len(fake.calls("com.atproto.repo.createRecord")) == 2
    assert len(fake.calls("chat.bsky.convo.sendMessage")) == 1
    heavy = "e" + "\u0301" * 1500  # one grapheme, 3001 bytes
    with pytest.raises(NotAllowed, match="3001 bytes"):
        adapter.send(Outbound("k4", heavy, "public"))
    with pytest.raises(NotAllowed, match="10002 bytes"):
        adapter.send(Outbound("k5", "🙂" * 2500 + "ok", "private", recipient_id=fake.customers[0]))
    assert len(fake.calls("com.atproto.repo.createRecord")) == 2
    assert len(fake.calls("chat.bsky.convo.sendMessage")) == 1


def test_moving_a_public_mention_to_chat(fake, adapter):
    _, _, cursor = drain(adapter, None)
    fake.generate(1, private_share=0)
    mention = drain(adapter, cursor)[0][0]
    result = adapter.send(Outbound("k1", "Let's continue here 🙂", "private", in_reply_to=mention.platform_id,
                                   reply_ref=mention.reply_ref, recipient_id=mention.author.platform_id))
    convo = next(c for c in fake.convos.values() if mention.author.platform_id in c["members"])
    assert result.platform_id == f"{convo['id']}/{convo['messages'][-1]['id']}"
    assert fake.calls("chat.bsky.convo.getConvoForMembers")[0].param("members") == mention.author.platform_id
    assert fake.sent() == [Sent(mention.platform_id, "private", "Let's continue here 🙂")]


@pytest.mark.parametrize(("setting", "why"), [("none", "disabled incoming messages"),
                                              ("following", "someone they follow")])
def test_a_customer_who_takes_no_chats_from_the_brand_is_not_allowed(fake, adapter, setting, why):
    did = fake.customers[2]
    fake.chat_setting[did] = setting
    with pytest.raises(NotAllowed, match=why) as caught:
        adapter.send(Outbound("k1", "Hi", "private", recipient_id=did, recipient=fake.profiles[did]["handle"]))
    assert "answer publicly" in str(caught.value)
    assert adapter.find_sent(Outbound("k1", "Hi", "private", recipient_id=did)) is None


def test_find_sent_recovers_a_reply_whose_answer_was_lost(fake, adapter):
    parent = fake.customer_thread(1)
    message = Outbound("k1", "We're on it.", "public", in_reply_to=parent["uri"],
                       reply_ref=json.dumps({"cid": parent["cid"], "root": fake.brand_root}),
                       reply_to_at=fake_time(fake.clock / 1e6 - 1))
    assert adapter.find_sent(message) is None
    fake.lose_answers("com.atproto.repo.createRecord")
    with pytest.raises(AdapterError) as caught:
        adapter.send(message)
    assert caught.value.retryable
    fake.server.faults = 0.0
    found = adapter.find_sent(message)
    assert found is not None and found.text == "We're on it."
    assert found.platform_id == next(r["uri"] for r in fake.repo.values() if r["value"]["text"] == "We're on it.")
    assert len(fake.sent()) == 1
    # The same words to another post, or before the customer wrote, are not this reply.
    assert adapter.find_sent(Outbound("k2", "We're on it.", "public", in_reply_to=fake.brand_root["uri"])) is None
    late = Outbound("k1", "We're on it.", "public", in_reply_to=parent["uri"],
                    reply_to_at=found.sent_at + timedelta(seconds=5))
    assert adapter.find_sent(late) is None


def test_find_sent_reads_back_only_to_the_message_answered_and_says_when_it_cannot(fake, adapter):
    parent = fake.customer_thread(1)
    for i in range(320):  # a busy brand account
        fake.brand_post(f"reply number {i}")
    recent = Outbound("k1", "Sorted!", "public", in_reply_to=parent["uri"],
                      reply_to_at=fake_time(fake.clock / 1e6 - 0.05))
    assert adapter.find_sent(recent) is None
    assert len(fake.calls("com.atproto.repo.listRecords")) == 1  # 50 posts back is far enough
    old = Outbound("k1", "Sorted!", "public", in_reply_to=parent["uri"], reply_to_at=fake_time(0))
    with pytest.raises(CannotVerify, match="check on bsky.app"):
        adapter.find_sent(old)


def test_find_sent_finds_a_reply_two_pages_back(fake, adapter):
    parent = fake.customer_thread(1)
    message = Outbound("k1", "Sorted!", "public", in_reply_to=parent["uri"],
                       reply_ref=json.dumps({"cid": parent["cid"], "root": fake.brand_root}),
                       reply_to_at=fake_time(fake.clock / 1e6 - 1))
    adapter.send(message)
    for i in range(150):  # other agents answer other customers
        fake.brand_post(f"reply number {i}")
    found = adapter.find_sent(message)
    assert found is not None and len(fake.calls("com.atproto.repo.listRecords")) == 2


def test_find_sent_recovers_a_chat_message_whose_answer_was_lost(fake, adapter):
    made = fake.customer_chat(fake.customers[0], "hello?")
    convo = made.split("/")[0]
    message = Outbound("k1", "Hello! How can we help?", "private", in_reply_to=made,
                       reply_ref=json.dumps({"convo": convo}), recipient_id=fake.customers[0])
    assert adapter.find_sent(message) is None
    fake.lose_answers("chat.bsky.convo.sendMessage")
    with pytest.raises(AdapterError):
        adapter.send(message)
    fake.server.faults = 0.0
    found = adapter.find_sent(message)
    assert found is not None and found.platform_id.startswith(convo + "/")
    assert fake.sent() == [Sent(made, "private", "Hello! How can we help?")]


# --- under faults --------------------------------------------------------------------------------


def test_polling_through_injected_faults_converges_on_every_message():
    with FakeBluesky(faults=0.25, seed=7, slow_seconds=0.35) as fake:
        adapter = fake.adapter(timeout=0.25, page_limit=20)
        cursors = {"notifications": None, "chat": None}
        for stream in cursors:
            while cursors[stream] is None:
                try:
                    cursors[stream] = drain(adapter, None, stream)[2]
                except AdapterError:
                    pass
        fake.generate(60, private_share=0.3)
        seen: list[Inbound] = []
        for _ in range(200):
            if {m.platform_id for m in seen} == fake.expected_ids():
                break
            for stream in cursors:
                try:
                    for page in adapter.poll(cursors[stream], stream):
                        seen += page.messages
                        cursors[stream] = page.cursor or cursors[stream]
                except AdapterError:
                    continue
        adapter.close()
    assert {m.platform_id for m in seen} == fake.expected_ids()
    assert sum(fake.faults_injected.values()) > 5
    assert fake.sessions_created <= 3


def test_a_notifications_cursor_that_repeats_ends_the_walk(fake):
    fake.generate(40, private_share=0)
    fake.stuck_cursor = True
    with fake.adapter(timeout=TIMEOUT, page_limit=10) as adapter:
        pages = list(adapter.poll(EVERYTHING))
        assert len(fake.calls("app.bsky.notification.listNotifications")) == 2  # the cursor came back: stop
        backfilled = list(adapter.backfill(fake_time(0)))
    assert len(fake.calls("app.bsky.notification.listNotifications")) == 4
    assert sum(len(p.messages) for p in pages) == 10 and len(backfilled) == 2
