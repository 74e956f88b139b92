"""Incident clusters: near-duplicates grouped as they arrive, unrelated texts apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from socialdesk.rules.clusters import ClusterIndex, signature, similarity
from socialdesk.rules.fold import fold

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
CAMPAIGN = "@brand I was charged twice for my Acme subscription this month. Refund now! #AcmeRefundNow"


def sig(text: str) -> bytes | None:
    return signature(fold(text))


def test_copies_and_rewordings_are_alike_and_other_complaints_are_not():
    assert similarity(sig(CAMPAIGN), sig(CAMPAIGN + " 😡 +1")) >= 0.8
    assert similarity(sig(CAMPAIGN), sig("@brand charged twice for the Acme subscription, refund now #AcmeRefundNow")) >= 0.5
    assert similarity(sig(CAMPAIGN), sig("@brand my parcel never arrived and tracking is stuck in Leeds")) < 0.3
    assert sig("@brand help!!") is None  # too few words to say anything


def test_order_numbers_and_handles_do_not_tell_copies_apart():
    a = sig("@anna where is my order A1234567? 12 days and no tracking")
    b = sig("@bob where is my order A7654321? 3 days and no tracking")
    assert a == b


def test_an_index_groups_as_mentions_arrive_and_forgets_after_its_window():
    index = ClusterIndex(window=timedelta(hours=1))
    placed = index.place([(1, sig(CAMPAIGN), T0), (2, sig(CAMPAIGN + " !!!"), T0 + timedelta(minutes=1)),
                          (3, sig("love the new app design, great work team"), T0 + timedelta(minutes=2))])
    assert [(p.conversation_id, p.cluster_id, p.joined) for p in placed] == [(1, 1, False), (2, 1, True),
                                                                            (3, 3, False)]
    (late,) = index.place([(4, sig(CAMPAIGN), T0 + timedelta(hours=2))])
    assert (late.cluster_id, late.joined) == (4, False)  # another incident: the first one's window closed


def test_heads_never_stored_are_forgotten():
    index = ClusterIndex()
    index.place([(1, sig(CAMPAIGN), T0)])
    index.forget({1})
    (again,) = index.place([(2, sig(CAMPAIGN), T0)])
    assert (again.cluster_id, again.joined) == (2, False)
