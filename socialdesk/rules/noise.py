"""Noise: messages kept (and searchable) but out of the default queue, with a short reason.

In order of precedence:

* "repost": a boost/retweet (`Mention.is_repost`) or a manual retweet, text starting "RT @";
* "the brand's own post": the author is one of the brand's handles (see `same_handle`);
* "automated account": the platform flags the author as a bot;
* "spam: <name>": a configured spam pattern or a built-in one (below);
* "duplicate of an earlier message": the folded text equals the folded text of one of the
  author's recent messages (`AuthorContext.recent_texts`, newest first as the store gives them;
  the first `duplicate_window` are compared). Texts that fold to nothing (emoji only) are never
  duplicates.

Built-in spam patterns are matched on the folded text (so full-width letters, accents and
zero-width characters do not hide them), except the link and mention counts, which need the
original. Configured patterns are regular expressions searched in the original text as written
(add `(?i)` for case-insensitive) by RE2, in linear time (see `patterns`); a pattern that cannot
be used there, or that matches the empty text, raises ValueError naming it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .fold import fold
from .model import AuthorContext, Mention
from .patterns import compile_pattern, pattern_problem

__all__ = ["BUILTIN_SPAM", "SpamPatterns", "noise_reason", "normalise_handle", "same_handle"]

# name -> regex over fold(text) (lower-case words separated by single spaces, see fold.py).
BUILTIN_SPAM: dict[str, str] = {
    "crypto giveaway": r"\b(?:crypto|bitcoin|btc|eth|ethereum|usdt|solana|nft)s? (?:\w+ ){0,3}?(?:giveaway|airdrop)s?\b"
                       r"|\bfree (?:crypto|bitcoin|btc|eth|ethereum|usdt|nfts?)\b"
                       r"|\b(?:double|doubling|triple) your (?:crypto|bitcoin|btc|eth|ethereum|usdt|money)\b",
    "DM me to earn": r"\b(?:dm|inbox|message|text|whatsapp|telegram) (?:me )?(?:\w+ ){0,3}?"
                     r"(?:to|and|for) (?:\w+ ){0,2}?(?:earn|profit|invest|make money)\b"
                     r"|\bearn (?:\w+ ){0,2}?\d+ (?:\w+ ){0,3}?(?:daily|a day|per day|a week|per week|weekly|an hour|per hour)\b",
    "follow back": r"\b(?:follow (?:me )?back|follow for follow|follow4follow|f4f|sub4sub|l4l)\b",
    "giveaway bait": r"\bwin (?:a |an )?free\b.{0,60}?\bfollow (?:and )?(?:tag|rt|retweet|share|like)\b",
    "prize claim": r"\bclaim your (?:free )?(?:prize|reward|gift|bonus)\b",
    "adult": r"\b(?:onlyfans|hot singles|nudes)\b",
}
_URL = re.compile(r"(?:https?://|www\.)\S", re.I)
_HANDLE = re.compile(r"(?<![\w@/])@\w")
_RT = re.compile(r"\s*RT\s?:?\s*@", re.I)
# All built-in patterns in one alternation (one pass over the text); the group says which.
_BUILTIN_NAMES = {f"p{i}": name for i, name in enumerate(BUILTIN_SPAM)}
_BUILTIN = re.compile("|".join(f"(?P<p{i}>{p})" for i, p in enumerate(BUILTIN_SPAM.values())))
# Each built-in pattern needs one of these words: texts with none of them (nearly all) skip the
# alternation, which costs ~9 µs a text when it runs.
_TRIGGERS = frozenset(
    "crypto bitcoin btc eth ethereum usdt solana nft cryptos bitcoins nfts double doubling triple "
    "earn profit invest money follow follow4follow f4f sub4sub l4l win claim onlyfans nudes singles".split())
LINKS_SPAM = 5  # this many links in one message is spam
MENTIONS_SPAM = 10  # this many @handles in one message is spam (mass tagging)


def _compile(name: str, pattern: str) -> Any:
    problem = pattern_problem(pattern)
    if problem:
        raise ValueError(f"spam pattern {name!r}: {problem}")
    compiled = compile_pattern(pattern)
    if compiled.search("") is not None:
        raise ValueError(f"spam pattern {name!r}: matches the empty text, so it would match every message")
    return compiled


@dataclass(frozen=True, slots=True)
class SpamPatterns:
    configured: tuple[tuple[str, Any], ...]  # RE2 patterns, searched in the original text
    builtin: re.Pattern[str] | None  # BUILTIN_SPAM as one alternation, searched in the folded text

    @classmethod
    def compile(cls, patterns: Sequence[str] | Mapping[str, str] = (), *, builtin: bool = True) -> SpamPatterns:
        """Configured patterns: a mapping name -> regex (the name is shown in the reason) or a
        sequence of regexes (the regex itself is the name)."""
        items = list(patterns.items()) if isinstance(patterns, Mapping) else [(p, p) for p in patterns]
        configured = tuple((str(name), _compile(str(name), pattern)) for name, pattern in items)
        return cls(configured, _BUILTIN if builtin else None)

    def match(self, text: str, folded: str | None = None) -> str | None:
        """The name of the first pattern that matches, or None."""
        for name, pattern in self.configured:
            if pattern.search(text) is not None:
                return name
        if self.builtin:
            if folded is None:
                folded = fold(text)
            if not _TRIGGERS.isdisjoint(folded.split(" ")):
                found = self.builtin.search(folded)
                if found is not None:
                    return _BUILTIN_NAMES[found.lastgroup]
            if text.count("://") + text.count("www.") + text.count("WWW.") >= LINKS_SPAM:
                if len(_URL.findall(text)) >= LINKS_SPAM:
                    return f"{LINKS_SPAM}+ links"
            if text.count("@") >= MENTIONS_SPAM and len(_HANDLE.findall(text)) >= MENTIONS_SPAM:
                return f"{MENTIONS_SPAM}+ mentions"
        return None


def normalise_handle(handle: str) -> tuple[str, str | None]:
    """("user", "instance" or None) from "@User@Instance.Social", "user@instance", "@user" or "user"."""
    handle = handle.strip().lstrip("@").lower()
    user, sep, instance = handle.partition("@")
    return user, (instance or None) if sep else None


def same_handle(author: str, brand: str) -> bool:
    """The same account: same user name and, when both name an instance, the same instance (a
    local account has no instance in its handle; a brand handle without one matches anywhere)."""
    a_user, a_inst = normalise_handle(author)
    b_user, b_inst = normalise_handle(brand)
    return bool(a_user) and a_user == b_user and (a_inst is None or b_inst is None or a_inst == b_inst)


@functools.lru_cache(maxsize=16)
def _brands(brand_handles: frozenset[str]) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
    """Brand handles normalised once: (user names valid on any instance, (user, instance) pairs)."""
    anywhere, pairs = set(), set()
    for handle in brand_handles:
        user, instance = normalise_handle(handle)
        if user:
            (anywhere.add(user) if instance is None else pairs.add((user, instance)))
    return frozenset(anywhere), frozenset(pairs)


@functools.lru_cache(maxsize=65_536)  # authors come back; their handles need normalising once
def _is_brand(author: str, brand_handles: frozenset[str]) -> bool:
    if not brand_handles or not author:
        return False
    anywhere, pairs = _brands(brand_handles if isinstance(brand_handles, frozenset) else frozenset(brand_handles))
    user, instance = normalise_handle(author)
    if user in anywhere:
        return True
    # A local author (no instance in the handle) matches a brand handle on any instance.
    return bool(pairs) and any(u == user and (instance is None or i == instance) for u, i in pairs)


def noise_reason(m: Mention, ctx: AuthorContext, *, brand_handles: frozenset[str], spam: SpamPatterns,
                 duplicate_window: int = 5, folded: str | None = None) -> str | None:
    """Why `m` is noise, in a few words, or None. `folded` may pass `fold(m.text)` if the caller
    already has it."""
    text = m.text
    if m.is_repost or (text[:1] in ("R", "r", " ", "\t", "\n") and _RT.match(text) is not None):
        return "repost"
    if _is_brand(m.author_handle, brand_handles):
        return "the brand's own post"
    if m.bot:
        return "automated account"
    if folded is None:
        folded = fold(text)
    name = spam.match(text, folded)
    if name is not None:
        return f"spam: {name}"
    if folded and ctx.recent_texts and duplicate_window > 0:
        for earlier in ctx.recent_texts[:duplicate_window]:
            if isinstance(earlier, str) and fold(earlier) == folded:
                return "duplicate of an earlier message"
    return None
