"""Language: the platform's tag first, lingua restricted to the configured languages, short or
undecidable texts unknown. Region: profile location first, language only where unambiguous.
The lingua models load once per process (module cache), so this file pays ~1 s once."""

from __future__ import annotations

import time

import pytest

from socialdesk.rules.language import LanguageGuesser, normalise_tag, region

G = LanguageGuesser()


@pytest.fixture(scope="module", autouse=True)
def _models_loaded():
    G.warm_up()


# --- platform tags ----------------------------------------------------------------------------

@pytest.mark.parametrize(("tag", "expected"), [
    ("en", "en"), ("en-GB", "en"), ("EN-us", "en"), ("pt_BR", "pt"), ("zh-Hant-TW", "zh"),
    ("ja", "ja"), ("eng", "en"), ("deu", "de"), ("ger", "de"), ("iw", "he"), ("ko", "ko"),
    ("und", None), ("zxx", None), ("mul", None), ("qme", None), ("qht", None), ("qam", None),
    ("", None), (None, None), ("x", None), ("12", None), ("english", None), ("  fr-CA ", "fr"),
])
def test_platform_tags_are_normalised_to_iso_639_1(tag, expected):
    assert normalise_tag(tag) == expected


def test_the_platform_tag_wins_over_the_text():
    german = "Meine Bestellung ist immer noch nicht angekommen, bitte helft mir"
    assert G.detect(german, None) == "de"
    assert G.detect(german, "en-GB") == "en"
    # even a language outside the configured ones: the platform knows better than a guess
    assert G.detect("Moje zamówienie nie dotarło, proszę o pomoc", "pl") == "pl"


def test_a_pseudo_tag_falls_back_to_detection():
    assert G.detect("Meine Bestellung ist immer noch nicht angekommen", "und") == "de"
    assert G.detect("Meine Bestellung ist immer noch nicht angekommen", "qme") == "de"


# --- detection --------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("my package still hasn't arrived, can someone help", "en"),
    ("how do I cancel my subscription please", "en"),
    ("mein Paket ist immer noch nicht da, was ist los", "de"),
    ("mon colis n'est toujours pas arrivé, c'est nul", "fr"),
    ("mi paquete todavía no ha llegado, ayuda por favor", "es"),
    ("meu pacote ainda não chegou, alguém me ajuda", "pt"),
    ("il mio pacco non è ancora arrivato, aiutatemi", "it"),
    ("mijn pakket is nog steeds niet binnen, help", "nl"),
    ("注文した商品がまだ届きません", "ja"),  # 13 wide characters count 26
])
def test_detection_among_the_configured_languages(text, expected):
    assert G.detect(text, None) == expected


@pytest.mark.parametrize("text", [
    "ok thanks",
    "lol",
    "@acme @support #fail #refund https://example.com/a/very/long/link?x=1 ok",
    "👍👍👍👍👍👍👍👍👍👍👍👍👍👍👍👍👍👍👍👍👍👍",
    "12345 678910 111213 141516 171819",
    "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
    "届きません",
])
def test_short_texts_are_unknown(text):
    assert G.detect(text, None) is None


def test_min_chars_counts_what_is_left_after_stripping_handles_tags_and_links():
    text = "@acme_support_team help me"  # 26 chars, 8 after stripping the handle
    assert G.detect(text, None) is None
    assert LanguageGuesser(min_chars=5).detect("my order is late", None) == "en"


def test_undecidable_texts_are_unknown_rather_than_wrong():
    assert G.detect("Taxi taxi hotel restaurant", None) is None


def test_detection_is_restricted_to_the_configured_languages():
    only = LanguageGuesser(("en", "de"))
    assert only.languages == ("de", "en")
    assert only.detect("mon colis n'est toujours pas arrivé, c'est nul", None) in ("en", "de", None)
    assert only.detect("mein Paket ist immer noch nicht da, was ist los", None) == "de"


def test_unknown_configured_languages_are_refused():
    with pytest.raises(ValueError, match="ISO 639-1"):
        LanguageGuesser(("english",))
    with pytest.raises(ValueError, match="not one the detector knows"):
        LanguageGuesser(("en", "xx"))
    with pytest.raises(ValueError):
        LanguageGuesser(())


def test_low_accuracy_mode_also_works():
    fast = LanguageGuesser(low_accuracy=True)
    assert fast.detect("mein Paket ist immer noch nicht da, was ist los", None) == "de"


HOSTILE = [
    "",
    "Z̸̢̧̛̛̲͖͎̜̹͇̗̩̈́̀͒̈́̄̋̈͑͘͝ą̷̧̛̭͚̝̱̪̗̈́͐̊̓̑̈́l̵̨̢̛̹̫͎̯͍̗̮̈́̒͌̀̕g̶̢̡̛̖̟̮̪̱̹̈́͒̈́̿̚͝o̷̧̬̖̮͓̠̙̲͐̓̏̀̋̎͘ text that is very long indeed and in english",
    "\u202eevah I ,olleh\u202c \u2067isolate\u2069 \u200f\u200e and more words here",
    "👩‍👩‍👧‍👦🏳️‍🌈👨🏿‍🚀🇬🇧🇺🇸" * 50,
    "a\x00b\x1b[31mred\x1b[0m\x07 and some words after the escapes",
    "\ud800 lone surrogate in a sentence long enough to detect",
    "my order never arrived " * 5_000,  # 115 KB
    "\n" * 10_000,
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_never_raises(text):
    result = G.detect(text, None)
    assert result is None or result in G.languages


def test_zalgo_does_not_hide_the_language():
    zalgo = "".join(ch + "\u0336\u0321\u0322" for ch in "hello my order never arrived and I am so angry")
    assert G.detect(zalgo, None) == "en"


def test_non_strings_do_not_raise():
    assert G.detect(None, None) is None  # type: ignore[arg-type]
    assert G.detect(123, "de") == "de"  # type: ignore[arg-type]


def test_a_130_char_text_is_detected_in_under_a_few_milliseconds():
    text = ("@acme my order never arrived and support hasn't answered in 3 days. Really "
            "disappointed, want a refund!! what is going on here today")[:130]
    n = 100
    start = time.perf_counter()
    for _ in range(n):
        G.detect(text, None)
    per_call = (time.perf_counter() - start) / n
    assert per_call < 0.005, f"{per_call * 1e6:.0f} µs per call"


def test_a_100kb_post_is_detected_on_its_beginning_quickly():
    start = time.perf_counter()
    assert G.detect("mein Paket ist immer noch nicht da, was ist los " * 2_500, None) == "de"
    assert time.perf_counter() - start < 0.1


# --- region -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("location", "expected"), [
    ("London, UK", "GB"),
    ("london", "GB"),
    ("Glasgow, Scotland", "GB"),
    ("Northern Ireland", "GB"),
    ("Dublin, Ireland", "IE"),
    ("Paris", "FR"),
    ("Paris, Texas", "US"),  # the last place named wins
    ("London, Ontario", "CA"),
    ("Perth, Scotland", "GB"),
    ("Perth", "AU"),
    ("São Paulo, Brasil", "BR"),
    ("SAO PAULO", "BR"),
    ("Porto Alegre", "BR"),
    ("Porto", "PT"),
    ("Zürich", "CH"),
    ("MÜNCHEN", "DE"),
    ("Köln / Deutschland", "DE"),
    ("Wien", "AT"),
    ("España", "ES"),
    ("Tokyo, Japan", "JP"),
    ("東京都渋谷区", "JP"),
    ("New York, NY", "US"),
    ("NYC", "US"),
    ("U.S.A.", "US"),
    ("New Mexico", "US"),
    ("Atlanta, Georgia", "US"),
    ("Texas", "US"),
    ("Austin, TX", "US"),
    ("Fresno, CA", "US"),  # CA after a place that is not Canadian: California
    ("Toronto, CA", "CA"),
    ("Berlin, DE", "DE"),
    ("Cambridge, MA", "US"),
    ("Mumbai, IN", "IN"),
    ("Indianapolis, IN", "US"),
    ("Manchester | UK", "GB"),
    ("🇩🇪", "DE"),
    ("somewhere nice 🇫🇷", "FR"),
    ("\U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F", "GB"),  # Scotland flag
])
def test_region_from_the_profile_location(location, expected):
    assert region(location, None) == expected
    assert G.region(location, None) == expected


@pytest.mark.parametrize("location", [
    "somewhere over the rainbow", "Georgia", "South America", "Earth", "Doing OK", "hi there",
    "she/her", "I LIVE IN LA", "CA", "", "   ", "🌍", "the internet",
])
def test_unknown_or_ambiguous_locations_give_no_region(location):
    assert region(location, None) is None


def test_region_from_language_only_where_unambiguous():
    assert region(None, "ja") == "JP"
    assert region("", "ja-JP") == "JP"
    assert region(None, "ko") == "KR"
    for language in ("en", "de", "fr", "es", "pt", "it", "nl", None, "xx"):
        assert region(None, language) is None
    assert region("Berlin", "ja") == "DE"  # the location wins


def test_the_language_to_region_table_is_configurable():
    g = LanguageGuesser(language_regions={"de": "DE"})
    assert g.region(None, "de") == "DE"
    assert g.region(None, "ja") is None


@pytest.mark.parametrize("location", [h for h in HOSTILE] + ["," * 10_000, "CA, " * 5_000])
def test_region_never_raises_on_hostile_locations(location):
    start = time.perf_counter()
    result = region(location, "en")
    assert result is None or (len(result) == 2 and result.isupper())
    assert time.perf_counter() - start < 0.2
