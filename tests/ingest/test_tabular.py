"""Shared CSV/XLSX reading: encodings, headers, numbered rows, oversize records and typed fields."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook

from groupops.errors import InputFormatError
from groupops.ingest._tabular import (
    RecordError,
    cell_text,
    check_header,
    detect_encoding,
    month_in_zone,
    normalise_header,
    parse_count,
    parse_integer,
    parse_money,
    parse_time,
    read_rows,
    resolve_header,
    split_tags,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
ALIASES = {"name": ("昵称",), "amount": ()}


# -- encodings -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("encoding", "expected"), [("utf-8", "utf-8-sig"), ("utf-8-sig", "utf-8-sig"), ("gb18030", "gb18030")]
)
def test_detect_encoding_of_chinese_text(tmp_path: Path, encoding: str, expected: str) -> None:
    path = tmp_path / "x.csv"
    path.write_text("昵称,amount\n小美,12\n", encoding=encoding)
    assert detect_encoding(path) == expected


def test_detect_encoding_rejects_bytes_that_are_neither_utf8_nor_gb18030(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"name\n\xff\xff\x80\n")
    with pytest.raises(InputFormatError, match="neither UTF-8 nor GB18030"):
        detect_encoding(path)


def test_gb18030_and_utf8_files_read_the_same_rows(tmp_path: Path) -> None:
    text = '昵称,amount\n小美,"1,299"\n"多行\n备注",5\n'
    rows = {}
    for encoding in ("utf-8-sig", "gb18030"):
        path = tmp_path / f"{encoding}.csv"
        path.write_text(text, encoding=encoding)
        rows[encoding] = [(r.line, r.cells) for r in read_rows(path, ALIASES, ["name"], 10_000)]
    assert rows["utf-8-sig"] == rows["gb18030"] == [(2, ["小美", "1,299"]), (3, ["多行\n备注", "5"])]


# -- headers ---------------------------------------------------------------------------------
def test_normalise_header_ignores_case_spaces_underscores_and_bom() -> None:
    assert normalise_header("\ufeff Lineitem  Quantity ") == "lineitem_quantity"
    assert normalise_header("External-UserID") == "external_userid"
    assert normalise_header(None) == ""


def test_resolve_header_matches_aliases_and_names_missing_columns(tmp_path: Path) -> None:
    header = resolve_header(["AMOUNT", "昵称"], ALIASES, ["name", "amount"], tmp_path / "f.csv")
    assert header.positions == {"name": 1, "amount": 0}
    with pytest.raises(InputFormatError, match=r"missing required column\(s\): name, order_id or sku"):
        resolve_header(["amount", "other"], ALIASES, ["name", ("order_id", "sku")], tmp_path / "f.csv")


def test_empty_file_has_no_header_and_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    assert check_header(path, ALIASES, ["name"], 1000) is None
    assert list(read_rows(path, ALIASES, ["name"], 1000)) == []


# -- rows ------------------------------------------------------------------------------------
def test_rows_carry_the_line_where_the_record_starts_and_skip_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b'name,amount\r\na,1\r\n\r\n"b\r\nb",2\r\nc,3\r\n')
    rows = list(read_rows(path, ALIASES, ["name"], 1000))
    assert [(row.line, row.text("name"), row.text("amount")) for row in rows] == [
        (2, "a", "1"),
        (4, "b\r\nb", "2"),
        (6, "c", "3"),
    ]


def test_oversize_record_is_reported_not_held_and_reading_continues(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("name,amount\na,1\n" + "z" * 50_000 + ",2\nc,3\n", encoding="utf-8")
    rows = list(read_rows(path, ALIASES, ["name"], 1000))
    assert [row.line for row in rows] == [2, 3, 4]
    assert rows[0].error is None and rows[2].text("name") == "c"
    assert rows[1].error is not None and "longer than 1000" in rows[1].error
    assert len(rows[1].raw()) <= 1010


def test_progress_reports_every_byte(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("name\n" + "".join(f"n{i}\n" for i in range(1000)), encoding="utf-8")
    seen: list[int] = []
    assert len(list(read_rows(path, ALIASES, ["name"], 1000, seen.append))) == 1000
    assert sum(seen) == path.stat().st_size


def test_xlsx_rows_carry_sheet_row_numbers_and_keep_formulas_as_text(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["昵称", "amount"])
    sheet.append(["小美", 12.0])
    sheet.append([None, None])
    sheet.append(["=cmd|' /C calc'!A0", 3])
    path = tmp_path / "x.xlsx"
    workbook.save(path)
    rows = list(read_rows(path, ALIASES, ["name"], 1000))
    assert [(row.line, row.text("name"), row.text("amount")) for row in rows] == [
        (2, "小美", "12"),
        (4, "=cmd|' /C calc'!A0", "3"),
    ]


def test_a_file_that_is_not_a_workbook_is_an_input_format_error(tmp_path: Path) -> None:
    path = tmp_path / "fake.xlsx"
    path.write_text("name\nx\n", encoding="utf-8")
    with pytest.raises(InputFormatError, match="not a readable XLSX"):
        list(read_rows(path, ALIASES, ["name"], 1000))


# -- typed fields ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-15T10:23:45+08:00", datetime(2024, 1, 15, 2, 23, 45, tzinfo=UTC)),
        ("2024-01-15 10:23:45", datetime(2024, 1, 15, 2, 23, 45, tzinfo=UTC)),
        ("2024-01-15 10:23:45 +0800", datetime(2024, 1, 15, 2, 23, 45, tzinfo=UTC)),
        ("2024-01-15T02:23:45Z", datetime(2024, 1, 15, 2, 23, 45, tzinfo=UTC)),
        ("2024/01/15 10:23", datetime(2024, 1, 15, 2, 23, tzinfo=UTC)),
        ("1705285425", datetime(2024, 1, 15, 2, 23, 45, tzinfo=UTC)),
        ("1705285425000", datetime(2024, 1, 15, 2, 23, 45, tzinfo=UTC)),
        (1705285425, datetime(2024, 1, 15, 2, 23, 45, tzinfo=UTC)),
        (datetime(2024, 1, 15, 10, 23, 45), datetime(2024, 1, 15, 2, 23, 45, tzinfo=UTC)),
    ],
)
def test_parse_time_accepts_the_documented_forms(value: object, expected: datetime) -> None:
    assert parse_time(value, "placed_at", SHANGHAI) == expected  # type: ignore[arg-type]


def test_parse_time_errors_name_the_column_and_value() -> None:
    with pytest.raises(RecordError, match=r"column 'placed_at': 'yesterday' is not a time"):
        parse_time("yesterday", "placed_at", SHANGHAI)
    with pytest.raises(RecordError, match="outside 2000"):
        parse_time("1899-01-01 00:00:00", "placed_at", SHANGHAI)
    with pytest.raises(RecordError, match="outside 2000"):
        parse_time("99999999999999", "placed_at", SHANGHAI)
    assert parse_time("  ", "placed_at", SHANGHAI) is None


def test_parse_time_with_an_explicit_format() -> None:
    moment = parse_time("15.01.2024 10h23", "t", SHANGHAI, "%d.%m.%Y %Hh%M")
    assert moment == datetime(2024, 1, 15, 2, 23, tzinfo=UTC)
    with pytest.raises(RecordError, match="format '%d.%m.%Y %Hh%M'"):
        parse_time("2024-01-15", "t", SHANGHAI, "%d.%m.%Y %Hh%M")


def test_month_is_taken_in_the_brand_time_zone() -> None:
    moment = datetime(2024, 1, 31, 16, 30, tzinfo=UTC)  # 2024-02-01 00:30 in Shanghai
    assert month_in_zone(moment, SHANGHAI) == "2024-02"
    assert month_in_zone(moment, ZoneInfo("UTC")) == "2024-01"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("¥1,299.00", 1299.0),
        ("1299", 1299.0),
        ("1,299.5", 1299.5),
        ("￥ 88", 88.0),
        ("99元", 99.0),
        (12, 12.0),
    ],
)
def test_parse_money_accepts_yuan_notations(value: object, expected: float) -> None:
    assert parse_money(value, "amount") == expected  # type: ignore[arg-type]


def test_parse_money_rejects_negative_and_garbage() -> None:
    with pytest.raises(RecordError, match="column 'amount': negative amount '-5'"):
        parse_money("-5", "amount")
    assert parse_money("-5", "amount", allow_negative=True) == -5.0
    with pytest.raises(RecordError, match="not an amount of money"):
        parse_money("12元3角", "amount")
    with pytest.raises(RecordError, match="finite"):
        parse_money(float("inf"), "amount")
    assert parse_money("", "amount") is None


@given(st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False))
def test_parse_money_reads_thousands_separated_amounts(amount: Decimal) -> None:
    assert parse_money(f"¥{amount:,.2f}", "amount") == pytest.approx(float(amount))


def test_parse_integer_and_count() -> None:
    assert parse_integer("1,200", "quantity") == 1200
    with pytest.raises(RecordError, match="column 'quantity': negative number"):
        parse_integer("-1", "quantity")
    with pytest.raises(RecordError, match="not a whole number"):
        parse_integer("1.5", "quantity")
    assert [parse_count(v, "followers") for v in ("1.2万", "1.2w", "3k", "12000", "1,500")] == [
        12000,
        12000,
        3000,
        12000,
        1500,
    ]
    with pytest.raises(RecordError, match="column 'followers'"):
        parse_count("很多", "followers")


def test_split_tags_and_cell_text() -> None:
    assert split_tags("KOC; 宝妈 |学生,KOC、潮流") == ["KOC", "宝妈", "学生", "潮流"]
    assert split_tags(None) == []
    assert cell_text(12.0) == "12" and cell_text(12.5) == "12.5" and cell_text(None) == ""
