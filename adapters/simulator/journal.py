"""The simulator's memory across restarts: every status it stores (customers' posts and the
brand's replies, with the reply's Idempotency-Key) appended to a JSON-lines file, so a restarted
demo still knows the posts its store holds and a reply to one of them is delivered, not a 404.

Appending a line per status is cheap at the demo's rates; a line cut short by a crash is skipped
when the file is read back, and the file is rewritten with the newest `keep` records once it has
grown well past that.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any


class Journal:
    def __init__(self, path: Path | str, keep: int):
        self.path = Path(path)
        self.keep = keep
        self._lock = threading.Lock()
        self._file: Any = None

    def load(self) -> list[dict[str, Any]]:
        """The records written so far, oldest first (the newest `keep` of them)."""
        try:
            lines = self.path.read_bytes().splitlines()
        except FileNotFoundError:
            return []
        records = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash
            if isinstance(record, dict) and isinstance(record.get("status"), dict):
                records.append(record)
        records = records[-self.keep:]
        if len(lines) > self.keep * 1.1 + 1000:
            self._rewrite(records)
        return records

    def append(self, status: dict[str, Any], idempotency_key: str | None = None) -> None:
        line = json.dumps({"status": status, "idempotency_key": idempotency_key}, ensure_ascii=False)
        with self._lock:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("a", encoding="utf-8")
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def _rewrite(self, records: list[dict[str, Any]]) -> None:
        temporary = self.path.with_suffix(self.path.suffix + ".tmp")
        with temporary.open("w", encoding="utf-8") as fh:
            for record in records:
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        os.replace(temporary, self.path)
