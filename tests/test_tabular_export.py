"""Safe CSV/XLSX export: formula-like cells never leave GroupOps as live formulas."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from groupops.config import Settings
from groupops.ingest import ingest_files
from groupops.store.models import Member
from groupops.store.workspace import Workspace
from groupops.tabular_export import escape_cell, write_csv, write_xlsx

IMPORTABLE = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", '=HYPERLINK("http://x","y")']
HOSTILE = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("http://x","y")']


@pytest.mark.parametrize("value", HOSTILE)
def test_formula_like_text_gets_a_leading_quote(value: str) -> None:
    assert escape_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["小美", "a=b", "", 12, -3.5, None, "'already quoted"])
def test_other_values_are_unchanged(value: object) -> None:
    assert escape_cell(value) == value


def test_write_csv_escapes_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    rows = [{"name": value, "count": index, "tags": ["a", "b"]} for index, value in enumerate(HOSTILE)]
    assert write_csv(rows, path) == len(HOSTILE) + 1
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        read = list(csv.reader(handle))
    assert read[0] == ["name", "count", "tags"]
    assert [row[0] for row in read[1:]] == ["'" + value for value in HOSTILE]
    assert read[1][1:] == ["0", "a;b"]


def test_write_xlsx_stores_escaped_text_never_formulas(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    moment = datetime(2024, 1, 15, 2, 23, 45, tzinfo=UTC)
    rows: list[list[object]] = [
        ["name", "at"],
        *[[value, moment] for value in HOSTILE],
        ["bad\x01char", None],
    ]
    write_xlsx(rows, path, "成员", timezone="Asia/Shanghai")
    workbook = load_workbook(path)
    sheet = workbook["成员"]
    cells = [sheet.cell(row=index + 2, column=1) for index in range(len(HOSTILE))]
    assert all(cell.data_type == "s" for cell in cells)
    # XML turns a stored carriage return into a newline; the text stays quoted either way
    assert [cell.value for cell in cells] == ["'" + value.replace("\r", "\n") for value in HOSTILE]
    assert sheet.cell(row=2, column=2).value == datetime(2024, 1, 15, 10, 23, 45)
    assert sheet.cell(row=len(HOSTILE) + 2, column=1).value == "badchar"


def test_imported_formula_cells_round_trip_as_inert_text(tmp_path: Path) -> None:
    source = tmp_path / "members.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(
            [["wxid", "name"], *[[f"w{i}", value] for i, value in enumerate(IMPORTABLE)]]
        )
    workspace = Workspace(Settings(data=tmp_path / "data"))
    assert ingest_files("members", [source], workspace).ingested == len(IMPORTABLE)
    with workspace.database.session() as session:
        stored = [(member.id, member.name) for member in session.scalars(select(Member).order_by(Member.id))]
    workspace.close()
    assert sorted(name for _, name in stored) == sorted(IMPORTABLE)  # stored verbatim as data
    write_csv([["id", "name"], *stored], tmp_path / "export.csv")
    write_xlsx([["id", "name"], *stored], tmp_path / "export.xlsx", "members")
    with (tmp_path / "export.csv").open(encoding="utf-8-sig", newline="") as handle:
        exported = [row[1] for row in list(csv.reader(handle))[1:]]
    sheet = load_workbook(tmp_path / "export.xlsx")["members"]
    from_xlsx = [sheet.cell(row=row, column=2).value for row in range(2, len(stored) + 2)]
    assert all(isinstance(value, str) and value.startswith("'") for value in exported + from_xlsx)
    assert sorted(value[1:] for value in exported) == sorted(IMPORTABLE)
