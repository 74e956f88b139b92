"""X API v2 payloads → Inbound, against the real recorded payloads in the shared corpus (tweepy's
cassettes of api.twitter.com, OpenIntegrations' POST /2/tweets answers) and X's documented shapes."""

from __future__ import annotations

import email.utils
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import corpus
from socialdesk.adapters.base import Inbound, Skipped
from socialdesk.adapters.x_payloads import (
    Includes,
    comparable,
    error_text,
    language,
    parse_dm_event,
    parse_post,
    partial_errors,
    snowflake_at,
    snowflake_time,
    unescape,
)

TWEEPY = "tweepy__tweepy"
BRAND = "1072250532645998596"  # @TweepyDev, the account tweepy recorded with


@pytest.fixture(scope="module")
def objects() -> dict[str, dict[str, tuple[str, dict, datetime | None]]]:
    """Every v2 post, v2 DM event, v1.1 status and v1.1 DM event in the tweepy cassettes, unique by
    id, with its source and the recorded response's Date."""
    found: dict[str, dict[str, tuple[str, dict, datetime | None]]] = {k: {} for k in ("v2", "dm", "v1", "v1dm")}
    for pattern in ("**/*.yaml", "**/*.json"):
        for inter, body in corpus.json_bodies(TWEEPY, pattern):
            date = inter.headers.get("date")
            answered = email.utils.parsedate_to_datetime(date) if date else None
            for obj in corpus.walk(body):
                if not isinstance(obj, dict):
                    continue
                if "event_type" in obj:
                    kind, key = "dm", obj["id"]
                elif obj.get("type") == "message_create":
                    kind, key = "v1dm", obj["id"]
                elif "id_str" in obj and ("text" in obj or "full_text" in obj):
                    kind, key = "v1", obj["id_str"]
                elif "edit_history_tweet_ids" in obj:
                    kind, key = "v2", obj["id"]
                else:
                    continue
                found[kind].setdefault(key, (inter.source, obj, answered))
    return found


def _with_author(post: dict, author: str = "783214") -> tuple[dict, Includes]:
    """The post as /2/users/:id/mentions returns it to socialdesk, which always asks for author_id
    (tweepy recorded default fields only)."""
    users = {"includes": {"users": [{"id": author, "name": "Twitter", "username": "Twitter"}]}}
    return {**post, "author_id": author}, Includes(users)


# --- every recorded object -----------------------------------------------------------------------


def test_corpus_counts(objects):
    assert {k: len(v) for k, v in objects.items()} == {"v2": 338, "dm": 4, "v1": 110, "v1dm": 1}


def test_every_recorded_v2_post_is_skipped_as_recorded_for_want_of_an_author(objects):
    reasons = Counter()
    for source, post, _ in objects["v2"].values():
        result = parse_post(post, Includes(None), BRAND)
        assert isinstance(result, Skipped), source
        assert result.item_id == post["id"]
        reasons[result.reason] += 1
    assert reasons == {"author_id is missing (the request must ask for expansions=author_id)": 338}


def test_every_recorded_v2_post_parses_once_it_has_its_author(objects):
    kinds, reposts, edited, escaped = Counter(), 0, 0, 0
    for source, post, answered in objects["v2"].values():
        full, includes = _with_author(post)
        m = parse_post(full, includes, BRAND)
        assert isinstance(m, Inbound), (source, m)
        assert m.platform_id == post["edit_history_tweet_ids"][0]
        assert m.text == unescape(post["text"])
        assert m.author.handle == "Twitter" and m.author.platform_id == "783214"
        assert m.visibility == "public" and m.url == f"https://x.com/Twitter/status/{post['id']}"
        # No created_at was recorded: the time comes from the snowflake id, before the answer's Date.
        assert m.published_at.tzinfo is UTC
        assert answered is None or m.published_at <= answered + timedelta(seconds=1), source
        assert m.raw["data"] is full and m.raw["includes"]["users"][0]["id"] == "783214"
        kinds[m.kind] += 1
        reposts += m.is_repost
        edited += m.edited_at is not None
        escaped += m.text != post["text"]
    assert kinds == {"mention": 338}  # default fields carry no referenced_tweets
    assert reposts == 95  # "RT @user: …" texts (retweets in timelines, searches and quote lists)
    assert edited == 1
    assert escaped == 10  # &amp; / &lt; / &gt; undone


def test_the_edited_post_keeps_its_first_id_and_replies_go_to_the_last(objects):
    _, post, _ = objects["v2"]["1577162244978139137"]
    assert post["edit_history_tweet_ids"] == ["1577158996984987648", "1577159100026490881", "1577162244978139137"]
    full, includes = _with_author(post)
    m = parse_post(full, includes)
    assert isinstance(m, Inbound)
    assert m.platform_id == "1577158996984987648"
    assert m.reply_ref == "post:1577162244978139137"
    assert m.published_at == datetime(2022, 10, 4, 4, 49, 41, 735000, tzinfo=UTC)  # the original's time
    assert m.edited_at == datetime(2022, 10, 4, 5, 2, 36, 117000, tzinfo=UTC)
    assert m.text == "I hope I’m not mistaken. Fixed it. https://t.co/6o0rdokH3t"


def test_recorded_mentions_of_twitter_keep_emoji_and_profanity(objects):
    _, post, _ = objects["v2"]["1578516220231397376"]
    m = parse_post(*_with_author(post))
    assert isinstance(m, Inbound)
    assert m.text == "@Twitter make 🤨 an available reaction emoji in dms"  # surrogate pairs decoded
    _, post, _ = objects["v2"]["1578516242867945475"]
    m = parse_post(*_with_author(post))
    assert isinstance(m, Inbound) and m.text == "@MercyKnifed @Twitter what the fuck???"


def test_every_recorded_dm_event(objects):
    for source, event, _ in objects["dm"].values():
        as_recorded = parse_dm_event(event, None, BRAND)
        assert as_recorded == Skipped(event["id"], "sender_id is missing (the request must ask for "
                                                   "dm_event.fields=sender_id)"), source
        full = {**event, "sender_id": "750362064426721281",
                "dm_conversation_id": "750362064426721281-1072250532645998596"}
        m = parse_dm_event(full, None, BRAND)
        assert isinstance(m, Inbound), source
        assert (m.kind, m.visibility, m.platform_id) == ("dm", "private", event["id"])
        assert m.text in ("Testing 1", "Testing 2")
        assert m.reply_ref == "dm:750362064426721281-1072250532645998596"
        assert m.published_at.year == 2022
        # The brand's own side of the conversation is not a customer message.
        assert parse_dm_event({**full, "sender_id": BRAND}, None, BRAND) == Skipped(event["id"], "sent by the brand")


def test_v1_payloads_are_not_v2_and_say_so(objects):
    for source, status, _ in objects["v1"].values():
        result = parse_post(status, None, BRAND)
        assert result == Skipped(status["id_str"], "an API v1.1 status, not a v2 post (socialdesk reads X API v2 "
                                                   "only)"), source
    for source, event, _ in objects["v1dm"].values():
        result = parse_dm_event({"event": event}, None, BRAND)
        assert result == Skipped(event["id"], "an API v1.1 DM event, not a v2 one (socialdesk reads X API v2 "
                                              "only)"), source


def test_recorded_create_answers_have_the_shape_send_reads():
    folder = corpus.platform_dir("Bayselonarrend__OpenIntegrations") / "docs/ru/results/Twitter"
    answers = [json.loads(p.read_text("utf-8")) for p in sorted(folder.glob("*.log"))]
    assert [a["data"]["id"] for a in answers] == ["1976567373969727952", "1983164401751359980"]
    # Cyrillic text with the uuid glued on; the media post got a t.co link appended by X.
    assert comparable(answers[0]["data"]["text"]) == comparable("Тестовый твитт16d95fa7-8a67-4024-83d5-6459b64dead6 "
                                                                "https://example.com/photo.png")
    assert snowflake_time(answers[1]["data"]["id"]) == datetime(2025, 10, 28, 13, 30, 13, 447000, tzinfo=UTC)


# --- a full mention, as socialdesk asks for it ----------------------------------------------------


def mention(**overrides: Any) -> dict[str, Any]:
    return {
        "data": [{
            "id": "1578516295611748353",
            "edit_history_tweet_ids": ["1578516295611748353"],
            "text": "@TweepyDev this is my ENTIRE feed &amp; why &lt;3 https://t.co/W5GxALkkZd",
            "author_id": "2244994945",
            "created_at": "2022-10-07T22:43:06.000Z",
            "conversation_id": "1578516000000000000",
            "in_reply_to_user_id": BRAND,
            "referenced_tweets": [{"type": "replied_to", "id": "1578516000000000000"}],
            "lang": "en",
            "public_metrics": {"retweet_count": 2, "reply_count": 1, "like_count": 7, "quote_count": 0},
            "entities": {"mentions": [{"start": 0, "end": 10, "username": "TweepyDev", "id": BRAND}],
                         "urls": [{"start": 51, "end": 74, "url": "https://t.co/W5GxALkkZd",
                                   "expanded_url": "https://x.com/TwitterDev/status/1578516295611748353/photo/1",
                                   "display_url": "pic.x.com/W5GxALkkZd"}]},
            **overrides,
        }],
        "includes": {"users": [{"id": "2244994945", "name": "Developers", "username": "XDevelopers",
                                "location": "127.0.0.1", "verified": True,
                                "public_metrics": {"followers_count": 570842, "tweet_count": 3900}}]},
    }


def parse_body(body: dict, account: str | None = BRAND) -> Inbound | Skipped:
    return parse_post(body["data"][0], Includes(body), account)


def test_full_mention():
    m = parse_body(mention())
    assert isinstance(m, Inbound)
    assert m.platform_id == "1578516295611748353" and (m.kind, m.visibility) == ("reply", "public")
    assert m.text == ("@TweepyDev this is my ENTIRE feed & why <3 "
                      "https://x.com/TwitterDev/status/1578516295611748353/photo/1")
    assert m.in_reply_to == "1578516000000000000"
    assert m.published_at == datetime(2022, 10, 7, 22, 43, 6, tzinfo=UTC)
    assert (m.likes, m.reposts, m.replies, m.language) == (7, 2, 1, "en")
    assert m.author.handle == "XDevelopers" and m.author.display_name == "Developers"
    assert (m.author.followers, m.author.verified, m.author.location) == (570842, True, "127.0.0.1")
    assert m.url == "https://x.com/XDevelopers/status/1578516295611748353"
    assert m.edited_at is None and m.reply_ref is None and m.is_repost is False


def test_newer_spelling_post_fields():
    body = mention(referenced_tweets=None)
    post = body["data"][0]
    del post["referenced_tweets"]
    post["referenced_posts"] = [{"type": "quoted", "id": "1"}]
    post["public_metrics"] = {"repost_count": 5, "reply_count": 0, "like_count": 1}
    body["includes"]["users"][0]["public_metrics"] = {"followers_count": 3, "post_count": 9}
    m = parse_body(body)
    assert isinstance(m, Inbound)
    assert m.kind == "mention" and m.in_reply_to is None and m.reposts == 5 and m.author.followers == 3


def test_long_post_takes_note_tweet_text():
    long = "@TweepyDev " + "my order never arrived " * 20
    m = parse_body(mention(text=long[:270] + "…", note_tweet={"text": long.strip() + " &amp; still nothing"}))
    assert isinstance(m, Inbound) and m.text == long.strip() + " & still nothing"


@pytest.mark.parametrize("code", ["und", "qme", "zxx", "qht", "qam", "", None, 7])
def test_codes_that_are_not_languages(code):
    assert language(code) is None
    m = parse_body(mention(lang=code))
    assert isinstance(m, Inbound) and m.language is None


def test_repost_takes_the_whole_text_of_the_original():
    body = mention(text="RT @XDevelopers: Introducing the new API, with a very long announcement cut…",
                   referenced_tweets=[{"type": "retweeted", "id": "9"}], public_metrics={"retweet_count": 0})
    body["includes"]["tweets"] = [{"id": "9", "text": "Introducing the new API, with a very long announcement here",
                                   "public_metrics": {"retweet_count": 40, "like_count": 99}}]
    m = parse_body(body)
    assert isinstance(m, Inbound) and m.is_repost
    assert m.text == "Introducing the new API, with a very long announcement here"
    assert (m.reposts, m.likes) == (40, 99)
    assert [p["id"] for p in m.raw["includes"]["tweets"]] == ["9"]


def test_the_brands_own_posts_are_skipped():
    assert parse_body(mention(author_id=BRAND)) == Skipped("1578516295611748353", "posted by the brand itself")


def test_author_not_expanded_keeps_the_message():
    body = mention()
    body["includes"] = {}
    m = parse_body(body)
    assert isinstance(m, Inbound) and m.author.handle == "2244994945" and m.author.followers == 0
    assert m.url == "https://x.com/i/web/status/1578516295611748353"


def test_created_at_garbled_falls_back_to_the_id_else_skips():
    m = parse_body(mention(created_at="yesterday"))
    assert isinstance(m, Inbound) and m.published_at == datetime(2022, 10, 7, 22, 43, 6, 945000, tzinfo=UTC)
    assert parse_body(mention(id="42", edit_history_tweet_ids=[], created_at=None)) == Skipped(
        "42", "created_at is missing or not ISO-8601: None")


@pytest.mark.parametrize("item, reason", [
    (None, "post is not an object (NoneType)"),
    ([], "post is not an object (list)"),
    ({"text": "hi"}, "post id is missing"),
    ({"id": True, "text": "hi"}, "post id is missing"),
])
def test_broken_items_are_skipped(item, reason):
    assert parse_post(item) == Skipped("", reason)


def test_odd_values_never_raise():
    odd = mention(id=1578516295611748353, text=12, edit_history_tweet_ids="x", public_metrics=[1],
                  referenced_tweets={"type": "replied_to"}, entities={"urls": [None, {"url": 5}]})
    result = parse_body(odd)
    assert result == Skipped("1578516295611748353", "text is missing")
    weird = mention(referenced_tweets=[None, {"type": "replied_to", "id": 77}], public_metrics={"like_count": "12"})
    m = parse_body(weird)
    assert isinstance(m, Inbound) and m.in_reply_to == "77" and m.likes == 12


def test_naughty_strings_stay_literal():
    strings = json.loads((corpus.platform_dir("minimaxir__big-list-of-naughty-strings") / "blns.json").read_text())
    hostile = strings + ["[bold red]refund[/]", "\x1b[31mred\x1b[0m", "שלום @TweepyDev", "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇"]
    for text in hostile:
        m = parse_body(mention(text=text, entities={}))
        assert isinstance(m, Inbound) and m.text == unescape(text)
        event = {"id": "1585800613752881156", "event_type": "MessageCreate", "text": text, "sender_id": "5"}
        dm = parse_dm_event(event)
        assert isinstance(dm, Inbound) and dm.text == text  # DM text is kept as sent: only post text is unescaped


def test_unescape_is_one_pass():
    assert unescape("&amp;lt;b&amp;gt; &lt;3 &amp;&amp; &quot;") == "&lt;b&gt; <3 && &quot;"


def test_dm_events_of_other_types_are_skipped():
    join = {"id": "1", "event_type": "ParticipantsJoin", "participant_ids": ["5"]}
    assert parse_dm_event(join) == Skipped("1", "event_type ParticipantsJoin")
    assert parse_dm_event("x") == Skipped("", "DM event is not an object (str)")


def test_dm_sender_expanded():
    body = {"data": [{"id": "1585800613752881156", "event_type": "MessageCreate", "text": "my card was charged twice",
                      "sender_id": "750362064426721281", "created_at": "2022-10-28T01:00:00.000Z",
                      "dm_conversation_id": "750362064426721281-1072250532645998596"}],
            "includes": {"users": [{"id": "750362064426721281", "name": "Harmon", "username": "Harmon758"}]}}
    m = parse_dm_event(body["data"][0], Includes(body), BRAND)
    assert isinstance(m, Inbound)
    assert m.author.handle == "Harmon758" and m.published_at == datetime(2022, 10, 28, 1, tzinfo=UTC)
    assert m.url is None and m.language is None


# --- errors, ids, comparison ---------------------------------------------------------------------


def test_partial_errors_become_notes():
    body = {"data": [], "errors": [{"value": "1", "detail": "Could not find tweet with referenced_tweets.id: [1].",
                                    "title": "Not Found Error", "resource_type": "tweet", "resource_id": "1",
                                    "type": "https://api.twitter.com/2/problems/resource-not-found"}, "junk"]}
    assert partial_errors(body) == [Skipped("1", "partial error: Could not find tweet with referenced_tweets.id: [1].")]


@pytest.mark.parametrize("body, text", [
    ({"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429},
     "Too Many Requests"),
    ({"errors": [{"code": 88, "message": "Rate limit exceeded"}]}, "Rate limit exceeded (code 88)"),
    ({"detail": "You are not allowed to create a Tweet with duplicate content.", "type": "about:blank",
      "title": "Forbidden", "status": 403}, "Forbidden: You are not allowed to create a Tweet with duplicate content."),
    ({"errors": [{"parameters": {"max_results": ["3"]}, "message": "The `max_results` query parameter value [3] is "
                  "not between 5 and 100"}], "title": "Invalid Request",
      "detail": "One or more parameters to your request was invalid.",
      "type": "https://api.twitter.com/2/problems/invalid-request"},
     "Invalid Request: One or more parameters to your request was invalid.: The `max_results` query parameter "
     "value [3] is not between 5 and 100"),
])
def test_error_text(body, text):
    assert error_text(body, None) == text


def test_snowflakes():
    assert snowflake_time("1578516295611748353") == datetime(2022, 10, 7, 22, 43, 6, 945000, tzinfo=UTC)
    assert snowflake_time("20") is None and snowflake_time("abc") is None and snowflake_time(None) is None
    when = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert snowflake_time(snowflake_at(when)) == when


def test_comparable_sees_through_what_x_does_to_a_reply():
    sent = "Sorry about that & thanks! See https://example.com/help?a=1"
    shown = "@Harmon758 Sorry about that &amp; thanks!  See https://t.co/AbCdEf1234"
    assert comparable(shown) == comparable(sent)
    assert comparable("@a @b hello") == comparable("hello") != comparable("hello again")


def test_a_reply_to_an_edited_post_joins_the_original():
    body = mention(referenced_tweets=[{"type": "replied_to", "id": "1578516000000000002"}])
    body["includes"]["tweets"] = [{"id": "1578516000000000002", "text": "our post, edited", "author_id": BRAND,
                                   "edit_history_tweet_ids": ["1578516000000000000", "1578516000000000002"]}]
    m = parse_body(body)
    assert m.in_reply_to == "1578516000000000000"  # the id the store knows the post by
    assert m.raw["includes"]["tweets"][0]["id"] == "1578516000000000002"  # the payload as X sent it


def test_a_reply_to_a_post_not_in_includes_keeps_the_id_x_gave():
    m = parse_body(mention(referenced_tweets=[{"type": "replied_to", "id": "1578516000000000002"}]))
    assert m.in_reply_to == "1578516000000000002"
