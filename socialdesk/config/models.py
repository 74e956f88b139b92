"""The settings models: one per section of socialdesk.toml."""

from __future__ import annotations

import difflib
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import Field, field_validator, model_validator

from socialdesk.services.query import DEFAULT_VIEWS, QueryError, parse

from .base import LocatedError, Model, Name
from .bindings import BINDING_IDS
from .channels import CHANNEL_KINDS, ChannelConfig, ChannelKind
from .rules import RulesConfig, check_references

__all__ = ["CHANNEL_KINDS", "ChannelConfig", "ChannelKind"]  # re-exported from .channels

CONFIG_FILE_NAME = "socialdesk.toml"
STORE_BACKENDS = ("sqlite", "postgresql+psycopg")  # the URL schemes the store is built and tested on


def _default_tags() -> tuple[str, ...]:
    from socialdesk.rules.keywords import DEFAULT_TABLES

    return tuple(table.tag for table in DEFAULT_TABLES)


def default_store_url() -> str:
    data_dir = Path(platformdirs.user_data_dir("socialdesk"))
    return f"sqlite:///{(data_dir / 'socialdesk.db').as_posix()}"


class StoreConfig(Model):
    url: str | None = None  # None: a SQLite file in the user data dir, see default_store_url()

    @field_validator("url")
    @classmethod
    def _supported(cls, url: str | None) -> str | None:
        """Only the backends socialdesk supports, and PostgreSQL only with its driver installed:
        said here, at `config check`, rather than as a missing module when `serve` starts."""
        if url is None:
            return url
        scheme = url.partition("://")[0].lower() if "://" in url else ""
        if scheme not in STORE_BACKENDS:
            hint = "; write postgresql+psycopg://…" if scheme.startswith("postgres") else ""
            raise ValueError(f"unsupported store {scheme or url!r}: socialdesk keeps its store in "
                             f"sqlite:///FILE or postgresql+psycopg://USER@HOST/DB{hint}")
        if scheme == "postgresql+psycopg" and find_spec("psycopg") is None:
            raise ValueError("a PostgreSQL store needs its driver: pip install 'socialdesk[postgres]'")
        return url

    @property
    def effective_url(self) -> str:
        return self.url or default_store_url()


class TeamConfig(Model):
    name: Name
    tags: list[str] = []  # conversations with one of these tags come to this team
    skills: list[str] = []
    overflow: str | None = None  # another team's name
    overflow_after_minutes: int | None = Field(default=None, ge=1)  # unanswered this long: overflow


class AgentConfig(Model):
    name: Name
    display_name: str = ""
    role: Literal["agent", "supervisor", "admin"] = "agent"
    teams: list[str] = []
    skills: list[str] = []
    cap: int = Field(default=20, ge=1)  # most conversations assigned at once
    in_training: bool = False  # their replies wait for a supervisor's approval


class CredentialsConfig(Model):
    backend: Literal["system", "encrypted-file"] = "system"
    file: str | None = None  # the encrypted file; None: credentials.enc in the user data dir


class AuditConfig(Model):
    head_log: str | None = None  # None: audit/<a name for the store>.heads in the user data dir


class LogConfig(Model):
    level: Literal["debug", "info", "warning", "error"] = "info"
    file: str | None = None


class DeskConfig(Model):
    confirm_above: int = Field(default=50, ge=1)  # ask before a command changes more conversations
    require_resolution_code: bool = True  # resolving needs one of [resolution_codes] (if any)
    tags: list[Name] = []  # tags people may set by hand besides those the rules set
    move_note: Name | None = None  # a canned response posted in public when a reply moves to private (n in p)


class ResolveConfig(Model):
    """What follows a resolution: how long a customer's new message reopens the conversation, the
    public close-out on the original post after a private talk, and the satisfaction survey."""

    reopen_within_days: int = Field(default=7, ge=0)  # after this, a new message starts a linked conversation
    closeout: Name | None = None  # a canned response, posted publicly when a conversation that moved private resolves
    survey: Name | None = None  # a canned response asking for a 1–10 score, sent once after resolution


DEFAULT_RESOLUTION_CODES = {
    "answered": "Question answered", "fixed": "Problem solved", "refunded": "Refund or replacement given",
    "duplicate": "Same as another conversation", "no-reply": "Customer did not answer",
}


class Config(Model):
    store: StoreConfig = StoreConfig()
    channels: list[ChannelConfig] = []
    teams: list[TeamConfig] = []
    agents: list[AgentConfig] = []
    rules: RulesConfig = RulesConfig()
    keymap: dict[str, str] = {}  # binding id -> keys, e.g. "queue.open" = "enter,o"
    desk: DeskConfig = DeskConfig()
    resolve: ResolveConfig = ResolveConfig()
    resolution_codes: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_RESOLUTION_CODES))
    views: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_VIEWS))  # name -> query, keys 1..9
    log: LogConfig = LogConfig()
    credentials: CredentialsConfig = CredentialsConfig()
    audit: AuditConfig = AuditConfig()
    source: Path | None = None  # the file that was read; None for built-in defaults

    @field_validator("keymap", mode="before")
    @classmethod
    def _flatten_keymap(cls, value: Any) -> Any:
        """`queue.open = "o"` (unquoted) is a nested table in TOML; read it as "queue.open"."""

        def flat(table: dict[str, Any], prefix: str) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for key, item in table.items():
                out.update(flat(item, f"{prefix}{key}.") if isinstance(item, dict) else {prefix + key: item})
            return out

        return flat(value, "") if isinstance(value, dict) else value

    @field_validator("keymap")
    @classmethod
    def _key_strings(cls, value: dict[str, str]) -> dict[str, str]:
        for binding_id, keys in value.items():
            if not binding_id or any(c.isspace() for c in binding_id):
                raise LocatedError((binding_id,), "a binding id is a non-empty name without spaces")
            if binding_id not in BINDING_IDS:
                close = difflib.get_close_matches(binding_id, sorted(BINDING_IDS), n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(BINDING_IDS))}"
                raise LocatedError((binding_id,), f"unknown binding id ({hint})")
            if not all(part.strip() and " " not in part.strip() for part in keys.split(",")):
                raise LocatedError((binding_id,), f"expected keys like 'ctrl+s' or 'j,down', got {keys!r}")
        return value

    def known_tags(self) -> tuple[str, ...]:
        """Every tag the rules can set, and those declared for people to set by hand."""
        return tuple(sorted({*self.rules.known_tags(_default_tags()), *self.desk.tags}))

    @field_validator("resolution_codes", "views")
    @classmethod
    def _names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not name or any(c.isspace() for c in name):
                raise LocatedError((name,), "a name is a word without spaces")
        return value

    @model_validator(mode="after")
    def _cross_check(self) -> Config:
        for name, query in self.views.items():
            try:
                parse(query)
            except QueryError as exc:
                raise LocatedError(("views", name), str(exc)) from None
        for section, noun in (("channels", "channel"), ("teams", "team"), ("agents", "agent")):
            first_index: dict[str, int] = {}
            for i, item in enumerate(getattr(self, section)):
                if item.name in first_index:
                    where = f"{section}[{first_index[item.name]}]"
                    raise LocatedError(
                        (section, i, "name"), f"duplicate {noun} name {item.name!r} (also {where})"
                    )
                first_index[item.name] = i
        team_names = [team.name for team in self.teams]
        known = ", ".join(team_names) or "none declared"
        for i, team in enumerate(self.teams):
            if team.overflow == team.name:
                raise LocatedError(("teams", i, "overflow"), f"team {team.name!r} cannot overflow to itself")
            if team.overflow is not None and team.overflow not in team_names:
                raise LocatedError(
                    ("teams", i, "overflow"), f"unknown team {team.overflow!r} (teams: {known})"
                )
        canned = {response.name for response in self.rules.canned}
        for section, key in (("resolve", "closeout"), ("resolve", "survey"), ("desk", "move_note")):
            name = getattr(getattr(self, section), key)
            if name is not None and name not in canned:
                raise LocatedError((section, key), f"unknown canned response {name!r} "
                                                     f"(canned: {', '.join(sorted(canned)) or 'none declared'})")
        tags = check_references(self.rules, team_names, _default_tags())
        for i, team in enumerate(self.teams):
            for j, tag in enumerate(team.tags):
                if tag not in tags:
                    raise LocatedError(("teams", i, "tags", j), f"unknown tag {tag!r} (tags: {', '.join(sorted(tags))})")
        for i, agent in enumerate(self.agents):
            for j, team_name in enumerate(agent.teams):
                if team_name not in team_names:
                    raise LocatedError(
                        ("agents", i, "teams", j), f"unknown team {team_name!r} (teams: {known})"
                    )
        return self


