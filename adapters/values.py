"""Values as platforms send them, read defensively: ids that are strings on one platform and
numbers on another, counts that may be missing or odd, timestamps in ISO-8601 or epoch form.
Pure functions for every adapter's payload parser."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any


def parse_iso(value: Any) -> datetime | None:
    """An ISO-8601 timestamp (`Z`, `+00:00` or Graph's `+0000`) as an aware UTC datetime, or
    None when it is missing or garbled."""
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt if dt.tzinfo is UTC else dt.astimezone(UTC)


def parse_epoch(value: Any, *, millis: bool = False) -> datetime | None:
    """Unix seconds (or milliseconds), as a number or a numeric string, as aware UTC."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(value / 1000 if millis else value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def as_id(value: Any) -> str | None:
    """A platform id as a string: ids are JSON strings on some platforms and numbers on others
    (Meta sends both). Booleans, empty strings and anything else are not ids."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def count(value: Any) -> int:
    """An engagement or follower count: a non-negative int, or 0 when missing or odd."""
    if isinstance(value, int) and not isinstance(value, bool):
        return max(value, 0)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return 0


def id_key(value: str) -> tuple[int, str]:
    """Sort key for numeric ids of any length (Mastodon's, X's snowflakes), in numeric order
    without int(): ids are strings on the wire and may outgrow any integer type."""
    return (len(value), value)


def json_object(text: str | None) -> dict[str, Any]:
    """A JSON object written by an adapter (a stored `reply_ref`), or {} when it is missing,
    garbled or not an object."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as Meta and Telegram count text (and entity offsets)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2
