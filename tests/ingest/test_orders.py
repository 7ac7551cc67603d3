"""``orders``: generic and Shopify presets, mapping files, validation, dedupe and encodings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from groupops.config import Settings
from groupops.errors import ConfigurationError, InputFormatError
from groupops.ingest import ingest_files
from groupops.store.workspace import Workspace

from .conftest import WriteCsv, quarantined

GENERIC_HEADER = [
    "order_id", "member_id", "placed_at", "paid_at", "status", "amount", "discount", "channel",
    "sku", "product_name", "category", "quantity", "unit_price", "refund_amount",
]  # fmt: skip
SQL_TEXT = "'); DROP TABLE orders; --"
HTML_TEXT = "<script>alert('x')</script>"
FORMULA_TEXT = "=cmd|' /C calc'!A0"


def _line(order_id: str, sku: str, amount: str = "¥1,299.00", **changes: str) -> list[str]:
    row = {
        "order_id": order_id, "member_id": "wmA", "placed_at": "2024-02-01 00:30:00",
        "paid_at": "2024-02-01 00:35:00", "status": "paid", "amount": amount, "discount": "100",
        "channel": "group", "sku": sku, "product_name": "卫衣", "category": "上衣", "quantity": "1",
        "unit_price": "1399", "refund_amount": "",
    }  # fmt: skip
    row.update(changes)
    return [row[name] for name in GENERIC_HEADER]


def _generic_rows() -> list[list[str]]:
    return [
        GENERIC_HEADER,
        _line("A1", "SKU1"),
        _line("A1", "SKU2", amount="1299", quantity="2", unit_price="0"),
        _line(
            "A2", "SKU3", amount="88", member_id="wmB", status="已退款", refund_amount="88", channel="直播"
        ),
    ]


def test_generic_orders_become_one_order_row_per_order_and_one_item_per_line(
    workspace: Workspace, write_csv: WriteCsv
) -> None:
    report = ingest_files("orders", [write_csv("orders.csv", _generic_rows())], workspace)
    assert (report.read, report.ingested, report.duplicates, report.quarantined) == (3, 3, 0, 0)
    orders = {row["order_id"]: row for row in workspace.warehouse.read_table("orders").to_pylist()}
    assert orders["A1"]["amount"] == 1299.0 and orders["A1"]["discount"] == 100.0
    assert orders["A1"]["placed_at"] == datetime(2024, 1, 31, 16, 30, tzinfo=UTC)
    assert orders["A1"]["month"] == "2024-02"  # month in the brand time zone, not UTC
    assert (orders["A2"]["status"], orders["A2"]["channel"], orders["A2"]["refund_amount"]) == (
        "refunded",
        "live",
        88.0,
    )
    items = {row["line_id"]: row for row in workspace.warehouse.read_table("order_items").to_pylist()}
    assert sorted(items) == ["A1#1", "A1#2", "A2#1"]
    assert (items["A1#2"]["sku"], items["A1#2"]["quantity"], items["A1#2"]["unit_price"]) == ("SKU2", 2, 0.0)


def test_reimport_reports_only_duplicates(workspace: Workspace, write_csv: WriteCsv) -> None:
    path = write_csv("orders.csv", _generic_rows())
    ingest_files("orders", [path], workspace)
    again = ingest_files("orders", [path, path], workspace)
    assert (again.read, again.ingested, again.duplicates, again.quarantined) == (6, 0, 6, 0)
    assert workspace.warehouse.row_count("orders") == 2
    assert workspace.warehouse.row_count("order_items") == 3


def test_bad_lines_are_quarantined_with_line_and_reason_and_the_rest_imports(
    workspace: Workspace, write_csv: WriteCsv
) -> None:
    rows = [
        GENERIC_HEADER,
        _line("A1", "SKU1"),
        _line("A1", "SKU2", amount="999"),  # contradicts line 2
        _line("B1", "SKU1", status="shipped"),
        _line("C1", "SKU1", quantity="-1"),
        _line("D1", "SKU1", amount="-5"),
        _line("E1", "SKU1", placed_at="next tuesday"),
        _line("", "SKU1"),
        _line("F1", "SKU1", member_id=""),
        _line("G1", "SKU1", refund_amount="-5"),
        _line("H1", "SKU1"),
    ]
    report = ingest_files("orders", [write_csv("orders.csv", rows)], workspace)
    assert (report.read, report.ingested, report.quarantined) == (10, 2, 8)
    reasons = {record["line"]: record["reason"] for record in quarantined(report)}
    assert "amount 999.0 here but 1299.0 on line 2" in reasons[3]
    assert "unknown status 'shipped'" in reasons[4]
    assert "allowed: paid, refunded, partially_refunded, cancelled, pending" in reasons[4]
    assert "column 'quantity': negative" in reasons[5]
    assert "column 'amount': negative" in reasons[6]
    assert "column 'placed_at': 'next tuesday' is not a time" in reasons[7]
    assert "column 'order_id': empty" in reasons[8]
    assert "column 'member_id': empty" in reasons[9]
    assert "column 'refund_amount': negative" in reasons[10]
    record = quarantined(report)[0]
    assert record["file"].endswith("orders.csv") and record["raw"].startswith("A1,wmA,")
    assert sorted(r["order_id"] for r in workspace.warehouse.read_table("orders").to_pylist()) == ["A1", "H1"]


def test_order_refund_is_the_sum_of_its_lines_refunds(workspace: Workspace, write_csv: WriteCsv) -> None:
    rows = [
        GENERIC_HEADER,
        _line("R1", "SKU1", status="partially_refunded", refund_amount="399"),
        _line("R1", "SKU2", status="partially_refunded", refund_amount="¥100.50"),
        _line("R1", "SKU3", status="partially_refunded"),
        _line("R2", "SKU1", amount="10", refund_amount=""),
        _line("R1", "SKU4", status="partially_refunded", refund_amount="5"),  # R1 again, after R2
        _line("R1", "SKU5", status="partially_refunded", refund_amount="0"),
    ]
    report = ingest_files("orders", [write_csv("orders.csv", rows)], workspace)
    assert (report.ingested, report.quarantined) == (5, 1)
    assert "began on line 2 and other orders followed" in quarantined(report)[0]["reason"]
    orders = {row["order_id"]: row for row in workspace.warehouse.read_table("orders").to_pylist()}
    assert (orders["R1"]["refund_amount"], orders["R2"]["refund_amount"]) == (499.5, 0.0)


def test_line_ids_count_quarantined_lines_so_a_fixed_file_reimports_cleanly(
    workspace: Workspace, write_csv: WriteCsv
) -> None:
    broken = [GENERIC_HEADER, _line("A1", "SKU1"), _line("A1", "SKU2", quantity="x"), _line("A1", "SKU3")]
    ingest_files("orders", [write_csv("broken.csv", broken)], workspace)
    fixed = [GENERIC_HEADER, _line("A1", "SKU1"), _line("A1", "SKU2"), _line("A1", "SKU3")]
    report = ingest_files("orders", [write_csv("fixed.csv", fixed)], workspace)
    assert (report.ingested, report.duplicates) == (1, 2)
    items = workspace.warehouse.read_table("order_items").to_pylist()
    assert sorted((row["line_id"], row["sku"]) for row in items) == [
        ("A1#1", "SKU1"),
        ("A1#2", "SKU2"),
        ("A1#3", "SKU3"),
    ]


def test_gb18030_file_imports_identically_to_its_utf8_twin(tmp_path: Path, write_csv: WriteCsv) -> None:
    tables = {}
    for encoding in ("utf-8", "utf-8-sig", "gb18030"):
        workspace = Workspace(Settings(data=tmp_path / encoding))
        report = ingest_files("orders", [write_csv(f"{encoding}.csv", _generic_rows(), encoding)], workspace)
        assert report.quarantined == 0
        tables[encoding] = sorted(
            workspace.warehouse.read_table("order_items").to_pylist(), key=lambda row: row["line_id"]
        )
        workspace.close()
    assert tables["utf-8"] == tables["utf-8-sig"] == tables["gb18030"]
    assert tables["gb18030"][0]["product_name"] == "卫衣"


def test_hostile_text_is_stored_verbatim(workspace: Workspace, write_csv: WriteCsv) -> None:
    rows = [
        GENERIC_HEADER,
        _line(SQL_TEXT, "SKU1", product_name=FORMULA_TEXT, category=HTML_TEXT, member_id="../../etc/passwd"),
    ]
    report = ingest_files("orders", [write_csv("orders.csv", rows)], workspace)
    assert report.ingested == 1
    item = workspace.warehouse.read_table("order_items").to_pylist()[0]
    assert (item["order_id"], item["product_name"], item["category"]) == (SQL_TEXT, FORMULA_TEXT, HTML_TEXT)
    assert workspace.warehouse.read_table("orders").to_pylist()[0]["member_id"] == "../../etc/passwd"


def test_empty_file_reports_zeros(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    report = ingest_files("orders", [path], workspace)
    assert (report.read, report.ingested, report.duplicates, report.quarantined) == (0, 0, 0, 0)


def test_unrecognisable_header_is_an_error_naming_the_missing_columns_and_writes_nothing(
    workspace: Workspace, write_csv: WriteCsv
) -> None:
    good = write_csv("good.csv", _generic_rows())
    bad = write_csv("bad.csv", [["foo", "bar"], ["1", "2"]])
    with pytest.raises(InputFormatError, match="order_id.*placed_at.*status.*amount"):
        ingest_files("orders", [good, bad], workspace)
    assert workspace.warehouse.row_count("orders") == 0


SHOPIFY_HEADER = [
    "Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Currency", "Subtotal",
    "Total", "Discount Amount", "Created at", "Lineitem quantity", "Lineitem name", "Lineitem price",
    "Lineitem sku", "Refunded Amount", "Source", "Tags", "Note Attributes", "Cancelled at",
]  # fmt: skip


def _shopify_rows() -> list[list[str]]:
    first = ["#1001", "a@example.com", "paid", "2024-01-15 10:25:00 +0800", "fulfilled", "CNY", "1398.00",
             "1298.00", "100.00", "2024-01-15 10:23:45 +0800", "1", "卫衣", "1299.00", "SKU1", "0", "web",
             "vip, member:wm123", "", ""]  # fmt: skip
    second = ["#1001", "", "", "", "", "", "", "", "", "", "1", "袜子", "99.00", "SKU2", "", "", "", "", ""]
    third = ["#1002", "b@example.com", "refunded", "", "", "CNY", "99", "99", "0",
             "2024-01-16 09:00:00 +0800", "1", "袜子", "99.00", "SKU2", "99", "pos", "", "", ""]  # fmt: skip
    fourth = ["#1003", "c@example.com", "pending", "", "", "CNY", "59", "59", "0",
              "2024-01-17 09:00:00 +0800", "1", "帽子", "59.00", "SKU4", "0", "web", "", "", "2024-01-17 10:00 +0800"]  # fmt: skip
    return [SHOPIFY_HEADER, first, second, third, fourth]


def test_shopify_export_inherits_order_columns_and_finds_member_tags(
    workspace: Workspace, write_csv: WriteCsv
) -> None:
    report = ingest_files(
        "orders", [write_csv("shopify.csv", _shopify_rows())], workspace, options={"preset": "shopify"}
    )
    assert (report.read, report.ingested, report.quarantined) == (4, 4, 0)
    orders = {row["order_id"]: row for row in workspace.warehouse.read_table("orders").to_pylist()}
    assert orders["#1001"]["member_id"] == "wm123"  # member:<id> tag wins over the e-mail
    assert orders["#1001"]["amount"] == 1298.0 and orders["#1001"]["discount"] == 100.0
    assert orders["#1001"]["placed_at"] == datetime(2024, 1, 15, 2, 23, 45, tzinfo=UTC)
    assert orders["#1002"]["member_id"] == "b@example.com"
    assert (orders["#1002"]["status"], orders["#1002"]["refund_amount"]) == ("refunded", 99.0)
    assert orders["#1003"]["status"] == "cancelled"
    items = {row["line_id"]: row for row in workspace.warehouse.read_table("order_items").to_pylist()}
    assert items["#1001#2"]["sku"] == "SKU2" and items["#1001#2"]["unit_price"] == 99.0


def test_mapping_file_maps_columns_times_and_statuses(
    workspace: Workspace, write_csv: WriteCsv, tmp_path: Path
) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        "columns:\n  order_id: 单号\n  member_id: 买家\n  placed_at: 时间\n  status: 状态\n"
        "  amount: 实付\n  sku: 货号\ntime_format: '%d/%m/%Y %H:%M'\nstatus_map:\n  已发货: paid\n",
        encoding="utf-8",
    )
    rows = [
        ["单号", "买家", "时间", "状态", "实付", "货号"],
        ["X1", "wmZ", "15/01/2024 10:23", "已发货", "59", "S1"],
    ]
    report = ingest_files("orders", [write_csv("x.csv", rows)], workspace, options={"mapping": mapping})
    assert (report.ingested, report.quarantined) == (1, 0)
    order = workspace.warehouse.read_table("orders").to_pylist()[0]
    assert (order["order_id"], order["member_id"], order["status"], order["amount"]) == (
        "X1",
        "wmZ",
        "paid",
        59.0,
    )
    assert order["placed_at"] == datetime(2024, 1, 15, 2, 23, tzinfo=UTC)


def test_invalid_mapping_and_preset_are_configuration_errors(
    workspace: Workspace, write_csv: WriteCsv, tmp_path: Path
) -> None:
    path = write_csv("orders.csv", _generic_rows())
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("columns:\n  not_a_field: x\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="unknown target field"):
        ingest_files("orders", [path], workspace, options={"mapping": mapping})
    mapping.write_text("colums: {}\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="unknown key"):
        ingest_files("orders", [path], workspace, options={"mapping": mapping})
    mapping.write_text("columns: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="not valid UTF-8 YAML"):
        ingest_files("orders", [path], workspace, options={"mapping": mapping})
    with pytest.raises(ConfigurationError, match="unknown preset 'amazon'"):
        ingest_files("orders", [path], workspace, options={"preset": "amazon"})


def test_xlsx_orders_import_like_csv(workspace: Workspace, tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in _generic_rows():
        sheet.append(row)
    native_time_line: list[object] = list(_line("A3", "SKU9", quantity="3"))
    native_time_line[GENERIC_HEADER.index("placed_at")] = datetime(2024, 3, 1, 8, 0)  # a real Excel date
    sheet.append(native_time_line)
    path = tmp_path / "orders.xlsx"
    workbook.save(path)
    report = ingest_files("orders", [path], workspace)
    assert (report.read, report.ingested, report.quarantined) == (4, 4, 0)
    orders = {row["order_id"]: row for row in workspace.warehouse.read_table("orders").to_pylist()}
    assert orders["A3"]["placed_at"] == datetime(2024, 3, 1, 0, 0, tzinfo=UTC)


def test_truncated_file_imports_the_complete_lines_and_quarantines_the_cut_one(
    workspace: Workspace, tmp_path: Path, write_csv: WriteCsv
) -> None:
    whole = write_csv("orders.csv", _generic_rows()).read_bytes()
    truncated = tmp_path / "truncated.csv"
    truncated.write_bytes(whole[: whole.rindex(b"2024-02-01") + 6])  # cut inside the last line's placed_at
    report = ingest_files("orders", [truncated], workspace)
    assert (report.read, report.ingested, report.quarantined) == (3, 2, 1)
    assert quarantined(report)[0]["line"] == 4


def test_utf16_file_is_rejected_as_wrong_encoding_before_anything_is_written(
    workspace: Workspace, write_csv: WriteCsv
) -> None:
    good = write_csv("good.csv", _generic_rows())
    utf16 = write_csv("utf16.csv", _generic_rows(), "utf-16")
    with pytest.raises(InputFormatError, match="neither UTF-8 nor GB18030"):
        ingest_files("orders", [good, utf16], workspace)
    assert workspace.warehouse.row_count("order_items") == 0
