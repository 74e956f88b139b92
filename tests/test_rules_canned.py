"""Canned responses: safe templates, per channel and language, counted the channel's way."""

from __future__ import annotations

import time

import pytest

from socialdesk.rules.canned import (
    VARIABLES,
    CannedResponses,
    Rendered,
    Template,
    case_reference,
    find_case_reference,
)

TEMPLATES = [
    Template("thanks-en", "Hi {customer_name}, thanks for reaching out! Your case is {case_ref}. — {agent_name}",
             language="en", title="Thanks"),
    Template("thanks-fr", "Bonjour {customer_name}, merci ! Dossier {case_ref}. — {agent_name}", language="fr"),
    Template("thanks-pt-br", "Oi {customer_name}! Caso {case_ref}.", language="pt-BR"),
    Template("hours", "We're open {opening_hours} and answer {response_window}. {{{brand}}}"),
    Template("dm-x", "@{customer_handle} please send us a DM so we can look into your account.",
             channels=("x",), language="en"),
    Template("email-only", "Dear {customer_name},\n\nThank you for your email.", channels=("email",)),
]
VALUES = {"customer_name": "Ana", "customer_handle": "ana_b", "agent_name": "Sam", "case_ref": "SD-000042",
          "opening_hours": "Mon–Fri 9–17", "response_window": "within 60 minutes", "brand": "Acme"}


@pytest.fixture(scope="module")
def canned() -> CannedResponses:
    return CannedResponses.compile(TEMPLATES)


def test_render_fills_the_variables(canned):
    r = canned.render("thanks-en", VALUES)
    assert r == Rendered(text="Hi Ana, thanks for reaching out! Your case is SD-000042. — Sam",
                         length=62, max_length=None, too_long=False, missing=())


def test_double_braces_are_literal(canned):
    assert canned.render("hours", VALUES).text == "We're open Mon–Fri 9–17 and answer within 60 minutes. {Acme}"


def test_missing_variables_render_empty_and_are_listed(canned):
    r = canned.render("thanks-en", {"customer_name": "Ana", "agent_name": "   "})
    assert r.text == "Hi Ana, thanks for reaching out! Your case is . — "
    assert r.missing == ("case_ref", "agent_name")  # order of first use; blank counts as missing


def test_template_over_the_x_limit_is_flagged_before_sending():
    long = Template("apology", "We are so sorry, {customer_name}. " + "我们非常抱歉。" * 20 + " {case_ref}")
    canned = CannedResponses.compile([long])
    r = canned.render("apology", VALUES, length_method="weighted", max_length=280)
    assert r.length == 22 + 20 * 7 * 2 + 10 == 312  # CJK weighs 2
    assert r.too_long and r.max_length == 280
    # Counted as code points the same text fits: the flag follows the channel's own counting.
    assert not canned.render("apology", VALUES, length_method="chars", max_length=280).too_long


def test_a_long_customer_name_makes_the_reply_too_long(canned):
    r = canned.render("thanks-en", {**VALUES, "customer_name": "x" * 300}, length_method="weighted",
                      max_length=280)
    assert r.too_long and r.length == 62 - 3 + 300


def test_urls_count_23_on_x():
    canned = CannedResponses.compile([Template("link", "Details: https://help.example.com/" + "a" * 200)])
    assert canned.render("link", {}, length_method="weighted").length == 9 + 23


@pytest.mark.parametrize(("name", "expected"), [
    ("Ana\nBob", "Ana Bob"),
    ("Ana\r\n\r\nDELETE", "Ana DELETE"),
    ("\x1b[31mRed\x1b[0m Ana", "Red Ana"),  # ANSI colour
    ("\x1b]8;;https://evil.example\x07click\x1b]8;;\x07", "click"),  # OSC 8 hyperlink
    ("Ana\x00\x07\x08\x7f\x9b", "Ana"),
    ("[bold red]Ana[/]", "[bold red]Ana[/]"),  # markup stays text: the platform shows it as typed
    ("\u202eanA\u202c", "anA"),  # bidi override removed
    ("Ana\u2028Line", "Ana Line"),
    ("  Ana \t  B  ", "Ana B"),
    ("👩‍💻 Ana", "👩‍💻 Ana"),  # ZWJ in an emoji name survives
])
def test_hostile_customer_names_are_inserted_as_text_on_one_line(canned, name, expected):
    r = canned.render("thanks-en", {**VALUES, "customer_name": name})
    assert r.text.startswith(f"Hi {expected}, thanks")
    assert "\n" not in r.text and "\x1b" not in r.text


def test_admin_values_may_span_lines_but_lose_controls():
    canned = CannedResponses.compile([Template("h", "Hours:\n{opening_hours}")])
    r = canned.render("h", {"opening_hours": "Mon–Fri 9–17\r\nSat 10–14\x07"})
    assert r.text == "Hours:\nMon–Fri 9–17\nSat 10–14"


@pytest.mark.parametrize(("text", "error"), [
    ("Hi {name}", r"'bad': unknown variable \{name\}"),
    ("Hi {customer_name.__class__}", "unknown variable"),
    ("Hi {customer_name[0]}", "unknown variable"),
    ("Hi {0}", "unknown variable"),
    ("Hi {}", "unknown variable"),
    ("Hi {customer_name!r}", "no conversions or format specs"),
    ("Hi {customer_name:>{brand}}", "no conversions or format specs"),
    ("Hi {customer_name", "'bad': bad syntax"),
    ("Hi }", "'bad': bad syntax"),
])
def test_compile_rejects_unsafe_or_broken_templates_naming_them(text, error):
    with pytest.raises(ValueError, match=error):
        CannedResponses.compile([Template("ok", "fine {brand}"), Template("bad", text)])


def test_compile_rejects_duplicate_and_empty_names():
    with pytest.raises(ValueError, match="'a': defined twice"):
        CannedResponses.compile([Template("a", "x"), Template("a", "y")])
    with pytest.raises(ValueError, match="name is required"):
        CannedResponses.compile([Template(" ", "x")])


def test_every_documented_variable_is_accepted():
    canned = CannedResponses.compile([Template("all", " ".join("{" + v + "}" for v in VARIABLES))])
    assert canned.variables("all") == VARIABLES
    assert canned.render("all", VALUES).missing == ()


def test_choices_put_the_conversation_language_first(canned):
    names = [t.name for t in canned.choices(channel_kind="x", language="fr")]
    assert names == ["thanks-fr", "hours", "thanks-en", "thanks-pt-br", "dm-x"]
    # exact language, then the same base language, then no language, then the rest
    names = [t.name for t in canned.choices(channel_kind="mastodon", language="pt")]
    assert names == ["thanks-pt-br", "hours", "thanks-en", "thanks-fr"]
    names = [t.name for t in canned.choices(channel_kind="x", language="EN_us")]
    assert names == ["thanks-en", "dm-x", "hours", "thanks-fr", "thanks-pt-br"]


def test_choices_filter_by_channel_kind(canned):
    assert "email-only" not in {t.name for t in canned.choices(channel_kind="x", language=None)}
    assert "dm-x" not in {t.name for t in canned.choices(channel_kind="email", language=None)}
    email = canned.choices(channel_kind="email", language=None)
    assert [t.name for t in email][:2] == ["hours", "email-only"]  # no language first when unknown


def test_unknown_template_name(canned):
    with pytest.raises(KeyError, match="no canned response named 'nope'"):
        canned.render("nope", VALUES)


def test_case_reference():
    assert case_reference(123) == "SD-000123"
    assert case_reference(0) == "SD-000000"
    assert case_reference(12_345_678) == "SD-12345678"
    assert case_reference(123) == case_reference(123)
    assert find_case_reference("Re: Your order [SD-000123]") == 123
    assert find_case_reference("SD-12345678 follow-up") == 12_345_678
    assert find_case_reference("no reference, SD-12 is too short") is None
    for bad in (-1, True, "12"):
        with pytest.raises(ValueError):
            case_reference(bad)


def test_hostile_values_never_raise_and_stay_fast(canned):
    hostile = ["Z̵̧̛̖̗͓̈́̌͂a̶̢̺͙̓̾l̷̨̛̜̈́g̶̡̛o̴͎̓" * 500, "\u202e\u2066" * 5000, "👨‍👩‍👧‍👦" * 5000,
               "x" * 100_000, "a\ud800b", "".join(map(chr, range(0x20))) * 1000, "{case_ref}"]
    t0 = time.perf_counter()
    for value in hostile:
        for method in ("chars", "utf16", "bytes", "weighted"):
            r = canned.render("thanks-en", {**VALUES, "customer_name": value, "customer_handle": value},
                              length_method=method, max_length=280)
            assert isinstance(r.length, int)
    assert canned.render("thanks-en", {**VALUES, "customer_name": "{case_ref}"}).text.startswith("Hi {case_ref},")
    assert time.perf_counter() - t0 < 2.0
