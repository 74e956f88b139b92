"""Meta Graph payloads → Inbound, errors → typed errors, usage headers → RateLimit, against the
real recorded payloads of the restfb corpus (Graph objects, webhooks, error bodies)."""

from __future__ import annotations

import copy
import json
import random
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

import corpus
from fakes.server import LoopbackServer, Reply
from socialdesk.adapters.base import AdapterError, AuthError, Inbound, NotAllowed, RateLimited, Skipped
from socialdesk.adapters.facebook import FacebookAdapter
from socialdesk.adapters.graph_cursor import Mark, Scan
from socialdesk.adapters.graph_errors import graph_error, parse_usage
from socialdesk.adapters.graph_payloads import (
    graph_time,
    parse_comment,
    parse_ig_comment,
    parse_ig_media,
    parse_message,
    parse_post,
    parse_webhook,
    read_ref,
)
from socialdesk.adapters.graph_send import message_result

RESTFB = "restfb__restfb"
POST_FILES = ["post-with-empty-comments.json", "post-with-normal-comments.json", "post-missing-fields.json",
              "v2_1/post-messagetags.json", "v2_1/post-portoguese.json", "v2_1/post-with-likes-totalcount.json",
              "v2_5/photo-comments.json", "v2_6/post-with-reactions.json", "v5_0/post-with-comment.json",
              "v2_5/message-tags.json", "v2_1/feed-got.json"]
COMMENT_FILES = ["v2_2/comment-issue286.json", "v2_2/comment_canHide.json", "v2_2/comment_object.json",
                 "v2_9/comment-messagetags.json", "v2_9/comment-permalink.json", "v2_9/comment-reactions.json"]
MESSAGE_FILES = ["v2_5/message.json", "v2_11/message-with-sticker.json", "v2_5/message-with-share.json",
                 "v2_5/messages-with-attachments.json", "v7_0/message-eu.json",
                 "v10_0/message-with-generic-template.json", "v10_0/instagram-message.json",
                 "conversation.json", "v2_1/thread.json", "v10_0/instagram-conversation.json"]
ERROR_FILES = {  # file: (error type, retryable) when Graph answers it with HTTP 400
    "exampleError.json": (AuthError, False), "exampleErrorNew.json": (AuthError, False),
    "exampleOauthError.json": (AuthError, False), "Issue1095.json": (AdapterError, False),
    "oauthExampleError.json": (AdapterError, False)}
OTHER_FILES = ["api/unicode.json", "issue1169.json", "nulls.json", "nulls-in-list.json", "v10_0/from-as-page.json",
               "v10_0/from-as-user.json", "connection-p1.json", "connection-typed-summary.json", "v7_0/issue1082.json",
               "batch/batch-simple.json", "batch/batch-first-error.json", "v2_6/sendresponse.json"]


def root():
    return corpus.platform_dir(RESTFB) / "src/test/resources/json"


def load(name: str) -> Any:
    return json.loads((root() / name).read_text("utf-8"))


def test_every_corpus_file_is_read_by_one_of_these_tests():
    files = {str(p.relative_to(root())) for p in root().rglob("*.json") if p.parent.name != "webhooks"}
    assert files == set(POST_FILES) | set(COMMENT_FILES) | set(MESSAGE_FILES) | set(ERROR_FILES) | set(OTHER_FILES)
    assert len(list((root() / "webhooks").glob("*.json"))) == 63


# --- Graph objects -------------------------------------------------------------------------------


def posts_and_comments() -> tuple[list[tuple[str, Any, Any]], list[tuple[str, Any, Any]]]:
    posts, comments = [], []
    for name in POST_FILES:
        body = load(name)
        for post in body["data"] if "data" in body else [body]:
            posts.append((name, post, parse_post(post)))
            nested = post.get("comments")
            for c in nested.get("data", []) if isinstance(nested, dict) else []:
                comments.append((name, c, parse_comment(c, post_id=post["id"])))
    comments += [(name, load(name), parse_comment(load(name))) for name in COMMENT_FILES]
    return posts, comments


def test_every_recorded_post_parses_as_a_mention_or_says_why_not():
    posts, _ = posts_and_comments()
    assert len(posts) == 35
    for name, raw, result in posts:
        assert isinstance(result, (Inbound, Skipped)), name
        if isinstance(result, Inbound):
            assert (result.kind, result.visibility, result.in_reply_to) == ("mention", "public", None)
            assert result.platform_id == raw["id"] and result.raw is raw
            assert result.author.platform_id == raw["from"]["id"]
            assert result.published_at.utcoffset().total_seconds() == 0
            assert read_ref(result.reply_ref) == {"post": raw["id"]}
    reasons = Counter(r.reason for _, _, r in posts if isinstance(r, Skipped))
    assert reasons == {"no message and no attachment": 5}  # reactions-, likes- and tags-only samples

    got = next(r for name, raw, r in posts if raw["id"] == "74133697733_10152424438657734")
    assert got.author.display_name == got.author.handle == "Prateik Waghmare"
    assert got.text == "Only Game of Thrones fan will knw :p"
    assert got.published_at == datetime(2014, 9, 20, 12, 59, 48, tzinfo=UTC)
    likes = next(r for name, raw, r in posts if name == "v2_1/post-with-likes-totalcount.json")
    assert likes.likes == 33
    portuguese = next(r for name, raw, r in posts if name == "v2_1/post-portoguese.json")
    assert portuguese.text == "Esse carro é maravilhoso.Deus não nos desampara.Obrigada Senhor."


def test_every_recorded_comment_parses_or_says_why_not():
    _, comments = posts_and_comments()
    assert len(comments) == 57
    for name, raw, result in comments:
        assert isinstance(result, (Inbound, Skipped)), name
        if isinstance(result, Inbound):
            assert (result.kind, result.visibility) == ("comment", "public")
            assert result.author.platform_id == raw["from"]["id"]
    reasons = Counter(r.reason for _, _, r in comments if isinstance(r, Skipped))
    assert reasons == {"created_time is missing": 3, "no message and no attachment": 2}
    nested = [(raw, r) for name, raw, r in comments if name == "v2_1/feed-got.json" and isinstance(r, Inbound)]
    assert len(nested) == 47
    post_ids = {p["id"] for p in load("v2_1/feed-got.json")["data"]}
    assert all(r.in_reply_to in post_ids for _, r in nested)  # a top-level comment answers its post
    hide = next(r for name, raw, r in comments if name == "v2_2/comment_canHide.json")
    assert hide.text == "yes, really great" and hide.author.display_name == "Testers Fan page"
    assert hide.in_reply_to is None  # neither a parent, an object nor a known post


def test_a_comment_by_the_page_itself_is_skipped():
    raw = load("v2_2/comment-issue286.json")
    assert parse_comment(raw).author.platform_id == "474930769339741"
    assert parse_comment(raw, own={"474930769339741"}) == Skipped(raw["id"], "written by this account")
    assert parse_comment(raw).in_reply_to == "520586098107541"  # the comment's `object`


def test_every_recorded_message_parses_or_says_why_not():
    results = []
    for name in MESSAGE_FILES:
        body = load(name)
        if name in ("conversation.json", "v2_1/thread.json"):
            # a conversation's messages; the 2014 inbox thread kept them under `comments`
            items = (body.get("messages") or body["comments"])["data"]
            results += [(name, m, parse_message(m, conversation=body["id"])) for m in items]
        elif name != "v10_0/instagram-conversation.json":  # participants only
            results += [(name, m, parse_message(m)) for m in (body if isinstance(body, list) else [body])]
    assert len(results) == 36
    for name, raw, result in results:
        assert isinstance(result, (Inbound, Skipped)), name
        if isinstance(result, Inbound):
            assert (result.kind, result.visibility) == ("dm", "private")
            assert result.author.platform_id == raw["from"]["id"]
    reasons = Counter(r.reason for _, _, r in results if isinstance(r, Skipped))
    assert reasons == {"from is missing: no one to answer": 7, "created_time is missing": 2,
                       "created_time is not a time: '<TIMESTAMP>'": 1}
    thread = [r for name, _, r in results if name == "v2_1/thread.json"]
    assert [m.text for m in thread[:2]] == ["Lorem ipsum", "Lorem ipsum 2"] and len(thread) == 23
    assert read_ref(thread[0].reply_ref) == {"conversation": "66353252745"}
    first = next(r for name, _, r in results if name == "conversation.json")
    assert first.text == "Well, well." and first.author.handle == "Participant One"


def test_a_message_without_text_says_what_it_carried():
    sticker = {**load("v2_11/message-with-sticker.json"), "created_time": "2020-01-02T10:00:00+0000"}
    assert parse_message(sticker).text == "[sticker]"
    share = {**load("v2_5/message-with-share.json"), "created_time": "2020-01-02T10:00:00+0000"}
    assert parse_message(share).text == "[share] https://example.org/sample.png"
    eu = {**load("v7_0/message-eu.json"), "from": {"id": "42"}, "created_time": "2020-01-02T10:00:00+0000"}
    assert "privacy rules in Europe" in parse_message(eu).text


def test_the_instagram_message_sample_parses_once_it_has_a_time():
    raw = {**load("v10_0/instagram-message.json"), "created_time": "2024-05-01T08:00:00+0000"}
    message = parse_message(raw, conversation="<THREAD_ID>")
    assert message.author == message.author.__class__("<IGSID|IGID>", "<IG_USERNAME>")
    assert message.text == "<MESSAGE_TEXT>"
    assert parse_message(raw, usernames={"<IG_USERNAME>"}).reason == "written by this account"


def test_ids_arrive_as_numbers_or_strings():
    raw = {"id": 4567, "from": {"id": 1234567890321, "name": "N"}, "message": "hi", "created_time": 1449135003,
           "parent": {"id": 99}}
    comment = parse_comment(raw, post_id="1_2")
    assert (comment.platform_id, comment.author.platform_id, comment.in_reply_to) == ("4567", "1234567890321", "99")
    assert comment.published_at == datetime(2015, 12, 3, 9, 30, 3, tzinfo=UTC)


def test_an_author_hidden_by_meta_becomes_an_anonymous_contact_of_that_item():
    raw = {"id": "10_20", "message": "where is my parcel?", "created_time": "2026-05-01T10:00:00+0000"}
    first, second = parse_comment(raw), parse_comment({**raw, "id": "10_21"})
    assert first.author.platform_id == "anonymous:10_20" and second.author.platform_id == "anonymous:10_21"
    assert first.author.handle == "anonymous"


def test_hostile_text_is_kept_literally():
    text = "[bold red]x[/] \x1b[31mred\x1b[0m \u202eevil\u202c Z̸̢͉a̶l̷g̵o"
    raw = {"id": "1_2", "message": text, "created_time": "2026-05-01T10:00:00+0000", "from": {"id": "7", "name": text}}
    comment = parse_comment(raw)
    assert comment.text == text and comment.author.display_name == text


def _mutations(obj: Any, rng: random.Random) -> Any:
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            roll = rng.random()
            if roll < 0.1:
                continue
            out[k] = rng.choice([None, 0, True, "", [], {}, "x"]) if roll < 0.25 else _mutations(v, rng)
        return out
    if isinstance(obj, list):
        return [_mutations(v, rng) for v in obj]
    return obj


def test_garbled_payloads_never_raise():
    rng = random.Random(7)
    objects = [p for _, p, _ in posts_and_comments()[0]] + [load(n) for n in COMMENT_FILES]
    objects.append(load("conversation.json"))
    for obj in objects:
        for _ in range(20):
            mutated = _mutations(copy.deepcopy(obj), rng)
            for parse in (parse_post, parse_comment, parse_message, parse_ig_comment, parse_ig_media):
                assert isinstance(parse(mutated), (Inbound, Skipped))
    for junk in (None, [], "x", 3, {"id": None}, {"id": True}):
        assert isinstance(parse_comment(junk), Skipped)


# --- Instagram shapes (documented; the corpus left Instagram's folders out) -------------------------


def test_instagram_comment_and_reply():
    top = {"id": "17858893269000001", "text": "Is this in stock?", "timestamp": "2026-05-01T10:00:00+0000",
           "username": "ann", "from": {"id": "6119198718152259", "username": "ann"}, "like_count": 2,
           "replies": {"data": [{"id": "17858893269000002"}]}}
    comment = parse_ig_comment(top, media_id="17900000000000001")
    assert (comment.kind, comment.in_reply_to, comment.likes, comment.replies) == ("comment", "17900000000000001", 2, 1)
    assert comment.author.platform_id == "6119198718152259" and comment.author.handle == "ann"
    assert read_ref(comment.reply_ref) == {"post": "17900000000000001", "top": "17858893269000001"}
    reply = parse_ig_comment({"id": "17858893269000003", "text": "@ann yes", "timestamp": "2026-05-01T10:01:00+0000",
                              "username": "bob", "parent_id": "17858893269000001"}, media_id="17900000000000001")
    assert reply.in_reply_to == "17858893269000001" and reply.author.platform_id == "username:bob"
    assert read_ref(reply.reply_ref)["top"] == "17858893269000001"
    own = parse_ig_comment({**top, "username": "shop", "from": {"id": "1", "username": "shop"}}, usernames={"shop"})
    assert own.reason == "written by this account"


def test_instagram_tagged_media_is_a_mention():
    media = parse_ig_media({"id": "18000000000000001", "caption": "love my new @shop bag", "username": "carla",
                            "timestamp": "2026-05-01T10:00:00+0000", "permalink": "https://www.instagram.com/p/x/"})
    assert (media.kind, media.author.handle, media.url) == ("mention", "carla", "https://www.instagram.com/p/x/")


# --- webhooks --------------------------------------------------------------------------------------


def test_every_recorded_webhook_parses():
    messages, deleted, skipped = [], [], Counter()
    for path in sorted((root() / "webhooks").glob("*.json")):
        page = parse_webhook(json.loads(path.read_text("utf-8")))
        assert page.cursor is None
        messages += [(path.name, m) for m in page.messages]
        deleted += page.deleted
        skipped.update(s.reason for s in page.skipped)
    kinds = Counter(m.kind for _, m in messages)
    assert kinds == {"dm": 13, "mention": 4}
    assert sorted(deleted) == ["1234567890321_901097836652708", "905578656204626_905579239537901", "message_id"]
    # the anonymised samples use the Page's own id as sender: those are the Page's own comments
    assert skipped["written by this account"] == 14
    assert skipped["echo of a message this account sent"] == 2
    assert skipped["feed change of reaction (not read as a message)"] == 5
    assert sum(v for k, v in skipped.items() if k.startswith("messaging event")) == 10
    assert skipped["unsupported message (Meta does not show its content to apps)"] == 1
    assert sum(skipped.values()) == 44  # 17 messages + 3 deletions + 44 = 64 items in 63 files
    edit = next(m for name, m in messages if name == "messaging-message-edits.json")
    assert edit.edited_at is not None and edit.text == "hello, world!"
    reply = next(m for name, m in messages if name == "messaging-message-reply-1.json")
    assert reply.in_reply_to == "very_long_id_representing_the_original_message"
    basic = next(m for name, m in messages if name == "messaging-message-basic.json")
    assert (basic.author.platform_id, basic.published_at) == (
        "987654321432", datetime(2016, 3, 12, 6, 29, 57, 627000, tzinfo=UTC))
    visitor = next(m for name, m in messages if name == "feed-post-edit.json")
    assert visitor.author.platform_id == "8423678347823" and visitor.edited_at is not None


def test_a_visitor_comment_webhook_becomes_a_comment():
    body = load("webhooks/feed-comment-add-25.json")
    body["entry"][0]["changes"][0]["value"].update(sender_id=555, sender_name="Visitor")
    (comment,) = parse_webhook(body).messages
    assert (comment.kind, comment.author.platform_id, comment.in_reply_to) == (
        "comment", "555", "1234567890321_901097836652708")


def test_an_instagram_comment_webhook_becomes_a_comment():
    body = {"object": "instagram", "entry": [{"id": "17841400000000001", "time": 1520383571, "changes": [
        {"field": "comments", "value": {"from": {"id": "232323232", "username": "test"},
                                        "media": {"id": "123123123", "media_product_type": "FEED"},
                                        "id": "17865799348089039", "parent_id": "1231231234",
                                        "text": "This is an example."}}]}]}
    (comment,) = parse_webhook(body).messages
    assert (comment.platform_id, comment.in_reply_to, comment.author.handle, comment.text) == (
        "17865799348089039", "1231231234", "test", "This is an example.")
    assert comment.published_at == datetime(2018, 3, 7, 0, 46, 11, tzinfo=UTC)


# --- errors and usage ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ERROR_FILES))
def test_recorded_error_bodies_become_the_right_error(name):
    kind, retryable = ERROR_FILES[name]
    body = load(name)  # here, not in the server's thread: without the corpus the test is skipped
    with LoopbackServer(lambda seen: Reply(400, body)) as server:
        adapter = FacebookAdapter("EAAGsecret-token-xyz", base_url=server.base_url, timeout=0.5)
        with pytest.raises(AdapterError) as caught:
            adapter.verify()
        adapter.close()
    assert type(caught.value) is kind and caught.value.retryable is retryable
    assert "EAAGsecret-token-xyz" not in str(caught.value)


def test_the_batch_sample_error_is_an_unknown_object():
    first, second = load("batch/batch-first-error.json")
    assert graph_error("Facebook", json.loads(first["body"])) is None  # code 100: the HTTP status decides
    assert graph_error("Facebook", json.loads(second["body"])) is None
    headers = {h["name"].lower(): h["value"] for h in first["headers"]}
    assert parse_usage(headers).remaining == 98


def test_a_user_named_error_is_not_an_error():
    assert graph_error("Instagram", load("issue1169.json")) is None


@pytest.mark.parametrize("code", [4, 17, 32, 613, 80001, 80002, 80006])
def test_throttle_codes_are_rate_limits(code):
    headers = {"x-business-use-case-usage": json.dumps({"123": [{"type": "pages", "call_count": 100,
                                                                  "estimated_time_to_regain_access": 5}]})}
    error = graph_error("Facebook", {"error": {"message": "(#%d) too many calls" % code, "code": code}}, headers)
    assert isinstance(error, RateLimited) and 290 < error.retry_after <= 300


def test_permission_errors_name_the_permission():
    named = graph_error("Facebook", {"error": {"message": "(#200) Requires pages_messaging permission", "code": 200}})
    assert not named.retryable and "pages_messaging" in str(named) and not isinstance(named, AuthError)
    guessed = graph_error("Facebook", {"error": {"message": "(#10) Permission denied", "code": 10}}, method="POST",
                          path="/v26.0/1_2/comments")
    assert "pages_manage_engagement" in str(guessed)
    window = graph_error("Facebook", {"error": {"message": "(#10) outside", "code": 10, "error_subcode": 2018278}})
    assert isinstance(window, NotAllowed) and "24 hours" in str(window)


def test_usage_headers_as_percentage_left():
    assert parse_usage({"x-app-usage": '{"call_count":28,"total_cputime":25,"total_time":25}'}).remaining == 72
    buc = parse_usage({"x-business-use-case-usage": '{"1":[{"call_count":3,"total_time":91,"total_cputime":1}],'
                                                   '"2":[{"call_count":40}]}', "x-page-usage": '{"call_count":10}'})
    assert (buc.limit, buc.remaining, buc.reset_at) == (100, 9, None)
    throttled = parse_usage({"x-business-use-case-usage": '{"1":[{"call_count":12,'
                                                          '"estimated_time_to_regain_access":2}]}'})
    assert throttled.remaining == 0 and throttled.reset_at > datetime.now(UTC)
    assert parse_usage({"x-app-usage": "not json"}) is None and parse_usage({}) is None


def test_send_api_answer():
    answer = load("v2_6/sendresponse.json")
    assert message_result(answer, "hi", "Facebook").platform_id == "mid.1456970487936:c34767dfe57ee6e339"
    with pytest.raises(AdapterError) as caught:
        message_result({"recipient_id": "1"}, "hi", "Facebook")
    assert caught.value.retryable and caught.value.maybe_sent  # it was accepted: look before sending again


def test_transient_errors_are_retried_after_a_look():
    transient = graph_error("Facebook", {"error": {"message": "An unexpected error has occurred. Please retry your "
                                                              "request later.", "code": 2, "is_transient": True}})
    assert transient.retryable and transient.maybe_sent
    assert graph_error("Facebook", load("oauthExampleError.json")) is None  # code 1, is_transient false


# --- times and cursors -----------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [
    ("2014-09-20T12:59:48+0000", datetime(2014, 9, 20, 12, 59, 48, tzinfo=UTC)),
    (1449135003, datetime(2015, 12, 3, 9, 30, 3, tzinfo=UTC)),
    ("1449135003", datetime(2015, 12, 3, 9, 30, 3, tzinfo=UTC)),
    (1457764197627, datetime(2016, 3, 12, 6, 29, 57, 627000, tzinfo=UTC)),
    ("<TIMESTAMP>", None), (None, None), (True, None), ("", None),
])
def test_graph_times(value, expected):
    assert graph_time(value) == expected


def test_the_cursor_keeps_the_ids_of_its_second():
    mark = Mark.parse("1700000000|b,a", "Facebook")
    assert str(mark) == "1700000000|a,b"
    assert not mark.is_new(1700000000, "a") and mark.is_new(1700000000, "c") and mark.is_new(1700000001, "a")
    assert not mark.is_new(1699999999, "z")
    assert mark.past(1700000001, "z") == Mark(1700000001, frozenset({"z"}))
    with pytest.raises(AdapterError) as caught:
        Mark.parse("t_123", "Facebook")
    assert not caught.value.retryable


def test_pages_split_a_second_without_losing_or_repeating():
    items = [{"id": f"c{i}", "created_time": 1700000000 + i // 4, "message": "m", "from": {"id": "9"}}
             for i in range(10)]
    scan = Scan(Mark(1700000000, frozenset({"c0"})))
    for raw in items:
        scan.consider(raw, "created_time", parse_comment)
    pages = scan.poll_pages(3, None)
    assert [[m.platform_id for m in p.messages] for p in pages] == [["c1", "c2", "c3"], ["c4", "c5", "c6"],
                                                                     ["c7", "c8", "c9"]]
    assert pages[0].cursor == "1700000000|c0,c1,c2,c3" and pages[1].cursor == "1700000001|c4,c5,c6"
    resumed = Scan(Mark.parse(pages[1].cursor, "Facebook"))
    for raw in items:
        resumed.consider(raw, "created_time", parse_comment)
    assert [m.platform_id for p in resumed.poll_pages(50, None) for m in p.messages] == ["c7", "c8", "c9"]
