"""Sentiment on a 1–10 scale: 1 very negative, 5 neutral, 10 very positive; None = not scored.

English — and text of unknown language that looks English, or has no words at all, only emoji —
is scored by vaderSentiment (its lexicon ships in its package and is loaded once per process),
with a few customer-service additions: words vader does not know ("overcharged", "crashing"),
complaint phrases it cannot see ("never arrived", "still waiting", "not working", "no reply",
"charged twice") and the emoji people use to complain or thank. vader's compound score c (-1..1)
maps to the scale in steps: |c| < 0.05 → 5; positive → 6..10 in steps of 0.2; negative → 4..1 in
steps of 0.25 (so c ≤ -0.25, an unmistakable complaint, is ≤ 3).

German, French, Spanish, Portuguese, Italian and Dutch get a small built-in lexicon of
unmistakable words only ("Betrug", "arnaque", "estafa", "péssimo", "vergogna", "waardeloos";
"danke", "génial", "perfecto"...), with negation ("nicht gut", "pas terrible" flip) and phrases
("nie wieder", "plus jamais"). It scores only a text that contains such a word, and only in the
middle of the scale (2..8): a coarse answer where the evidence is plain. A text with none of
them — and every other language (Japanese included) — is None: not scored, rather than a
confident wrong number. Priority treats None as "no sentiment evidence".

Pure: no I/O beyond vaderSentiment reading its lexicon from its own package; never raises.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata

__all__ = ["Sentiment", "from_compound"]

# A 100 KB post is scored on its beginning: the tone is set early, and vader's time grows with
# the length.
MAX_CHARS = 2_000

# ---------------------------------------------------------------------------------------------
# English: vader plus customer-service vocabulary

_DOMAIN_LEXICON = {
    # words vader does not know, valence on vader's -4..4 scale
    "crashing": -1.7, "crashed": -1.7, "crashes": -1.7, "scammed": -2.7, "overcharged": -2.0,
    "ripoff": -2.5, "rip-off": -2.5, "canceled": -1.0, "outage": -1.8, "refund": -0.8,
    "unreachable": -1.2, "unusable": -2.0, "glitchy": -1.5, "laggy": -1.2,
    # tokens the phrase rewriting below produces
    "xneverarrivedx": -2.0, "xstillwaitingx": -1.6, "xnotworkingx": -1.8, "xnoreplyx": -1.6,
    "xonholdx": -1.2, "xchargedtwicex": -2.2, "xwasteofx": -2.0, "xhangupx": -1.8,
    # emoji (vader would turn them into their names, which carry no valence)
    "xangryx": -2.5, "xsadx": -1.5, "xthumbsdownx": -2.0, "xthumbsupx": 1.8, "xheartx": 2.5,
    "xsmilex": 1.5, "xpartyx": 2.0, "xvomitx": -2.5,
}

_PHRASES = [
    (re.compile(r"\b(?:never|still (?:not|hasn'?t|haven'?t)|hasn'?t|has not|have not|haven'?t|did ?n[o']t|didnt)"
                r" (?:arrived?|come|came|shown up|showed up|been delivered|turned up|received it|got it)\b"),
     " xneverarrivedx "),
    (re.compile(r"\bstill (?:waiting|no (?:reply|response|answer|word|news|refund|update))\b"), " xstillwaitingx "),
    (re.compile(r"\b(?:(?:is|are|still|keeps?|it'?s|isn'?t|aren'?t) )?not working\b"
                r"|\b(?:does ?n[o']t|doesnt|do ?n[o']t|dont|wo ?n'?t|can'?t|cannot) (?:work|load|connect|log ?in|sign ?in)\b"
                r"|\bstopped working\b"), " xnotworkingx "),
    (re.compile(r"\b(?:no (?:reply|response|answer|one (?:answers|replies|responds|cares))"
                r"|nobody (?:answers|replies|responds|cares|helps)|never (?:replied|responded|answered|got back))\b"),
     " xnoreplyx "),
    (re.compile(r"\bon hold (?:for|since)\b"), " xonholdx "),
    (re.compile(r"\b(?:charged (?:me )?twice|double[- ]charged|charged double|billed twice)\b"), " xchargedtwicex "),
    (re.compile(r"\bwaste of (?:time|money)\b"), " xwasteofx "),
    (re.compile(r"\bhung up on me\b|\bhangs up on me\b"), " xhangupx "),
]
_PHRASES = [(re.compile(p.pattern, re.IGNORECASE), token) for p, token in _PHRASES]

_EMOJI = {
    "😡": "xangryx", "🤬": "xangryx", "😠": "xangryx", "👿": "xangryx", "💢": "xangryx",
    "😢": "xsadx", "😞": "xsadx", "😔": "xsadx", "☹": "xsadx", "🙁": "xsadx", "😩": "xsadx",
    "😫": "xsadx", "😤": "xangryx", "🤮": "xvomitx", "🤢": "xvomitx", "💩": "xvomitx",
    "👎": "xthumbsdownx", "👍": "xthumbsupx", "❤": "xheartx", "💖": "xheartx", "💕": "xheartx",
    "😍": "xheartx", "🥰": "xheartx", "💙": "xheartx", "💚": "xheartx", "💜": "xheartx",
    "😊": "xsmilex", "🙂": "xsmilex", "😀": "xsmilex", "😃": "xsmilex", "😄": "xsmilex",
    "😁": "xsmilex", "🎉": "xpartyx", "🥳": "xpartyx", "👏": "xthumbsupx", "🙌": "xthumbsupx",
}
_EMOJI_RE = re.compile("|".join(re.escape(e) for e in sorted(_EMOJI, key=len, reverse=True)))

_ANALYZER = None
_ANALYZER_LOCK = threading.Lock()


def _analyzer():
    global _ANALYZER
    if _ANALYZER is None:
        with _ANALYZER_LOCK:
            if _ANALYZER is None:
                from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

                analyzer = SentimentIntensityAnalyzer()
                analyzer.lexicon.update(_DOMAIN_LEXICON)
                _ANALYZER = analyzer
    return _ANALYZER


def from_compound(compound: float) -> int:
    """vader's compound score (-1..1) on the 1..10 scale (5 neutral)."""
    if not math.isfinite(compound) or abs(compound) < 0.05:
        return 5
    if compound > 0:
        return min(10, 5 + math.ceil(compound / 0.2 - 1e-9))
    return max(1, 5 - math.ceil(-compound / 0.25 - 1e-9))


# English function words and customer-service words that are not also common words in the other
# configured languages (no "die", "was", "is", "so", "no", "me", "on", "in", "an", "de").
_ENGLISH = frozenset(
    """the and you your my our we they this that with have has had not but what why how when
    where which who will would should could can't cannot don't doesn't didn't won't isn't aren't
    wasn't i i'm i've it's its it to for of from just still again been being were are am
    there their them please thanks thank love hate great awesome terrible worst best good bad
    order account app help anyone someone nobody never ever really very about after before
    because today yesterday tomorrow","""
    .replace(",", " ").split()
)
_WORD = re.compile(r"[a-z']+")


def _looks_english(folded: str) -> bool | None:
    """True/False for text with Latin words; None when there are no letters at all (emoji)."""
    if not any(ch.isalpha() for ch in folded):
        return None
    words = _WORD.findall(folded)
    if not words:
        return False  # letters, but none Latin: Japanese, Cyrillic, ...
    hits = sum(1 for w in words if w in _ENGLISH)
    return hits >= 1 and hits * 4 >= len(words)


# ---------------------------------------------------------------------------------------------
# Other languages: unmistakable words only

# valence per folded word (accents removed, lower case); a trailing * is a prefix (stem)
_LEXICONS_RAW = {
    "de": """
        betrug -2, betruger -2, betrugerisch -2, abzocke -2, abgezockt -2, katastrophe -2,
        katastrophal -2, unverschamt -2, frechheit -2, skandal -2, skandalos -2, schrecklich -2,
        furchtbar -2, schlechteste* -2, schlechtester -2, inakzeptabel -2, unzumutbar -2,
        scheisse -2, verarscht -2, wutend -2, enttausch* -1.5, schlecht -1, schlechter -1, mies -1,
        argerlich -1, sauer -1, nervig -1, kaputt -1, defekt -1, lacherlich -1, mangelhaft -1,
        atzend -1, armselig -1, unfahig -1,
        danke 1, dank 1, dankeschon 1, super 1, toll 1, klasse 1, prima 1, gut 1, zufrieden 1,
        hilfreich 1, freundlich 1, perfekt 2, hervorragend 2, ausgezeichnet 2, wunderbar 2,
        grossartig 2, begeistert 2, spitze 2, genial 2""",
    "fr": """
        arnaque -2, arnaque* -2, escroc* -2, escroquerie -2, scandale -2, scandaleux -2,
        honteux -2, honte -2, inadmissible -2, inacceptable -2, catastrophe -2, catastrophique -2,
        horrible -2, pire -2, lamentable -2, minable -2, furieux -2, merde -2, nul -1, nulle -1,
        mauvais -1, mauvaise -1, decu -1.5, decue -1.5, decevant -1.5, deception -1.5, enerve -1,
        enervant -1, colere -1, pourri -1, panne -1, inutile -1, ridicule -1, incompetent* -1.5,
        merci 1, super 1, top 1, satisfait 1, satisfaite 1, content 1, contente 1, efficace 1,
        sympa 1, genial 2, geniale 2, parfait 2, parfaite 2, excellent 2, excellente 2, bravo 2,
        ravi 2, ravie 2, formidable 2, impeccable 2""",
    "es": """
        estafa -2, estafador* -2, fraude -2, verguenza -2, vergonzoso -2, pesimo -2, pesima -2,
        horrible -2, terrible -2, peor -2, indignante -2, inaceptable -2, lamentable -2, asco -2,
        cabreado -2, cabreada -2, desastre -2, basura -2, mierda -2, decepcion* -1.5,
        decepcionado -1.5, decepcionada -1.5, malo -1, mala -1, fatal -1, harto -1, harta -1,
        enfadado -1, enfadada -1, roto -1, inutil -1, ridiculo -1,
        gracias 1, contento 1, contenta 1, satisfecho 1, satisfecha 1, amable 1, feliz 1,
        genial 2, excelente 2, perfecto 2, perfecta 2, encanta 2, encanto 2, buenisimo 2,
        maravilloso 2, maravillosa 2""",
    "pt": """
        golpe -2, fraude -2, vergonha -2, vergonhoso -2, pessimo -2, pessima -2, horrivel -2,
        terrivel -2, pior -2, absurdo -2, lamentavel -2, palhacada -2, descaso -2, lixo -2,
        merda -2, porcaria -2, inaceitavel -2, desrespeito -2, decepcion* -1.5, decepcao -1.5,
        ruim -1, raiva -1, quebrado -1, quebrada -1, ridiculo -1, chateado -1, chateada -1,
        obrigado 1, obrigada 1, satisfeito 1, satisfeita 1, feliz 1, top 1, legal 1,
        otimo 2, otima 2, excelente 2, perfeito 2, perfeita 2, maravilhoso 2, adorei 2, amei 2,
        parabens 2""",
    "it": """
        truffa -2, truffatori -2, truffato -2, vergogna -2, vergognoso -2, vergognosa -2,
        pessimo -2, pessima -2, pessimi -2, schifo -2, schifoso -2, orribile -2, terribile -2,
        peggiore -2, inaccettabile -2, scandaloso -2, incazzato -2, disastro -2, delus* -1.5,
        deludente -1.5, ridicolo -1, inutile -1, rotto -1, arrabbiato -1, arrabbiata -1,
        grazie 1, gentile 1, gentilissimi 1, soddisfatto 1, soddisfatta 1, contento 1, felice 1,
        top 1, super 1, ottimo 2, ottima 2, perfetto 2, eccellente 2, fantastico 2, bravi 2,
        bravissimi 2""",
    "nl": """
        oplichter* -2, oplichting -2, schandalig -2, schande -2, slechtste -2, waardeloos -2,
        vreselijk -2, verschrikkelijk -2, onacceptabel -2, onbeschoft -2, klote -2, bagger -2,
        teleurgesteld -1.5, teleurstell* -1.5, belachelijk -1, slecht -1, boos -1, kapot -1,
        triest -1,
        bedankt 1, dank 1, top 1, super 1, tevreden 1, blij 1, vriendelijk 1, prima 1, goed 1,
        geweldig 2, uitstekend 2, perfect 2, fantastisch 2""",
}
_NEGATORS = {
    "de": {"nicht", "kein", "keine", "keinen", "keiner", "nie", "niemals"},
    "fr": {"pas", "jamais", "ni", "aucun", "aucune"},
    "es": {"no", "nunca", "jamas", "ni"},
    "pt": {"nao", "nunca", "jamais", "nem"},
    "it": {"non", "mai", "ne"},
    "nl": {"niet", "geen", "nooit"},
}
# phrases with a valence of their own ("nie wieder" is not a negated "wieder")
_LEXICON_PHRASES = {
    "de": {"nie wieder": -2.0, "nie mehr": -2.0, "danke fur nichts": -2.0},
    "fr": {"plus jamais": -2.0, "pas terrible": -1.0, "merci pour rien": -2.0},
    "es": {"nunca mas": -2.0, "gracias por nada": -2.0},
    "pt": {"nunca mais": -2.0, "obrigado por nada": -2.0},
    "it": {"mai piu": -2.0, "grazie per niente": -2.0},
    "nl": {"nooit meer": -2.0, "bedankt voor niks": -2.0},
}


def _parse_lexicon(raw: str) -> tuple[dict[str, float], tuple[tuple[str, float], ...]]:
    words: dict[str, float] = {}
    stems: list[tuple[str, float]] = []
    for item in raw.replace("\n", " ").split(","):
        if not item.strip():
            continue
        word, value = item.split()
        if word.endswith("*"):
            stems.append((word[:-1], float(value)))
        else:
            words[word] = float(value)
    return words, tuple(stems)


_LEXICONS = {lang: _parse_lexicon(raw) for lang, raw in _LEXICONS_RAW.items()}
LEXICON_LANGUAGES: tuple[str, ...] = tuple(sorted(_LEXICONS))


_ASCII_CONTROLS = {c: " " for c in [*range(0x20), 0x7F]}


def _fold(text: str) -> str:
    """NFKD, no combining marks (accents, zalgo), no format or control characters (RTL
    overrides, zero-width joiners). Case is kept: vader reads SHOUTING as emphasis."""
    if text.isascii():  # most posts: nothing to decompose, only controls to blank (the same result)
        return text.translate(_ASCII_CONTROLS)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(
        ch if unicodedata.category(ch) not in ("Cf", "Cc", "Cs", "Co") else " "
        for ch in decomposed
        if not unicodedata.combining(ch)
    )


_LEX_TOKEN = re.compile(r"[^\W\d_]+", re.UNICODE)


def _lexicon_score(folded: str, language: str) -> int | None:
    words, stems = _LEXICONS[language]
    negators = _NEGATORS[language]
    text = " ".join(_LEX_TOKEN.findall(folded))
    total = 0.0
    hits = 0
    for phrase, value in _LEXICON_PHRASES[language].items():
        count = len(re.findall(rf"\b{re.escape(phrase)}\b", text))
        if count:
            total += value * count
            hits += count
            text = re.sub(rf"\b{re.escape(phrase)}\b", " ", text)
    tokens = text.split()
    for i, token in enumerate(tokens):
        value = words.get(token)
        if value is None:
            for stem, stem_value in stems:
                if token.startswith(stem):
                    value = stem_value
                    break
        if value is None:
            continue
        hits += 1
        if any(t in negators for t in tokens[max(0, i - 3) : i]):
            value = -value * (0.5 if value < 0 else 1.0)  # "nicht schlecht" is only mildly good
        total += value
    if not hits:
        return None
    if total <= -3:
        return 2
    if total <= -2:
        return 3
    if total < 0:
        return 4
    if total == 0:
        return 5
    if total < 2:
        return 6
    if total < 3:
        return 7
    return 8


# ---------------------------------------------------------------------------------------------


class Sentiment:
    """score(text, language) → 1..10 or None (not scored). One instance can be shared; the vader
    analyzer is loaded once per process on first use (about 40 ms)."""

    def __init__(self, *, lexicon_languages: tuple[str, ...] | None = None, max_chars: int = MAX_CHARS) -> None:
        chosen = LEXICON_LANGUAGES if lexicon_languages is None else tuple(lexicon_languages)
        unknown = [lang for lang in chosen if lang not in _LEXICONS]
        if unknown:
            raise ValueError(f"no sentiment lexicon for {', '.join(unknown)} (have: {', '.join(LEXICON_LANGUAGES)})")
        self.lexicon_languages = chosen
        self.max_chars = max_chars

    def warm_up(self) -> None:
        _analyzer()

    def score(self, text: str, language: str | None = None) -> int | None:
        try:
            return self._score(text, language)
        except Exception:  # never crash a rule on hostile text: not scored instead
            return None

    def compound(self, text: str) -> float:
        """vader's compound score with the customer-service additions (English)."""
        return _analyzer().polarity_scores(self._prepare_english(_fold(text[: self.max_chars])))["compound"]

    # -----------------------------------------------------------------------------------------

    def _score(self, text: str, language: str | None) -> int | None:
        if not text or not isinstance(text, str):
            return None
        lang = (language or "").strip().lower().replace("_", "-").split("-")[0] or None
        folded = _fold(text[: self.max_chars])
        if lang == "en" or (lang is None and _looks_english(folded.casefold()) is not False):
            if not folded.strip():
                return None
            return from_compound(_analyzer().polarity_scores(self._prepare_english(folded))["compound"])
        if lang in self.lexicon_languages:
            return _lexicon_score(folded.casefold(), lang)
        return None

    @staticmethod
    def _prepare_english(folded: str) -> str:
        text = _EMOJI_RE.sub(lambda m: f" {_EMOJI[m.group()]} ", folded)
        text = text.replace("\u2019", "'")
        for pattern, token in _PHRASES:
            text = pattern.sub(token, text)
        return text
