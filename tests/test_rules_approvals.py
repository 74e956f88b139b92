"""Replies that wait for a supervisor: agent in training, risky tag, configured words."""

from __future__ import annotations

import time

import pytest

from socialdesk.rules.approvals import ApprovalPolicy, approval_reasons, needs_approval

POLICY = ApprovalPolicy(
    agents_in_training=frozenset({"trainee"}),
    risky_tags=frozenset({"legal", "Press"}),
    words=("lawsuit", "refund guaranteed", "compensación", "#boycott"),
)


def check(text: str = "Thanks, we are on it.", *, agent: str = "sam", tags=()) -> str | None:
    return needs_approval(agent=agent, text=text, tags=list(tags), policy=POLICY)


def test_an_ordinary_reply_goes_out():
    assert check() is None
    assert needs_approval(agent="trainee", text="lawsuit", tags=["legal"], policy=ApprovalPolicy()) is None


def test_agent_in_training():
    assert check(agent="trainee") == "agent in training"


def test_risky_tag_named_as_configured_case_insensitive():
    assert check(tags=["billing", "legal"]) == "risky tag: legal"
    assert check(tags=["PRESS "]) == "risky tag: Press"
    assert check(tags=["legally-blonde"]) is None


@pytest.mark.parametrize(("text", "reason"), [
    ("We will not comment on the lawsuit.", "contains 'lawsuit'"),
    ("LAWSUIT?!", "contains 'lawsuit'"),
    ("re: #lawsuit", "contains 'lawsuit'"),  # a hashtag holds the word
    ("Your refund   GUARANTEED within 3 days", "contains 'refund guaranteed'"),  # phrase, any spacing
    ("Le ofrecemos una compensacion", "contains 'compensación'"),  # accent-insensitive
    ("ＬＡＷＳＵＩＴ", "contains 'lawsuit'"),  # full-width
    ("join the #boycott", "contains '#boycott'"),
    ("l\u0337a\u0336w\u0334s\u0335u\u0338i\u0336t\u0337 incoming", "contains 'lawsuit'"),  # zalgo-decorated
    ("law\u200bsuit", "contains 'lawsuit'"),  # zero-width space hidden inside
])
def test_words_whole_word_case_and_accent_insensitive(text, reason):
    assert check(text) == reason


@pytest.mark.parametrize("text", [
    "lawsuits are not our business",  # whole words only
    "a lawsuit_free zone",
    "refund is guaranteed",  # the phrase, not its words apart
    "compensate you",
    "boycott",  # configured as a hashtag: the bare word is not it
])
def test_no_partial_matches(text):
    assert check(text) is None


def test_first_reason_wins_and_all_reasons_are_available():
    assert check("lawsuit", agent="trainee", tags=["legal"]) == "agent in training"
    assert check("lawsuit", tags=["legal"]) == "risky tag: legal"
    assert approval_reasons(agent="trainee", text="A lawsuit, refund guaranteed, lawsuit", tags=["legal", "legal"],
                            policy=POLICY) == ["agent in training", "risky tag: legal", "contains 'lawsuit'",
                                               "contains 'refund guaranteed'"]


@pytest.mark.parametrize("text", [
    "Z̵̧̛̖̗͓̈́̌͂a̶̢̺͙̓̾l̷̨̛̜̈́g̶̡̛o̴͎̓ lawsuit" * 1000,
    "\u202elawsuit\u202c \u2067تعويض\u2069" * 3000,
    "👨‍👩‍👧‍👦🏳️‍🌈" * 10000,
    "x" * 100_000,
    "a\ud800b\udfff" * 1000,
    "",
])
def test_hostile_text_never_raises(text):
    t0 = time.perf_counter()
    reasons = approval_reasons(agent="sam", text=text, tags=["\x00", "ＬＥＧＡＬ"], policy=POLICY)
    assert isinstance(reasons, list)
    assert time.perf_counter() - t0 < 1.0
