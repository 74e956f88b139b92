"""Sentiment on the 1–10 scale: vader for English with customer-service additions, a small
lexicon of unmistakable words for de/fr/es/pt/it/nl, None for what it cannot score."""

from __future__ import annotations

import time

import pytest

from socialdesk.rules.sentiment import Sentiment, from_compound

S = Sentiment()

PRAISE = [
    "Thank you so much, great service!",
    "Thanks, that fixed it!",
    "Love the new app, the team was super helpful 😍",
    "Amazing support as always, you guys rock",
    "Big thanks to Sam for sorting my refund so quickly 👍",
]
COMPLAINTS = [
    "Worst customer service ever. Absolutely useless.",
    "my order never arrived",
    "still waiting for my refund",
    "the app is not working",
    "app keeps crashing",
    "charged twice for the same order",
    "no reply after 3 days, this is ridiculous",
    "@acme I've been on hold for 2 hours and they hung up on me",
    "WORST SERVICE EVER!!!",
    "This is a scam, I want my money back",
]


@pytest.mark.parametrize("text", PRAISE)
def test_english_praise_scores_7_or_more(text):
    assert S.score(text, "en") >= 7


@pytest.mark.parametrize("text", COMPLAINTS)
def test_english_complaints_score_3_or_less(text):
    assert S.score(text, "en") <= 3


@pytest.mark.parametrize("text", ["Where is my parcel? Tracking number 12345",
                                  "Can you tell me your opening hours on Saturday",
                                  "I changed my address last week"])
def test_plain_questions_sit_in_the_middle(text):
    assert 4 <= S.score(text, "en") <= 6


def test_the_scale_steps():
    assert from_compound(0.0) == 5
    assert from_compound(0.049) == 5
    assert from_compound(-0.049) == 5
    assert from_compound(0.1) == 6
    assert from_compound(0.3) == 7
    assert from_compound(0.99) == 10
    assert from_compound(1.0) == 10
    assert from_compound(-0.1) == 4
    assert from_compound(-0.25) == 4
    assert from_compound(-0.26) == 3
    assert from_compound(-0.6) == 2
    assert from_compound(-0.99) == 1
    assert from_compound(float("nan")) == 5


def test_language_tags_are_normalised():
    assert S.score("Thank you so much, great service!", "en-GB") >= 7
    assert S.score("Thank you so much, great service!", "EN") >= 7


def test_unknown_language_that_looks_english_is_scored():
    assert S.score("love it!!", None) >= 7
    assert S.score("this is the worst app ever", None) <= 3


def test_unknown_language_that_does_not_look_english_is_not_scored():
    assert S.score("Danke, super!", None) is None
    assert S.score("最悪です", None) is None


def test_emoji_only_text_is_scored_by_vader():
    assert S.score("😡😡😡", None) <= 3
    assert S.score("👍", None) >= 7
    assert S.score("❤️❤️", None) >= 7


@pytest.mark.parametrize(("language", "text", "low", "high"), [
    ("de", "Danke, super Service!", 7, 8),
    ("de", "Perfekt, vielen Dank!", 7, 8),
    ("de", "Schlechtester Service überhaupt, eine Frechheit", 2, 3),
    ("de", "Nie wieder bestelle ich hier", 2, 3),
    ("de", "Das ist nicht gut", 4, 4),  # negation flips "gut"
    ("fr", "Service client lamentable, c'est une arnaque", 2, 3),
    ("fr", "Merci, parfait !", 7, 8),
    ("fr", "pas terrible", 4, 4),
    ("es", "Pésimo servicio, una estafa", 2, 3),
    ("es", "¡Gracias, excelente atención!", 7, 8),
    ("pt", "Péssimo atendimento, que vergonha", 2, 3),
    ("pt-BR", "Obrigado, adorei!", 7, 8),
    ("it", "Che schifo, servizio pessimo", 2, 3),
    ("it", "Grazie, ottimo servizio", 7, 8),
    ("nl", "Waardeloos, nooit meer", 2, 3),
    ("nl", "Bedankt, geweldig geholpen", 7, 8),
])
def test_other_languages_get_a_coarse_score_from_unmistakable_words(language, text, low, high):
    assert low <= S.score(text, language) <= high


def test_other_languages_without_a_lexicon_word_are_not_scored():
    assert S.score("Wo ist mein Paket?", "de") is None
    assert S.score("Où est mon colis ?", "fr") is None
    assert S.score("注文した商品がまだ届きません", "ja") is None
    assert S.score("Gdzie jest moja paczka?", "pl") is None


def test_lexicon_languages_can_be_turned_off():
    english_only = Sentiment(lexicon_languages=())
    assert english_only.score("Pésimo servicio, una estafa", "es") is None
    assert english_only.score("Worst customer service ever.", "en") <= 3
    with pytest.raises(ValueError, match="no sentiment lexicon for ja"):
        Sentiment(lexicon_languages=("ja",))


HOSTILE = [
    "",
    "   \n\t  ",
    "Z̸̢̧̛̛̲͖͎̜̹͇̗̩̈́̀͒̈́̄̋̈͑͘͝ą̷̧̛̭͚̝̱̪̗̈́͐̊̓̑̈́l̵̨̢̛̹̫͎̯͍̗̮̈́̒͌̀̕g̶̢̡̛̖̟̮̪̱̹̈́͒̈́̿̚͝o̷̧̬̖̮͓̠̙̲͐̓̏̀̋̎͘ ̷̢̛̬̲̝̗͈̙̓̀̐͗͠ḯ̸̧̡̛̥̠̖͈̦̌̑̓̚s̴̡̛̖̙̭͍̠̲̈́̓̊͛̕ ̶̨̧̛̟̩̮̝͉̀̓̈́̕͝ǵ̶̡̛̝̪̦͈̞̀̽͊͘ŏ̵̢̧̙̫̦͉̗̀̃̕͝ơ̷̢̡̭̝̮͖̋̓̈́̊̕d̵̢̛̪̲̙̗̙̓̈́̀̕",
    "\u202eevil reversed text\u202c \u2067isolate\u2069 \u200f\u200e",
    "👩‍👩‍👧‍👦🏳️‍🌈👨🏿‍🚀🇬🇧🇺🇸" * 50,
    "a\x00b\x1b[31mred\x1b[0m\x07",
    "\ud800 lone surrogate",
    "love " * 25_000,  # 125 KB
    "�" * 1000,
    "{}[]()<>" * 500,
]


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("language", ["en", None, "de", "ja", "xx-YY", ""])
def test_hostile_text_never_raises(text, language):
    result = S.score(text, language)
    assert result is None or 1 <= result <= 10


def test_non_strings_are_not_scored():
    assert S.score(None, "en") is None  # type: ignore[arg-type]
    assert S.score(42, "en") is None  # type: ignore[arg-type]


def test_a_130_char_text_scores_in_well_under_a_millisecond():
    text = ("@acme my order never arrived and support hasn't answered in 3 days. "
            "Really disappointed, want a refund!! what is going on here")[:130]
    S.score(text, "en")  # loaded
    n = 500
    start = time.perf_counter()
    for _ in range(n):
        S.score(text, "en")
    per_call = (time.perf_counter() - start) / n
    assert per_call < 0.002, f"{per_call * 1e6:.0f} µs per call"


def test_a_100kb_post_is_scored_on_its_beginning_quickly():
    start = time.perf_counter()
    assert S.score("terrible " * 12_000, "en") <= 3
    assert time.perf_counter() - start < 0.5
