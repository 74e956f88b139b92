"""Priority: every reason with its points, base + reasons = score before clamping, P-labels."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from socialdesk.rules.model import AuthorContext, Mention, Reason
from socialdesk.rules.priority import PrioritySettings, humanise_count, humanise_minutes, label, score

NOW = datetime(2025, 6, 2, 12, 0, tzinfo=timezone.utc)
S = PrioritySettings()


def mention(**kw) -> Mention:
    base = dict(text="hello", channel="masto", channel_kind="mastodon", kind="mention", visibility="public",
                author_id="1", author_handle="@ann", published_at=NOW - timedelta(minutes=5))
    base.update(kw)
    return Mention(**base)


def run(m=None, ctx=None, *, kw=(), sentiment=None, now=NOW, settings=S):
    return score(m or mention(), ctx or AuthorContext(), keyword_weights=kw, sentiment=sentiment, now=now,
                 settings=settings)


def test_a_plain_mention_gets_the_base_and_no_reasons():
    assert run() == (20, ())


def test_keyword_weights():
    p, reasons = run(kw=[("refund", 20), ("cancel", 10)])
    assert reasons == (Reason("keyword 'refund' +20", 20), Reason("keyword 'cancel' +10", 10))
    assert p == 50


def test_a_label_that_already_says_keyword_is_kept():
    assert run(kw=[("keyword 'refund' (complaints)", 20)])[1] == (Reason("keyword 'refund' (complaints) +20", 20),)


def test_the_same_keyword_pair_counts_once_and_negative_weights_subtract():
    p, reasons = run(kw=[("refund", 20), ("refund", 20), ("giveaway", -15)])
    assert reasons == (Reason("keyword 'refund' +20", 20), Reason("keyword 'giveaway' -15", -15))
    assert p == 25


def test_influencer():
    p, reasons = run(mention(followers=120_000))
    assert reasons == (Reason("influencer: 120k followers +25", 25),)
    assert p == 45
    assert run(mention(followers=9_999))[1] == ()
    assert run(mention(followers=10_000))[1] == (Reason("influencer: 10k followers +25", 25),)


def test_key_customer():
    assert run(ctx=AuthorContext(key_customer=True)) == (50, (Reason("key customer +30", 30),))


def test_repeat_customer_within_the_window():
    ctx = AuthorContext(last_contact_at=NOW - timedelta(hours=3, minutes=10))
    assert run(ctx=ctx) == (30, (Reason("wrote 3h ago (repeat) +10", 10),))
    ctx = AuthorContext(last_contact_at=NOW - timedelta(minutes=25))
    assert run(ctx=ctx)[1] == (Reason("wrote 25 min ago (repeat) +10", 10),)
    assert run(ctx=AuthorContext(last_contact_at=NOW - timedelta(hours=24)))[1] == ()
    assert run(ctx=AuthorContext(last_contact_at=NOW - timedelta(hours=23, minutes=59)))[1] != ()


def test_the_message_itself_is_not_a_previous_contact():
    m = mention()
    assert run(m, AuthorContext(last_contact_at=m.published_at))[1] == ()


def test_trending():
    p, reasons = run(mention(likes=60, reposts=20))
    assert reasons == (Reason("trending: 80 likes/reposts +15", 15),)
    assert p == 35
    assert run(mention(likes=40, reposts=9, replies=500))[1] == ()  # replies are not engagement here


def test_negative_sentiment():
    assert run(sentiment=2)[1] == (Reason("negative sentiment (2/10) +15", 15),)
    assert run(sentiment=3)[1] == (Reason("negative sentiment (3/10) +15", 15),)
    assert run(sentiment=4)[1] == ()
    assert run(sentiment=None)[1] == ()  # not scored: no evidence either way


def test_private_message():
    assert run(mention(visibility="private", kind="dm")) == (30, (Reason("private message +10", 10),))


def test_overdue_against_the_sla():
    m = mention(published_at=NOW - timedelta(minutes=85))
    assert run(m) == (40, (Reason("overdue: 25 min past SLA +20", 20),))
    assert run(mention(published_at=NOW - timedelta(minutes=60)))[1] == ()  # exactly at the SLA
    late = mention(published_at=NOW - timedelta(hours=4, minutes=5))
    assert run(late)[1] == (Reason("overdue: 3h 5m past SLA +20", 20),)
    assert run(m, settings=PrioritySettings(sla_minutes=0))[1] == ()  # no SLA configured


def test_every_reason_at_once_adds_up_and_clamps_at_100():
    m = mention(followers=2_500_000, likes=500, reposts=300, visibility="private",
                published_at=NOW - timedelta(hours=2))
    ctx = AuthorContext(key_customer=True, last_contact_at=NOW - timedelta(hours=1))
    p, reasons = run(m, ctx, kw=[("refund", 20)], sentiment=1)
    assert [r.label for r in reasons] == [
        "keyword 'refund' +20",
        "key customer +30",
        "influencer: 2.5M followers +25",
        "wrote 1h ago (repeat) +10",
        "trending: 800 likes/reposts +15",
        "negative sentiment (1/10) +15",
        "private message +10",
        "overdue: 1h past SLA +20",
    ]
    assert S.base + sum(r.points for r in reasons) == 165
    assert p == 100


def test_the_score_clamps_at_zero():
    p, reasons = run(kw=[("spam", -80)])
    assert S.base + sum(r.points for r in reasons) == -60
    assert p == 0


def test_settings_change_the_points():
    custom = PrioritySettings(base=10, influencer_followers=1_000, influencer_points=40, private_points=0)
    p, reasons = run(mention(followers=1_500, visibility="private"), settings=custom)
    assert reasons == (Reason("influencer: 1.5k followers +40", 40),)
    assert p == 50


def test_naive_datetimes_are_utc():
    m = mention(published_at=datetime(2025, 6, 2, 10, 0))  # naive, 2 h before NOW
    assert run(m)[1] == (Reason("overdue: 1h past SLA +20", 20),)
    assert run(m, now=datetime(2025, 6, 2, 11, 0))[1] == ()


@pytest.mark.parametrize(("priority", "expected"), [
    (100, "P1"), (75, "P1"), (74, "P2"), (50, "P2"), (49, "P3"), (25, "P3"), (24, "P4"), (0, "P4"),
])
def test_labels_at_the_boundaries(priority, expected):
    assert label(priority) == expected


def test_humanised_numbers():
    assert [humanise_count(n) for n in (0, 950, 1_000, 1_234, 9_999, 10_000, 120_000, 999_999, 1_500_000,
                                        12_000_000, 3_000_000_000)] == [
        "0", "950", "1k", "1.2k", "9.9k", "10k", "120k", "999k", "1.5M", "12M", "3B"]
    assert [humanise_minutes(m) for m in (0, 25, 60, 185, 47 * 60 + 59, 3000)] == [
        "0 min", "25 min", "1h", "3h 5m", "47h 59m", "2d 2h"]


def test_scoring_is_fast():
    import time

    m = mention(followers=50_000, likes=10, visibility="private", published_at=NOW - timedelta(hours=3))
    ctx = AuthorContext(key_customer=True, last_contact_at=NOW - timedelta(hours=2))
    start = time.perf_counter()
    for _ in range(10_000):
        run(m, ctx, kw=[("refund", 20)], sentiment=2)
    assert (time.perf_counter() - start) / 10_000 < 50e-6
