"""Fixtures for the import tests: CSV writers and quarantine readers (``workspace`` comes from tests/conftest.py)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

WriteCsv = Callable[..., Path]


@pytest.fixture
def write_csv(tmp_path: Path) -> WriteCsv:
    """``write_csv(name, rows, encoding="utf-8")`` writes rows (first one the header) and returns the path."""

    def write(name: str, rows: Sequence[Sequence[Any]], encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        with path.open("w", encoding=encoding, newline="") as handle:
            csv.writer(handle).writerows(rows)
        return path

    return write


def quarantined(report: Any) -> list[dict[str, Any]]:
    """The quarantine records of an import report."""
    if report.quarantine_file is None:
        return []
    lines = Path(report.quarantine_file).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]
