"""FacebookAdapter over real HTTP against the Graph fake: polling the Page feed and Messenger by
time, replies public and private with Meta's rules, throttling, credentials, find_sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fakes.graph import (
    DAY,
    FakeFacebook,
    Sent,
    ago,
    answer,
    drain,
    first_cursors,
    graph_error,
    poll_until_all,
    posts_made,
    send_lost,
    start,
)
from socialdesk.adapters.base import AdapterError, AuthError, CannotVerify, Inbound, NotAllowed, RateLimited
from socialdesk.adapters.facebook import FacebookAdapter


@pytest.fixture
def fake():
    with FakeFacebook() as server:
        yield server


@pytest.fixture
def adapter(fake):
    with fake.adapter(timeout=0.4) as a:
        yield a


def comment_from(fake: FakeFacebook, adapter: FacebookAdapter, text: str | None = None) -> Inbound:
    """A customer's comment on a Page post, as the adapter reads it."""
    post = fake.add_post(at=ago(900))
    cursor = start(adapter)
    fake.add_comment(post, text, person=fake.person())
    (comment,) = drain(adapter, cursor)[0]
    return comment


# --- identity and credentials ----------------------------------------------------------------------


def test_verify_names_the_page_and_the_token_travels_in_a_header(fake, adapter):
    assert adapter.verify() == "Facebook page Socialdesk Test Page (id 1234567890321)"
    assert adapter.page_id() == "1234567890321"
    (seen,) = fake.server.requests
    assert seen.path == "/v26.0/me" and seen.headers["authorization"] == f"Bearer {fake.token}"
    assert fake.token not in seen.target


def test_a_refused_token_is_an_auth_error_without_the_token(fake):
    with FacebookAdapter("EAAGwrongToken123456", base_url=fake.base_url, timeout=0.4) as adapter:
        for call in (adapter.verify, lambda: list(adapter.poll("1700000000|", "comments"))):
            with pytest.raises(AuthError) as caught:
                call()
            assert "EAAGwrongToken123456" not in str(caught.value) and "socialdesk auth" in str(caught.value)


# --- polling comments ------------------------------------------------------------------------------


def test_first_poll_starts_from_now(fake, adapter):
    post = fake.add_post(at=ago(600))
    old = fake.add_comment(post, person=fake.person(), at=ago(60))
    cursor = start(adapter)
    assert drain(adapter, cursor)[0] == []
    new = fake.add_comment(post, person=fake.person())
    assert [m.platform_id for m in drain(adapter, cursor)[0]] == [new["id"]] != [old["id"]]


def test_first_poll_does_not_take_the_comments_of_its_own_second_again(fake, adapter):
    post = fake.add_post(at=ago(600))
    now = ago(0)
    fake.add_comment(post, person=fake.person(), at=now)
    cursor = start(adapter)
    later = fake.add_comment(post, person=fake.person(), at=now)  # the same second, after the first poll
    assert [m.platform_id for m in drain(adapter, cursor)[0]] == [later["id"]]


def test_comments_arrive_oldest_first_in_pages_and_each_cursor_resumes_exactly(fake):
    post = fake.add_post(at=ago(900))
    with fake.adapter(page_limit=4, timeout=0.4) as adapter:
        cursor = start(adapter)
        people = [fake.person() for _ in range(3)]
        made = [fake.add_comment(post, person=people[i % 3], at=ago(300 - 100 * (i // 4))) for i in range(10)]
        pages = list(adapter.poll(cursor, "comments"))
        order = [m.platform_id for p in pages for m in p.messages]
        assert sorted(order) == sorted(c["id"] for c in made) and len(pages) == 3
        assert [m.published_at for p in pages for m in p.messages] == sorted(
            m.published_at for p in pages for m in p.messages)
        for i, page in enumerate(pages):  # a crash after storing page i: the next poll brings the rest
            rest = [m.platform_id for p in pages[i + 1:] for m in p.messages]
            assert [m.platform_id for m in drain(adapter, page.cursor)[0]] == rest
        assert drain(adapter, pages[-1].cursor) == ([], pages[-1].cursor)


def test_who_wrote_what_and_in_reply_to_what(fake, adapter):
    cursor = start(adapter)
    own_post = fake.add_post("Our new opening hours")
    ann, hidden = fake.person("Ann Example"), fake.person("Hidden Person")
    visitor_post = fake.add_post("Where is my order?", person=ann)
    anonymous_post = fake.add_post("Refund please", person=hidden, hidden_from=True)
    top = fake.add_comment(own_post, "Open on Sunday?", person=ann)
    reply = fake.add_comment(own_post, "Me too", person=hidden, parent=top, hidden_from=True)
    page_reply = fake.add_comment(own_post, "Yes, 10 to 4", parent=top)
    pages = list(adapter.poll(cursor, "comments"))
    got = {m.platform_id: m for p in pages for m in p.messages}
    assert set(got) == {visitor_post["id"], anonymous_post["id"], top["id"], reply["id"]}
    assert (got[visitor_post["id"]].kind, got[visitor_post["id"]].author.handle) == ("mention", "Ann Example")
    assert got[anonymous_post["id"]].author.platform_id == f"anonymous:{anonymous_post['id']}"
    assert (got[top["id"]].kind, got[top["id"]].in_reply_to) == ("comment", own_post["id"])
    assert got[top["id"]].author.platform_id == ann["id"]
    assert got[reply["id"]].in_reply_to == top["id"]
    assert got[reply["id"]].author.platform_id == f"anonymous:{reply['id']}"
    skipped = {s.item_id: s.reason for p in pages for s in p.skipped}
    assert skipped == {own_post["id"]: "written by this account", page_reply["id"]: "written by this account"}


def test_only_posts_updated_since_the_cursor_have_their_comments_read(fake, adapter):
    posts = [fake.add_post(at=ago(3000 + i)) for i in range(3)]
    for i, post in enumerate(posts):
        fake.add_comment(post, person=fake.person(), at=ago(2000 + 100 * i))
    cursor = start(adapter)
    new = fake.add_comment(posts[2], person=fake.person())
    fake.server.requests.clear()
    assert [m.platform_id for m in drain(adapter, cursor)[0]] == [new["id"]]
    feed, *comments = fake.server.requests
    assert feed.path == "/v26.0/1234567890321/feed"
    assert int(feed.param("since")) == int(cursor.split("|")[0]) - 28 * DAY
    # posts[0] was updated in the cursor's own second, posts[1] before it: only posts[1] is not read
    assert [c.path for c in comments] == [f"/v26.0/{posts[0]['id']}/comments", f"/v26.0/{posts[2]['id']}/comments"]
    assert all((c.param("filter"), c.param("order")) == ("stream", "reverse_chronological") for c in comments)


def test_hostile_text_comes_through_literally(fake, adapter):
    cursor = start(adapter)
    text = "[bold red]refund[/] \x1b[31mNOW\x1b[0m \u202eevil Z̸̢͉a̶l̷g̵o <script>"
    fake.add_comment(fake.add_post(), text, person=fake.person(text))
    (message,) = drain(adapter, cursor)[0]
    assert message.text == text and message.author.display_name == text


def test_backfill_reads_back_to_a_time_newest_first(fake, adapter):
    post = fake.add_post(at=ago(5 * DAY))
    old = fake.add_comment(post, person=fake.person(), at=ago(3 * DAY))
    mid = fake.add_comment(post, person=fake.person(), at=ago(DAY))
    new = fake.add_comment(post, person=fake.person(), at=ago(60))
    pages = list(adapter.backfill(datetime.now(UTC) - timedelta(days=2), "comments"))
    assert [m.platform_id for p in pages for m in p.messages] == [new["id"], mid["id"]] != [old["id"]]
    assert all(p.cursor is None for p in pages)


def test_unknown_streams_and_foreign_cursors_are_refused(adapter):
    with pytest.raises(AdapterError) as caught:
        list(adapter.poll(None, "mentions"))
    assert not caught.value.retryable and "comments and messenger" in str(caught.value)
    with pytest.raises(AdapterError) as caught:
        list(adapter.poll("QVFIUmFfX2d3", "comments"))  # a Graph paging cursor is not ours
    assert not caught.value.retryable


# --- polling Messenger -----------------------------------------------------------------------------


def test_messenger_reads_new_messages_of_updated_conversations_only(fake, adapter):
    people = [fake.person() for _ in range(3)]
    for i, person in enumerate(people):
        fake.add_message(person, at=ago(500 + i))
    cursor = start(adapter, "messenger")
    new = fake.add_message(people[1], "Any news?")
    fake.add_message(people[1], "We are looking into it", from_page=True)
    fake.server.requests.clear()
    messages, cursor = drain(adapter, cursor, "messenger")
    assert [(m.platform_id, m.kind, m.visibility, m.text) for m in messages] == [
        (new["id"], "dm", "private", "Any news?")]
    assert messages[0].author.platform_id == people[1]["psid"]
    assert [s.path for s in fake.server.requests] == ["/v26.0/1234567890321/conversations"]
    assert fake.server.requests[0].param("platform") == "messenger"
    assert drain(adapter, cursor, "messenger")[0] == []


def test_messenger_follows_a_long_conversation_down_to_the_cursor(fake):
    person = fake.person()
    fake.add_message(person, at=ago(900))
    with fake.adapter(page_limit=5, timeout=0.4) as adapter:
        cursor = start(adapter, "messenger")
        made = [fake.add_message(person, f"line {i}", at=ago(100 - i)) for i in range(12)]
        messages, _ = drain(adapter, cursor, "messenger")
    assert [m.platform_id for m in messages] == [m["id"] for m in made]


# --- throttling and usage --------------------------------------------------------------------------


def test_a_throttle_is_a_rate_limit_with_the_time_to_regain_access(fake, adapter):
    fake.regain_minutes = 3
    fake.server.script.append(fake.throttled())
    with pytest.raises(RateLimited) as caught:
        list(adapter.poll("1700000000|", "comments"))
    assert 170 < caught.value.retry_after <= 180 and "80001" in str(caught.value)


@pytest.mark.parametrize("code", [4, 17, 32, 613, 80006])
def test_every_throttle_code_is_a_rate_limit(fake, adapter, code):
    fake.server.script.append(graph_error(code, f"(#{code}) Application request limit reached",
                                          headers={"X-App-Usage": '{"call_count":100,"total_time":20}'}))
    with pytest.raises(RateLimited):
        adapter.verify()


def test_a_missing_permission_is_named_and_not_retried(fake, adapter):
    fake.server.script.append(graph_error(200, "(#200) Requires pages_read_user_content permission to manage the "
                                          "object", status=403))
    with pytest.raises(AdapterError) as caught:
        list(adapter.poll("1700000000|", "comments"))
    assert not caught.value.retryable and not isinstance(caught.value, AuthError)
    assert "pages_read_user_content" in str(caught.value)


def test_usage_is_reported_as_the_percentage_left(fake, adapter):
    fake.usage = 40
    (page,) = adapter.poll(None, "comments")
    assert (page.rate.limit, page.rate.remaining) == (100, 60)


def test_with_no_usage_left_a_poll_stops_early_and_keeps_its_cursor(fake, adapter):
    post = fake.add_post(at=ago(900))
    cursor = start(adapter)
    visitor = fake.add_post("Hello?", person=fake.person())
    comment = fake.add_comment(post, person=fake.person())
    fake.usage = 100
    pages = list(adapter.poll(cursor, "comments"))
    assert [m.platform_id for p in pages for m in p.messages] == [visitor["id"]]
    assert [p.cursor for p in pages] == [None]  # the comments were not read: the cursor must not move
    fake.usage = 10
    messages, _ = drain(adapter, cursor)
    assert {m.platform_id for m in messages} == {visitor["id"], comment["id"]}


def test_polling_under_faults_delivers_every_message_once():
    noisy = FakeFacebook(faults=0.25, seed=11, slow_seconds=0.5).start()
    try:
        with noisy.adapter(timeout=0.3, page_limit=10) as adapter:
            cursors = first_cursors(adapter)
            noisy.generate(80)
            stored = poll_until_all(adapter, cursors, noisy, rounds=200, stored=[])
        assert sorted(stored) == sorted(noisy.expected_ids())
        assert sum(noisy.faults_injected.values()) > 10
    finally:
        noisy.stop()


# --- public replies --------------------------------------------------------------------------------


def test_a_public_reply_is_a_comment_under_the_comment(fake, adapter):
    post = fake.add_post(at=ago(900))
    cursor = start(adapter)
    fake.add_comment(post, "Do you ship to Lisbon?", person=fake.person())
    fake.add_post("Visitor here", person=fake.person())
    comment, visitor = sorted(drain(adapter, cursor)[0], key=lambda m: m.kind)
    result = adapter.send(answer(comment, "Yes, in 3 days."))
    seen = posts_made(fake)[-1]
    assert seen.path == f"/v26.0/{comment.platform_id}/comments" and seen.form() == {"message": "Yes, in 3 days."}
    assert result.platform_id in fake.comments and result.text == "Yes, in 3 days."
    adapter.send(answer(visitor, "Thanks for writing"))
    assert posts_made(fake)[-1].path == f"/v26.0/{visitor.platform_id}/comments"
    assert fake.sent() == [Sent(comment.platform_id, "public", "Yes, in 3 days."),
                           Sent(visitor.platform_id, "public", "Thanks for writing")]


def test_replies_the_platform_would_refuse_are_refused_before_sending(fake, adapter):
    comment = comment_from(fake, adapter)
    with pytest.raises(AdapterError) as caught:
        adapter.send(answer(comment, "x" * 7999 + "😀"))  # 8001 UTF-16 units
    assert not caught.value.retryable and "8000" in str(caught.value)
    with pytest.raises(AdapterError):
        adapter.send(answer(comment, "é" * 2001, visibility="private"))
    with pytest.raises(AdapterError):
        adapter.send(answer(comment, "   "))
    assert posts_made(fake) == []


def test_a_messenger_message_is_not_answered_in_public(fake, adapter):
    cursor = start(adapter, "messenger")
    fake.add_message(fake.person())
    (dm,) = drain(adapter, cursor, "messenger")[0]
    with pytest.raises(NotAllowed):
        adapter.send(answer(dm, "hello", visibility="public"))


# --- private replies -------------------------------------------------------------------------------


def test_a_private_reply_goes_once_per_comment(fake, adapter):
    comment = comment_from(fake, adapter, "My card was charged twice")
    result = adapter.send(answer(comment, "Sorry! Could you send us the order number?", visibility="private"))
    seen = posts_made(fake)[-1]
    assert seen.path == "/v26.0/1234567890321/messages"
    assert seen.json() == {"recipient": {"comment_id": comment.platform_id},
                           "message": {"text": "Sorry! Could you send us the order number?"}}
    assert result.platform_id.startswith("m_mid.")
    with pytest.raises(NotAllowed) as caught:
        adapter.send(answer(comment, "A second private note", visibility="private"))
    assert "one private reply per comment" in str(caught.value)
    assert [s.visibility for s in fake.sent()] == ["private"]


def test_a_private_reply_after_7_days_is_refused(fake, adapter):
    post = fake.add_post(at=ago(10 * DAY))
    cursor = start(adapter)
    fake.add_comment(post, person=fake.person())
    (comment,) = drain(adapter, cursor)[0]
    late = answer(comment, "Hello", visibility="private", reply_to_at=datetime.now(UTC) - timedelta(days=8))
    with pytest.raises(NotAllowed) as caught:
        adapter.send(late)
    assert "within 7 days" in str(caught.value) and posts_made(fake) == []
    old = fake.add_comment(post, person=fake.person(), at=ago(8 * DAY))  # when the app does not know its age
    with pytest.raises(NotAllowed) as caught:
        adapter.send(answer(comment, "Hello", visibility="private", in_reply_to=old["id"], reply_to_at=None))
    assert "10903" in str(caught.value) and fake.sent() == []


# --- Messenger windows -----------------------------------------------------------------------------


def dm_from(fake: FakeFacebook, adapter: FacebookAdapter, hours_ago: float) -> Inbound:
    """A customer's message written `hours_ago`, as the adapter reads it back."""
    fake.add_message(fake.person(), "Hello?", at=ago(int(hours_ago * 3600)))
    ((message,),) = [p.messages for p in adapter.backfill(datetime.now(UTC) - timedelta(days=30), "messenger")]
    return message


def test_within_24_hours_a_response_goes_out(fake, adapter):
    message = dm_from(fake, adapter, 2)
    adapter.send(answer(message, "Hi! How can we help?"))
    assert posts_made(fake)[-1].json() == {"recipient": {"id": message.author.platform_id},
                                           "messaging_type": "RESPONSE", "message": {"text": "Hi! How can we help?"}}
    assert fake.sent() == [Sent(message.platform_id, "private", "Hi! How can we help?")]
    assert adapter.capabilities.dm_window == timedelta(hours=24)


def test_after_24_hours_only_a_human_agent_may_answer(fake, adapter):
    message = dm_from(fake, adapter, 30)
    with pytest.raises(NotAllowed) as caught:
        adapter.send(answer(message, "Sorry for the wait"))
    assert "human_agent" in str(caught.value) and posts_made(fake) == []
    with fake.adapter(timeout=0.4, human_agent=True) as human:
        assert human.capabilities.dm_window == timedelta(days=7)
        human.send(answer(message, "Sorry for the wait"))
    body = posts_made(fake)[-1].json()
    assert (body["messaging_type"], body["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")
    assert len(fake.sent()) == 1


def test_after_7_days_nobody_may_answer(fake, adapter):
    message = dm_from(fake, adapter, 8 * 24)
    with fake.adapter(timeout=0.4, human_agent=True) as human, pytest.raises(NotAllowed) as caught:
        human.send(answer(message, "Hello again"))
    assert "7 days" in str(caught.value)


def test_the_platform_window_error_is_not_allowed(fake, adapter):
    message = dm_from(fake, adapter, 30)
    with pytest.raises(NotAllowed) as caught:
        adapter.send(answer(message, "Hello", reply_to_at=None))  # the app did not know when it was written
    assert "2018278" in str(caught.value) and fake.sent() == []


# --- lost answers ----------------------------------------------------------------------------------


def test_find_sent_finds_a_public_reply_whose_answer_was_lost(fake, adapter):
    comment = comment_from(fake, adapter)
    reply = answer(comment, "On its way!")
    assert adapter.find_sent(reply) is None
    error = send_lost(fake, adapter, reply)
    assert error.retryable and error.maybe_sent
    found = adapter.find_sent(reply)
    assert found is not None and found.platform_id in fake.comments and found.text == "On its way!"
    assert fake.sent() == [Sent(comment.platform_id, "public", "On its way!")]


def test_a_private_reply_whose_answer_was_lost_is_found_not_repeated(fake, adapter):
    comment = comment_from(fake, adapter)
    reply = answer(comment, "Let's talk in private", visibility="private")
    send_lost(fake, adapter, reply)
    found = adapter.find_sent(reply)
    assert found is not None and found.platform_id.startswith("m_mid.")
    assert adapter.send(reply).platform_id == found.platform_id  # Graph says 10900; it was this entry
    assert len(fake.sent()) == 1


def test_find_sent_finds_a_messenger_message_whose_answer_was_lost(fake, adapter):
    message = dm_from(fake, adapter, 1)
    reply = answer(message, "We refunded you")
    assert adapter.find_sent(reply) is None
    send_lost(fake, adapter, reply)
    found = adapter.find_sent(reply)
    assert found is not None and fake.conversations and len(fake.sent()) == 1
    assert fake.server.requests[-1].param("user_id") == message.author.platform_id


def test_find_sent_reads_back_past_a_busy_thread_to_the_comment_answered(fake, adapter):
    comment = comment_from(fake, adapter)
    reply = answer(comment, "On its way!")
    send_lost(fake, adapter, reply)
    target = fake.comments[comment.platform_id]
    for i in range(250):  # the answer is now the third page of 100 back
        fake.add_comment(fake.posts[target["post"]], f"Me too ({i})", person=fake.person(), parent=target)
    found = adapter.find_sent(reply)
    assert found is not None and fake.comments[found.platform_id]["message"] == "On its way!"
    assert adapter.find_sent(answer(comment, "Never sent")) is None


def test_find_sent_says_it_cannot_tell_past_ten_pages(fake, adapter):
    comment = comment_from(fake, adapter)
    target = fake.comments[comment.platform_id]
    for i in range(1001):
        fake.add_comment(fake.posts[target["post"]], f"Me too ({i})", person=fake.person(), parent=target)
    with pytest.raises(CannotVerify, match="check on Facebook"):
        adapter.find_sent(answer(comment, "On its way!"))


def test_find_sent_finds_a_messenger_message_under_many_newer_ones(fake, adapter):
    message = dm_from(fake, adapter, 1)
    reply = answer(message, "We refunded you")
    send_lost(fake, adapter, reply)
    (conversation,) = fake.conversations.values()
    for i in range(60):
        fake.add_message(conversation["person"], f"One more thing ({i})")
    found = adapter.find_sent(reply)
    assert found is not None and found.text == "We refunded you" and len(fake.sent()) == 1
