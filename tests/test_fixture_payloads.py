"""Every platform's parser over the project's own fixtures (trimmed real recordings in
tests/fixtures), so a clone without the shared corpus still runs each one on real shapes. The
corpus-wide checks live in the test_*_parse.py files."""

from __future__ import annotations

import json

import corpus
from fakes.mail_messages import delivered, fixture_files
from fakes.telegram import as_customer, load, logged_messages
from socialdesk.adapters import bluesky_payloads, email_parse, graph_payloads, mastodon_payloads, telegram_payloads
from socialdesk.adapters.base import Inbound, Skipped


def shape(result: Inbound | Skipped) -> tuple:
    if isinstance(result, Inbound):
        return result.kind, result.visibility, result.author.handle, result.text
    return "skipped", result.reason


def test_mastodon_notifications_and_statuses():
    results = [mastodon_payloads.parse_notification(n) for n in corpus.fixture_json("mastodon", "notifications.json")]
    assert [shape(r) for r in results] == [
        ("skipped", "status is null (deleted or unreachable)"),
        ("dm", "private", "mastodonpy_test_2", "@mastodonpy_test pssssst!"),
        ("mention", "public", "admin", "@mastodonpy_test hello!"),
        ("mention", "public", "admin", "@mastodonpy_test hello!"),
    ]
    statuses = [mastodon_payloads.parse_status(s) for s in corpus.fixture_json("mastodon", "statuses.json")]
    assert all(isinstance(s, Inbound) for s in statuses)
    assert statuses[0].text.startswith("the best editor? why, of course it is th")  # an edited one, as now


def test_bluesky_notifications_records_and_chat():
    notifications = corpus.fixture_json("bluesky", "app/bsky/notification/listNotifications.json")["notifications"]
    results = [bluesky_payloads.parse_notification(n) for n in notifications]
    read = [r for r in results if isinstance(r, Inbound)]
    assert {r.kind for r in read} == {"mention", "reply"} and len(read) == 11
    assert sorted(r.reason for r in results if type(r) is Skipped) == [
        "reason follow", "reason like", "reason like", "reason repost"]
    reply = next(r for r in read if r.author.handle == "maccalennon.bsky.social")
    assert reply.text == "あ、なるほどそういうことだったんですね！ご親切にありがとうございます😊"
    assert reply.url and reply.url.startswith("https://bsky.app/profile/maccalennon.bsky.social/post/")
    assert isinstance(bluesky_payloads.parse_repo_record(corpus.fixture_json("bluesky", "com/atproto/repo/getRecord.json")),
                      (Inbound, Skipped))
    for view in corpus.fixture_json("bluesky", "app/bsky/feed/getPosts.json")["posts"]:
        assert isinstance(bluesky_payloads.parse_post_view(view), Inbound)
    logs = [bluesky_payloads.parse_chat_log(e, "did:plc:brand")
            for e in corpus.fixture_json("bluesky", "chat/bsky/convo/getLog.json")["logs"]]
    assert [shape(r) for r in logs if isinstance(r, Inbound)] == [("dm", "private", "did:plc:iijrtk7ocored6zuziwmqq3c", "Hi")]
    assert [r.platform_id for r in logs if isinstance(r, bluesky_payloads.Deleted)] == ["1234/1234"]


def test_facebook_webhooks_and_messages():
    def webhook(name: str) -> graph_payloads.Page:
        return graph_payloads.parse_webhook(corpus.fixture_json("facebook", f"webhooks/{name}.json"))

    assert [shape(m) for m in webhook("feed-post-add-25").messages] == [
        ("mention", "public", "John Doe", "Let's check this")]
    assert [shape(m) for m in webhook("messaging-message-basic").messages] == [
        ("dm", "private", "987654321432", "hello, world!")]
    assert [m.text for m in webhook("messaging-message-media-attachment").messages] == ["[image] IMAGE_URL"]
    assert webhook("messaging-message-basic-echo").skipped[0].reason == "echo of a message this account sent"
    assert webhook("feed-comment-remove-25").deleted  # the comment goes from the queue
    assert webhook("messaging-message-edits").messages[0].text == "hello, world!"
    assert "not read as a message" in webhook("feed-reaction-add").skipped[0].reason
    assert webhook("feed-comment-add-25").skipped[0].reason == "written by this account"  # the Page's own
    feed = corpus.fixture_json("facebook", "v2_1/feed-got.json")["data"]
    posts = [graph_payloads.parse_post(p) for p in feed]
    comments = [graph_payloads.parse_comment(c, post_id=p["id"]) for p in feed for c in p.get("comments", {}).get("data", [])]
    assert all(isinstance(r, Inbound) for r in posts + comments) and comments
    assert all(c.in_reply_to for c in comments)
    thread = corpus.fixture_json("facebook", "v2_1/thread.json")["comments"]["data"]
    assert all(isinstance(graph_payloads.parse_message(m), Inbound) for m in thread)
    for name in ("v2_11/message-with-sticker.json", "v2_5/message-with-share.json"):
        message = {**corpus.fixture_json("facebook", name), "created_time": "2020-01-02T10:00:00+0000"}
        assert isinstance(graph_payloads.parse_message(message), Inbound), name


def test_telegram_updates_and_private_messages():
    bot = telegram_payloads.Bot("6129457865", "sicheebot")
    updates = [telegram_payloads.parse_update(u, bot) for u in load("ПолучитьОбновления.log")["result"]]
    assert updates and all(isinstance(u, Skipped) for u in updates)  # a channel post and forum service messages
    private = [telegram_payloads.parse_message(as_customer(m), bot) for _, m in logged_messages()
               if m["chat"]["type"] == "private"]
    assert [shape(p) for p in private if isinstance(p, Inbound)][:1] == [
        ("dm", "private", "bayselonarrend", "(photo) Строковое значение")]
    assert all(isinstance(p, Inbound) for p in private) and len(private) >= 4


def test_email_messages():
    parsed = {p.name: email_parse.parse_message(delivered(p.read_bytes())) for p in fixture_files()}
    assert all(isinstance(m, Inbound) for m in parsed.values()), parsed
    assert parsed["msg_07.txt"].author.display_name == "Barry" and parsed["msg_07.txt"].kind == "email"
    assert parsed["msg_16.txt"].auto_generated  # a delivery status notification
    assert parsed["msg_35.txt"].platform_id.startswith(email_parse.SYNTHETIC)  # no Message-ID: a made-up one
    assert json.loads(parsed["msg_45.txt"].reply_ref)["from"] == "foo@bar.baz"
