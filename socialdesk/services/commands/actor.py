"""Who acts: the signed-in agent as the store knows them, and the refusal every command may give."""

from __future__ import annotations

from dataclasses import dataclass

from socialdesk.store.queries import AgentProfile

SUPERVISING = ("supervisor", "admin")


class Refused(Exception):
    """A command the actor may not run, or that cannot run as asked. The message is for the
    person: what is wrong and what would do instead."""


@dataclass(frozen=True)
class Actor:
    id: int
    name: str
    role: str = "agent"
    teams: tuple[str, ...] = ()
    team_ids: tuple[int, ...] = ()

    @classmethod
    def of(cls, profile: AgentProfile) -> Actor:
        return cls(profile.id, profile.name, profile.role, profile.teams, profile.team_ids)

    @property
    def supervises(self) -> bool:
        return self.role in SUPERVISING

    def require_supervisor(self, what: str) -> None:
        if not self.supervises:
            raise Refused(f"Only a supervisor can {what}; you are signed in as {self.name} ({self.role}).")
