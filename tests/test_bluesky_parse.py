"""Bluesky payload parsing over the recorded corpus (myConsciousness/atproto.dart): notifications,
post views, repo records, chat shapes; byte-offset facets; and the core's grapheme count (the
one that refuses an over-long reply) counting Bluesky texts as Bluesky does."""

from __future__ import annotations

import copy
import json
import unicodedata
from collections import Counter
from datetime import UTC, datetime

import pytest

import corpus
from fakes.bluesky_world import ATP, BSKY, load, post_views, recorded
from socialdesk.adapters.base import Inbound, Skipped
from socialdesk.adapters.bluesky import BlueskyAdapter
from socialdesk.adapters.bluesky_payloads import (
    Deleted,
    build_facets,
    byte_offset,
    facet_text,
    is_tid,
    parse_chat_log,
    parse_chat_message,
    parse_notification,
    parse_post_view,
    parse_repo_record,
    post_url,
    tid,
)
from socialdesk.adapters.values import json_object
from socialdesk.rules.length import count

NOTIFICATIONS = BSKY + "app/bsky/notification/listNotifications.json"
SHINYA = "did:plc:iijrtk7ocored6zuziwmqq3c"


def notifications() -> list[dict]:
    return load(NOTIFICATIONS)["notifications"]


def all_post_records() -> list[tuple[str, dict]]:
    """(uri, record) of every post record in the corpus, by uri."""
    found: dict[str, dict] = {}
    for rel in (NOTIFICATIONS, BSKY + "app/bsky/feed/getPostThread.json", BSKY + "app/bsky/feed/getAuthorFeed.json",
                BSKY + "app/bsky/feed/searchPosts.json", BSKY + "app/bsky/feed/getPosts.json",
                ATP + "com/atproto/repo/listRecords.json", ATP + "com/atproto/repo/getRecord.json"):
        for obj in corpus.walk(load(rel)):
            if isinstance(obj, dict) and isinstance(obj.get("uri"), str):
                record = obj.get("record", obj.get("value"))
                if isinstance(record, dict) and record.get("$type") == "app.bsky.feed.post":
                    found.setdefault(obj["uri"], record)
    return list(found.items())


# --- notifications -------------------------------------------------------------------------------


def test_every_recorded_notification_parses_or_is_skipped_for_its_reason():
    results = [parse_notification(n) for n in notifications()]
    assert len(results) == 200
    skipped = Counter(r.reason for r in results if isinstance(r, Skipped))
    assert skipped == {"reason like": 149, "reason repost": 14, "reason follow": 13}
    messages = [r for r in results if isinstance(r, Inbound)]
    assert len(messages) == 24  # 17 replies, 4 quotes, 3 mentions
    # kind follows the post: a quote or mention that is itself a reply in a thread is a reply.
    assert Counter(m.kind for m in messages) == {"reply": 19, "mention": 5}
    assert all(m.visibility == "public" and m.platform_id.startswith("at://") for m in messages)
    assert Counter(m.language for m in messages) == {"en": 17, "ja": 5, "sv": 1, None: 1}


def test_a_recorded_reply_keeps_what_answering_it_needs():
    item = next(n for n in notifications() if n["uri"].endswith("/3k6k4as23yu2g"))
    message = parse_notification(item)
    assert message.kind == "reply"
    assert message.text == "あ、なるほどそういうことだったんですね！ご親切にありがとうございます😊"
    assert message.author.platform_id == "did:plc:wpmuup4caccl3a726wdni6wj"
    assert (message.author.handle, message.author.display_name) == ("maccalennon.bsky.social", "まかれの")
    assert message.in_reply_to == "at://did:plc:iijrtk7ocored6zuziwmqq3c/app.bsky.feed.post/3k6k42e25xo2i"
    assert message.language == "ja"
    assert message.published_at == datetime(2023, 9, 4, 4, 0, 35, 516000, tzinfo=UTC)
    assert message.url == "https://bsky.app/profile/maccalennon.bsky.social/post/3k6k4as23yu2g"
    assert json_object(message.reply_ref) == {
        "cid": "bafyreidkrb4ci4v6o2laiicznvak2wxwklkmdpccna6r6qlvvz6sewghkq",
        "root": {"uri": "at://did:plc:wpmuup4caccl3a726wdni6wj/app.bsky.feed.post/3k6k3k3gwjt2q",
                 "cid": "bafyreihvdsfczasqo7fadxtwsdq56e6mrodlfn6f4qaleglzr2nwmwkrxm"}}
    assert message.raw is item


def test_a_top_level_quote_is_its_own_thread_root():
    item = next(n for n in notifications() if n["reason"] == "quote" and "reply" not in n["record"])
    message = parse_notification(item)
    assert (message.kind, message.in_reply_to) == ("mention", None)
    assert json_object(message.reply_ref)["root"] == {"uri": item["uri"], "cid": item["cid"]}


def test_hydrated_profiles_and_posts_fill_followers_and_engagement():
    item = next(n for n in notifications() if n["reason"] == "mention")
    did, uri = item["author"]["did"], item["uri"]
    profile = {**load(BSKY + "app/bsky/actor/getProfiles.json")["profiles"][0], "did": did}
    view = {**load(BSKY + "app/bsky/feed/getPosts.json")["posts"][0], "uri": uri, "quoteCount": 2}
    message = parse_notification(item, {did: profile}, {uri: view})
    assert message.author.followers == 4945
    assert (message.likes, message.reposts, message.replies) == (7, 2, 8)
    assert parse_notification(item).author.followers == 0  # a ProfileView has no counts


# --- posts ---------------------------------------------------------------------------------------


def test_every_recorded_post_view_and_repo_record_parses():
    views = post_views(recorded)
    assert len(views) == 105  # 58 thread nodes, 46 feed posts, 1 getPosts (= searchPosts)
    parsed = [parse_post_view(v) for _, v in views]
    assert all(isinstance(p, Inbound) for p in parsed), [p for p in parsed if isinstance(p, Skipped)]
    records = [*load(ATP + "com/atproto/repo/listRecords.json")["records"], load(ATP + "com/atproto/repo/getRecord.json")]
    from_repo = [parse_repo_record(r) for r in records]
    assert len(from_repo) == 51 and all(isinstance(p, Inbound) for p in from_repo)
    assert from_repo[0].author.handle == "did:plc:r64txawptxlk3hx6k7r2kyh3"  # a bare record: the DID stands in
    assert len(all_post_records()) == 181


def test_posts_without_text_still_ingest_with_a_note_of_their_media():
    views = [v for _, v in post_views(recorded)] + load(ATP + "com/atproto/repo/listRecords.json")["records"]
    empty = [v for v in views if not v.get("record", v.get("value"))["text"]]
    assert len(empty) == 5
    texts = sorted((parse_post_view(v) if "record" in v else parse_repo_record(v)).text for v in empty)
    assert texts[0] == "(1 image)"
    assert "(1 image: willie beamen)" in texts
    assert any(t.startswith("(2 images) (quoted post: at://did:plc:") for t in texts)


def test_blocked_thread_nodes_are_not_posts():
    blocked = [o for o in corpus.walk(load(BSKY + "app/bsky/feed/getPostThread.json"))
               if isinstance(o, dict) and o.get("$type") == "app.bsky.feed.defs#blockedPost"]
    assert len(blocked) == 1
    assert parse_post_view(blocked[0]) == Skipped(blocked[0]["uri"], "cid is missing")


def graphemes(text: str) -> int:
    """A text's length as the composer counts it for a Bluesky channel (`length_counting`)."""
    return count(text, BlueskyAdapter.capabilities.length_counting)


def test_every_recorded_post_fits_bluesky_limits_as_the_composer_counts_them():
    """Bluesky accepted every recorded post, so none may count over 300 graphemes."""
    records = all_post_records()
    counts = [graphemes(r["text"]) for _, r in records]
    assert max(counts) == 300 == BlueskyAdapter.capabilities.max_length
    assert all(len(r["text"].encode()) <= 3000 for _, r in records)
    emoji = [r["text"] for _, r in records if any(ord(c) > 0x1F000 for c in r["text"])]
    assert emoji and all(graphemes(t) < len(t) for t in emoji if "\u200d" in t or "\ufe0f" in t)


@pytest.mark.parametrize(("text", "expected"), [
    ("abc", 3), ("👨‍👩‍👧‍👦", 1), ("🇯🇵🇺🇸", 2), ("👍🏽", 1), ("1️⃣", 1), ("\r\n", 1),
    (unicodedata.normalize("NFD", "éàü"), 3), ("한국어", 3), (unicodedata.normalize("NFD", "한"), 1),
    ("Z̴̡̪͉a̷l̸g̵o", 5), ("❤️ ok", 4), ("", 0),
])
def test_graphemes_count_what_a_reader_sees(text, expected):
    assert graphemes(text) == expected


# --- facets --------------------------------------------------------------------------------------


def test_every_recorded_facet_covers_its_text_by_utf8_bytes():
    faceted = [(u, r) for u, r in all_post_records() if r.get("facets")]
    assert len(faceted) == 14
    features = Counter()
    for _, record in faceted:
        for facet in record["facets"]:
            covered = facet_text(record["text"], facet)
            assert covered is not None
            for feature in facet["features"]:
                kind = feature["$type"].rsplit("#", 1)[1]
                features[kind] += 1
                if kind == "mention":
                    assert covered.startswith("@")
    assert features == {"mention": 9, "link": 7}


def test_links_show_their_whole_address_from_the_facets_not_the_shortened_text():
    linked = [(u, r) for u, r in all_post_records()
              if any(f["$type"].endswith("#link") for facet in r.get("facets") or [] for f in facet["features"])]
    shortened = 0
    for uri, record in linked:
        message = parse_repo_record({"uri": uri, "cid": "bafyfake", "value": record})
        for facet in record["facets"]:
            for feature in facet["features"]:
                if feature["$type"].endswith("#link"):
                    assert feature["uri"] in message.text
                    shortened += facet_text(record["text"], facet).endswith("...")
    assert shortened == 1  # "www.youtube.com/watch?v=Zyyn..." is whole again


def test_a_link_facet_is_expanded_by_utf8_bytes_after_multibyte_text():
    text = "Löschen 🗑 hier: example.com/a..."
    start = len("Löschen 🗑 hier: ".encode())
    record = {"$type": "app.bsky.feed.post", "text": text, "createdAt": "2026-01-01T00:00:00Z",
              "facets": [{"index": {"byteStart": start, "byteEnd": len(text.encode())},
                          "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com/abc"}]},
                         {"index": {"byteStart": 0, "byteEnd": 2},  # a broken facet (mid-character) is ignored
                          "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "javascript:alert(1)"}]}]}
    message = parse_repo_record({"uri": "at://did:plc:abc/app.bsky.feed.post/3k", "cid": "bafy", "value": record})
    assert message.text == "Löschen 🗑 hier: https://example.com/abc"


def test_outgoing_facets_match_the_recorded_byte_offsets_after_multibyte_text():
    multibyte = []
    for _, record in all_post_records():
        for facet in record.get("facets") or []:
            start = facet["index"]["byteStart"]
            if len(record["text"].encode()[:start].decode()) != start:
                multibyte.append((record, facet))
    assert len({r["text"] for r, _ in multibyte}) == 4
    for record, facet in multibyte:
        feature = facet["features"][0]
        handle = (facet_text(record["text"], facet) or "").lstrip("@").lower()
        ours = build_facets(record["text"], lambda h, want=feature.get("did"): want if h == handle else None)
        starts = {f["index"]["byteStart"]: f for f in ours}
        assert facet["index"]["byteStart"] in starts, (record["text"], ours)
        mine = starts[facet["index"]["byteStart"]]
        if "did" in feature:
            assert mine["index"] == facet["index"]
            assert mine["features"] == [{"$type": "app.bsky.richtext.facet#mention", "did": feature["did"]}]
        elif feature["uri"].endswith(facet_text(record["text"], facet) or "\0"):
            assert mine["index"] == facet["index"]
            assert mine["features"][0]["uri"] == feature["uri"]
        else:  # the app shortened this link's text to "www.youtube.com/watch?v=Zyyn..."
            assert facet_text(record["text"], mine) == "www.youtube.com/watch?v=Zyyn"


def test_outgoing_facets_skip_unresolved_handles_and_trim_punctuation():
    text = "こんにちは 😊 @ann.example and @ghost.example, see https://acme.example/help. (www.acme.example/x)"
    facets = build_facets(text, {"ann.example": "did:plc:ann"}.get)
    covered = [(facet_text(text, f), f["features"][0]) for f in facets]
    assert covered == [
        ("@ann.example", {"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:ann"}),
        ("https://acme.example/help", {"$type": "app.bsky.richtext.facet#link", "uri": "https://acme.example/help"}),
        ("www.acme.example/x", {"$type": "app.bsky.richtext.facet#link", "uri": "https://www.acme.example/x"}),
    ]
    assert facets[0]["index"]["byteStart"] == byte_offset(text, text.index("@ann")) == len("こんにちは 😊 ".encode())
    assert build_facets("mail me at a@b.example or @x", lambda h: "did:plc:x") == []


# --- chat ----------------------------------------------------------------------------------------


def test_recorded_chat_log_entries():
    logs = load(BSKY + "chat/bsky/convo/getLog.json")["logs"]
    results = [parse_chat_log(e, "did:plc:brand") for e in logs]
    assert results[0] == Skipped("1234", "log entry logBeginConvo")
    assert results[1] == Skipped("1234", "log entry logLeaveConvo")
    message = results[2]
    assert isinstance(message, Inbound)
    assert (message.platform_id, message.kind, message.visibility, message.text) == ("1234/1234", "dm", "private", "Hi")
    assert message.author.platform_id == SHINYA and message.author.handle == SHINYA
    assert message.published_at == datetime(2023, 5, 21, 0, 48, 1, 666000, tzinfo=UTC)
    assert json_object(message.reply_ref) == {"convo": "1234"}
    assert results[3] == Deleted("1234/1234")
    assert parse_chat_log(logs[2], SHINYA) == Skipped("1234/1234", "sent by this account")


def test_recorded_chat_messages_with_a_known_profile():
    views = load(BSKY + "chat/bsky/convo/getMessages.json")["messages"]
    member = load(BSKY + "chat/bsky/convo/getConvo.json")["convo"]["members"][0]
    message, deleted = (parse_chat_message(v, "c1", "did:plc:brand", {SHINYA: member}) for v in views)
    assert (message.author.handle, message.author.display_name) == ("shinyakato.dev", "Shinya Kato 🤯")
    assert deleted == Skipped("c1/1234", "message was deleted")


# --- hostile and broken payloads ----------------------------------------------------------------


def test_hostile_text_is_kept_literally():
    item = copy.deepcopy(next(n for n in notifications() if n["reason"] == "mention"))
    text = "[bold red]hi[/] \x1b[31mred\x1b[0m \u202eevil\u202c Z̴̡̪͉a̷l̸g̵o <script>alert(1)</script>"
    item["record"]["text"] = text
    assert parse_notification(item).text == text


def naughty_strings() -> list[str]:
    path = corpus.platform_dir("minimaxir__big-list-of-naughty-strings") / "blns.txt"
    return [line for line in path.read_text("utf-8").split("\n") if line and not line.startswith("#")]


def test_every_naughty_string_is_kept_literally():
    item = copy.deepcopy(next(n for n in notifications() if n["reason"] == "mention"))
    texts = naughty_strings() + [r["text"] for _, r in all_post_records()]
    assert len(texts) == 697  # 516 naughty strings, 181 recorded posts
    for text in texts:
        item["record"]["text"] = text
        parsed = parse_notification(item)
        assert parsed.text == text


def test_broken_notifications_are_skipped_with_a_reason_never_raised():
    base = next(n for n in notifications() if n["reason"] == "reply")
    assert parse_notification(None) == Skipped("", "notification is not an object (NoneType)")
    assert parse_notification({**base, "record": None}).reason == "record is missing or not an object"
    assert parse_notification({**base, "author": None}).reason == "author is missing or not an object"
    assert parse_notification({**base, "cid": 42}).reason == "cid is missing"
    assert parse_notification({**base, "uri": "https://x"}).reason.startswith("uri is not an at:// post uri")
    no_time = {**base, "indexedAt": None, "record": {**base["record"], "createdAt": "yesterday"}}
    assert parse_notification(no_time).reason.startswith("record.createdAt and indexedAt are missing")
    indexed_only = {**base, "record": {**base["record"], "createdAt": None}}
    assert parse_notification(indexed_only).published_at == datetime(2023, 9, 4, 4, 0, 35, 516000, tzinfo=UTC)
    odd = {**base, "record": {**base["record"], "langs": [None], "reply": {"parent": "x"}, "embed": 5}}
    assert parse_notification(odd).language is None and parse_notification(odd).in_reply_to is None
    # Every key of every value of a real item set to None, a number, a list: never an exception.
    for key in list(base) + [f"record.{k}" for k in base["record"]] + [f"author.{k}" for k in base["author"]]:
        for junk in (None, 7, [], "", {"$type": 1}):
            item = json.loads(json.dumps(base))
            target, _, sub = key.partition(".")
            if sub:
                item[target][sub] = junk
            else:
                item[target] = junk
            assert isinstance(parse_notification(item), (Inbound, Skipped))
            assert isinstance(parse_chat_log({"$type": "chat.bsky.convo.defs#logCreateMessage", "convoId": junk,
                                              "message": {"id": "1", "sender": junk, "sentAt": junk, "text": junk}},
                                             "did:plc:b"), (Inbound, Skipped, Deleted))


def test_urls_fall_back_to_the_did_when_the_handle_is_invalid():
    uri = "at://did:plc:abc/app.bsky.feed.post/3k6k4as23yu2g"
    assert post_url(uri, "handle.invalid") == "https://bsky.app/profile/did:plc:abc/post/3k6k4as23yu2g"
    assert post_url("at://broken", "a.b") is None


def test_tids_are_sortable_and_valid():
    assert tid(1_700_000_000_000_000) < tid(1_700_000_000_000_001) < tid(1_800_000_000_000_000)
    assert is_tid(tid(1_700_000_000_000_000, 5)) and is_tid("3k6k4as23yu2g")
    assert not is_tid("1234") and not is_tid("zzzzzzzzzzzzz")
