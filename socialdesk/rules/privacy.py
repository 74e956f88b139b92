"""The privacy guard: private data that must not go out in a public reply (and that an inbound
public post should be flagged for).

Kinds of finding, each conservative (a false alarm blocks an agent's reply, so every detector
validates what it found):

* "card": 13–19 digits, optionally grouped by single spaces or dashes (groups of 3+ digits),
  starting with 2–6 (the card networks' major industry identifiers), Luhn-valid. Order, ticket
  and tracking numbers fail one of these; numbers glued to letters or a "#" ("#A12345678",
  "#4242…") are never cards.
* "iban": a country code, two check digits and that country's BBAN (its length and structure
  as python-stdnum's copy of the IBAN registry says; single spaces allowed), mod-97 valid. Upper
  or lower case.
* "uk_account": a sort code (12-34-56, 12 34 56 or 123456) and an 8-digit account number within
  40 characters of each other, either directly next to each other with a dashed sort code, or with
  a word like "sort code", "account", "a/c" or "bank" just before.
* "email": local@domain.tld (Mastodon handles "@user@instance.social" are not e-mail addresses).
* "phone": international numbers (+44 20 7946 0958, 0044 …, +1 (415) 555-2671; 9–15 digits
  after the prefix), North American numbers written with separators ((415) 555-2671,
  415-555-2671), and national numbers with a trunk 0 (020 7946 0958, 07700 900123,
  06 12 34 56 78, 030 1234567). Not: bare digit runs without a 0 or +, numbers glued to letters
  or after "#", "$", "€", "£", dates (15.03.2024, 2024-03-15 14:30), times, prices, and a bare
  (unspaced) 0-number right after "order", "ref", "invoice", "ticket", "tracking", "case" or "id".
  Also every "+" number python-phonenumbers' matcher finds valid for its country.
* "custom:<name>": a configured regular expression (searched as written by RE2, in linear time;
  add `(?i)` for case-insensitive); its label is the name alone.

Offsets are into the original text (the scan only maps characters one to one: any script's
digits and full-width forms are read as ASCII, so "４２４２ …" is still a card). Labels never
contain the whole value: "card ending 4242", "IBAN GB… ending 5432", "email j…@example.com".
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import phonenumbers
from stdnum import iban as stdnum_iban

from .patterns import compile_pattern, pattern_problem

__all__ = ["Finding", "PrivacyGuard", "iban_valid", "luhn_valid"]

PRIVATE_CHANNEL_HINT = "move the conversation to a private channel: press p"


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str  # card | iban | uk_account | email | phone | custom:<name>
    start: int  # offsets in the scanned text
    end: int
    label: str  # masked, safe to show: "card ending 4242"


# --- validators ----------------------------------------------------------------------------------


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i & 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """`iban` without spaces, any case: a country in the IBAN registry, that country's BBAN
    length and structure, mod-97 == 1 (python-stdnum keeps the registry). Not its national
    checks: those know only the banks of the day, and a missed IBAN goes out in public."""
    return iban.isascii() and iban.isalnum() and stdnum_iban.is_valid(iban, check_country=False)


# --- the scan view: one character for one character ------------------------------------------------

_SPACES = "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63"


class _ScanTable(dict):
    """Any script's decimal digits → ASCII digits, full-width ASCII → ASCII, exotic spaces → " ",
    dashes → "-"; everything else unchanged. One character for one, so offsets are preserved."""

    __slots__ = ()

    def __missing__(self, cp: int) -> int:
        ch = chr(cp)
        value = cp
        if ch in _SPACES:
            value = 32
        elif ch in _DASHES:
            value = 45
        elif 0xFF01 <= cp <= 0xFF5E:
            value = cp - 0xFEE0
        else:
            try:
                value = 48 + unicodedata.decimal(ch)
            except (ValueError, TypeError):
                pass
        self[cp] = value
        return value


_SCAN = _ScanTable()


# --- detectors -----------------------------------------------------------------------------------

# Every numeric kind has at least 8 digits close together (card 13+, phone 9+, UK account 8, an
# IBAN's BBAN is mostly digits): texts without such a run (most of them) skip those detectors.
# Checked on the original text (before building the scan view): ASCII digits in ASCII text, any
# script's digits and separators otherwise.
_LONG_NUMBER = re.compile(r"[0-9](?:[ ().\-/]{0,3}[0-9]){7}")
_LONG_NUMBER_ANY = re.compile(r"\d(?:\W{0,3}\d){7}")
# An e-mail address has a dotted domain after the "@" (a bare "@brand" mention has not); a
# literal first character keeps this search fast.
_EMAIL_HINT = re.compile(r"@[A-Za-z0-9-]+\.[A-Za-z]")
_EMAIL_HINT_ANY = re.compile(r"[@\uff20][\w\-\uff0d]+[.\uff0e]\w")
# Digits with single spaces or dashes between them (no backtracking: every step consumes a digit).
_DIGIT_SEQ = re.compile(r"[0-9](?:[0-9]|[ -](?=[0-9]))*")
_GROUP = re.compile(r"[0-9]+")
_IBAN_START = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{2})([0-9]{2})")
_SORT_CODE = re.compile(r"(?<![\w-])([0-9]{2})([ -]?)([0-9]{2})\2([0-9]{2})(?![\w-])", re.ASCII)
_ACCOUNT = re.compile(r"(?<![\w-])[0-9]{8}(?![\w-])", re.ASCII)
_BANK_WORDS = re.compile(r"(?i)\b(?:sort ?code|s/c|account|acct|acc(?:ount)? no|a/c|bank)\b")
# Local part: ASCII and accented Latin letters (so an address glued to CJK text starts where the
# Latin letters do).
_EMAIL = re.compile(r"(?<![A-Za-z0-9\u00c0-\u024f.+@_-])[A-Za-z0-9\u00c0-\u024f._+-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9_@-])")
# A phone-shaped run: optional "+", digit groups joined by one separator (" ", ".", "-", "(", ")").
_PHONE = re.compile(r"(?<![\w+#@$€£¥.,:/-])(?:\+ ?)?\(?[0-9]+(?:(?:[ .\-]\(?|\) ?|\()[0-9]+)*\)?", re.ASCII)
_NANP = re.compile(r"(?:\+?1[ .\-]?)?(?:\([2-9][0-9]{2}\) ?|[2-9][0-9]{2}[ .\-])[2-9][0-9]{2}[ .\-][0-9]{4}")
_DATE_START = re.compile(r"\(?(?:[0-9]{1,2}([./-])[0-9]{1,2}\1[0-9]{2,4}|[0-9]{4}([./-])[0-9]{1,2}\2[0-9]{1,2})(?=$| )")
_REFERENCE_BEFORE = re.compile(r"(?i)\b(?:order|ref|reference|invoice|ticket|tracking|case|id)\b\W{0,3}$")


def _ascii_word(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == "_")


def _cards(view: str) -> list[Finding]:
    found = []
    for seq in _DIGIT_SEQ.finditer(view):
        s, e = seq.span()
        # Glued to Latin letters or digits, after "#" (a reference) or "+" (a phone number): not a
        # card. Letters of scripts written without spaces (カード番号は4242…) are fine.
        if s and (_ascii_word(view[s - 1]) or view[s - 1] in "#+") or e < len(view) and _ascii_word(view[e]):
            continue
        groups = [(g.start() + s, g.end() + s) for g in _GROUP.finditer(seq.group())]
        i = 0
        while i < len(groups):
            best = None
            total = 0
            for j in range(i, len(groups)):
                gs, ge = groups[j]
                if j > i and (ge - gs < 3 or groups[i][1] - groups[i][0] < 3):
                    break
                total += ge - gs
                if total > 19:
                    break
                if total >= 13:
                    digits = "".join(view[a:b] for a, b in groups[i:j + 1])
                    if digits[0] in "23456" and luhn_valid(digits):
                        best = (j, digits)
            if best is None:
                i += 1
                continue
            j, digits = best
            found.append(Finding("card", groups[i][0], groups[j][1], f"card ending {digits[-4:]}"))
            i = j + 1
    return found


_IBAN_MAX = 34


def _iban_at(compact: str) -> bool:
    """Whether these letters and digits are an IBAN; the cheap checks first, as a 100 KB post
    may offer thousands of candidates."""
    bban = compact[4:]
    # Real BBANs are mostly digits (bank codes of letters at most); words are not.
    if len(compact) < 15 or sum(c.isdigit() for c in bban) * 2 < len(bban):
        return False
    rearranged = (bban + compact[:4]).upper()
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1 and iban_valid(compact)


def _ibans(view: str) -> list[Finding]:
    """Country code, check digits and up to 30 letters or digits (single spaces allowed), ending
    where a word does: each length python-stdnum takes for that country."""
    found = []
    n = len(view)
    for m in _IBAN_START.finditer(view):
        compact, pos, end = m.group(1) + m.group(2), m.end(), None
        while end is None:
            at_end = pos >= n or not (view[pos].isascii() and view[pos].isalnum())
            if at_end and _iban_at(compact):
                end = pos
            elif pos >= n or len(compact) >= _IBAN_MAX:
                break
            elif view[pos] == " " and pos + 1 < n and view[pos + 1].isascii() and view[pos + 1].isalnum():
                pos += 1
            elif at_end:
                break
            else:
                compact += view[pos]
                pos += 1
        if end is not None:
            found.append(Finding("iban", m.start(), end, f"IBAN {compact[:2].upper()}… ending {compact[-4:].upper()}"))
    return found


def _uk_accounts(view: str) -> list[Finding]:
    codes = list(_SORT_CODE.finditer(view))
    if not codes:
        return []
    accounts = list(_ACCOUNT.finditer(view))
    starts = [a.start() for a in accounts]
    found = []
    for code in codes:
        # Accounts starting within 40 characters either side of the sort code (bisect: a 100 KB
        # post of sort codes and accounts stays linear).
        first_index = bisect.bisect_left(starts, code.start() - 48)
        last_index = bisect.bisect_right(starts, code.end() + 40)
        for account in accounts[first_index:last_index]:
            if account.start() < code.end() and code.start() < account.end():
                continue  # the same digits
            first, last = (code, account) if code.start() < account.start() else (account, code)
            gap = view[first.end():last.start()]
            if len(gap) > 40:
                continue
            adjacent = code is first and code.group(2) == "-" and len(gap) <= 3 and not gap.strip(" ,/;:")
            if not adjacent and _BANK_WORDS.search(view, max(0, first.start() - 40), last.start()) is None:
                continue
            found.append(Finding("uk_account", first.start(), last.end(),
                                 f"UK bank account ending {account.group()[-4:]}"))
            break
    return found


def _emails(view: str) -> list[Finding]:
    found = []
    for m in _EMAIL.finditer(view):
        local, _, domain = m.group().rpartition("@")
        found.append(Finding("email", m.start(), m.end(), f"email {local[:1]}…@{domain}"))
    return found


def _phones(view: str) -> list[Finding]:
    found = []
    n = len(view)
    for m in _PHONE.finditer(view):
        span = m.group().rstrip(" ")
        s, e = m.start(), m.start() + len(span)
        if e < n:
            after = view[e]
            if _ascii_word(after) or after in "%€$£¥" or (after in ":/.," and e + 1 < n and view[e + 1].isdigit()):
                continue
        digits = "".join(ch for ch in span if ch.isdigit())
        separated = len(digits) != len(span.lstrip("+ "))
        if span.startswith("+") or (span.startswith("00") and separated):
            national = digits[2:] if span.startswith("00") else digits
            ok = 9 <= len(national) <= 15 and national[0] != "0"
        elif _NANP.fullmatch(span):
            ok = True
        elif span.lstrip("(").startswith("0") and len(span.lstrip("(")) > 1 and span.lstrip("(")[1] in "123456789":
            if _DATE_START.match(span):
                ok = False
            elif separated:
                ok = 9 <= len(digits) <= 12
            else:
                ok = 10 <= len(digits) <= 11 and _REFERENCE_BEFORE.search(view, max(0, s - 24), s) is None
        else:
            ok = False
        if ok:
            found.append(Finding("phone", s, e, f"phone number ending {digits[-3:]}"))
    return found


def _international_phones(view: str) -> list[Finding]:
    """Numbers written with a "+" country code that python-phonenumbers' matcher finds valid
    for that country (slashes, "(0)" and "tel:" included)."""
    found = []
    for match in phonenumbers.PhoneNumberMatcher(view, None, leniency=phonenumbers.Leniency.VALID):
        digits = str(match.number.national_number)
        found.append(Finding("phone", match.start, match.end, f"phone number ending {digits[-3:]}"))
    return found


_PRIORITY = {"card": 0, "iban": 1, "uk_account": 2, "email": 3, "phone": 4}
_NOUNS = {"card": "a payment card number", "iban": "an IBAN", "uk_account": "a UK sort code and account number",
          "email": "an email address", "phone": "a phone number"}

_LABEL_PREFIX = {"card": "card ", "iban": "IBAN ", "uk_account": "UK bank account ", "email": "email ",
                 "phone": "phone number "}


def _norm_allowed(value: str) -> str:
    value = value.strip().lower()
    digits = "".join(ch for ch in value if ch.isdigit())
    if "@" not in value and len(digits) >= 6:
        return "#" + digits[-9:]
    return value


@dataclass(frozen=True, slots=True)
class PrivacyGuard:
    custom: tuple[tuple[str, Any], ...] = ()  # RE2 patterns (see `patterns`)
    allowed: frozenset[str] = frozenset()  # normalised values that are fine to publish

    @classmethod
    def compile(cls, custom: Mapping[str, str] = {}, *, allow: Iterable[str] = ()) -> PrivacyGuard:  # noqa: B006
        """`custom`: name -> regular expression; a bad one raises ValueError naming it. `allow`:
        values that are fine in public (the brand's own support address or phone number)."""
        compiled = []
        for name, pattern in custom.items():
            problem = pattern_problem(pattern)
            if problem:
                raise ValueError(f"private pattern {name!r}: {problem}")
            regex = compile_pattern(pattern)
            if regex.search("") is not None:
                raise ValueError(f"private pattern {name!r}: matches the empty text, so it would match every reply")
            compiled.append((str(name), regex))
        return cls(tuple(compiled), frozenset(_norm_allowed(v) for v in allow if v and v.strip()))

    def scan(self, text: str) -> list[Finding]:
        """Every piece of private data in `text`, in order; built-in kinds never overlap (the
        stronger one wins: card, IBAN, UK account, email, phone)."""
        ascii_text = text.isascii()
        numbers = (_LONG_NUMBER if ascii_text else _LONG_NUMBER_ANY).search(text) is not None
        if ascii_text:
            emails = "@" in text and _EMAIL_HINT.search(text) is not None
        else:
            emails = ("@" in text or "\uff20" in text) and _EMAIL_HINT_ANY.search(text) is not None
        candidates: list[Finding] = []
        view = text
        if numbers or emails:
            view = text if ascii_text else text.translate(_SCAN)
            if numbers:
                candidates += _cards(view)
                candidates += _ibans(view)
                candidates += _uk_accounts(view)
                candidates += _phones(view)
                if "+" in view:
                    candidates += _international_phones(view)
            if emails:
                candidates += _emails(view)
        found: list[Finding] = []
        if candidates:
            # Accepted spans never overlap, so sorted by start they are sorted by end too: a new
            # span can only overlap the accepted one starting just before its end.
            starts: list[int] = []
            ends: list[int] = []
            for f in sorted(candidates, key=lambda f: (_PRIORITY[f.kind], f.start)):
                i = bisect.bisect_left(starts, f.end)
                if i and ends[i - 1] > f.start:
                    continue
                if self.allowed and _norm_allowed(view[f.start:f.end]) in self.allowed:
                    continue
                starts.insert(i, f.start)
                ends.insert(i, f.end)
                found.append(f)
        for name, regex in self.custom:
            for m in regex.finditer(text):
                if m.end() > m.start():  # the label is the name only: no part of a custom value is shown
                    found.append(Finding(f"custom:{name}", m.start(), m.end(), name))
        found.sort(key=lambda f: (f.start, f.end))
        return found

    def public_reply_problem(self, text: str) -> str | None:
        """None if `text` may go out publicly, else one sentence: what was found and what to do."""
        findings = self.scan(text)
        if not findings:
            return None
        parts = []
        for kind in dict.fromkeys(f.kind for f in findings):
            if kind.startswith("custom:"):
                parts.append(f"a match for the private pattern {kind.removeprefix('custom:')!r}")
                continue
            prefix = _LABEL_PREFIX[kind]
            labels = ", ".join(dict.fromkeys(f.label.removeprefix(prefix) for f in findings if f.kind == kind))
            parts.append(f"{_NOUNS[kind]} ({labels})")
        listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        return f"This public reply contains {listed}: remove it or {PRIVATE_CHANNEL_HINT}."
