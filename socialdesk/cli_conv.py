"""`socialdesk conv VERB … --query … --filter … [--dry-run]`: the TUI's commands from a shell, so a
supervisor can script a clean-up. Same command layer, same checks, same audit trail.

    socialdesk conv tag outage --query refund --filter "age:<1h channel:brand-x"
    socialdesk conv close --filter "cluster:4211" --yes
    socialdesk conv tag --query refund --dry-run         # how many conversations match
"""

from __future__ import annotations

import argparse
import sys

from socialdesk.config import Config

VERBS = {
    "tag": "add a tag (a new one with a leading '+')",
    "untag": "take a tag off",
    "priority": "set the priority: P1 (most urgent) .. P4",
    "assign": "assign to an agent (me, none) and/or a team (--team)",
    "close": "close as noise (out of the queue, still searchable)",
    "resolve": "resolve, with a resolution code",
    "reopen": "open a resolved or closed conversation again",
    "note": "add an internal note (never sent)",
    "reply": "queue a holding reply from a canned response (--canned NAME)",
}


def add_parsers(sub) -> None:
    conv = sub.add_parser("conv", help="act on conversations: tag, assign, close, resolve, note…",
                          description="Act on every conversation a query selects, as the TUI's bulk commands "
                                      "do: " + "; ".join(f"{verb}: {what}" for verb, what in VERBS.items()) + ".")
    conv.add_argument("verb", choices=list(VERBS))
    conv.add_argument("value", nargs="?", help="the tag, priority, agent, resolution code or note text")
    conv.add_argument("--query", default="", help="words to search for (full text), e.g. refund")
    conv.add_argument("--filter", default="", help='filters in the search language, e.g. "tag:outage age:<1h"')
    conv.add_argument("--ids", default="", help="conversation numbers, comma-separated")
    conv.add_argument("--team", help="with assign: the team")
    conv.add_argument("--canned", help="with reply: the canned response")
    conv.add_argument("--dry-run", action="store_true", help="say how many would change; change nothing")
    conv.add_argument("--yes", action="store_true", help="do not ask before changing many conversations")


def _fail(message: str, code: int = 2) -> int:
    print(f"socialdesk: {message}", file=sys.stderr)
    return code


def _command(args: argparse.Namespace):
    from socialdesk.services import commands as c

    value = args.value
    needs = {"tag": ("a tag", "outage"), "untag": ("a tag", "outage"), "priority": ("a priority", "P1"),
             "note": ("the note's text", '"Courier called"')}
    if args.verb in needs and not value:
        what, example = needs[args.verb]
        raise c.Refused(f"conv {args.verb}: give {what}, e.g. socialdesk conv {args.verb} {example} --query …")
    if args.verb == "assign" and not (value or args.team):
        raise c.Refused("conv assign: name an agent (or me, none) and/or --team")
    if args.verb == "reply" and not args.canned:
        raise c.Refused("conv reply: name the canned response with --canned")
    return {
        "tag": lambda: c.Tag(value), "untag": lambda: c.Untag(value), "priority": lambda: c.SetPriority(value),
        "assign": lambda: c.Assign(value, args.team), "close": lambda: c.CloseNoise(),
        "resolve": lambda: c.Resolve(value), "reopen": lambda: c.Reopen(), "note": lambda: c.Note(value),
        "reply": lambda: c.HoldingReply(args.canned),
    }[args.verb]()


def _selection(args: argparse.Namespace, desk):
    from socialdesk.services.commands import Refused, Selection
    from socialdesk.services.query import QueryError, parse

    if args.ids:
        try:
            return Selection(tuple(int(part.strip().lstrip("#")) for part in args.ids.split(",") if part.strip()))
        except ValueError:
            raise Refused(f"--ids: expected conversation numbers like 12,40,41; got {args.ids!r}") from None
    if not (args.query.strip() or args.filter.strip()):
        raise Refused("say which conversations: --query WORDS, --filter \"tag:… age:…\" or --ids 1,2,3 "
                      "(--filter status:open selects every open one)")
    try:
        return Selection.matching(parse(f"{args.filter} {args.query}", vocabulary=desk.vocabulary()))
    except QueryError as exc:
        raise Refused(str(exc)) from None


def run_conv(config: Config, sessions, args: argparse.Namespace, agent: str) -> int:
    from socialdesk.services.commands import Refused
    from socialdesk.services.rules import build_ruleset
    from socialdesk.services.runtime import Runtime

    runtime = Runtime(config, sessions)
    runtime.sync_people()
    runtime.rules = build_ruleset(config, sentiment=False)
    desk = runtime.desk(agent)
    try:
        selection = _selection(args, desk)
        if args.dry_run and not (args.value or args.team or args.canned or args.verb in ("close", "reopen")):
            count = desk.selection_size(selection)
            print(f"{count:,} conversation{'s' * (count != 1)} match.")
            return 0
        command = _command(args)
        if not args.dry_run and not args.yes:
            count = desk.selection_size(selection)
            if count > config.desk.confirm_above and not _confirmed(count, args.verb):
                return _fail(f"nothing changed: {count:,} conversations match; add --yes to go ahead", 1)
        outcome = desk.run(command, selection, dry_run=args.dry_run)
    except Refused as refused:
        return _fail(str(refused))
    print(outcome.summary)
    return 0


def _confirmed(count: int, verb: str) -> bool:
    if not sys.stdin.isatty():
        return False
    answer = input(f"{verb} {count:,} conversations? [y/N] ")
    return answer.strip().lower() in ("y", "yes")
