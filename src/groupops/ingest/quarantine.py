"""Quarantine: records that failed validation, kept with their file, line number and reason."""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType
from typing import IO

__all__ = ["QuarantineWriter"]

_KEEP_RAW_CHARACTERS = 100_000


class QuarantineWriter:
    """Appends one JSON line per bad record to ``<data>/quarantine/<run>-<kind>.jsonl``.

    The file is only created when there is something to quarantine. Raw records longer
    than 100,000 characters are kept in part, with their full length recorded.
    """

    def __init__(self, directory: Path, run_id: str, kind: str) -> None:
        self.path = directory / f"{run_id}-{kind}.jsonl"
        self.count = 0
        self._handle: IO[str] | None = None

    def add(self, file: str | Path, line: int, reason: str, raw: str | bytes | None) -> None:
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", errors="backslashreplace")
        record: dict[str, object] = {"file": str(file), "line": line, "reason": reason}
        if raw is not None:
            record["raw"] = raw[:_KEEP_RAW_CHARACTERS]
            if len(raw) > _KEEP_RAW_CHARACTERS:
                record["raw_length"] = len(raw)
                record["raw_kept"] = _KEEP_RAW_CHARACTERS
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("a", encoding="utf-8")
        self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.count += 1

    @property
    def file(self) -> str | None:
        return str(self.path) if self.count else None

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> QuarantineWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
