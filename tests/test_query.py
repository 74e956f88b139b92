"""The search language (queue search, T, saved views, `conv --filter`) and the `:` command line."""

from __future__ import annotations

import re

import pytest

from socialdesk.services import commands as c
from socialdesk.services.command_line import Words, complete, parse_line
from socialdesk.services.query import QueryError, Vocabulary, describe, parse
from socialdesk.store.views import QueueFilter

WORDS = Vocabulary(channels=("brand-x", "demo"), teams=("billing", "support"), agents=("alice", "bob"),
                   tags=("outage", "noise", "customer-service"))


def test_words_and_filters_make_one_filter_that_reads_back_the_same():
    flt = parse('refund "charged twice" channel:brand-x tag:outage -tag:noise p:1-2 age:<10m is:unassigned '
                "lang:fr sentiment:<4 team:billing", vocabulary=WORDS)
    assert flt == QueueFilter(search="refund charged twice", channel="brand-x", tags=("outage", "-noise"),
                              priority=(50, 100), newer_than=600, assignee="none", language="fr", sentiment=(1, 3),
                              team="billing")
    assert parse(describe(flt), vocabulary=WORDS) == flt


@pytest.mark.parametrize(("query", "expected"), [
    ("<10m", QueueFilter(newer_than=600)),
    (">2h", QueueFilter(older_than=7200)),
    ("age:10m-2h", QueueFilter(older_than=600, newer_than=7200)),
    ("is:mine", QueueFilter(assignee="me")),
    ("is:noise", QueueFilter(status="closed", tags=("noise",))),
    ("is:failed", QueueFilter(status="all", outbox="failed")),
    ("is:clustered", QueueFilter(collapse=True)),
    ("status:all p:P1", QueueFilter(status="all", priority=(75, 100))),
    ("https://acme.example/outage", QueueFilter(search="https://acme.example/outage")),
])
def test_short_forms(query, expected):
    assert parse(query) == expected


@pytest.mark.parametrize(("query", "message"), [
    ("chanel:demo", "unknown filter 'chanel': use one of status:, is:"),
    ("channel:nope", "no channel 'nope' (channels: brand-x, demo)"),
    ("tag:outgae", "no tag 'outgae' (tags: customer-service, noise, outage)"),
    ("assignee:carol", "no agent 'carol' (agents: alice, bob)"),
    ("p:7", "p: expected 1, 2, 3 or 4"),
    ("age:soon", "'soon' is not a time span"),
    ("sentiment:bad", "sentiment: expected a number from 1 to 10"),
    ("is:urgent", "is: expected one of mine, unassigned"),
    ("status:", "status: needs a value, e.g. status:pending"),
    ("-p:1", "-p: only tag: can be excluded"),
    ('*', "nothing to search for in '*'"),
    ('"((( )" ', "nothing to search for"),
])
def test_bad_queries_say_what_would_do(query, message):
    with pytest.raises(QueryError, match=re.escape(message)):
        parse(query, vocabulary=WORDS)


def test_fts_syntax_in_the_words_is_only_words():
    assert parse('refund AND NOT "x" OR (NEAR(a b)) foo*').search == 'refund AND NOT x OR (NEAR(a b)) foo*'


@pytest.mark.parametrize(("line", "command"), [
    (":tag outage", c.Tag("outage")),
    ("untag outage", c.Untag("outage")),
    (":p 1", c.SetPriority("1")),
    (":assign alice", c.Assign("alice")),
    (":assign team=billing", c.Assign(None, "billing")),
    (":assign bob team=support", c.Assign("bob", "support")),
    (":close noise", c.CloseNoise()),
    (":close", c.CloseNoise()),
    (":resolve fixed", c.Resolve("fixed")),
    (":resolve", c.Resolve(None)),
    (":note Called the courier", c.Note("Called the courier")),
    (":reply order-dm", c.HoldingReply("order-dm")),
])
def test_command_lines_become_commands(line, command):
    assert parse_line(line).command == command


@pytest.mark.parametrize(("line", "verb", "argument"), [
    (":view unassigned", "view", "unassigned"), (":mark refund age:<10m", "mark", "refund age:<10m"),
    (":unmark", "unmark", ""), (":undo", "undo", ""), (":search refund", "search", "refund"),
])
def test_screen_verbs_go_to_the_screen(line, verb, argument):
    parsed = parse_line(line)
    assert (parsed.verb, parsed.argument, parsed.command) == (verb, argument, None)


@pytest.mark.parametrize(("line", "message"), [
    (":tga outage", "No command 'tga'. Commands: tag, untag"),
    (":tag", "tag what? For example :tag outage."),
    (":close spam", "Close closes as noise"),
    (":assign", "Assign to whom?"),
    (":assign bob carol", "assign: did not understand 'carol'"),
    (":view", "Which view?"),
])
def test_bad_command_lines_say_what_would_do(line, message):
    with pytest.raises(c.Refused, match=re.escape(message)):
        parse_line(line)


def test_tab_completes_the_verb_then_the_name():
    words = Words(tags=("outage", "billing-error"), agents=("alice",), teams=("billing",), views=("unassigned",),
                  codes=("fixed",))
    assert complete("ta", words) == "tag "
    assert complete("tag out", words) == "tag outage"
    assert complete("assign al", words) == "assign alice"
    assert complete("assign team=bi", words) == "assign team=billing"
    assert complete("resolve f", words) == "resolve fixed"
    assert complete("view un", words) == "view unassigned"
    assert complete("tag zz", words) is None
