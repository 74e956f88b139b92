"""The `:` command line of the TUI (k9s-style): what a typed line means, and how to complete it.

    :tag outage            :untag outage         :priority P1
    :assign alice          :assign team=billing  :assign me / none
    :close noise           :resolve fixed        :reopen
    :note Called them      :reply order-dm       (a canned holding reply)
    :view unassigned       :mark refund age:<10m :unmark
    :search refund         :undo                 :clusters (one row per cluster)
    :email ann@example.com (the conversation's reply goes by email to that address)
    :crm 4711              :profile Prefers email (the customer's CRM id and notes)

Pure: the screen turns a `Line` into a command for the command layer, or into a view change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from . import commands as c

VERBS = ("tag", "untag", "priority", "assign", "close", "resolve", "reopen", "note", "reply", "view", "mark",
         "unmark", "search", "undo", "clusters", "email", "crm", "profile")
ALIASES = {"p": "priority", "a": "assign", "t": "tag", "r": "resolve", "v": "view", "m": "mark", "s": "search",
           "noise": "close", "/": "search"}
SCREEN_VERBS = ("view", "mark", "unmark", "search", "undo", "clusters", "email")  # handled by the screen itself


@dataclass(frozen=True)
class Words:
    """What the command line may complete: every name, by kind."""

    tags: Sequence[str] = ()
    channels: Sequence[str] = ()
    agents: Sequence[str] = ()
    teams: Sequence[str] = ()
    views: Sequence[str] = ()
    codes: Sequence[str] = ()
    canned: Sequence[str] = ()
    priorities: Sequence[str] = ("P1", "P2", "P3", "P4")
    extra: dict[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Line:
    """A typed line: a command for the command layer, or a screen verb with its argument."""

    verb: str
    argument: str = ""
    command: c.Command | None = None


def parse_line(text: str) -> Line:
    """Raise Refused (with what would do) for a line that is not a command."""
    verb, _, rest = text.strip().lstrip(":").partition(" ")
    verb = ALIASES.get(verb.lower(), verb.lower())
    rest = rest.strip()
    if not verb:
        raise c.Refused("Type a command: " + ", ".join(VERBS) + ".")
    if verb not in VERBS:
        raise c.Refused(f"No command {verb!r}. Commands: {', '.join(VERBS)}.")
    if verb in SCREEN_VERBS:
        if verb == "view" and not rest:
            raise c.Refused("Which view? :view NAME (the number keys 1–9 open them too).")
        if verb == "email" and not rest:
            raise c.Refused("To which address? :email name@example.com")
        return Line(verb, rest)
    return Line(verb, rest, _command(verb, rest))


def _command(verb: str, rest: str) -> c.Command:
    examples = {"tag": ":tag outage", "untag": ":untag outage", "priority": ":priority P1", "note": ":note text",
                "reply": ":reply NAME (a canned response)"}
    if verb in examples and not rest:
        raise c.Refused(f"{verb} what? For example {examples[verb]}.")
    if verb == "tag":
        return c.Tag(rest)
    if verb == "untag":
        return c.Untag(rest)
    if verb == "priority":
        return c.SetPriority(rest)
    if verb == "assign":
        return _assign(rest)
    if verb == "close":
        if rest not in ("", "noise"):
            raise c.Refused("Close closes as noise: :close (or :close noise). To finish a real case, :resolve CODE.")
        return c.CloseNoise()
    if verb == "resolve":
        return c.Resolve(rest or None)
    if verb == "reopen":
        return c.Reopen()
    if verb == "note":
        return c.Note(rest)
    if verb == "crm":
        return c.EditCustomer(crm_id=rest)  # empty: no CRM id
    if verb == "profile":
        return c.EditCustomer(notes=rest)
    return c.HoldingReply(rest)


def _assign(rest: str) -> c.Assign:
    agent = team = None
    for word in rest.split():
        key, sep, value = word.partition("=")
        if sep and key == "team":
            team = value
        elif sep and key in ("agent", "to"):
            agent = value
        elif not sep and agent is None:
            agent = word
        else:
            raise c.Refused(f"assign: did not understand {word!r}. For example :assign alice, :assign team=billing.")
    if agent is None and team is None:
        raise c.Refused("Assign to whom? :assign NAME, :assign me, :assign none or :assign team=NAME.")
    return c.Assign(agent, team)


def complete(text: str, words: Words) -> str | None:
    """The line with its last word completed (the first name that fits), or None."""
    head, space, last = text.rpartition(" ")
    if not space:
        found = next((v for v in VERBS if v.startswith(last.lstrip(":").lower()) and last), None)
        return (":" if last.startswith(":") else "") + found + " " if found else None
    verb = ALIASES.get(head.split()[0].lstrip(":").lower(), head.split()[0].lstrip(":").lower())
    prefix = ""
    if last.startswith("team="):
        pool: Sequence[str] = words.teams
        prefix, last = "team=", last[5:]
    else:
        pool = {"tag": words.tags, "untag": words.tags, "assign": (*words.agents, "me", "none", "team="),
                "priority": words.priorities, "resolve": words.codes, "view": words.views,
                "reply": words.canned, "close": ("noise",)}.get(verb, words.extra.get(verb, ()))
    found = next((name for name in pool if name.startswith(last) and name != last), None)
    return f"{head} {prefix}{found}" if found else None
