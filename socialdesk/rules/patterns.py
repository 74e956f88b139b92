"""Regular expressions from socialdesk.toml (spam and private patterns), run on untrusted text.

They run on RE2 (google-re2), a linear-time engine: no customer text can stall ingest or the
composer with a pattern that backtracks. RE2 has no lookaround, backreferences or possessive
and atomic forms, and its `\\w`, `\\d` and `\\b` are ASCII (write `\\pL`, `\\pN` for any script).
A pattern that is obviously catastrophic for a backtracking engine (a repeat inside a repeat,
`(a+)+`) is refused too: it is a mistake even where it cannot hurt, and `config check` says so.

Pure: no I/O.
"""

from __future__ import annotations

import re
import re._constants as sre
import re._parser as sre_parse
from typing import Any

import re2

__all__ = ["compile_pattern", "pattern_problem"]

_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)
_UNSUPPORTED = {sre.ASSERT: "lookahead or lookbehind", sre.ASSERT_NOT: "lookahead or lookbehind",
                sre.GROUPREF: "a backreference", sre.GROUPREF_EXISTS: "a conditional group",
                sre.ATOMIC_GROUP: "an atomic group", sre.POSSESSIVE_REPEAT: "a possessive quantifier"}


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every refusal to stderr
    return options


def compile_pattern(pattern: str) -> Any:
    """The pattern compiled for RE2 (`search`, `finditer` as `re` has them); check it with
    `pattern_problem` first."""
    return re2.compile(pattern, options=_options())


def _children(op: Any, av: Any) -> list[Any]:
    if op in _REPEATS:
        return [av[2]]
    if op == sre.SUBPATTERN:
        return [av[3]]
    if op == sre.BRANCH:
        return list(av[1])
    if op in (sre.ASSERT, sre.ASSERT_NOT):
        return [av[1]]
    if op == sre.ATOMIC_GROUP:
        return [av]
    if op == sre.GROUPREF_EXISTS:
        return [p for p in av[1:] if p is not None]
    return []


def _walk(items: Any, in_repeat: bool = False) -> tuple[bool, str | None]:
    """(a repeat without bound sits inside another one, the first construct RE2 lacks)."""
    nested, lacking = False, None
    for op, av in items:
        lacking = lacking or _UNSUPPORTED.get(op)
        unbounded = op in _REPEATS and av[1] == sre.MAXREPEAT
        if unbounded and in_repeat:
            nested = True
        for child in _children(op, av):
            deeper, missing = _walk(child, in_repeat or unbounded)
            nested, lacking = nested or deeper, lacking or missing
    return nested, lacking


def pattern_problem(pattern: str) -> str | None:
    """Why this configured pattern cannot be used, in one sentence; None when it can."""
    try:
        compile_pattern(pattern)
        engine_error = None
    except (re2.error, TypeError) as exc:
        engine_error = str(exc).removeprefix("b'").removesuffix("'")
    try:
        tree = sre_parse.parse(pattern)
    except (re.error, TypeError, OverflowError, RecursionError) as exc:
        # RE2's own syntax (`\pL`) is fine; anything neither engine reads is not.
        return f"regular expression does not compile: {exc}" if engine_error else None
    nested, lacking = _walk(tree)
    if nested:
        return ("nested repetition (a repeat inside a repeat, as in '(a+)+') takes exponential time on some "
                "texts: repeat once, e.g. 'a+' instead of '(a+)+'")
    if engine_error and lacking:
        return f"uses {lacking}, which the linear-time engine (RE2) that runs patterns does not have"
    if engine_error:
        return f"the linear-time engine (RE2) that runs patterns cannot read it: {engine_error}"
    return None
