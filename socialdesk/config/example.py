"""The commented example settings file, shipped inside the package (`socialdesk config init`).

In the repository it is `socialdesk.toml` at the top; `socialdesk/socialdesk.toml` links to it so
that a wheel carries it as package data."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from .models import CONFIG_FILE_NAME


def example_text() -> str:
    return files("socialdesk").joinpath(CONFIG_FILE_NAME).read_text("utf-8")


def write_example(target: Path, *, force: bool = False) -> None:
    """Write the example to `target`; FileExistsError when a file is there and not `force`."""
    if target.exists() and not force:
        raise FileExistsError(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(example_text(), encoding="utf-8")
