"""Noise filters: reposts, the brand's own posts, bots, spam patterns (built-in and configured),
duplicates from the same author; and hostile text that must never raise."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from corpus import platform_dir
from socialdesk.rules.model import AuthorContext, Mention
from socialdesk.rules.noise import SpamPatterns, noise_reason, normalise_handle, same_handle

BRAND = frozenset({"acme", "acme_help@mastodon.social"})
SPAM = SpamPatterns.compile({"promo code": r"(?i)\bpromo ?code\b", "casino": r"casino\.example"})
NONE = AuthorContext()


def mention(text: str, **fields) -> Mention:
    base = dict(channel="mastodon", channel_kind="mastodon", kind="mention", visibility="public",
                author_id="42", author_handle="jo@mas.to", published_at=datetime(2030, 1, 1, tzinfo=UTC))
    base.update(fields)
    return Mention(text=text, **base)


def reason(text: str, ctx: AuthorContext = NONE, **fields) -> str | None:
    return noise_reason(mention(text, **fields), ctx, brand_handles=BRAND, spam=SPAM)


# --- reposts and the brand ------------------------------------------------------------------------


def test_reposts():
    assert reason("Great sale!", is_repost=True) == "repost"
    assert reason("RT @acme: Our spring sale starts today") == "repost"
    assert reason("  rt @someone great thread") == "repost"
    assert reason("RT: @acme hiring") == "repost"
    assert reason("RTFM @acme, the manual is wrong") is None
    assert reason("I saw the RT @acme posted, is the sale real?") is None


@pytest.mark.parametrize("handle", ["acme", "@acme", "ACME", "@Acme@mastodon.social", "acme@any.instance",
                                    "acme_help", "@acme_help@mastodon.social", "ACME_HELP@Mastodon.Social"])
def test_the_brands_own_posts(handle):
    assert reason("Scheduled maintenance tonight", author_handle=handle) == "the brand's own post"


@pytest.mark.parametrize("handle", ["acme_help@evil.example", "acmefan", "jo@acme", "", "@"])
def test_not_the_brand(handle):
    assert reason("Where is my order?", author_handle=handle) is None


def test_handles_normalise():
    assert normalise_handle("@Jo@Mas.To") == ("jo", "mas.to")
    assert normalise_handle("jo") == ("jo", None)
    assert same_handle("jo", "jo@mas.to") and same_handle("@JO@mas.to", "jo")
    assert not same_handle("jo@a.example", "jo@b.example")


def test_bots_are_noise():
    assert reason("Daily mention digest: @acme was mentioned 42 times", bot=True) == "automated account"


# --- spam ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "name"), [
    ("🚀 FREE BITCOIN for the first 100 followers", "crypto giveaway"),
    ("Huge ＥＴＨ giveaway happening now!!", "crypto giveaway"),
    ("crypto airdrop live, connect your wallet", "crypto giveaway"),
    ("Double your bitcoin in 24h", "crypto giveaway"),
    ("DM me to earn $500 a day from home", "DM me to earn"),
    ("Earn 300 USD daily, ask me how", "DM me to earn"),
    ("follow back pls", "follow back"),
    ("f4f?", "follow back"),
    ("Win a free coffee machine!!! Follow and tag @acme 🎁🎁🎁", "giveaway bait"),
    ("Claim your prize now", "prize claim"),
    ("Use my PROMO CODE for 20% off", "promo code"),
    ("best odds at casino.example", "casino"),
])
def test_spam(text, name):
    assert reason(text) == f"spam: {name}"


@pytest.mark.parametrize("text", [
    "I paid with bitcoin and was charged double, please help",
    "Can I claim a refund for order A1234567?",
    "You've won a loyal customer, thanks!",
    "Do you follow up on tickets? I sent a message to support and nobody answered",
    "I'd love to win back my trust in you, the order is late",
    "Where do I enter a promo? The code field is missing",
    "Is the casino example in your FAQ a joke?",
    "here: https://a.example/1 https://a.example/2 https://a.example/3 https://a.example/4",
])
def test_not_spam(text):
    assert reason(text) is None


def test_many_links_and_mass_mentions():
    links = " ".join(f"https://spam.example/{i}" for i in range(5))
    assert reason(f"great deals {links}") == "spam: 5+ links"
    handles = " ".join(f"@user{i}" for i in range(10))
    assert reason(f"{handles} check this out") == "spam: 10+ mentions"
    assert reason("@a @b @c thanks for the help") is None


def test_configured_patterns_from_a_sequence_and_bad_patterns():
    spam = SpamPatterns.compile([r"buy followers"])
    assert noise_reason(mention("buy followers cheap"), NONE, brand_handles=BRAND, spam=spam) == "spam: buy followers"
    with pytest.raises(ValueError, match="'broken'"):
        SpamPatterns.compile({"broken": "(unclosed"})
    with pytest.raises(ValueError, match="empty text"):
        SpamPatterns.compile({"everything": "x*"})
    no_builtin = SpamPatterns.compile((), builtin=False)
    assert noise_reason(mention("free bitcoin"), NONE, brand_handles=BRAND, spam=no_builtin) is None


# --- duplicates ------------------------------------------------------------------------------------


def test_duplicate_text_from_the_same_author():
    ctx = AuthorContext(recent_texts=("Where is my ORDER?!", "hello"))
    assert reason("where is my order", ctx) == "duplicate of an earlier message"
    assert reason("Where is my order? It's been a week", ctx) is None
    assert reason("Ｗｈｅｒｅ　ｉｓ　ｍｙ　ｏｒｄｅｒ", ctx) == "duplicate of an earlier message"


def test_duplicate_window_and_empty_texts():
    ctx = AuthorContext(recent_texts=("a", "b", "c", "d", "e", "same text"))
    assert reason("same text", ctx) is None  # beyond the default window of 5
    m = mention("same text")
    assert noise_reason(m, ctx, brand_handles=BRAND, spam=SPAM, duplicate_window=6) == \
        "duplicate of an earlier message"
    assert reason("👍", AuthorContext(recent_texts=("🎉",))) is None  # emoji-only texts fold to nothing


def test_precedence_and_the_folded_shortcut():
    ctx = AuthorContext(recent_texts=("free bitcoin",))
    assert reason("free bitcoin", ctx, is_repost=True) == "repost"
    assert reason("free bitcoin", ctx, author_handle="acme") == "the brand's own post"
    assert reason("free bitcoin", ctx) == "spam: crypto giveaway"
    m = mention("hello again")
    assert noise_reason(m, AuthorContext(recent_texts=("Hello again!",)), brand_handles=BRAND, spam=SPAM,
                        folded="hello again") == "duplicate of an earlier message"


# --- hostile text ----------------------------------------------------------------------------------


def test_naughty_strings_never_raise():
    folder = platform_dir("minimaxir__big-list-of-naughty-strings")
    strings = json.loads((folder / "blns.json").read_text(encoding="utf-8"))
    strings += (folder / "blns.txt").read_bytes().decode("utf-8", "surrogateescape").splitlines()
    ctx = AuthorContext(recent_texts=tuple(strings[:5]))
    for s in strings:
        noise_reason(mention(s, author_handle=s), ctx, brand_handles=BRAND, spam=SPAM)
        noise_reason(mention("hi", author_handle=s[:50]), AuthorContext(recent_texts=(s,)), brand_handles=BRAND,
                     spam=SPAM)


def test_a_100_kb_post():
    post = ("free stuff https://x.example " * 4000)[:100_000]
    assert reason(post) == "spam: 5+ links"
    assert reason("a" * 100_000 + " follow back") == "spam: follow back"
    assert reason("̸" * 100_000) is None
