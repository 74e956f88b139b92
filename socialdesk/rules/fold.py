"""The one normalisation used for matching text (keywords, exclusions, duplicate detection).

`fold(text)` returns a string of *words* separated by single spaces, with no leading or trailing
space:

1. Unicode NFKC (full-width forms → ASCII, ligatures split, "™" → "TM", half-width kana and
   their voicing marks composed, …): per character, plus over the whole text when characters
   compose with their neighbours (text that is not NFC, half-width voicing marks);
2. per character: casefold ("ß" → "ss", "Σ"/"ς" → "σ"), strip accents (NFKD, drop the generic
   combining diacritics U+0300–036F, U+1AB0–1AFF, U+1DC0–1DFF, U+20D0–20FF, U+FE20–FE2F and the
   variation selectors, then NFC again), and a few Latin letters that have no decomposition
   (ø æ œ ł đ ð þ ı) spelled in ASCII;
3. word characters are kept: letters, digits (any script's numbers), the script-specific marks
   that survive step 2 (Devanagari vowel signs, kana voicing marks, …) and the three characters
   `#`, `@` and `_` (hashtags and handles stay one token: "#refund", "@acme_help");
4. invisible format characters (zero-width space/joiner, soft hyphen, bidi controls, …) are
   removed, so "re\u200bfund" is "refund";
5. everything else (punctuation, symbols, emoji, spaces, controls) separates words: runs of it
   become one space.

Offsets: the folded text is its own coordinate system. Matches (`keywords.Hit.start/end`) index
`fold(text)`, not the original text; there is deliberately no mapping back. For ASCII text each
character folds to at most one character, so a match's folded words can always be found again
in the original by the caller if it needs to highlight them. The privacy guard, which must
point at the original characters, scans the original text instead.

Never raises on any `str` (lone surrogates, zalgo, 100 KB posts): every step is total.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["IDENTITY_RANGES", "fold", "fold_char"]

# Generic combining diacritics (accents, zalgo stacks) and variation selectors: dropped.
_DROPPED_MARKS = (
    (0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF), (0xFE20, 0xFE2F),
    (0xFE00, 0xFE0F), (0xE0100, 0xE01EF),
)
# Latin letters without a canonical decomposition, spelled as their base letters.
_LATIN_EXTRA = {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i",
                "ħ": "h", "ŧ": "t", "ĸ": "k", "ŋ": "n"}
_KEPT_PUNCT = frozenset("#@_")


def _dropped_mark(cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in _DROPPED_MARKS)


def fold_char(ch: str) -> str:
    """The folded form of one character: a word fragment, "" (removed) or " " (a separator). The
    building block of `fold`, cached in its translation tables. Compatibility forms are expanded
    first ("™" → "tm", "①" → "1", "ｶ" → "カ"), so it gives the same as folding NFKC(ch)."""
    normal = unicodedata.normalize("NFKC", ch)
    if normal != ch:
        return "".join(_fold_normal(c) for c in normal)
    return _fold_normal(ch)


def _fold_normal(ch: str, depth: int = 0) -> str:
    if ch in _KEPT_PUNCT:
        return ch
    cat = unicodedata.category(ch)
    if cat == "Cf":
        return ""
    if cat[0] not in "LNM":
        return " "
    if cat[0] == "M" and _dropped_mark(ord(ch)):
        return ""
    out = []
    for c in unicodedata.normalize("NFKD", ch.casefold()):
        if unicodedata.category(c)[0] == "M" and _dropped_mark(ord(c)):
            continue
        out.append(_LATIN_EXTRA.get(c, c))
    folded = unicodedata.normalize("NFC", "".join(out))
    # Case folding can yield characters that need folding themselves: one more pass.
    if depth < 2 and any(not (c in _KEPT_PUNCT or unicodedata.category(c)[0] in "LNM") or _dropped_mark(ord(c))
                         for c in folded):
        folded = "".join(_fold_normal(c, depth + 1) for c in folded)
    return folded


class _Table(dict):
    """str.translate table for any code point: computed on first sight, then cached (bounded by
    the number of distinct code points ever seen)."""

    __slots__ = ()

    def __missing__(self, cp: int) -> str:
        try:
            value = fold_char(chr(cp))
        except Exception:  # noqa: BLE001 - e.g. a lone surrogate on an odd build: a separator
            value = " "
        self[cp] = value
        return value


_TABLE = _Table()
# ASCII fast path: one byte table (lower-case letters, keep digits and # @ _, the rest → space).
_ASCII = bytes(
    (c + 32 if 65 <= c <= 90 else c) if (chr(c).isalnum() or chr(c) in _KEPT_PUNCT) else 32 for c in range(256)
)

# Common path for non-ASCII text: str.translate over a plain dict is ~30 % faster than over the
# caching subclass above, but leaves characters it lacks unchanged. So the plain table is filled
# (once, on first use, ~30 ms) for the ranges social text mostly uses, and is used only when a
# text has nothing outside them; ideographs and Hangul syllables fold to themselves and need no
# entry (tests check both claims).
_PLAIN_RANGES = ((0x0000, 0x30FF), (0xFE00, 0xFE6F), (0xFF00, 0xFFEF), (0x1F000, 0x1FAFF))
IDENTITY_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3))
_UNCOVERED = re.compile("[^" + "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in _PLAIN_RANGES + IDENTITY_RANGES) + "]")
_plain: dict[int, int | str | None] | None = None


def _plain_table() -> dict[int, int | str | None]:
    global _plain
    if _plain is None:
        table: dict[int, int | str | None] = {}
        for lo, hi in _PLAIN_RANGES:
            for cp in range(lo, hi + 1):
                value = _TABLE[cp]
                table[cp] = None if value == "" else ord(value) if len(value) == 1 else value
        _plain = table
    return _plain


_normalize = unicodedata.normalize
_is_normalized = unicodedata.is_normalized


def fold(text: str) -> str:
    """`text` normalised for matching: lower-case ASCII-ish words separated by single spaces."""
    if text.isascii():
        text = text.encode("ascii").translate(_ASCII).decode("ascii")
    else:
        # Compatibility forms (full-width, ligatures, …) are folded per character by the table;
        # the whole-text NFKC is needed only where characters compose with their neighbour
        # (decomposed accents, half-width kana voicing marks). Skipping it for text that is
        # already NFC saves ~2 µs on Japanese text with full-width punctuation.
        if not _is_normalized("NFC", text) or "\uff9e" in text or "\uff9f" in text:
            try:
                text = _normalize("NFKC", text)
            except Exception:  # noqa: BLE001 - never fail on odd input; per-character folding still applies
                pass
        if _UNCOVERED.search(text) is None:
            text = text.translate(_plain if _plain is not None else _plain_table())
        else:
            text = text.translate(_TABLE)
    # Every separator is a space by now; squeeze runs (faster than " ".join(text.split()) for
    # the short texts this is built for, and the same result).
    while "  " in text:
        text = text.replace("  ", " ")
    return text.strip(" ")
