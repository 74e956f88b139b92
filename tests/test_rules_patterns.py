"""Configured spam and private patterns run on untrusted text: a linear-time engine (RE2) runs
them, and patterns that are obviously catastrophic for a backtracking engine are refused at
`config check`, naming file, line and key."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from socialdesk.config import ConfigError, load_config
from socialdesk.rules.noise import SpamPatterns
from socialdesk.rules.patterns import pattern_problem
from socialdesk.rules.privacy import PrivacyGuard

HOSTILE = "a" * 50_000 + "!"


@pytest.mark.parametrize("pattern", [r"(a+)+$", r"(a*)*b", r"(\w+\s?)*$", r"((ab)*)+c", r"(?:x+y?)+z"])
def test_nested_repeats_are_refused(pattern):
    assert "exponential" in pattern_problem(pattern)


@pytest.mark.parametrize("pattern", [r"(?i)\bpromo ?code\b", r"(ab)+c", r"(a{2,3})+", r"\bMB-\d{8}\b", r"(?:x|y)+"])
def test_ordinary_patterns_pass(pattern):
    assert pattern_problem(pattern) is None


def test_lookaround_and_backreferences_are_named_as_unsupported():
    assert "lookahead" in pattern_problem(r"free(?= money)")
    assert "backreference" in pattern_problem(r"(\w+) \1")


def test_a_pattern_that_backtracks_badly_in_python_runs_in_linear_time():
    # Not obviously catastrophic by the nesting rule, yet exponential for a backtracking engine.
    pattern = r"(a|aa)+$"
    assert pattern_problem(pattern) is None
    spam = SpamPatterns.compile({"slow": pattern}, builtin=False)
    guard = PrivacyGuard.compile({"slow": pattern})
    started = time.perf_counter()
    assert spam.match(HOSTILE) is None and guard.scan(HOSTILE) == []
    assert time.perf_counter() - started < 1.0


def test_config_check_refuses_a_catastrophic_pattern_with_file_line_and_key(tmp_path: Path):
    path = tmp_path / "socialdesk.toml"
    path.write_text('[rules]\nspam_patterns = { ok = "free money" }\nprivate_patterns = { bad = "(a+)+$" }\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={}, cwd=tmp_path)
    assert str(caught.value).startswith("socialdesk.toml:3: rules.private_patterns.bad: nested repetition")


def test_the_engine_keeps_matching_what_patterns_matched():
    spam = SpamPatterns.compile({"promo code": r"(?i)\bpromo ?code\b"}, builtin=False)
    assert spam.match("Use PROMO code X") == "promo code" and spam.match("promocodes") is None
    guard = PrivacyGuard.compile({"member": r"\bMB-\d{8}\b"})
    text = "my id is MB-12345678."
    assert [(f.kind, text[f.start:f.end]) for f in guard.scan(text)] == [("custom:member", "MB-12345678")]
