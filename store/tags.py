"""Tag names to ids, creating the missing ones."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from .models import Tag


def tag_ids(session: Session, names: Iterable[str]) -> dict[str, int]:
    wanted = set(names)
    found = dict(session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(wanted))).all())
    missing = wanted - found.keys()
    if missing:
        session.execute(insert(Tag), [{"name": n} for n in sorted(missing)])
        found |= dict(session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(missing))).all())
    return found
