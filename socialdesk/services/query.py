"""The search language of the queue, the pattern mark (T), saved views and `socialdesk conv`:

    refund channel:brand-x tag:outage -tag:noise p:1 age:<10m is:unassigned

Plain words are full-text search (every word must appear; the last may be a prefix; "quoted
phrases" are words too). `key:value` tokens filter:

    status:   open (default: new, open, pending) | new | pending | resolved | closed | done | all
    is:       mine | unassigned | noise | approval | failed | clustered (one row per cluster)
    assignee: an agent's name | me | none        team: a team's name | mine | none
    channel:  a channel's name                   tag: a tag (repeatable; -tag: excludes)
    p:        1..4 or P1..P4, or a range 1-2     lang: a language code (en, fr…)
    sentiment: 1..10, a range 1-3, <4 or >7      age: <10m, >2h, 1d (newer than), 10m-2h
    cluster:  a cluster's number

`<10m` and `>2h` alone are short for age. Unknown keys and unknown names are errors that say
what exists, so a typo never silently selects nothing.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Collection
from dataclasses import dataclass, field, replace

from socialdesk.rules.priority import LEVELS
from socialdesk.store.views import STATUSES, QueueFilter

_SPAN = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
KEYS = ("status", "is", "assignee", "team", "channel", "tag", "p", "lang", "sentiment", "age", "cluster")
_ALIASES = {"priority": "p", "language": "lang", "to": "assignee", "chan": "channel"}
_IS = ("mine", "unassigned", "noise", "approval", "failed", "clustered")


# Saved views when [views] is not in the config: name -> query; the number keys open them in order.
DEFAULT_VIEWS = {
    "open": "", "mine": "is:mine", "team": "team:mine", "unassigned": "is:unassigned",
    "noise": "is:noise", "approval": "is:approval", "failed": "is:failed", "all": "status:all",
}


class QueryError(ValueError):
    """A query that cannot be understood: the message says what is wrong and what would do."""


@dataclass(frozen=True)
class Vocabulary:
    """The names a query may use; an empty collection means "not checked"."""

    channels: Collection[str] = ()
    teams: Collection[str] = ()
    agents: Collection[str] = ()
    tags: Collection[str] = ()
    extra_tags: Collection[str] = field(default_factory=tuple)

    def check(self, kind: str, name: str, known: Collection[str], also: Collection[str] = ()) -> str:
        if known and name not in known and name not in also:
            listed = ", ".join(sorted(known)) or "none"
            raise QueryError(f"no {kind} {name!r} ({kind}s: {listed})")
        return name


def span_seconds(text: str) -> int:
    """'10m' -> 600; QueryError for anything else."""
    match = _SPAN.match(text.strip().lower())
    if not match:
        raise QueryError(f"{text!r} is not a time span: use a number and s, m, h, d or w (10m, 2h, 7d)")
    return int(match.group(1)) * _UNITS[match.group(2)]


def _range(text: str, low: int, high: int, what: str) -> tuple[int, int]:
    """'3' -> (3, 3); '1-3' -> (1, 3); '<4' -> (low, 3); '>7' -> (8, high)."""
    try:
        if text.startswith("<="):
            return low, int(text[2:])
        if text.startswith(">="):
            return int(text[2:]), high
        if text.startswith("<"):
            return low, int(text[1:]) - 1
        if text.startswith(">"):
            return int(text[1:]) + 1, high
        if "-" in text:
            a, b = text.split("-", 1)
            return int(a), int(b)
        return int(text), int(text)
    except ValueError:
        raise QueryError(f"{what}: expected a number from {low} to {high}, a range like {low}-{high // 2}, "
                         f"or <n / >n; got {text!r}") from None


def _priority(text: str) -> tuple[int, int]:
    levels = [part.upper().removeprefix("P") for part in re.split(r"(?<=\d)-", text)]
    try:
        picked = [LEVELS[f"P{level}"] for level in levels]
    except KeyError:
        raise QueryError(f"p: expected 1, 2, 3 or 4 (P1 is the most urgent) or a range like 1-2; got {text!r}") from None
    return min(p[0] for p in picked), max(p[1] for p in picked)


def _age(flt: QueueFilter, text: str) -> QueueFilter:
    if text.startswith(">"):
        return replace(flt, older_than=span_seconds(text[1:]))
    if "-" in text:
        newer, older = text.split("-", 1)
        return replace(flt, older_than=span_seconds(newer.lstrip("<")), newer_than=span_seconds(older))
    return replace(flt, newer_than=span_seconds(text.lstrip("<")))


def _is(flt: QueueFilter, value: str) -> QueueFilter:
    if value == "mine":
        return replace(flt, assignee="me")
    if value == "unassigned":
        return replace(flt, assignee="none")
    if value == "noise":
        return replace(flt, status="closed", tags=flt.tags + ("noise",))
    if value in ("approval", "failed"):
        return replace(flt, outbox=value, status="all" if flt.status == "open" else flt.status)
    if value == "clustered":
        return replace(flt, collapse=True)
    raise QueryError(f"is: expected one of {', '.join(_IS)}; got {value!r}")


def parse(query: str, base: QueueFilter | None = None, vocabulary: Vocabulary | None = None) -> QueueFilter:
    """The filter a query describes (on top of `base`, e.g. the current view's)."""
    words = vocabulary or Vocabulary()
    flt = base or QueueFilter()
    try:
        tokens = shlex.split(query)
    except ValueError:
        tokens = query.replace('"', " ").replace("'", " ").split()
    search: list[str] = []
    for token in tokens:
        if token[:1] in "<>" and len(token) > 1 and _SPAN.match(token.lstrip("<>=")):
            flt = _age(flt, token)
            continue
        key, sep, value = token.partition(":")
        negate = key.startswith("-")
        key = _ALIASES.get(key.lstrip("-").lower(), key.lstrip("-").lower())
        if not sep or (key not in KEYS and not key.isalpha()) or value.startswith("//"):
            search.append(token)
            continue
        if key not in KEYS:
            raise QueryError(f"unknown filter {key!r}: use one of {', '.join(k + ':' for k in KEYS)}")
        if not value:
            raise QueryError(f"{key}: needs a value, e.g. {key}:{_EXAMPLES[key]}")
        flt = _apply(flt, key, value, negate, words)
    text = " ".join(search)
    if text.strip() and not re.search(r"\w", text):
        raise QueryError(f"nothing to search for in {text!r}: search for words (letters or digits)")
    return replace(flt, search=" ".join(filter(None, (flt.search, text))))


_EXAMPLES = {"status": "pending", "is": "mine", "assignee": "me", "team": "mine", "channel": "demo",
             "tag": "outage", "p": "1", "lang": "en", "sentiment": "<4", "age": "<10m", "cluster": "1234"}


def _apply(flt: QueueFilter, key: str, value: str, negate: bool, words: Vocabulary) -> QueueFilter:
    if key == "tag":
        name = words.check("tag", value, words.tags, words.extra_tags)
        return replace(flt, tags=flt.tags + (("-" if negate else "") + name,))
    if negate:
        raise QueryError(f"-{key}: only tag: can be excluded with a minus")
    if key == "status":
        if value not in (*STATUSES, "done", "all"):
            raise QueryError(f"status: expected one of {', '.join((*STATUSES, 'done', 'all'))}; got {value!r}")
        return replace(flt, status=value)
    if key == "is":
        return _is(flt, value.lower())
    if key == "assignee":
        return replace(flt, assignee=value if value in ("me", "none") else words.check("agent", value, words.agents))
    if key == "team":
        return replace(flt, team=value if value in ("mine", "none") else words.check("team", value, words.teams))
    if key == "channel":
        return replace(flt, channel=words.check("channel", value, words.channels))
    if key == "p":
        return replace(flt, priority=_priority(value))
    if key == "lang":
        return replace(flt, language=value.lower())
    if key == "sentiment":
        return replace(flt, sentiment=_range(value, 1, 10, "sentiment"))
    if key == "age":
        return _age(flt, value)
    try:
        return replace(flt, cluster=int(value.lstrip("#")))
    except ValueError:
        raise QueryError(f"cluster: expected a cluster's number, got {value!r}") from None


def describe(flt: QueueFilter) -> str:
    """The query that selects `flt` (for the status line and to start a pattern mark from)."""
    parts: list[str] = []
    if flt.status != "open" and not (flt.outbox and flt.status == "all"):
        parts.append(f"status:{flt.status}")
    if flt.assignee:
        parts.append({"me": "is:mine", "none": "is:unassigned"}.get(flt.assignee, f"assignee:{flt.assignee}"))
    for key, value in (("team", flt.team), ("channel", flt.channel), ("lang", flt.language),
                       ("cluster", flt.cluster)):
        if value is not None:
            parts.append(f"{key}:{value}")
    parts += [f"-tag:{t[1:]}" if t.startswith("-") else f"tag:{t}" for t in flt.tags]
    if flt.priority:
        low, high = _priority_names(flt.priority)
        parts.append(f"p:{low}" if low == high else f"p:{low}-{high}")
    if flt.sentiment:
        low, high = flt.sentiment
        parts.append(f"sentiment:{low}" if low == high else f"sentiment:{low}-{high}")
    if flt.newer_than is not None:
        parts.append(f"age:<{_span(flt.newer_than)}")
    if flt.older_than is not None:
        parts.append(f"age:>{_span(flt.older_than)}")
    if flt.outbox:
        parts.append(f"is:{flt.outbox}")
    if flt.collapse:
        parts.append("is:clustered")
    if flt.search:
        parts.append(flt.search)
    return " ".join(parts)


def _priority_names(bounds: tuple[int, int]) -> tuple[str, str]:
    names = [name[1:] for name, (low, high, _) in LEVELS.items() if low <= bounds[1] and high >= bounds[0]]
    return names[0], names[-1]


def _span(seconds: int) -> str:
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"
