"""Untrusted text: make it safe to store and safe to show in a terminal."""

from __future__ import annotations

import re
import unicodedata

# ANSI/VT escape sequences (CSI, OSC, single-character escapes) as they would reach a terminal.
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
# C0 controls but tab and newline, DEL and the C1 block.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Format characters that reorder or hide text: bidi embeddings, overrides, isolates and marks
# (LRM, RLM, ALM), zero-width space, word joiner and invisible operators, BOM, soft hyphen, the
# Mongolian vowel separator, deprecated format controls, interlinear annotations and the tag
# block (used to smuggle text nobody sees). ZWNJ and ZWJ stay: scripts and emoji need them.
_INVISIBLE = re.compile("[\u00ad\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f"
                        "\ufeff\ufff9-\ufffb\U000e0000-\U000e007f]")
# Line and paragraph separators: a terminal does not break on them; they are line breaks.
_SEPARATORS = re.compile("[\u2028\u2029]")
_MAX_MARKS = 2


def clean_text(text: str) -> str:
    """What the store keeps: no escape sequences, no control characters (PostgreSQL refuses NUL),
    line endings as newlines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


def terminal_safe(text: str, *, single_line: bool = False) -> str:
    """What a screen may print: clean text without invisible format characters, and with
    combining marks capped per character (so zalgo cannot grow over neighbouring lines)."""
    text = _SEPARATORS.sub("\n", _INVISIBLE.sub("", clean_text(text)))
    if single_line:
        text = " ".join(text.split())
    out: list[str] = []
    marks = 0
    for ch in text:
        if unicodedata.combining(ch):
            marks += 1
            if marks > _MAX_MARKS:
                continue
        else:
            marks = 0
        out.append(ch)
    return "".join(out)
