"""Keyword tables: folding, whole words, hashtags and handles, phrases, exclusions, overlaps, and
hostile text (the big list of naughty strings, a 100 KB post) that must never raise."""

from __future__ import annotations

import json
import time
import unicodedata

import pytest

from socialdesk.rules.fold import IDENTITY_RANGES, fold, fold_char
from socialdesk.rules.keywords import DEFAULT_TABLES, DEFAULT_TAGS, Hit, KeywordMatcher, KeywordTable

from corpus import platform_dir


def naughty_strings() -> list[str]:
    folder = platform_dir("minimaxir__big-list-of-naughty-strings")
    strings = json.loads((folder / "blns.json").read_text(encoding="utf-8"))
    # The text file as raw bytes too: some lines are not valid UTF-8 (lone surrogates after decoding).
    lines = (folder / "blns.txt").read_bytes().decode("utf-8", "surrogateescape").splitlines()
    strings += [line for line in lines if line and not line.startswith("#")]
    assert len(strings) > 900
    return strings


def matcher(*tables: KeywordTable) -> KeywordMatcher:
    return KeywordMatcher.compile(tables)


def words(m: KeywordMatcher, text: str) -> list[str]:
    return [h.keyword for h in m.match(text)]


REFUNDS = KeywordTable(name="refunds", tag="complaint", keywords=("refund", "money back", "#fail", "@acme"),
                       exclusions=("refund policy page",), team="billing", weight=20)


# --- fold ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "folded"), [
    ("ＲＥＦＵＮＤ", "refund"),
    ("Rückerstattung", "ruckerstattung"),
    ("RÜCKERSTATTUNG", "ruckerstattung"),
    ("Straße", "strasse"),
    ("Où est ma commande ?", "ou est ma commande"),
    ("ﬁle", "file"),
    ("Ørsted Łódź", "orsted lodz"),
    ("money -- back!!!", "money back"),
    ("re\u200bfund", "refund"),  # zero-width space inside a word
    ("\u202eenod ton\u202c", "enod ton"),  # bidi controls
    ("#Refund @Acme_Help", "#refund @acme_help"),
    ("👨‍👩‍👧‍👦 family plan", "family plan"),
    ("ｶﾞｯｺｳ", "ガッコウ"),  # half-width kana and voicing mark composed
    ("返金できますか？", "返金できますか"),
    ("हिन्दी", "हिन्दी"),  # script-specific marks are kept as part of the word
    ("  \t\n ", ""),
])
def test_fold(text, folded):
    assert fold(text) == folded


def test_fold_strips_zalgo_to_its_letters():
    zalgo = "Ḩ̸̡̪̯ͨ͊̽̅̾̎E̷̛̬̩̾͛ͪ̈́̀́͘ ̶̧̨̱̹̭̯ͧ̾ͬC̷̙̲̝͖ͭ̏ͥͮ͟Oͮ͏̮̪̝͍M̲̖͊̒ͪͩͬ̚̚͜E̴̟̟͙̞ͩ͌͝S̨̥̫͎̭ͯ̿̔̀ͅ"
    assert fold(zalgo) == "he comes"


def test_fold_is_idempotent_and_never_leaves_double_spaces():
    samples = naughty_strings() + ["Ünïcödé — “quotes” and ½ · ² ℌ𝔢𝔩𝔭"]
    for s in samples:
        f = fold(s)
        assert fold(f) == f, repr(s)
        assert "  " not in f and f == f.strip(" "), repr(s)


def test_fold_fast_paths_agree_with_the_definition():
    """fold = NFKC, then fold_char per character, then squeezed spaces; the shortcuts (no
    whole-text NFKC for NFC text, the plain table, ideographs left as they are) change nothing."""
    def reference(text: str) -> str:
        chars = "".join(fold_char(c) for c in unicodedata.normalize("NFKC", text))
        return " ".join(word for word in chars.split(" ") if word)
    samples = naughty_strings() + ["¡™£¢∞§¶•ªº–≠", "⒯⒣⒠ ⒬⒰⒤⒞⒦", "ｶﾞｯｺｳ", "e\u0301te\u0301", "①②③ ℌ𝔢𝔩𝔭 ﬁ ß ẞ İ",
                                   "名古屋まで早く届きました。ありがとうございます！😊", "❤️ 👍🏽"]
    samples += [chr(cp) for cp in range(0x2000, 0x3100, 7)] + [chr(cp) for cp in range(0x1F300, 0x1FAFF, 5)]
    for s in samples:
        assert fold(s) == reference(s), repr(s)
    for lo, hi in IDENTITY_RANGES:
        assert all(fold_char(chr(cp)) == chr(cp) for cp in range(lo, hi + 1))


def test_fold_ascii_fast_path_agrees_with_the_unicode_path():
    text = "Where's my ORDER #A123?! (money-back, please) @brand_help"
    # The same text with one non-ASCII character appended takes the Unicode path.
    assert fold(text + " é") == fold(text) + " e"


# --- matching ------------------------------------------------------------------------------------


def test_whole_words_only():
    m = matcher(REFUNDS)
    assert words(m, "I want a refund.") == ["refund"]
    assert words(m, "I was refunded yesterday") == []
    assert words(m, "prerefund") == []
    assert words(m, "refund's not here") == ["refund"]
    assert words(m, "refund") == ["refund"]  # at both ends of the text


def test_case_accents_and_full_width_forms_fold_on_both_sides():
    m = matcher(KeywordTable(name="de", tag="complaint", keywords=("Rückerstattung", "ＣＡＮＣＥＬ")))
    assert words(m, "Wo bleibt meine RUCKERSTATTUNG?") == ["Rückerstattung"]
    assert words(m, "wo bleibt meine rückerstattung") == ["Rückerstattung"]
    assert words(m, "ＲＵＣＫＥＲＳＴＡＴＴＵＮＧ") == ["Rückerstattung"]
    assert words(m, "please cancel") == ["ＣＡＮＣＥＬ"]


def test_hashtags_and_handles():
    m = matcher(REFUNDS)
    # A plain keyword matches inside a hashtag: the tag is the word.
    assert words(m, "still nothing #refund") == ["refund"]
    # A keyword with its sigil matches only that hashtag / handle.
    assert words(m, "this is an epic #fail") == ["#fail"]
    assert words(m, "this will fail") == []
    assert words(m, "hey @acme where is it") == ["@acme"]
    assert words(m, "hey @ACME") == ["@acme"]
    assert words(m, "hey acme") == []


def test_plain_keywords_do_not_match_inside_handles_or_email_domains():
    m = matcher(KeywordTable(name="t", tag="t", keywords=("acme", "help")))
    assert words(m, "@acme hello") == []
    assert words(m, "mail help@acme.com") == ["help"]  # the local part is a word; the domain after "@" is not
    assert words(m, "#acme rocks, acme!") == ["acme", "acme"]


def test_phrases_match_across_any_punctuation_and_spacing():
    m = matcher(REFUNDS)
    for text in ("money back", "MONEY -- back", "money\n\nback", "money...back", "money,back", "money—back"):
        assert words(m, text) == ["money back"], text
    assert words(m, "moneyback") == []
    assert words(m, "money now back") == []


def test_exclusions_drop_covered_hits_of_the_same_table_only():
    other = KeywordTable(name="other", tag="finance", keywords=("refund",))
    m = matcher(REFUNDS, other)
    hits = m.match("see the Refund Policy Page")
    assert [(h.table, h.keyword) for h in hits] == [("other", "refund")]
    # A hit outside the exclusion still counts.
    hits = m.match("refund policy page says I get a refund")
    assert [(h.table, h.start) for h in hits] == [("other", 0), ("refunds", 32), ("other", 32)]


def test_exclusion_keeps_hits_not_covered():
    m = matcher(REFUNDS)
    hits = m.match("refund policy page... where is my refund")
    assert [h.keyword for h in hits] == ["refund"]
    assert fold("refund policy page... where is my refund")[hits[0].start:hits[0].end] == "refund"
    assert hits[0].start > 10


def test_overlapping_keywords_are_all_reported():
    m = matcher(KeywordTable(name="t", tag="billing",
                             keywords=("charged", "charged twice", "twice", "double charged", "double")))
    assert sorted(words(m, "I was double charged twice")) == sorted(
        ["double", "charged", "double charged", "charged twice", "twice"])


def test_duplicates_across_tables_hit_each_table_and_once_within_a_table():
    a = KeywordTable(name="a", tag="x", keywords=("refund", "REFUND", "réfund"))
    b = KeywordTable(name="b", tag="y", keywords=("refund",), team="billing", weight=5)
    m = matcher(a, b)
    hits = m.match("refund please")
    assert sorted((h.table, h.keyword, h.team, h.weight) for h in hits) == [
        ("a", "refund", None, 0), ("b", "refund", "billing", 5)]
    assert m.tags("refund please") == ("x", "y")


def test_hit_fields_and_offsets_in_folded_text():
    m = matcher(REFUNDS)
    text = "Hi @Acme!!  I want my MONEY   back"
    hits = m.match(text)
    folded = fold(text)
    assert [h.keyword for h in hits] == ["@acme", "money back"]
    for h in hits:
        assert isinstance(h, Hit)
        assert (h.table, h.tag, h.team, h.weight) == ("refunds", "complaint", "billing", 20)
        assert folded[h.start:h.end] == fold(h.keyword)
    with pytest.raises(AttributeError):
        hits[0].start = 3  # immutable
    assert hits[0] == Hit("refunds", "@acme", "complaint", "billing", 20, hits[0].start, hits[0].end)
    assert hash(hits[0]) == hash(Hit("refunds", "@acme", "complaint", "billing", 20, hits[0].start, hits[0].end))


def test_scripts_without_spaces_match_as_substrings():
    m = matcher(KeywordTable(name="ja", tag="complaint", keywords=("返金", "壊れ")))
    assert words(m, "届いたスマートウォッチが壊れていました。返金できますか？") == ["壊れ", "返金"]


def test_tags_are_distinct_in_table_order():
    t1 = KeywordTable(name="one", tag="marketing", keywords=("love",))
    t2 = KeywordTable(name="two", tag="customer-service", keywords=("refund", "broken"))
    t3 = KeywordTable(name="three", tag="marketing", keywords=("amazing",))
    m = matcher(t1, t2, t3)
    assert m.tags("broken, refund, and amazing, love it") == ("marketing", "customer-service")
    assert m.tags("nothing here") == ()


def test_empty_tables_and_empty_keywords_are_ignored():
    m = matcher(KeywordTable(name="empty", tag="x", keywords=()),
                KeywordTable(name="junk", tag="y", keywords=("", "  ", "!!!", "🎉")))
    assert m.match("anything at all 🎉 !!!") == []
    assert m.tags("") == ()
    assert KeywordMatcher.compile([]).match("refund") == []


def test_default_tables():
    assert set(DEFAULT_TAGS) >= {"customer-service", "marketing", "noise"}
    service = next(t for t in DEFAULT_TABLES if t.tag == "customer-service")
    assert len(service.keywords) >= 60
    m = KeywordMatcher.compile(DEFAULT_TABLES)
    assert m.tags("My order never arrived and I want a refund") == ("customer-service",)
    assert m.tags("Wo ist meine Bestellung? Ich möchte eine Rückerstattung") == ("customer-service",)
    assert m.tags("¿Dónde está mi pedido? Quiero un reembolso") == ("customer-service",)
    assert m.tags("Love the new app design, amazing!") == ("marketing",)
    assert "noise" in m.tags("Follow back pls!! Free crypto giveaway, click here to claim")
    assert m.tags("in order to get there") == ()  # exclusion
    assert m.tags("") == ()


# --- hostile text ----------------------------------------------------------------------------------


def test_naughty_strings_never_raise():
    m = KeywordMatcher.compile(DEFAULT_TABLES + (REFUNDS,))
    for s in naughty_strings():
        folded = fold(s)
        hits = m.match(s)
        assert all(folded[h.start:h.end] for h in hits), repr(s)
        m.tags(s)


def test_naughty_strings_as_keywords_compile_and_match_themselves():
    strings = naughty_strings()
    m = KeywordMatcher.compile([KeywordTable(name="n", tag="n", keywords=tuple(strings))])
    for s in strings[:300]:
        if fold(s):
            assert s in words(m, s) or fold(s) in {fold(k) for k in words(m, s)}, repr(s)


def test_a_100_kb_post_is_matched_quickly():
    post = ("I want a refund, this is broken!!! " * 3000)[:100_000] + "ＲＥＦＵＮＤ ̸̡̪̯" * 100
    m = KeywordMatcher.compile(DEFAULT_TABLES)
    started = time.perf_counter()
    hits = m.match(post)
    assert time.perf_counter() - started < 1.0
    assert sum(h.keyword == "refund" for h in hits) > 2000


def test_lone_surrogates_and_controls():
    m = KeywordMatcher.compile([REFUNDS])
    assert words(m, "\ud800refund\udfff") == ["refund"]  # unpaired surrogates are separators
    assert words(m, "\ud800 refund \x00\x1b[31m") == ["refund"]
    assert unicodedata.normalize("NFC", fold("\x00\x07")) == ""
