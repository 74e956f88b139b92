"""InstagramAdapter over real HTTP against the Graph fake, with Instagram Login and with Facebook
Login: comments and replies, tags, Direct messages, replies with Meta's rules, find_sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fakes.graph import (
    DAY,
    FakeInstagram,
    Sent,
    ago,
    answer,
    drain,
    first_cursors,
    poll_until_all,
    posts_made,
    send_lost,
    start,
)
from socialdesk.adapters.base import AdapterError, AuthError, CannotVerify, Inbound, NotAllowed, RateLimited
from socialdesk.adapters.instagram import InstagramAdapter

ACCOUNT, PAGE = "17841400000000001", "1234567890321"


@pytest.fixture(params=["instagram", "facebook"])
def fake(request):
    with FakeInstagram(login=request.param) as server:
        yield server


@pytest.fixture
def ig():
    with FakeInstagram() as server:
        yield server


@pytest.fixture
def adapter(fake):
    with fake.adapter(timeout=0.4) as a:
        yield a


def test_verify_finds_the_account_for_either_login(fake, adapter):
    if fake.login == "instagram":
        assert adapter.verify() == f"Instagram account @socialdesk.shop (id {ACCOUNT})"
        assert [s.path for s in fake.server.requests] == ["/v26.0/me"]
    else:
        assert adapter.verify() == f"Instagram account @socialdesk.shop (id {ACCOUNT}) via Facebook page {PAGE}"
        assert [s.path for s in fake.server.requests] == [f"/v26.0/{PAGE}"]
        assert "instagram_business_account" in fake.server.requests[0].param("fields")


def test_a_refused_token_is_an_auth_error(ig):
    with InstagramAdapter("IGQVJwrongToken123456", base_url=ig.base_url, timeout=0.4) as adapter:
        with pytest.raises(AuthError) as caught:
            list(adapter.poll("1700000000|", "dms"))
    assert "IGQVJwrongToken123456" not in str(caught.value)


def test_a_throttle_is_a_rate_limit(ig):
    ig.regain_minutes = 1
    ig.server.script.append(ig.throttled())
    with ig.adapter(timeout=0.4) as adapter, pytest.raises(RateLimited) as caught:
        adapter.verify()
    assert "80002" in str(caught.value) and 50 < caught.value.retry_after <= 60


# --- polling ---------------------------------------------------------------------------------------


def test_comments_and_replies_are_polled_and_the_accounts_own_are_skipped(fake, adapter):
    media = fake.add_media(at=ago(3600))
    cursor = start(adapter)
    ann, bob = fake.person("Ann Example"), fake.person("Bob")
    top = fake.add_comment(media, "Is this in stock?", person=ann)
    reply = fake.add_comment(media, "@ann same question", person=bob, parent=top)
    own = fake.add_comment(media, "Yes it is!", parent=top)
    pages = list(adapter.poll(cursor, "comments"))
    got = {m.platform_id: m for p in pages for m in p.messages}
    assert set(got) == {top["id"], reply["id"]}
    assert (got[top["id"]].kind, got[top["id"]].in_reply_to, got[top["id"]].author.handle) == (
        "comment", media["id"], ann["username"])
    assert got[reply["id"]].in_reply_to == top["id"] and got[reply["id"]].author.platform_id == bob["psid"]
    assert [(s.item_id, s.reason) for p in pages for s in p.skipped] == [(own["id"], "written by this account")]
    assert drain(adapter, pages[-1].cursor)[0] == []


def test_a_restarted_adapter_knows_its_own_comments_before_its_first_scan(fake, adapter):
    """After a restart the cursor is stored and nothing has asked who the account is yet."""
    media = fake.add_media(at=ago(3600))
    cursor = start(adapter)
    own = fake.add_comment(media, "Thanks for the love!")
    with fake.adapter(timeout=0.4) as restarted:
        pages = list(restarted.poll(cursor, "comments"))
    assert [m for p in pages for m in p.messages] == []
    assert [(s.item_id, s.reason) for p in pages for s in p.skipped] == [(own["id"], "written by this account")]


def test_media_older_than_the_lookback_are_not_read(ig):
    old = [ig.add_media(at=ago(10 * DAY + i)) for i in range(3)]
    recent = [ig.add_media(at=ago(3600 + i)) for i in range(3)]
    with ig.adapter(timeout=0.4, page_limit=2) as adapter:
        cursor = start(adapter)
        fresh = ig.add_comment(recent[2], person=ig.person())
        ig.add_comment(old[0], person=ig.person())  # on a 10-day-old post: not polled (see media_lookback)
        ig.server.requests.clear()
        assert [m.platform_id for m in drain(adapter, cursor)[0]] == [fresh["id"]]
    assert [s.path for s in ig.server.requests] == [f"/v26.0/{ACCOUNT}/media"] * 2


def test_a_media_with_many_comments_is_read_to_the_end(ig):
    media = ig.add_media(at=ago(3600))
    with ig.adapter(timeout=0.4, page_limit=5) as adapter:
        cursor = start(adapter)
        made = [ig.add_comment(media, f"comment {i}", person=ig.person(), at=ago(100 - i)) for i in range(12)]
        assert [m.platform_id for m in drain(adapter, cursor)[0]] == [c["id"] for c in made]


def test_direct_messages_for_either_login(fake, adapter):
    cursor = start(adapter, "dms")
    person = fake.person()
    new = fake.add_message(person, "Do you have it in blue?")
    fake.add_message(person, "We do!", from_page=True)
    fake.server.requests.clear()
    (message,) = drain(adapter, cursor, "dms")[0]
    assert (message.platform_id, message.kind, message.author.handle) == (new["id"], "dm", person["username"])
    owner = PAGE if fake.login == "facebook" else ACCOUNT
    conversations = [s for s in fake.server.requests if s.path.endswith("/conversations")]
    assert conversations[0].path == f"/v26.0/{owner}/conversations"
    assert conversations[0].param("platform") == "instagram"


def test_media_that_tag_the_account_are_mentions_with_facebook_login(fake, adapter):
    cursor = start(adapter)
    tag = fake.add_tag(fake.person("Carla"), "Loving my new bag from @socialdesk.shop")
    messages = drain(adapter, cursor)[0]
    tags_read = [s for s in fake.server.requests if s.path.endswith("/tags")]
    if fake.login == "facebook":
        assert [(m.platform_id, m.kind, m.author.handle) for m in messages] == [(tag["id"], "mention", "carla")]
    else:  # Instagram Login has no tags edge: mentions come only by webhook
        assert messages == [] and tags_read == []


def test_backfill_reads_back_to_a_time(ig):
    media = ig.add_media(at=ago(5 * DAY))
    ig.add_comment(media, person=ig.person(), at=ago(4 * DAY))
    recent = ig.add_comment(media, person=ig.person(), at=ago(DAY))
    with ig.adapter(timeout=0.4) as adapter:
        pages = list(adapter.backfill(datetime.now(UTC) - timedelta(days=2), "comments"))
    assert [m.platform_id for p in pages for m in p.messages] == [recent["id"]]
    assert all(p.cursor is None for p in pages)


# --- replies ---------------------------------------------------------------------------------------


def comments_from(fake: FakeInstagram, adapter: InstagramAdapter) -> tuple[Inbound, Inbound]:
    media = fake.add_media(at=ago(3600))
    cursor = start(adapter)
    top = fake.add_comment(media, "How much?", person=fake.person())
    fake.add_comment(media, "Also asking", person=fake.person(), parent=top)
    top_message, reply_message = sorted(drain(adapter, cursor)[0], key=lambda m: m.in_reply_to != media["id"])
    return top_message, reply_message


def test_a_public_reply_goes_under_the_top_level_comment(fake, adapter):
    top, reply = comments_from(fake, adapter)
    adapter.send(answer(top, "49 EUR"))
    adapter.send(answer(reply, "Also 49 EUR"))
    assert [s.path for s in posts_made(fake)] == [f"/v26.0/{top.platform_id}/replies"] * 2
    assert posts_made(fake)[0].form() == {"message": "49 EUR"}
    # Instagram threads are one level deep: the reply to a reply is filed under its top-level comment
    assert fake.sent() == [Sent(top.platform_id, "public", "49 EUR"), Sent(top.platform_id, "public", "Also 49 EUR")]
    with pytest.raises(AdapterError) as caught:
        adapter.send(answer(top, "x" * 2201))
    assert not caught.value.retryable and "2200" in str(caught.value) and len(posts_made(fake)) == 2


def test_a_private_reply_goes_once_through_the_accounts_owner(fake, adapter):
    top, _ = comments_from(fake, adapter)
    adapter.send(answer(top, "Sent you the price list", visibility="private"))
    owner = PAGE if fake.login == "facebook" else ACCOUNT
    seen = posts_made(fake)[-1]
    assert seen.path == f"/v26.0/{owner}/messages"
    assert seen.json()["recipient"] == {"comment_id": top.platform_id}
    with pytest.raises(NotAllowed):
        adapter.send(answer(top, "And a second note", visibility="private"))
    with pytest.raises(NotAllowed):
        adapter.send(answer(top, "Too late", visibility="private", reply_to_at=datetime.now(UTC) - timedelta(days=8)))
    assert [s.visibility for s in fake.sent()] == ["private"]


def test_direct_windows_and_the_byte_limit(ig):
    person = ig.person()
    ig.add_message(person, "Hello?", at=ago(30 * 3600))
    with ig.adapter(timeout=0.4) as adapter:
        ((message,),) = [p.messages for p in adapter.backfill(datetime.now(UTC) - timedelta(days=3), "dms")]
        assert adapter.capabilities.private_max_length == 1000
        with pytest.raises(NotAllowed) as caught:
            adapter.send(answer(message, "Sorry for the wait"))
        assert "human_agent" in str(caught.value)
    with ig.adapter(timeout=0.4, human_agent=True) as human:
        with pytest.raises(AdapterError) as caught:
            human.send(answer(message, "é" * 600))  # 600 characters, 1200 bytes
        assert "1000 bytes" in str(caught.value) and posts_made(ig) == []
        human.send(answer(message, "Sorry for the wait"))
    body = posts_made(ig)[-1].json()
    assert (body["messaging_type"], body["tag"], body["recipient"]) == ("MESSAGE_TAG", "HUMAN_AGENT",
                                                                        {"id": person["psid"]})
    assert ig.sent() == [Sent(message.platform_id, "private", "Sorry for the wait")]


def test_a_tagged_media_is_answered_in_public_only():
    fake = FakeInstagram(login="facebook").start()
    adapter = fake.adapter(timeout=0.4)
    cursor = start(adapter)
    fake.add_tag(fake.person())
    (mention,) = drain(adapter, cursor)[0]
    adapter.send(answer(mention, "Thank you!"))
    assert posts_made(fake)[-1].path == f"/v26.0/{ACCOUNT}/mentions"
    assert posts_made(fake)[-1].form() == {"media_id": mention.platform_id, "message": "Thank you!"}
    with pytest.raises(NotAllowed):
        adapter.send(answer(mention, "psst", visibility="private"))
    with pytest.raises(CannotVerify) as caught:
        adapter.find_sent(answer(mention, "Thank you!"))
    assert mention.platform_id in str(caught.value)
    adapter.close()
    fake.stop()


# --- lost answers ----------------------------------------------------------------------------------


def test_find_sent_after_a_lost_public_reply(fake, adapter):
    top, reply = comments_from(fake, adapter)
    outbound = answer(reply, "Check your DMs")
    assert adapter.find_sent(outbound) is None
    error = send_lost(fake, adapter, outbound)
    assert error.retryable and error.maybe_sent
    found = adapter.find_sent(outbound)
    assert found is not None and found.platform_id in fake.comments and len(fake.sent()) == 1


def test_find_sent_after_a_lost_direct_message(fake, adapter):
    cursor = start(adapter, "dms")
    fake.add_message(fake.person(), "Where is my parcel?")
    (message,) = drain(adapter, cursor, "dms")[0]
    outbound = answer(message, "It left today")
    send_lost(fake, adapter, outbound)
    found = adapter.find_sent(outbound)
    assert found is not None and found.text == "It left today" and len(fake.sent()) == 1


def test_polling_under_faults_delivers_every_message_once():
    noisy = FakeInstagram(faults=0.25, seed=5, slow_seconds=0.5).start()
    try:
        with noisy.adapter(timeout=0.3, page_limit=10) as adapter:
            cursors = first_cursors(adapter)
            stored: list[str] = []
            for _ in range(5):  # customers keep writing between polls
                noisy.generate(15)
                poll_until_all(adapter, cursors, noisy, rounds=100, stored=stored)
        assert sorted(stored) == sorted(noisy.expected_ids())
        assert sum(noisy.faults_injected.values()) >= 3, noisy.faults_injected
    finally:
        noisy.stop()


def test_find_sent_reads_every_reply_page_and_says_when_it_cannot(fake, adapter):
    top, reply = comments_from(fake, adapter)
    outbound = answer(reply, "Check your DMs")
    send_lost(fake, adapter, outbound)
    parent = fake.comments[top.platform_id]
    media = fake.media[parent["media"]]
    for i in range(120):
        fake.add_comment(media, f"Same here ({i})", person=fake.person(), parent=parent)
    found = adapter.find_sent(outbound)
    assert found is not None and found.platform_id in fake.comments and len(fake.sent()) == 1
    for i in range(600):
        fake.add_comment(media, f"Same here ({i})", person=fake.person(), parent=parent)
    with pytest.raises(CannotVerify, match="check on Instagram"):
        adapter.find_sent(answer(reply, "Never sent"))


def test_find_sent_finds_a_direct_message_under_many_newer_ones(fake, adapter):
    cursor = start(adapter, "dms")
    person = fake.person()
    fake.add_message(person, "Where is my parcel?")
    (message,) = drain(adapter, cursor, "dms")[0]
    outbound = answer(message, "It left today")
    send_lost(fake, adapter, outbound)
    for i in range(60):
        fake.add_message(person, f"Still waiting ({i})")
    found = adapter.find_sent(outbound)
    assert found is not None and found.text == "It left today" and len(fake.sent()) == 1
