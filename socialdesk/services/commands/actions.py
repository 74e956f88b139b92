"""The commands a person gives on conversations, and the store change each becomes once policy
has had its say. Replies, holding replies and approvals are in `replies.py`; notes are simple."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import func, literal

from socialdesk.rules.priority import LEVELS
from socialdesk.store.changes import Change
from socialdesk.store.models import Conversation, UTCDateTime
from socialdesk.store.queries import Names

from .actor import Actor, Refused

NOISE = "noise"


@dataclass(frozen=True)
class DeskSettings:
    """The parts of [desk] and [resolution_codes] the commands follow."""

    resolution_codes: dict[str, str]
    require_resolution_code: bool = True
    confirm_above: int = 50
    tags: tuple[str, ...] = ()  # tags people may set besides those the rules and the store know
    move_note: str | None = None  # [desk]: the canned public note on a move to private
    closeout: str | None = None  # [resolve]: the canned public close-out after a private talk
    survey: str | None = None  # [resolve]: the canned satisfaction question


@dataclass(frozen=True)
class Tag:
    name: str
    verb = "tagged"


@dataclass(frozen=True)
class Untag:
    name: str
    verb = "untagged"


@dataclass(frozen=True)
class SetPriority:
    level: str  # P1..P4 or 1..4
    verb = "reprioritised"


@dataclass(frozen=True)
class Assign:
    """To an agent ("me" to take it, "none" to let it go), to a team, or both."""

    agent: str | None = None
    team: str | None = None
    verb = "assigned"


@dataclass(frozen=True)
class Resolve:
    code: str | None = None
    verb = "resolved"


@dataclass(frozen=True)
class CloseNoise:
    verb = "closed as noise"


@dataclass(frozen=True)
class Reopen:
    verb = "reopened"


@dataclass(frozen=True)
class Note:
    text: str
    verb = "noted"


ConversationCommand = Tag | Untag | SetPriority | Assign | Resolve | CloseNoise | Reopen


def _known(kind: str, name: str, known: Collection[str]) -> str:
    if name not in known:
        raise Refused(f"No {kind} {name!r}. {kind.capitalize()}s: {', '.join(known) or 'none yet'}.")
    return name


def tag_name(name: str, names: Names, settings: DeskSettings) -> str:
    """A tag that exists, or a new one asked for with a leading '+'."""
    name = name.strip()
    if name.startswith("+") and len(name) > 1 and " " not in name:
        return name[1:]
    known = tuple(sorted({*names.tags, *settings.tags}))
    if name not in known:
        raise Refused(f"No tag {name!r}. Tags: {', '.join(known) or 'none yet'}. "
                      f"To start a new tag, write it with a leading '+' (+{name}).")
    return name


def priority_score(level: str) -> int:
    key = level.strip().upper()
    key = key if key.startswith("P") else f"P{key}"
    if key not in LEVELS:
        raise Refused(f"No priority {level!r}: use P1 (most urgent), P2, P3 or P4.")
    return LEVELS[key][2]


def change_for(command: ConversationCommand, actor: Actor, *, names: Names, settings: DeskSettings,
               now: datetime, bulk: bool) -> Change:
    """The store change `command` becomes for `actor`, with its policy: who may change which
    conversations."""
    own_or_free = _own_or_free(actor)
    scope = _team_scope(actor) if bulk else None
    if isinstance(command, Tag):
        return Change("tag", add_tag=tag_name(command.name, names, settings), allow=scope, reads=_reads(scope),
                      details={"tag": command.name.lstrip("+")})
    if isinstance(command, Untag):
        name = _known("tag", command.name, names.tags)
        return Change("untag", remove_tag=name, allow=scope, reads=_reads(scope), details={"tag": name})
    if isinstance(command, SetPriority):
        score = priority_score(command.level)
        reasons = orjson.dumps([[f"set by {actor.name}", score]]).decode()
        return Change("priority", {"priority": score, "reasons": reasons}, allow=scope, reads=_reads(scope),
                      along=("reasons",), details={"priority": score})
    if isinstance(command, Assign):
        return _assign(command, actor, names, now, own_or_free, scope)
    if isinstance(command, Resolve):
        code = _resolution_code(command.code, settings)
        values = {"resolution_code": code, "resolved_at": now, "sla_due_at": None,
                  "assignee_id": func.coalesce(Conversation.assignee_id, actor.id),
                  "assigned_at": func.coalesce(Conversation.assigned_at, _at(now))}
        return Change("resolve", values, event="resolve", allow=scope, reads=_reads(scope),
                      details={"resolution_code": code})
    if isinstance(command, CloseNoise):
        return Change("close", {"resolution_code": NOISE, "resolved_at": now, "sla_due_at": None}, event="close",
                      add_tag=NOISE, allow=scope, reads=_reads(scope), details={"resolution_code": NOISE})
    if isinstance(command, Reopen):
        return Change("reopen", {"resolution_code": None, "resolved_at": None}, event="reopen", allow=scope,
                      reads=_reads(scope))
    raise TypeError(f"not a conversation command: {command!r}")


def _at(now: datetime) -> Any:
    return literal(now, UTCDateTime())


def _reads(scope) -> tuple[str, ...]:
    return ("team_id", "assignee_id") if scope is not None else ()


def _own_or_free(actor: Actor):
    """An agent may take or hand over what is unassigned or already theirs."""
    return lambda row: row["assignee_id"] in (None, actor.id)


def _team_scope(actor: Actor):
    """An agent's bulk commands reach their own teams' conversations and those of no team."""
    if actor.supervises:
        return None
    teams = (None, *actor.team_ids)
    return lambda row: row["team_id"] in teams


def _assign(command: Assign, actor: Actor, names: Names, now, own_or_free, scope) -> Change:
    if command.agent is None and command.team is None:
        raise Refused("Assign to whom? Name an agent (or me), a team, or both: assign alice, assign team=billing.")
    values: dict[str, Any] = {}
    details: dict[str, Any] = {}
    event = None
    taking = command.agent in ("me", actor.name)
    if command.agent == "none":
        values |= {"assignee_id": None, "assigned_at": None}
        details["agent"] = None
    elif command.agent is not None:
        agent = actor.name if taking else _known("agent", command.agent, names.agents)
        values |= {"assignee_id": actor.id if taking else names.agents[agent], "assigned_at": now}
        details["agent"] = agent
        event = "assign"
    if command.team is not None:
        team = _known("team", command.team, names.teams)
        values["team_id"] = names.teams[team]
        if command.agent is None:  # handed to a team: back in its queue for anyone there to take
            values |= {"assignee_id": None, "assigned_at": None}
        details["team"] = team
    # Taking is conditional for everyone: two agents never both win. Handing over someone
    # else's conversation is a supervisor's call.
    allow = own_or_free if taking or not actor.supervises else None
    if scope is not None:
        allow = (lambda row: own_or_free(row) and scope(row)) if allow else scope
    return Change("assign", values, event=event, allow=allow, reads=("team_id", "assignee_id"), details=details)


def _resolution_code(code: str | None, settings: DeskSettings) -> str | None:
    codes = settings.resolution_codes
    listed = ", ".join(codes) or "none declared"
    if code is None or not code.strip():
        if codes and settings.require_resolution_code:
            raise Refused(f"Resolve with a code: {listed}.")
        return None
    code = code.strip()
    if codes and code not in codes:
        raise Refused(f"No resolution code {code!r}. Codes: {listed}.")
    return code
