"""Telegram: the corpus's real Bot API payloads through the parser, and TelegramAdapter over real
HTTP against FakeTelegram (offsets, long polling, conflicts, flood control, sends, faults)."""

from __future__ import annotations

import copy
import json
import random
import socket
import threading
import time
from collections import Counter
from datetime import UTC, datetime

import httpx
import pytest

from fakes.server import Reply
from fakes.telegram import (
    TOKEN,
    FakeTelegram,
    Sent,
    as_customer,
    envelope,
    flood,
    load,
    logged_messages,
    recorded,
)
from socialdesk.adapters.base import (
    AdapterError,
    AuthError,
    CannotVerify,
    Inbound,
    NotAllowed,
    Outbound,
    RateLimited,
    Skipped,
)
from socialdesk.adapters.telegram import Bot, TelegramAdapter, parse_message, parse_update, utf16_slice

BOT = Bot("6129457865", "sicheebot")  # the corpus's own bot
SERVICE = "service message ({})"
CHANNEL = "channel post: the channel's own broadcast, not a customer message"


@pytest.fixture
def fake():
    with FakeTelegram(seed=7, noise=0.0) as server:
        yield server


@pytest.fixture
def adapter(fake):
    a = fake.adapter(timeout=0.5)
    yield a
    a.close()


def _topic_message(**fields) -> dict:
    """The corpus's reply-in-topic message (update 291366002) as a customer's message."""
    update = copy.deepcopy(load("ПолучитьОбновления.log")["result"][2])
    message = update["message"]
    del message["forum_topic_edited"]
    message["from"] = {"id": 461699897, "is_bot": False, "first_name": "Anton", "username": "bayselonarrend",
                       "language_code": "ru"}
    message.update(fields)
    return update


def _requests(fake, method: str) -> list:
    return [r for r in fake.server.requests if r.path.lower().endswith("/" + method.lower())]


# --- the corpus --------------------------------------------------------------------------------------


def test_every_corpus_update_is_skipped_with_its_reason():
    updates = load("ПолучитьОбновления.log", recorded())["result"]
    assert load("GetUpdates.log", recorded()) == {"ok": True, "result": []}  # the " {" quirk parses too
    results = [parse_update(u, BOT) for u in updates]
    assert all(isinstance(r, Skipped) for r in results)
    assert Counter(r.reason for r in results) == {
        CHANNEL: 1,
        SERVICE.format("forum_topic_created"): 1,
        SERVICE.format("forum_topic_edited"): 2,
        SERVICE.format("forum_topic_reopened"): 3,
        SERVICE.format("forum_topic_closed"): 2,
        SERVICE.format("general_forum_topic_hidden"): 1,
        SERVICE.format("general_forum_topic_unhidden"): 1,
    }
    assert [r.item_id for r in results[:3]] == ["-1001893407333:4685", "-1001971186208:2446", "-1001971186208:2448"]


def test_every_corpus_message_is_skipped_as_the_bots_own_a_channel_post_or_a_service_message():
    found = logged_messages(recorded())
    assert len(found) == 26  # 22 top-level, 4 nested (SOURCE.md)
    reasons = Counter(parse_message(m, BOT).reason for _, m in found)
    assert reasons["sent by this bot"] == 10
    assert reasons[CHANNEL] == 3
    assert sum(n for reason, n in reasons.items() if reason.startswith("service message")) == 13
    assert sum(reasons.values()) == 26


def test_the_customers_copy_of_every_private_message_is_a_dm():
    expected = {
        "ЗаменитьКлавиатуруСообщения.log.result": "Строковое значение",
        "ОтправитьДокумент.log.result": "(document: document.docx) Строковое значение",
        "ОтправитьКартинку.log.result": "(photo) Строковое значение",
        "ОтправитьКонтакт.log.result": "(contact: Петр Петров, 88005553535)",
        "ОтправитьМедиагруппу.log.result[0]": "(photo) Строковое значение",
        "ОтправитьМедиагруппу.log.result[1]": "(video)",
        "ОтправитьМестоположение.log.result": "(location: 48.873739, 48.873733)",
        "ОтправитьОпрос.log.result": "(poll: Какой ваш любимый цвет?)",
        "ОтправитьТекстовоеСообщение.log.result": "Строковое значение",
        "ПереслатьСообщение.log.result": "(forwarded from Тестовый канал) Полужирный текст",
    }
    private = [(where, m) for where, m in logged_messages(recorded()) if m["chat"]["type"] == "private"]
    assert len(private) == 10
    for where, message in private:
        result = parse_message(as_customer(message), BOT)
        assert isinstance(result, Inbound), where
        assert (result.kind, result.visibility, result.text) == ("dm", "private", expected[where])
        assert result.platform_id == f"461699897:{message['message_id']}"
        assert result.author.platform_id == "461699897" and result.author.handle == "bayselonarrend"
        assert result.author.display_name == "Anton Titovets" and not result.author.bot
        assert result.published_at == datetime.fromtimestamp(message["date"], UTC)
        assert json.loads(result.reply_ref) == {"chat": "461699897", "message": str(message["message_id"]),
                                                "private": True, "user": "461699897"}
        assert result.url is None and result.in_reply_to is None
        assert (result.edited_at is not None) == ("edit_date" in message), where


def test_a_mention_in_a_forum_topic_is_not_a_reply_to_the_topic():
    text = "@sicheebot где мой заказ?"
    update = _topic_message(text=text, entities=[{"offset": 0, "length": 10, "type": "mention"}])
    result = parse_update(update, BOT)
    assert isinstance(result, Inbound)
    assert (result.kind, result.visibility, result.text) == ("mention", "public", text)
    assert result.platform_id == "-1001971186208:2448"
    assert result.in_reply_to is None  # the "reply" to the forum_topic_created message is the topic itself
    assert json.loads(result.reply_ref)["thread"] == "2446"
    assert result.url == "https://t.me/c/1971186208/2448"
    assert result.author.language == "ru" and result.language is None
    assert result.raw is update


def test_group_replies_to_the_bot_count_and_other_chatter_is_skipped():
    bots = load("ОтправитьТекстовоеСообщение.log")["result"]
    reply_to_bot = _topic_message(text="спасибо", reply_to_message={**bots, "chat": {"id": -1001971186208}})
    result = parse_update(reply_to_bot, BOT)
    assert (result.kind, result.in_reply_to) == ("reply", "-1001971186208:19478")
    chatter = parse_update(_topic_message(text="всем привет"), BOT)
    assert chatter == Skipped("-1001971186208:2448", "group message that neither mentions the bot nor replies to it")
    other_bot = parse_update(_topic_message(text="@otherbot hi", entities=[
        {"offset": 0, "length": 9, "type": "mention"}]), BOT)
    assert isinstance(other_bot, Skipped)
    command = parse_update(_topic_message(text="/help@SicheeBot", entities=[
        {"offset": 0, "length": 15, "type": "bot_command"}]), BOT)
    assert command.kind == "mention"
    text_mention = parse_update(_topic_message(text="Виталий, помогите", entities=[
        {"offset": 0, "length": 7, "type": "text_mention", "user": {"id": 6129457865, "is_bot": True}}]), BOT)
    assert text_mention.kind == "mention"


def test_mention_offsets_are_utf16_units():
    before = "👨‍👩‍👧 заказ 🇺🇦 "  # a ZWJ family (8 units, 5 code points), a flag (4 units, 2 code points)
    text = before + "@sicheebot помогите"
    offset = len(before.encode("utf-16-le")) // 2
    assert offset == 20 and len(before) == 15
    assert utf16_slice(text, offset, 10) == "@sicheebot"
    found = parse_update(_topic_message(text=text, entities=[{"offset": offset, "length": 10, "type": "mention"}]), BOT)
    assert found.kind == "mention"
    # Counted in code points the same entity would cover "ebot помог": not a mention of the bot.
    wrong = parse_update(_topic_message(text=text, entities=[{"offset": len(before), "length": 10,
                                                              "type": "mention"}]), BOT)
    assert isinstance(wrong, Skipped)


def test_channel_posts_comments_and_group_senders():
    channel = load("ЗаменитьТекстСообщения (разметка).log")["result"]
    assert parse_update({"update_id": 1, "edited_channel_post": channel}, BOT).reason == CHANNEL
    forwarded = _topic_message(text="Новый пост", is_automatic_forward=True, sender_chat=channel["chat"])
    assert parse_update(forwarded, BOT).reason == "channel post forwarded automatically to its discussion group"
    comment = _topic_message(text="а когда доставка?", reply_to_message={**channel, "is_automatic_forward": True,
                                                                          "chat": {"id": -1001971186208}})
    assert parse_update(comment, BOT).kind == "comment"
    anonymous = _topic_message(text="@sicheebot", sender_chat={"id": -1001971186208, "title": "Тест"})
    assert parse_update(anonymous, BOT).reason == "sent by an anonymous admin of the group"
    as_channel = parse_update(_topic_message(text="@sicheebot hi", sender_chat=channel["chat"], entities=[
        {"offset": 0, "length": 10, "type": "mention"}]), BOT)
    assert (as_channel.author.platform_id, as_channel.author.handle) == ("-1001893407333", "testsichee")
    assert parse_update({"update_id": 5, "callback_query": {"id": "1"}}, BOT) == \
        Skipped("update 5", "update type callback_query")


def test_an_edit_keeps_the_platform_id_and_says_when():
    update = _topic_message(text="@sicheebot заказ 42", edit_date=1717055000,
                            entities=[{"offset": 0, "length": 10, "type": "mention"}])
    update["edited_message"] = update.pop("message")
    result = parse_update(update, BOT)
    assert result.platform_id == "-1001971186208:2448"
    assert result.edited_at == datetime.fromtimestamp(1717055000, UTC)


def test_hostile_text_is_kept_literally_and_broken_payloads_never_raise():
    hostile = "[bold red]FREE[/] \x1b[31mESC\x1b[0m مرحبا Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇ <script>"
    update = {"update_id": 9, "message": {**load("ОтправитьТекстовоеСообщение.log")["result"],
                                          "from": {"id": 1, "is_bot": False, "first_name": "[b]x[/b]"},
                                          "text": hostile}}
    result = parse_update(update, BOT)
    assert result.text == hostile and result.author.handle == "[b]x[/b]"
    rng = random.Random(3)
    shapes = [m for _, m in logged_messages()] + [_topic_message(text="@sicheebot x")["message"]]
    odd_values = [None, "", 0, -1, 2**70, True, [], {}, "x" * 10, 1.5]
    for _ in range(500):
        message = copy.deepcopy(rng.choice(shapes))
        for _ in range(rng.randint(1, 4)):
            target = message if rng.random() < 0.7 else message.get(rng.choice(["chat", "from", "reply_to_message"]))
            if isinstance(target, dict) and target:
                key = rng.choice(list(target))
                if rng.random() < 0.5:
                    del target[key]
                else:
                    target[key] = rng.choice(odd_values)
        for update in ({"update_id": 1, "message": message}, {"update_id": "x", "edited_message": message},
                       message, None, [message]):
            assert isinstance(parse_update(update, BOT), (Inbound, Skipped))


# --- polling over HTTP --------------------------------------------------------------------------------


def test_first_poll_takes_what_is_pending_and_the_next_confirms_it(fake, adapter):
    fake.generate(6, private_share=0.5)
    [page] = list(adapter.poll(None))
    first = _requests(fake, "getUpdates")[0]
    assert first.path == f"/bot{TOKEN}/getUpdates"
    assert "offset" not in dict(first.query)
    assert dict(first.query) == {"timeout": "0", "limit": "100", "allowed_updates":
                                 '["message", "edited_message", "channel_post", "edited_channel_post"]'}
    assert {m.platform_id for m in page.messages} == fake.expected_ids()
    assert page.cursor == str(fake._next_update)
    assert len(fake.updates) == 6  # delivered, not yet confirmed
    [after] = list(adapter.poll(page.cursor))
    assert after.messages == [] and after.cursor == page.cursor
    assert fake.updates == []  # the offset confirmed them
    kinds = Counter((m.kind, m.visibility) for m in page.messages)
    assert set(kinds) <= {("dm", "private"), ("mention", "public"), ("reply", "public")}
    assert kinds[("dm", "private")] == sum(not pid.startswith("-") for pid in fake.expected_ids()) > 0


def test_pages_follow_the_offset_one_request_per_poll_and_a_crash_loses_nothing(fake):
    fake.generate(12, private_share=0.3)
    adapter = fake.adapter(timeout=0.5, page_limit=5)
    seen: list[str] = []
    [page] = list(adapter.poll(None))  # a consumer reading ahead still gets one request
    assert len(page.messages) == 5 and len(_requests(fake, "getUpdates")) == 1
    # Crash before storing: the next run starts again from the stored (absent) cursor.
    adapter.close()
    adapter = fake.adapter(timeout=0.5, page_limit=5)
    [again] = list(adapter.poll(None))
    assert [m.platform_id for m in again.messages] == [m.platform_id for m in page.messages]
    cursor = None
    for _ in range(5):
        [page] = list(adapter.poll(cursor))
        seen += [m.platform_id for m in page.messages]
        cursor = page.cursor  # stored
        assert dict(_requests(fake, "getUpdates")[-1].query).get("limit") == "5"
    assert len(seen) == len(set(seen)) == 12 and set(seen) == fake.expected_ids()
    adapter.close()


def test_edited_messages_and_skipped_updates_move_the_cursor(fake, adapter):
    fake.generate(3, private_share=1.0)
    [page] = list(adapter.poll(None))
    original = page.messages[0]
    chat, message_id = original.platform_id.split(":")
    edited = copy.deepcopy(fake.messages[(chat, int(message_id))])
    edited.update(text="поправка: заказ 43", edit_date=int(time.time()))
    fake.push({"edited_message": edited})
    service = {**fake.service_shapes[0], "chat": fake.forum, "message_id": 9}
    fake.push({"message": service})  # from the corpus: dated 2024, so Telegram has long forgotten it
    fake.push({"message": {**service, "date": int(time.time())}})
    [page2] = list(adapter.poll(page.cursor))
    [message] = page2.messages
    assert message.platform_id == original.platform_id and message.text == "поправка: заказ 43"
    assert message.edited_at is not None and message.published_at == original.published_at
    assert [s.reason for s in page2.skipped] == [SERVICE.format("forum_topic_created")]
    assert int(page2.cursor) == int(page.cursor) + 3


def test_long_poll_waits_for_news_and_returns_as_soon_as_it_arrives(fake):
    adapter = fake.adapter(timeout=0.3, long_poll=3)
    pages: list = []
    worker = threading.Thread(target=lambda: pages.extend(adapter.poll("291366000")))
    started = time.monotonic()
    worker.start()
    time.sleep(0.4)  # longer than the client timeout: the read timeout covers the long poll
    fake.generate(1, private_share=1.0)
    worker.join(3)
    assert 0.35 < time.monotonic() - started < 2.0
    assert [m.platform_id for m in pages[0].messages] == sorted(fake.expected_ids())
    assert _requests(fake, "getUpdates")[0].param("timeout") == "3"
    quiet = fake.adapter(timeout=0.3, long_poll=1)
    started = time.monotonic()
    [page] = list(quiet.poll(pages[0].cursor))
    assert page.messages == [] and 0.9 < time.monotonic() - started < 1.8
    adapter.close()
    quiet.close()


def test_conflicts_tell_the_admin_what_to_do(fake, adapter):
    fake.webhook_url = "https://example.org/hook"
    with pytest.raises(AdapterError) as webhook:
        list(adapter.poll("1"))
    assert not webhook.value.retryable and "deleteWebhook" in str(webhook.value)
    fake.webhook_url = ""
    waiting = fake.adapter(timeout=0.3, long_poll=3)
    errors: list[Exception] = []

    def first() -> None:
        try:
            list(waiting.poll("1"))
        except AdapterError as exc:
            errors.append(exc)

    worker = threading.Thread(target=first)
    worker.start()
    time.sleep(0.3)
    assert list(adapter.poll("1"))[0].messages == []  # the second reader ends the first one's wait
    worker.join(3)
    [conflict] = errors
    assert not conflict.retryable and "only one process" in str(conflict) and "409" in str(conflict)
    waiting.close()


def test_flood_control_reads_retry_after_from_the_body(fake, adapter):
    adapter.verify()
    fake.server.script = [envelope(429, "Too Many Requests: retry after 7", retry_after=7)]
    with pytest.raises(RateLimited) as polled:
        list(adapter.poll("1"))
    assert polled.value.retry_after == 7.0 and polled.value.retryable
    fake.generate(1, private_share=1.0)
    [message] = list(adapter.poll("1"))[0].messages
    fake.server.script = [flood()]
    with pytest.raises(RateLimited) as sent:
        adapter.send(Outbound("k1", "hi", "private", in_reply_to=message.platform_id, reply_ref=message.reply_ref))
    assert sent.value.retry_after == 1.0 and fake.sent() == []


def test_bad_tokens_and_cursors(fake):
    with fake.adapter(bot_token="6129457865:AAWrongWrongWrongWrongWrongWrongWro", timeout=0.5) as wrong:
        with pytest.raises(AuthError, match="token was refused"):
            wrong.verify()
    with fake.adapter(bot_token="garbage", timeout=0.5) as malformed:
        with pytest.raises(AuthError, match="malformed"):
            list(malformed.poll(None))
    with fake.adapter(timeout=0.5) as adapter:
        assert adapter.verify() == "Telegram bot @sicheebot (id 6129457865)"
        with pytest.raises(AdapterError) as bad:
            list(adapter.poll("not-a-number"))
        assert not bad.value.retryable
        with pytest.raises(NotAllowed, match="history"):
            adapter.backfill(datetime.now(UTC))
        caps = adapter.capabilities
        assert (caps.public_reply, caps.private_reply, caps.dm, caps.max_length, caps.length_counting,
                caps.backfill) == (True, True, True, 4096, "utf16", False)
        assert [s.name for s in adapter.streams] == ["updates"]


def test_the_token_never_appears_in_an_error(fake):
    fake.generate(2, private_share=1.0)
    with fake.adapter(timeout=0.3) as adapter:
        [page] = list(adapter.poll(None))
    target = page.messages[0]
    assert TOKEN not in json.dumps(target.raw, ensure_ascii=False)
    errors: list[AdapterError] = []

    def attempt(call) -> None:
        try:
            call()
        except AdapterError as exc:
            errors.append(exc)

    faults = ["429", "500", "timeout", "reset", "truncated", "malformed", "dropped", "lost"]
    fake.server.slow_seconds = 0.5
    for kind in faults:
        with fake.adapter(timeout=0.3) as adapter:
            adapter.verify()
            fake.server.faults, fake.server.fault_kinds = 1.0, (kind,)
            attempt(lambda: list(adapter.poll("1")))
            attempt(lambda: adapter.send(Outbound(kind, "x", "private", in_reply_to=target.platform_id)))
            fake.server.faults = 0.0
    for script in ([envelope(409, "Conflict: terminated by other getUpdates request")],
                   [envelope(400, "Bad Request: chat not found")], [envelope(403, "Forbidden: bot was kicked")],
                   [Reply(502, f"<html>bad gateway /bot{TOKEN}/getMe</html>")]):
        fake.server.script = script
        with fake.adapter(timeout=0.3) as adapter:
            attempt(adapter.verify)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with TelegramAdapter(TOKEN, base_url=f"http://127.0.0.1:{port}", timeout=0.3) as nowhere:
        attempt(nowhere.verify)
    with TelegramAdapter(TOKEN, base_url=f"http://127.0.0.1:{port}/bot{TOKEN}", timeout=0.3) as nowhere:
        attempt(nowhere.verify)
    assert len(errors) == 19  # 7 polls, 6 sends (a garbled 200 is a sent reply), 4 answers, 2 unreachable
    for exc in errors:
        assert TOKEN not in str(exc) and TOKEN.split(":")[1] not in str(exc), str(exc)


# --- sending -----------------------------------------------------------------------------------------


def _poll_all(fake, adapter) -> dict[str, Inbound]:
    [page] = list(adapter.poll(None))
    return {m.platform_id: m for m in page.messages}


def _reply(message: Inbound, text: str, visibility: str = "public", key: str = "k") -> Outbound:
    return Outbound(key, text, visibility, in_reply_to=message.platform_id, reply_ref=message.reply_ref,
                    recipient=message.author.handle, recipient_id=message.author.platform_id)


def test_public_reply_in_a_forum_topic_and_private_reply_in_a_dm(fake, adapter):
    fake.generate(12, private_share=0.4)
    messages = _poll_all(fake, adapter)
    mention = next(m for m in messages.values() if m.kind == "mention")
    dm = next(m for m in messages.values() if m.kind == "dm")
    result = adapter.send(_reply(mention, "Смотрим ваш заказ 🙏", key="a"))
    body = _requests(fake, "sendMessage")[-1].json()
    assert body["message_thread_id"] == 2400 and body["chat_id"] == "-1001971186208"
    assert body["reply_parameters"] == {"message_id": int(mention.platform_id.split(":")[1]),
                                        "allow_sending_without_reply": True}
    assert "parse_mode" not in body  # sent as plain text: nothing in it is markup
    assert result.platform_id.startswith("-1001971186208:") and result.url.startswith("https://t.me/c/1971186208/")
    adapter.send(_reply(dm, "[b]Готово[/b]", "private", key="b"))
    assert fake.sent() == [Sent(mention.platform_id, "public", "Смотрим ваш заказ 🙏"),
                           Sent(dm.platform_id, "private", "[b]Готово[/b]")]


def test_private_reply_to_a_group_mention_needs_a_started_bot(fake, adapter):
    fake.generate(30, private_share=0.0)
    messages = [m for m in _poll_all(fake, adapter).values() if m.visibility == "public"]
    started = next(m for m in messages if m.author.platform_id in fake.started)
    stranger = next(m for m in messages if m.author.platform_id not in fake.started)
    adapter.send(_reply(started, "Напишу вам лично", "private", key="p1"))
    body = _requests(fake, "sendMessage")[-1].json()
    assert body["chat_id"] == started.author.platform_id and "message_thread_id" not in body
    assert body["reply_parameters"]["chat_id"] == started.platform_id.split(":")[0]  # quotes the group message
    assert fake.sent() == [Sent(started.platform_id, "private", "Напишу вам лично")]
    with pytest.raises(NotAllowed) as refused:
        adapter.send(_reply(stranger, "Напишу вам лично", "private", key="p2"))
    assert "press Start" in str(refused.value) and not refused.value.retryable
    assert len(fake.sent()) == 1


def test_length_is_counted_in_utf16_units(fake, adapter):
    fake.generate(1, private_share=1.0)
    [dm] = _poll_all(fake, adapter).values()
    adapter.send(_reply(dm, "😀" * 2048, key="long"))  # 2048 code points, 4096 units: the limit
    with pytest.raises(NotAllowed, match="4098 UTF-16 units"):
        adapter.send(_reply(dm, "😀" * 2049, key="longer"))
    with pytest.raises(NotAllowed, match="empty"):
        adapter.send(_reply(dm, "  \n", key="empty"))
    assert len(fake.sent()) == 1


def test_a_garbled_200_is_a_sent_reply_with_a_stable_id(fake, adapter):
    fake.generate(1, private_share=1.0)
    [dm] = _poll_all(fake, adapter).values()
    results = []
    for kind in ("truncated", "malformed"):
        fake.server.faults, fake.server.fault_kinds = 1.0, (kind,)
        results.append(adapter.send(_reply(dm, "Отправлено", key="same-entry")))
    fake.server.faults = 0.0
    chat = dm.platform_id.split(":")[0]
    assert results[0].platform_id == results[1].platform_id
    assert results[0].platform_id.startswith(f"{chat}:sent-")
    assert len(fake.sent()) == 2  # each attempt reached Telegram: nothing was retried inside send
    assert adapter.find_sent(_reply(dm, "Отправлено", key="same-entry")) == results[1]


def test_an_unknown_outcome_is_never_retried_and_asks_a_person(fake, adapter):
    fake.generate(8, private_share=0.0)
    mention = next(m for m in _poll_all(fake, adapter).values() if m.kind == "mention")
    fake.server.slow_seconds = 0.8
    for i, kind in enumerate(("timeout", "lost", "500")):
        fake.server.faults, fake.server.fault_kinds = 1.0, (kind,)
        with pytest.raises(CannotVerify) as unknown:
            adapter.send(_reply(mention, "Проверяем", key=f"u{i}"))
        message = str(unknown.value)
        assert "«Тест»" in message and "forum topic" in message and "send it again by hand" in message
        assert "“Проверяем”" in message and not unknown.value.retryable
    fake.server.faults = 0.0
    assert [s.text for s in fake.sent()] == ["Проверяем", "Проверяем"]  # the timeout and the lost answer
    with fake.adapter(timeout=0.5) as restarted, pytest.raises(CannotVerify, match="interrupted"):
        restarted.find_sent(_reply(mention, "Проверяем", key="u0"))
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with TelegramAdapter(TOKEN, base_url=f"http://127.0.0.1:{port}", timeout=0.3) as down:
        with pytest.raises(AdapterError) as refused:  # never left this machine: safe to retry
            down.send(_reply(mention, "Проверяем", key="u9"))
    assert refused.value.retryable and not isinstance(refused.value, CannotVerify)


def test_a_group_upgraded_to_a_supergroup_gets_the_reply_at_its_new_id(fake, adapter):
    fake.generate(10, private_share=0.0)
    reply = next(m for m in _poll_all(fake, adapter).values() if m.kind == "reply")
    old = reply.platform_id.split(":")[0]
    fake.migrated[old] = "-1009999999999"
    fake.chats["-1009999999999"] = {"id": -1009999999999, "title": "Тест 2", "type": "supergroup"}
    result = adapter.send(_reply(reply, "Мы переехали", key="m"))
    assert [r.json()["chat_id"] for r in _requests(fake, "sendMessage")] == [old, "-1009999999999"]
    assert result.platform_id.startswith("-1009999999999:")
    assert fake.sent() == [Sent("", "public", "Мы переехали")]  # the old message is in the old chat


def test_polling_through_faults_delivers_every_message_once():
    with FakeTelegram(faults=0.35, seed=11, slow_seconds=0.45, noise=0.2) as noisy:
        noisy.generate(60, private_share=0.3)
        adapter = noisy.adapter(timeout=0.3, page_limit=4)
        cursor, stored, failures = None, [], 0
        for _ in range(200):
            try:
                [page] = list(adapter.poll(cursor))
            except AdapterError as exc:
                assert exc.retryable, str(exc)
                failures += 1
                continue
            stored += page.messages  # then the cursor moves on, as the poller does
            cursor = page.cursor
            if {m.platform_id for m in stored} >= noisy.expected_ids():
                break
        adapter.close()
        new = [m.platform_id for m in stored if m.edited_at is None]
        assert sorted(new) == sorted(noisy.expected_ids())  # each exactly once
        assert any(m.edited_at for m in stored)
        assert failures > 0 and sum(noisy.faults_injected.values()) >= failures


def test_fake_rejects_what_telegram_rejects(fake):
    fake.generate(1, private_share=1.0)
    [dm] = _poll_all(fake, fake.adapter(timeout=0.5)).values()
    chat = dm.platform_id.split(":")[0]
    url = f"{fake.base_url}/bot{TOKEN}/sendMessage"
    cases = [({"chat_id": chat}, 400, "Bad Request: message text is empty"),
             ({"text": "x"}, 400, "Bad Request: chat_id is empty"),
             ({"chat_id": chat, "text": "x" * 4097}, 400, "Bad Request: message is too long"),
             ({"chat_id": "424242", "text": "x"}, 400, "Bad Request: chat not found"),
             ({"chat_id": chat, "text": "x", "reply_parameters": {"message_id": 1}}, 400,
              "Bad Request: message to be replied not found"),
             ({"chat_id": chat, "text": "x", "message_thread_id": 5}, 400, "Bad Request: message thread not found")]
    for payload, status, description in cases:
        answer = httpx.post(url, json=payload)
        assert (answer.status_code, answer.json()) == (status, {"ok": False, "error_code": status,
                                                                "description": description})
    assert httpx.get(f"{fake.base_url}/bot{TOKEN}/getMe").json()["result"]["username"] == "sicheebot"
    assert fake.sent() == []
