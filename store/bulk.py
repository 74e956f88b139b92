"""Straight-to-driver executemany for the ingest hot path.

SQLAlchemy's per-row bind processing costs more than SQLite's own insert (PERFORMANCE.md), so
the few statements that write every mention pass tuples already in the driver's form."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection


class Bulk:
    def __init__(self, conn: Connection):
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"
        self._mark = "?" if self.sqlite else "%s"

    def time(self, value: datetime | None) -> Any:
        """A datetime as models.UTCDateTime stores it: naive UTC (SQLAlchemy's SQLite text form)."""
        if value is None:
            return None
        if value.tzinfo is not None:
            value = (value if value.tzinfo is UTC else value.astimezone(UTC)).replace(tzinfo=None)
        return value.isoformat(" ", "microseconds") if self.sqlite else value

    def insert(self, table: str, columns: Sequence[str], rows: list[tuple], tail: str = "") -> None:
        """Rows as they are. On PostgreSQL (without a conflict clause) through COPY: executemany
        there costs a round of the protocol per row (~1 s for the 50,000 audit events of a bulk
        command, ~50 ms by COPY)."""
        if not rows:
            return
        if not self.sqlite and not tail:
            cursor = self.conn.connection.driver_connection.cursor()
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join([self._mark] * len(columns))
        self.conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) {tail}", rows)

    def upsert_returning(self, table: str, columns: Sequence[str], rows: list[tuple], conflict: str,
                         updates: Sequence[str], returning: str) -> list[tuple]:
        """Insert-or-update rows and return `returning` for every one of them, in one multi-row
        statement per chunk (both backends return updated rows too; order is not promised, so
        return a key with the value)."""
        found: list[tuple] = []
        per_chunk = max(1, 30_000 // len(columns))  # under SQLite's limit of 32,766 parameters
        assignments = ", ".join(f"{c} = excluded.{c}" for c in updates)
        row_marks = "(" + ", ".join([self._mark] * len(columns)) + ")"
        for first in range(0, len(rows), per_chunk):
            chunk = rows[first:first + per_chunk]
            sql = (f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([row_marks] * len(chunk))} "
                   f"ON CONFLICT ({conflict}) DO UPDATE SET {assignments} RETURNING {returning}")
            found += self.conn.exec_driver_sql(sql, tuple(v for row in chunk for v in row)).all()
        return found

    def allocate_ids(self, table: str, count: int) -> list[int]:
        """Ids for rows about to be inserted, in order. On SQLite the write lock (held since
        audit.begin_write) makes max(id) safe; on PostgreSQL they come from the sequence."""
        if count == 0:
            return []
        if self.sqlite:
            top = self.conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table}").scalar_one()
            return list(range(top + 1, top + 1 + count))
        return list(self.conn.exec_driver_sql(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)",
            (count,)).scalars())
