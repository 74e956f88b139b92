"""Finding, reading and validating socialdesk.toml, with errors that name file, line and key.

Lookup: explicit path (or $SOCIALDESK_CONFIG) -> ./socialdesk.toml -> the user config dir ->
built-in defaults. `SOCIALDESK_<SECTION>__<KEY>` variables then override scalar keys of the
table sections ([store], [log], [rules]).
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args, get_origin
from urllib.parse import urlsplit

import platformdirs
from pydantic import BaseModel, ValidationError

from .base import ConfigError, LocatedError, Model
from .models import CONFIG_FILE_NAME, AuditConfig, Config, CredentialsConfig, LogConfig, StoreConfig
from .rules import RulesConfig

ENV_PREFIX = "SOCIALDESK_"
_ENV_SECTIONS: dict[str, type[Model]] = {"store": StoreConfig, "log": LogConfig, "rules": RulesConfig,
                                         "credentials": CredentialsConfig, "audit": AuditConfig}


def user_config_file() -> Path:
    return Path(platformdirs.user_config_dir("socialdesk")) / CONFIG_FILE_NAME


def load_config(
    path: Path | str | None = None, *, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Config:
    """Find, read and validate the settings; raise ConfigError (one line) on any problem."""
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    named_by = str(path) if path is not None else None
    if path is None and env.get(f"{ENV_PREFIX}CONFIG"):
        path, named_by = env[f"{ENV_PREFIX}CONFIG"], f"{ENV_PREFIX}CONFIG={env[f'{ENV_PREFIX}CONFIG']}"
    source: Path | None
    if path is not None:
        source = cwd / Path(path).expanduser()
        if source.is_dir():
            raise ConfigError(f"{named_by}: is a directory, not a config file (name the socialdesk.toml in it)")
        if not source.is_file():
            raise ConfigError(f"{named_by}: no such config file")
    else:
        source = next((p for p in (cwd / CONFIG_FILE_NAME, user_config_file()) if p.is_file()), None)
    shown = str(source.relative_to(cwd) if source and source.is_relative_to(cwd) else source)
    text, data = _read(source, shown) if source else ("", {})
    locator = _Locator(shown if source else "built-in defaults", text)
    if "source" in data:
        raise locator.error(("source",), "unknown key")
    _apply_env(data, env, locator)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise locator.from_pydantic(exc.errors(include_url=False)[0]) from None
    return config.model_copy(update={"source": source.resolve() if source else None})


def _read(source: Path, shown: str) -> tuple[str, dict[str, Any]]:
    try:
        text = source.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{shown}: not valid UTF-8 text") from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
        if found:
            line, where = int(found[1]), f" (column {found[2]})"
        else:
            line, where = max(1, text.count("\n") + (not text.endswith("\n"))), ""
        message = re.sub(r"\s*\(at [^)]*\)$", "", message)
        raise ConfigError(
            f"{shown}:{line}: syntax error: {message[:1].lower()}{message[1:]}{where}"
        ) from None


def _apply_env(data: dict[str, Any], env: Mapping[str, str], locator: _Locator) -> None:
    for var, raw in sorted(env.items()):
        if not var.startswith(ENV_PREFIX) or "__" not in var:
            continue
        section, _, key = var[len(ENV_PREFIX) :].lower().partition("__")
        model = _ENV_SECTIONS.get(section)
        if model is None:
            sections = ", ".join(_ENV_SECTIONS)
            raise ConfigError(f"{var}: unknown section {section!r} (variables can set keys of {sections})")
        if key not in model.model_fields:
            raise ConfigError(
                f"{var}: unknown key {key!r} in [{section}]{_suggest(key, list(model.model_fields))}"
            )
        value = _env_value(raw, model.model_fields[key].annotation)
        table = data.setdefault(section, {})
        if isinstance(table, dict):
            table[key] = value
            locator.env_vars[(section, key)] = var


def _env_value(raw: str, annotation: Any) -> Any:
    """A TOML scalar when `raw` reads as one (90, true, "x"), else the raw string."""
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw
    if isinstance(value, (dict, list)):
        return raw
    takes_str = annotation is str or str in get_args(annotation) or get_origin(annotation) is Literal
    return raw if takes_str and not isinstance(value, str) else value


def _suggest(key: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(key, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (expected one of {', '.join(choices)})"


def _dotted(loc: tuple[str | int, ...]) -> str:
    parts = [f"[{p}]" if isinstance(p, int) else p if re.fullmatch(r"[\w-]+", p) else f'"{p}"' for p in loc]
    return "".join(p if p.startswith("[") or i == 0 else f".{p}" for i, p in enumerate(parts))


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "a table"
    return "an array" if isinstance(value, list) else repr(value)


def _fields_at(loc: tuple[str | int, ...]) -> list[str] | None:
    """The keys a table at `loc` accepts, when that table is one of the models."""
    model: type[BaseModel] = Config
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        annotation = field.annotation if field else None
        inner = get_args(annotation)[0] if get_origin(annotation) is list else annotation
        if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
            return None
        model = inner
    return [name for name in model.model_fields if name != "source"]


_KEY_PART = r'(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')'
_KEY_LINE = re.compile(rf"^\s*({_KEY_PART}(?:\s*\.\s*{_KEY_PART})*)\s*=(.*)$")
_HEADER_LINE = re.compile(rf"^\s*(\[\[?)\s*({_KEY_PART}(?:\s*\.\s*{_KEY_PART})*)\s*\]\]?\s*(?:#.*)?$")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'')


def _key_parts(dotted: str) -> tuple[str, ...]:
    return tuple(p.strip("\"'") if p[0] in "\"'" else p for p in re.findall(_KEY_PART, dotted))


class _Locator:
    """Turns a pydantic location into `file:line: dotted.key`, by scanning the TOML text."""

    def __init__(self, shown: str, text: str):
        self.shown = shown
        self.env_vars: dict[tuple[str | int, ...], str] = {}  # (section, key) -> variable name
        self.lines: list[tuple[tuple[str | int, ...], int]] = []
        table: tuple[str | int, ...] = ()
        arrays: dict[tuple[str | int, ...], int] = {}
        depth, open_string = 0, ""
        for number, line in enumerate(text.splitlines(), start=1):
            if open_string:
                open_string = "" if open_string in line else open_string
                continue
            if depth > 0:
                depth += _bracket_balance(line)
                continue
            if header := _HEADER_LINE.match(line):
                parts = _key_parts(header[2])
                path: tuple[str | int, ...] = ()
                for i, part in enumerate(parts):
                    path += (part,)
                    if i < len(parts) - 1 and path in arrays:  # a sub-table of the latest entry
                        path += (arrays[path] - 1,)
                if header[1] == "[[":
                    arrays[path] = arrays.get(path, 0) + 1
                    path += (arrays[path] - 1,)
                table = path
                self.lines.append((table, number))
            elif key := _KEY_LINE.match(line):
                self.lines.append((table + _key_parts(key[1]), number))
                value = key[2]
                for quote in ('"""', "'''"):
                    if value.count(quote) % 2:
                        open_string = quote
                depth = 0 if open_string else _bracket_balance(value)

    def line_of(self, loc: tuple[str | int, ...]) -> int:
        wanted = [loc]
        if loc and isinstance(loc[-1], str) and "." in loc[-1]:
            wanted.append(loc[:-1] + tuple(loc[-1].split(".")))
        for target in wanted:
            for path, number in self.lines:
                if path == target:
                    return number
        prefixes = [(len(path), -number) for path, number in self.lines if path and loc[: len(path)] == path]
        return -max(prefixes)[1] if prefixes else 1

    def error(self, loc: tuple[str | int, ...], message: str) -> ConfigError:
        if var := self.env_vars.get(loc[:2]):
            return ConfigError(f"{var}: {_dotted(loc)}: {message}")
        return ConfigError(f"{self.shown}:{self.line_of(loc)}: {_dotted(loc)}: {message}")

    def from_pydantic(self, err: Mapping[str, Any]) -> ConfigError:
        loc, kind, value = tuple(err["loc"]), err["type"], err.get("input")
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, LocatedError):
            return self.error(loc + cause.loc, str(cause))
        if kind == "extra_forbidden":
            fields = _fields_at(loc[:-1])
            return self.error(loc, "unknown key" + (_suggest(str(loc[-1]), fields) if fields else ""))
        if kind == "missing":
            return self.error(loc, "required key is missing")
        if kind == "list_type" and isinstance(value, dict):
            return self.error(loc, f"expected an array; write [[{_dotted(loc)}]] for each entry")
        if kind in ("model_type", "dict_type"):
            return self.error(loc, f"expected a table, got {_show(value)}")
        if cause is not None:
            return self.error(loc, str(cause))
        message = err["msg"][:1].lower() + err["msg"][1:]
        return self.error(loc, f"{message}, got {_show(value)}")


def _bracket_balance(text: str) -> int:
    code = _STRING.sub('""', text).split("#", 1)[0]
    return code.count("[") + code.count("{") - code.count("]") - code.count("}")


def _mask_password(url: str) -> str:
    url = re.sub(r"(?i)([?&]password=)[^&]*", r"\1***", url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{parts.username}:***@{host}").geturl()


def summary(config: Config) -> str:
    """What `socialdesk config check` prints: where the settings came from and what they say."""
    store = _mask_password(config.store.effective_url) + ("" if config.store.url else " (default)")
    lines = [
        f"Config file: {config.source or 'none found, using built-in defaults'}",
        f"Store: {store}",
        f"Log: {config.log.level}" + (f" to {config.log.file}" if config.log.file else ""),
        f"Channels ({len(config.channels)}):" + ("" if config.channels else " none"),
    ]
    width = max((len(c.name) for c in config.channels), default=0)
    for channel in config.channels:
        state = "enabled" if channel.enabled else "disabled"
        every = f"every {channel.interval:g}s"
        lines.append(f"  {channel.name:<{width}}  {channel.kind:<9}  {every:<11}  {state}")
    teams = [t.name + (f" (overflow -> {t.overflow})" if t.overflow else "") for t in config.teams]
    lines.append(f"Teams ({len(teams)}): " + (", ".join(teams) or "none"))
    agents = [f"{a.name} ({a.role}" + (f"; {', '.join(a.teams)})" if a.teams else ")") for a in config.agents]
    lines.append(f"Agents ({len(agents)}): " + (", ".join(agents) or "none"))
    lines.append(f"Keymap: {len(config.keymap)} custom binding{'s' * (len(config.keymap) != 1)}")
    return "\n".join(lines)
