"""Reply length counted the platforms' ways; X's weighted length against twitter-text's own
conformance suite (shared/corpus/twitter__twitter-text, Apache-2.0)."""

from __future__ import annotations

import time

import pytest
import yaml

import corpus
from socialdesk.rules.length import MAX_WEIGHTED, count, fits, url_spans, urls, weighted_length

TWITTER = "twitter__twitter-text"

# Groups of validate.yml with an expected weightedLength, and the configuration they are for:
# WeightedTweetsCounterTest is twitter-text v2 (no emoji grouping), the others v3 (what X uses
# today and what count(..., "weighted") implements).
GROUPS = {
    "WeightedTweetsCounterTest": False,
    "WeightedTweetsWithDiscountedEmojiCounterTest": True,
    "UnicodeDirectionalMarkerCounterTest": True,
}
# Conformance cases this implementation is known to get wrong: (group, description). None today.
KNOWN_EXCEPTIONS: set[tuple[str, str]] = set()
# The v2 group under the v3 rules differs exactly where v3 counts an emoji sequence as one.
V2_CASES_CHANGED_BY_V3 = {
    "Count a mix of single byte single word, and double word unicode characters",
    "Count unicode emoji chars outside the basic multilingual plane with skin tone modifiers",
}


def _load(name: str) -> dict:
    with (corpus.platform_dir(TWITTER) / "conformance" / name).open("rb") as fh:
        return yaml.safe_load(fh)["tests"]


def _weighted_cases():
    tests = _load("validate.yml")
    for group, emoji in GROUPS.items():
        for case in tests[group]:
            yield group, emoji, case


def test_weighted_length_conformance_pass_rate():
    cases = list(_weighted_cases())
    assert len(cases) == 44
    failures = {(g, c["description"]): (weighted_length(c["text"], emoji=e), c["expected"]["weightedLength"])
                for g, e, c in cases if weighted_length(c["text"], emoji=e) != c["expected"]["weightedLength"]}
    rate = 1 - len(failures) / len(cases)
    print(f"twitter-text weighted length conformance: {len(cases) - len(failures)}/{len(cases)} ({rate:.0%})")
    assert set(failures) == KNOWN_EXCEPTIONS, failures
    assert rate >= 0.95


def test_validity_matches_conformance_where_length_decides():
    """`valid` in the suite is weightedLength <= 280 and no invalid characters (U+FFFE/FFFF)."""
    for group, emoji, case in _weighted_cases():
        if emoji and not any(c in case["text"] for c in "\ufffe\uffff\ufeff"):
            assert fits(case["text"], "weighted", MAX_WEIGHTED) == case["expected"]["valid"], case["description"]


def test_count_weighted_is_v3_and_differs_from_v2_only_on_emoji_sequences():
    differs = {c["description"] for g, e, c in _weighted_cases()
               if g == "WeightedTweetsCounterTest" and count(c["text"], "weighted") != c["expected"]["weightedLength"]}
    assert differs == V2_CASES_CHANGED_BY_V3


def test_url_extraction_against_twitter_text_extract_suite():
    tests = _load("extract.yml")
    groups = ("urls", "urls_with_indices", "urls_with_directional_markers", "tco_urls_with_params")
    cases = [c for g in groups for c in tests[g]]
    failures = []
    for c in cases:
        expected = [e["url"] if isinstance(e, dict) else e for e in c["expected"]]
        if urls(c["text"]) != expected:
            failures.append((c["text"][:80], urls(c["text"]), expected))
    print(f"twitter-text URL extraction: {len(cases) - len(failures)}/{len(cases)}")
    assert failures == []
    for c in tests["urls_with_indices"]:
        assert url_spans(c["text"]) == [tuple(e["indices"]) for e in c["expected"]]


@pytest.mark.parametrize(("text", "expected"), [
    ("", 0),
    ("hello", 5),
    ("Thanks! See https://example.com/help/refunds?order=123456789 for details", 12 + 23 + 12),
    ("a very long link https://example.com/" + "x" * 500, 17 + 23),
    ("visit example.com/help.", 6 + 23 + 1),  # no protocol, trailing dot not part of the URL
    ("mail support@example.com", 24),  # an email address is not a URL
    ("naïve café", 10),  # Latin with accents weighs 1
    ("e\u0301", 1),  # NFC: e + combining acute is one é
    ("日本語", 6),  # CJK weighs 2
    ("こんにちは world", 16),
    ("안녕", 4),
    ("😀", 2),
    ("👍🏽", 2),  # skin tone: one emoji
    ("👩‍💻", 2),  # ZWJ sequence
    ("🇫🇷🇩🇪", 4),  # two flags
    ("🏴󠁧󠁢󠁳󠁣󠁴󠁿", 2),  # tag sequence (Scotland)
    ("❤️", 2),  # text-default heart + VS16
    ("#️⃣1️⃣", 4),  # keycaps
    ("©", 1), ("©️", 2),
    ("\u200b\u200d", 2),  # zero-width space/joiner weigh 1
    ("“quotes” – dash…", 17),  # curly quotes and the dash weigh 1, the ellipsis (U+2026) 2
])
def test_weighted_examples(text, expected):
    assert count(text, "weighted") == expected


def test_other_methods():
    text = "Hi 👋 café 日本"
    assert count(text, "chars") == 12
    assert count(text, "utf16") == 13  # the emoji is a surrogate pair
    assert count(text, "bytes") == 3 + 4 + 4 + 2 + 1 + 6  # é 2 bytes, CJK 3, emoji 4
    assert count("e\u0301", "chars") == 2  # chars counts what is sent, not normalised
    with pytest.raises(ValueError, match="unknown length method"):
        count("x", "runes")


def test_fits_at_the_limit():
    assert fits("x" * 280, "weighted", 280)
    assert not fits("x" * 281, "weighted", 280)
    assert fits("字" * 140, "weighted", 280)
    assert not fits("字" * 141, "weighted", 280)
    assert fits("字" * 141, "chars", 280)
    assert fits("anything" * 1000, "chars", None)
    # 11 URLs of any length: 11 × 23 + 10 spaces = 263
    assert fits(" ".join(f"https://example.com/{'p' * 300}{i}" for i in range(11)), "weighted", 280)


HOSTILE = {
    "zalgo": "Z̵̧̛̖̗͓̈́̌͂a̶̢̺͙̓̾l̷̨̛̜̈́g̶̡̛o̴͎̓" * 2000,
    # every combining mark can be part of a host name: one 50 KB "word" ending in a dot
    "zalgo_word.": "Z̵̧̛̖̗͓̈́̌͂a̶̢̺͙̓̾l̷̨̛̜̈́g̶̡̛o̴͎̓" * 3000 + ". ok",
    "zalgo_host": "http://" + "Z̵̧̛̖̗͓̈́̌͂a̶̢̺͙̓̾l̷̨̛̜̈́g̶̡̛o̴͎̓" * 3000 + ".com",
    "rtl": "\u202eevil\u202c \u2067עברית\u2069 \u061cعربي" * 3000,
    "emoji": "👨‍👩‍👧‍👦🏳️‍🌈🇺🇳" * 5000,
    "100kb": "refund please " * 7500,
    "dots": "a." * 50000,
    "url_path": "http://x.com/" + "(." * 50000,
    "long_host": "http://" + "あ" * 100000 + ".com",
    "surrogates": "a\ud800b\udfff" * 1000,
    "controls": "".join(map(chr, range(0, 0x20))) * 3000,
    "noncharacters": "\ufffe\uffff\U0010ffff" * 10000,
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_text_never_raises_and_stays_fast(name):
    text = HOSTILE[name]
    t0 = time.perf_counter()
    for method in ("chars", "utf16", "bytes", "weighted", "graphemes"):
        assert count(text, method) >= 0
    assert time.perf_counter() - t0 < 1.0


@pytest.mark.parametrize("text, expected", [
    ("abc", 3),
    ("e\u0301", 1),  # e + combining acute
    ("👍🏽", 1),  # skin tone
    ("👨\u200d👩\u200d👧\u200d👦", 1),  # a ZWJ family
    ("🇫🇷🇩🇪", 2),  # two flags, four regional indicators
    ("🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", 1),  # Scotland: tag sequence
    ("1️⃣", 1),  # keycap
    ("\u1100\u1161\u11a8", 1),  # a Hangul syllable written as three jamo
    ("\r\n", 1),
    ("Z̵̧̛̖̗͓̈́̌͂a", 2),  # zalgo: every mark stays on its letter
    ("क्षि", 1),  # a Devanagari conjunct: ka, virama, ssa, vowel sign i (Unicode 15.1, GB9c)
    ("क्षिक्षि", 2),
    ("\u0600\u0661", 1),  # an Arabic number sign is prepended to the digit after it
    ("a\u200db", 2),  # a ZWJ joins emoji, not letters
])
def test_graphemes_count_what_a_reader_sees_as_one_character(text, expected):
    assert count(text, "graphemes") == expected
    assert fits("é" * 300, "graphemes", 300) and not fits("👍🏽" * 301, "graphemes", 300)
