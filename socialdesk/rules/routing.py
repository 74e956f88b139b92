"""Routing: tag → team → agent, with overflow.

1. The team: the first TeamRule (in configuration order) whose tags include one of the
   conversation's tags; else `default_team`.
2. Time overflow: when the team has an overflow team and the conversation has waited
   `overflow_after_minutes` or more, it moves there — the overflow team becomes the responsible
   team — and the same test is made there (a chain a → b → c; a loop in the configuration is
   cut at the first team seen twice).
3. The agent: within the team, an agent who is `available`, has every required skill (the
   team's own skills plus `required_skills`, e.g. a language) and room under the cap
   (load < cap); least loaded first, name as tie-break. Agents busy, away or offline get nothing
   new.
4. Capacity overflow: when nobody in the team qualifies, the overflow chain is tried in turn for
   an agent. If nobody anywhere has room, the conversation goes to the responsible team with no
   agent, and `reason` says why (it waits in the team's queue).

Pure: plain values in, a Route out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["TeamRule", "AgentState", "Route", "RouteRequest", "route", "assign_batch", "AVAILABLE"]

AVAILABLE = "available"


@dataclass(frozen=True, slots=True)
class TeamRule:
    name: str
    tags: tuple[str, ...]
    skills: tuple[str, ...] = ()
    overflow: str | None = None
    overflow_after_minutes: int | None = None


@dataclass(frozen=True, slots=True)
class AgentState:
    name: str
    teams: tuple[str, ...]
    skills: tuple[str, ...]
    status: str  # available | busy | away | offline
    load: int
    cap: int


@dataclass(frozen=True, slots=True)
class Route:
    team: str | None
    agent: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class RouteRequest:
    """One conversation for assign_batch."""

    tags: tuple[str, ...]
    waiting_minutes: float = 0.0
    required_skills: tuple[str, ...] = ()
    key: object = field(default=None, compare=False)  # the caller's id, carried along untouched


def _norm(tag: str) -> str:
    return tag.strip().casefold()


class _Router:
    """Indexes built once; loads kept in a dict so a batch can raise them as it assigns."""

    def __init__(self, teams: Sequence[TeamRule], agents: Sequence[AgentState], default_team: str | None):
        self.teams = list(teams)
        self.by_name: dict[str, TeamRule] = {}
        for team in self.teams:
            self.by_name.setdefault(team.name, team)
        self.default_team = default_team
        self.agents: dict[str, AgentState] = {}
        self.members: dict[str, list[str]] = {}
        for agent in agents:
            if agent.name in self.agents:
                continue
            self.agents[agent.name] = agent
            for team in agent.teams:
                self.members.setdefault(team, []).append(agent.name)
        self.load: dict[str, int] = {a.name: max(0, a.load) for a in self.agents.values()}
        self.skills: dict[str, frozenset[str]] = {a.name: frozenset(_norm(s) for s in a.skills)
                                                  for a in self.agents.values()}

    def team_for(self, tags: Sequence[str]) -> tuple[str | None, str]:
        wanted = {_norm(t) for t in tags if isinstance(t, str)}
        for team in self.teams:  # configuration order, not the conversation's tag order
            for tag in team.tags:
                if _norm(tag) in wanted:
                    return team.name, f"tag '{tag}' → {team.name}"
        if self.default_team:
            return self.default_team, f"no team for tags ({', '.join(tags) or 'none'}) → default {self.default_team}"
        return None, f"no team for tags ({', '.join(tags) or 'none'}) and no default team"

    def pick(self, team: str, skills: frozenset[str]) -> tuple[str | None, str]:
        """The least-loaded qualifying agent of the team, or None and a summary of why not."""
        members = self.members.get(team, [])
        if not members:
            return None, f"{team} has no agents"
        best: tuple[int, str] | None = None
        available = with_skills = 0
        for name in members:
            agent = self.agents[name]
            if agent.status != AVAILABLE:
                continue
            available += 1
            if not skills <= self.skills[name]:
                continue
            with_skills += 1
            load = self.load[name]
            if load >= agent.cap:
                continue
            if best is None or (load, name) < best:
                best = (load, name)
        if best is not None:
            agent = self.agents[best[1]]
            return best[1], f"{best[1]} {best[0]}/{agent.cap}"
        if not available:
            return None, f"{team}: nobody available"
        if not with_skills:
            return None, f"{team}: nobody available with {', '.join(sorted(skills))}"
        return None, f"{team} full"

    def route(self, tags: Sequence[str], waiting_minutes: float, required_skills: Sequence[str]) -> Route:
        team, why = self.team_for(tags)
        if team is None:
            return Route(None, None, why)
        steps = [why]
        seen = {team}
        # 2. time overflow: the responsible team moves along the chain
        while True:
            rule = self.by_name.get(team)
            if (rule is None or not rule.overflow or rule.overflow_after_minutes is None
                    or waiting_minutes < rule.overflow_after_minutes):
                break
            if rule.overflow in seen:
                steps.append(f"overflow loop at {rule.overflow} ignored")
                break
            steps.append(f"waited {int(waiting_minutes)} min ≥ {rule.overflow_after_minutes} → {rule.overflow}")
            team = rule.overflow
            seen.add(team)
        responsible = team
        # 3./4. an agent in the team, else along its overflow chain
        candidate: str | None = team
        while candidate is not None:
            rule = self.by_name.get(candidate)
            skills = frozenset(_norm(s) for s in (*(rule.skills if rule else ()), *required_skills))
            agent, why = self.pick(candidate, skills)
            if agent is not None:
                steps.append(why)
                return Route(candidate, agent, "; ".join(steps))
            steps.append(why)
            nxt = rule.overflow if rule else None
            if nxt is None:
                break
            if nxt in seen:
                steps.append(f"overflow loop at {nxt} ignored")
                break
            steps.append(f"overflow → {nxt}")
            seen.add(nxt)
            candidate = nxt
        steps.append(f"waiting in {responsible} queue")
        return Route(responsible, None, "; ".join(steps))


def route(
    tags: Sequence[str],
    *,
    teams: Sequence[TeamRule],
    agents: Sequence[AgentState],
    default_team: str | None = None,
    waiting_minutes: float = 0.0,
    required_skills: Sequence[str] = (),
) -> Route:
    """Where one conversation goes. See the module docstring for the rules."""
    if isinstance(tags, str):
        tags = (tags,)
    return _Router(teams, agents, default_team).route(tags, waiting_minutes, required_skills)


def assign_batch(
    conversations: Sequence[RouteRequest | Sequence[str]],
    *,
    teams: Sequence[TeamRule],
    agents: Sequence[AgentState],
    default_team: str | None = None,
    waiting_minutes: float = 0.0,
    required_skills: Sequence[str] = (),
) -> list[Route]:
    """Route many conversations in order; each assignment raises the chosen agent's load, so a
    batch spreads over the team up to the caps instead of piling onto one agent. Each item is a
    RouteRequest (its own waiting time and skills) or just the conversation's tags (then
    `waiting_minutes` and `required_skills` apply). Returns one Route per item, in order."""
    router = _Router(teams, agents, default_team)
    routes = []
    for item in conversations:
        if isinstance(item, RouteRequest):
            tags, waiting, skills = item.tags, item.waiting_minutes, item.required_skills
        else:
            tags, waiting, skills = item, waiting_minutes, required_skills
        if isinstance(tags, str):
            tags = (tags,)
        r = router.route(tags, waiting, skills)
        if r.agent is not None:
            router.load[r.agent] += 1
        routes.append(r)
    return routes
