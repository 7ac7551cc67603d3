"""Table downloads (CSV, XLSX) through the shared formula-safe writers."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fastapi.responses import Response

from groupops.tabular_export import write_csv, write_xlsx

__all__ = ["TABLE_FORMATS", "table_bytes", "table_response"]

TABLE_FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def table_bytes(fmt: str, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> bytes:
    """``rows`` (only ``columns``, in order, with a header) as a CSV or XLSX file."""
    table: list[Sequence[Any]] = [list(columns)]
    table.extend([row.get(column) for column in columns] for row in rows)
    with tempfile.TemporaryDirectory(prefix="groupops-export-") as directory:
        path = Path(directory) / f"table.{fmt}"
        if fmt == "csv":
            write_csv(table, path)
        else:
            write_xlsx(table, path)
        return path.read_bytes()


def table_response(
    fmt: str, name: str, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]
) -> Response:
    """A download response named ``<name>.<fmt>``."""
    return Response(
        table_bytes(fmt, columns, rows),
        media_type=TABLE_FORMATS[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )
