"""Safe CSV and XLSX writers used by every export (reports, member lists, quarantine review).

Text cells that a spreadsheet would read as a formula (starting with ``=`` ``+`` ``-`` ``@``,
a tab or a carriage return, e.g. ``=cmd|' /C calc'!A0``) are written with a leading single
quote, so imported data can never come back out as a live formula (CSV injection).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["FORMULA_PREFIXES", "escape_cell", "write_csv", "write_xlsx"]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_XLSX_MAX_CELL = 32_767


def escape_cell(value: Any) -> Any:
    """``value`` with formula-like text made inert by a leading ``'``; other values unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _rows_with_header(rows: Iterable[Sequence[Any] | Mapping[str, Any]]) -> Iterator[Sequence[Any]]:
    """Sequences pass through; mappings become a header row (first mapping's keys) plus values."""
    keys: list[str] | None = None
    for row in rows:
        if isinstance(row, Mapping):
            if keys is None:
                keys = list(row)
                yield keys
            yield [row.get(key) for key in keys]
        else:
            yield row


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        value = ";".join(str(item) for item in value)
    return escape_cell(value)


def write_csv(rows: Iterable[Sequence[Any] | Mapping[str, Any]], path: Path) -> int:
    """Write ``rows`` (sequences, or mappings with a header from the first) as UTF-8-BOM CSV; return rows."""
    count = 0
    with Path(path).open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        for row in _rows_with_header(rows):
            writer.writerow([_csv_value(value) for value in row])
            count += 1
    return count


def _xlsx_value(value: Any, zone: ZoneInfo | None) -> Any:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(zone).replace(tzinfo=None) if zone else value.isoformat()
    if isinstance(value, list | tuple):
        value = ";".join(str(item) for item in value)
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)[:_XLSX_MAX_CELL]
    return escape_cell(value)


def write_xlsx(
    rows: Iterable[Sequence[Any] | Mapping[str, Any]],
    path: Path,
    sheet: str = "Sheet1",
    *,
    timezone: str | None = None,
) -> int:
    """Write ``rows`` to a one-sheet workbook (streaming); aware times shown in ``timezone`` if given."""
    from openpyxl import Workbook

    zone = ZoneInfo(timezone) if timezone else None
    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(title=sheet[:31] or "Sheet1")
    count = 0
    for row in _rows_with_header(rows):
        worksheet.append([_xlsx_value(value, zone) for value in row])
        count += 1
    workbook.save(Path(path))
    return count
