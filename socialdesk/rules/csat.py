"""Customer satisfaction: the score in a customer's answer to the survey question.

A score is a whole number from 1 to 10 at the start of a short answer: "9", "8/10", "9 thanks!",
"10 - great", "7 out of 10", "Score: 8". An answer that is not a score ("still broken", "9 days
and no refund"), or a long message that merely starts with a number, gives None: the caller keeps
it as a comment. Pure: no I/O."""

from __future__ import annotations

import re

MAX_WORDS_AFTER = 8  # "9 thanks, the agent was great" is an answer; a paragraph is a new message

_SCORE = re.compile(
    r"^\s*(?:(?:score|rating|note|nota|punkte?)\s*[:=]?\s*)?"  # an optional label
    r"(?P<n>10|[1-9])(?:[.,]0)?"  # the score
    r"(?:\s*(?:/|out\s+of|of|sur|von|de)\s*10)?"  # "/10", "out of 10"
    r"(?P<rest>(?:[\s!.,;:)\-–—].*)?)$", re.I | re.S)
_NOT_A_SCORE_AFTER = re.compile(
    r"^\s*(?:%|\$|€|£|days?|hours?|weeks?|months?|years?|minutes?|times?|orders?|items?|am|pm|h\b|x\b)", re.I)
_WORD = re.compile(r"\w+")


def parse_score(text: str) -> int | None:
    """The 1–10 score the answer gives, or None when it is not a score."""
    first = _first_lines(text)
    match = _SCORE.match(first)
    if match is None:
        return None
    rest = match.group("rest") or ""
    if _NOT_A_SCORE_AFTER.match(rest) or re.match(r"^[.,]\d", rest):
        return None
    if len(_WORD.findall(rest)) > MAX_WORDS_AFTER:
        return None
    return int(match.group("n"))


def _first_lines(text: str) -> str:
    """The answer itself: up to the first quoted line or a blank line after some text (an email
    reply quotes the question under the answer)."""
    kept: list[str] = []
    for line in text.strip().splitlines():
        stripped = line.strip()
        if stripped.startswith(">") or (kept and not stripped) or stripped.endswith("wrote:"):
            break
        kept.append(stripped)
    return " ".join(kept)
