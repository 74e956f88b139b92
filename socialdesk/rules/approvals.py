"""Which replies wait for a supervisor's approval before they go to the outbox.

A reply needs approval when its agent is in training, when the conversation carries a risky tag,
or when the reply contains a configured word or phrase (whole words, case-, accent- and
width-insensitive through ``fold``; "#lawsuit" and "@lawsuit" count as the word "lawsuit").

Pure Python, no I/O.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .fold import fold


@dataclass(frozen=True)
class ApprovalPolicy:
    agents_in_training: frozenset[str] = frozenset()
    risky_tags: frozenset[str] = frozenset()
    words: tuple[str, ...] = ()


class WordList:
    """Words and phrases compiled once into one folded, whole-word pattern."""

    def __init__(self, words: Sequence[str]):
        self._by_folded: dict[str, str] = {}
        for word in words:
            folded = fold(word)
            if folded:
                self._by_folded.setdefault(folded, word)
        alternatives = sorted(self._by_folded, key=len, reverse=True)
        self._re = (
            re.compile(r"(?<![^ ])[#@]?(" + "|".join(map(re.escape, alternatives)) + r")(?![^ ])")
            if alternatives else None
        )

    def __bool__(self) -> bool:
        return self._re is not None

    def find(self, text: str) -> list[str]:
        """The configured words (as written in the configuration) that ``text`` contains, in the
        order they first occur."""
        if self._re is None or not text:
            return []
        found: list[str] = []
        for m in self._re.finditer(fold(text)):
            word = self._by_folded[m.group(1)]
            if word not in found:
                found.append(word)
        return found

    def first(self, text: str) -> str | None:
        if self._re is None or not text:
            return None
        m = self._re.search(fold(text))
        return self._by_folded[m.group(1)] if m else None


@functools.lru_cache(maxsize=64)
def word_list(words: tuple[str, ...]) -> WordList:
    """A compiled WordList, cached by its words (policies are frozen and few)."""
    return WordList(words)


def _folded_tags(tags: frozenset[str]) -> dict[str, str]:
    return {t.strip().lower(): t for t in tags if t.strip()}


def approval_reasons(*, agent: str, text: str, tags: Sequence[str], policy: ApprovalPolicy) -> list[str]:
    """Every reason the reply needs approval (empty: it can go out)."""
    reasons: list[str] = []
    if agent in policy.agents_in_training:
        reasons.append("agent in training")
    if policy.risky_tags:
        risky = _folded_tags(policy.risky_tags)
        for tag in tags:
            key = tag.strip().lower()
            if key in risky:
                reasons.append(f"risky tag: {risky.pop(key)}")
    if policy.words:
        reasons += [f"contains {word!r}" for word in word_list(tuple(policy.words)).find(text)]
    return reasons


def needs_approval(*, agent: str, text: str, tags: Sequence[str], policy: ApprovalPolicy) -> str | None:
    """None when the reply can go out, else the first reason it waits for approval: "agent in
    training", then "risky tag: legal", then "contains 'lawsuit'"."""
    if agent in policy.agents_in_training:
        return "agent in training"
    if policy.risky_tags:
        risky = _folded_tags(policy.risky_tags)
        for tag in tags:
            key = tag.strip().lower()
            if key in risky:
                return f"risky tag: {risky[key]}"
    if policy.words:
        word = word_list(tuple(policy.words)).first(text)
        if word is not None:
            return f"contains {word!r}"
    return None
