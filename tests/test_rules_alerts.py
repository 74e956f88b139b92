"""Alerts: keywords, influencers, key customers, and spikes over a rolling baseline."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from socialdesk.rules.alerts import Alert, AlertPolicy, SpikeDetector, followers_label, mention_alerts
from socialdesk.rules.model import AuthorContext, Mention

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
POLICY = AlertPolicy(keywords=("outage", "data breach", "cancel my account"))


def mention(text: str = "hello", **kw) -> Mention:
    base = dict(text=text, channel="acme-x", channel_kind="x", kind="mention", visibility="public",
                author_id="42", author_handle="ana", published_at=NOW - timedelta(minutes=1))
    return Mention(**{**base, **kw})


def alerts(m: Mention, ctx: AuthorContext = AuthorContext(), policy: AlertPolicy = POLICY) -> list[Alert]:
    return mention_alerts(m, ctx, policy=policy, now=NOW)


def test_an_ordinary_mention_raises_nothing():
    assert alerts(mention("Where is my parcel?", followers=300)) == []


def test_keyword_alert():
    assert alerts(mention("Is there an OUTAGE? #outage")) == [
        Alert("keyword", "Keyword 'outage' from @ana on acme-x", NOW)]
    [a] = alerts(mention("After the data  breach I want to cancel my account"))
    assert a.message == "Keywords 'data breach', 'cancel my account' from @ana on acme-x"
    assert alerts(mention("outages happen")) == []  # whole words


def test_influencer_alert():
    [a] = alerts(mention("nice", followers=120_000, verified=True, author_handle="@bigname"))
    assert a == Alert("influencer", "Influencer @bigname (120k followers, verified) posted on acme-x", NOW)
    assert alerts(mention(followers=9_999)) == []
    assert alerts(mention(followers=10_000))[0].kind == "influencer"  # at the threshold
    assert alerts(mention(followers=10**7), policy=AlertPolicy(influencer_followers=None)) == []


def test_key_customer_alert():
    [a] = alerts(mention("hi", visibility="private", kind="dm"), AuthorContext(key_customer=True))
    assert a == Alert("key_customer", "Key customer @ana wrote on acme-x", NOW)
    assert alerts(mention(), AuthorContext(key_customer=True), AlertPolicy(key_customers=False)) == []


def test_several_alerts_at_once_and_none_for_noise():
    m = mention("outage!", followers=50_000)
    assert [a.kind for a in alerts(m, AuthorContext(key_customer=True))] == ["keyword", "influencer", "key_customer"]
    assert alerts(mention("outage!", followers=50_000, is_repost=True), AuthorContext(key_customer=True)) == []
    assert alerts(mention("outage!", followers=50_000, bot=True)) == []


def test_hostile_handles_are_cleaned_in_messages():
    [a] = alerts(mention("outage", author_handle="evil\n\x1b[31m\u202ehandle" + "x" * 100))
    assert "\n" not in a.message and "\x1b" not in a.message and "\u202e" not in a.message
    assert a.message.startswith("Keyword 'outage' from @evil[31mhandle") and "…" in a.message


@pytest.mark.parametrize(("n", "label"), [(0, "0"), (999, "999"), (1_000, "1k"), (12_345, "12.3k"),
                                          (120_000, "120k"), (2_400_000, "2.4M"), (3_000_000_000, "3B")])
def test_followers_label(n, label):
    assert followers_label(n) == label


def test_hostile_text_never_raises():
    for text in ["Z̵̧̛̖̗͓̈́̌͂a̶̢̺͙̓̾l̷̨̛̜̈́g̶̡̛o̴͎̓ outage" * 1000, "\u202eoutage\u202c" * 5000, "👨‍👩‍👧‍👦" * 10000,
                 "x" * 100_000, "a\ud800b"]:
        t0 = time.perf_counter()
        alerts(mention(text, author_handle=text[:500], followers=10**6), AuthorContext(key_customer=True))
        assert time.perf_counter() - t0 < 1.0


# --- spikes -----------------------------------------------------------------------------------

SPIKE = AlertPolicy(spike_factor=3.0, spike_min_count=20, window_minutes=5, baseline_minutes=60)


def steady(detector: SpikeDetector, start: datetime, minutes: int, per_minute: int) -> None:
    for i in range(minutes):
        detector.add(start + timedelta(minutes=i, seconds=30), per_minute)


def test_spike_fires_once_then_rearms():
    d = SpikeDetector(SPIKE)
    t0 = NOW - timedelta(minutes=65)
    steady(d, t0, 60, 4)  # the usual: 4 a minute, 20 per 5-minute window
    assert d.check(NOW - timedelta(minutes=5)) is None  # 20 in the window: normal

    spike_start = NOW - timedelta(minutes=5)
    for i in range(5):
        d.add(spike_start + timedelta(minutes=i, seconds=10), 28)  # 140 in five minutes
    alert = d.check(NOW)
    assert alert == Alert("spike", "Spike: 140 mentions in 5 min, 7× the usual 20", NOW)
    assert d.firing
    # Still spiking a minute later: no second alert.
    d.add(NOW + timedelta(seconds=20), 30)
    assert d.check(NOW + timedelta(minutes=1)) is None
    # Calm returns: the window empties, the detector re-arms...
    assert d.check(NOW + timedelta(minutes=12)) is None
    assert not d.firing
    # ...and the next spike alerts again.
    later = NOW + timedelta(minutes=20)
    d.add(later - timedelta(seconds=30), 200)
    again = d.check(later)
    assert again is not None and again.kind == "spike" and again.message.startswith("Spike: 200 mentions in 5 min")


def test_spike_needs_the_minimum_count():
    d = SpikeDetector(SPIKE)
    d.add(NOW - timedelta(minutes=1), 19)  # no baseline at all, but under spike_min_count
    assert d.check(NOW) is None
    d.add(NOW - timedelta(seconds=5))
    assert d.check(NOW).message == "Spike: 20 mentions in 5 min, usually none"


def test_no_spike_when_volume_is_high_but_usual():
    d = SpikeDetector(SPIKE)
    steady(d, NOW - timedelta(minutes=65), 65, 40)  # 200 per window, every window
    assert d.check(NOW) is None


def test_factor_is_strictly_over_the_baseline():
    d = SpikeDetector(SPIKE)
    steady(d, NOW - timedelta(minutes=65), 60, 2)  # usual 10 per window
    d.add(NOW - timedelta(minutes=1), 30)  # exactly 3×: not a spike
    assert d.check(NOW) is None
    d.add(NOW - timedelta(seconds=1))
    assert d.check(NOW).message == "Spike: 31 mentions in 5 min, 3.1× the usual 10"


def test_old_events_fall_out_and_memory_stays_bounded():
    d = SpikeDetector(SPIKE, label="acme-x")
    for s in range(0, 6 * 3600, 1):  # six hours, one mention a second
        d.add(NOW + timedelta(seconds=s))
    assert len(d._buckets) <= 2 * 65 * 60 + 1
    end = NOW + timedelta(hours=6, seconds=-1)  # the last second fed
    assert d.volumes(end) == (300, 300.0)
    d.add(NOW, 10**6)  # far older than the baseline: ignored
    assert d.check(end) is None


def test_label_and_time_zones():
    d = SpikeDetector(SPIKE, label="acme-x")
    paris = timezone(timedelta(hours=1))
    d.add(datetime(2025, 3, 14, 13, 59, tzinfo=paris), 25)  # 12:59 UTC
    d.add(datetime(2025, 3, 14, 12, 59, 30), 5)  # naive: taken as UTC
    a = d.check(datetime(2025, 3, 14, 13, 0, tzinfo=UTC))
    assert a.message == "Spike on acme-x: 30 mentions in 5 min, usually none"


def test_bad_arguments():
    with pytest.raises(ValueError):
        SpikeDetector(AlertPolicy(window_minutes=0))
    with pytest.raises(ValueError):
        SpikeDetector(SPIKE).add(NOW, -1)
    d = SpikeDetector(SPIKE)
    d.add(NOW, 0)
    assert d.volumes(NOW) == (0, 0.0)
