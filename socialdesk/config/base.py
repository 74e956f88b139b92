"""What every settings model shares: strict, frozen models and one-line errors."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class ConfigError(Exception):
    """A settings problem told in one line: where (file:line or variable), which key, what is wrong."""

    def __init__(self, message: str):
        super().__init__(" ".join(message.split()))


class LocatedError(ValueError):
    """Raised by validators that know which key (relative to where they run) is wrong."""

    def __init__(self, loc: tuple[str | int, ...], message: str):
        super().__init__(message)
        self.loc = loc


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


