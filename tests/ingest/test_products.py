"""``products``: catalogue with textile label fields, upserted into the operational store."""

from __future__ import annotations

from sqlalchemy import select

from groupops.ingest import ingest_files, sources
from groupops.ingest.products import parse_safety_category
from groupops.store.models import Product
from groupops.store.workspace import Workspace

from .conftest import WriteCsv, quarantined

HEADER = ["货号", "品名", "品类", "吊牌价", "纤维成分", "号型", "执行标准", "安全类别", "洗涤说明", "生产者"]
ROW = [
    "SKU1",
    "加绒卫衣",
    "上衣",
    "¥399.00",
    "棉 95% 氨纶 5%",
    "160/84A",
    "FZ/T 73020-2019",
    "B类",
    "30℃ 水洗",
    "某服饰有限公司",
]


def _products(workspace: Workspace) -> dict[str, Product]:
    with workspace.database.session() as session:
        return {product.sku: product for product in session.scalars(select(Product))}


def test_products_kind_is_registered() -> None:
    assert "products" in sources()


def test_products_with_chinese_headers_and_label_fields(workspace: Workspace, write_csv: WriteCsv) -> None:
    report = ingest_files("products", [write_csv("products.csv", [HEADER, ROW])], workspace)
    assert (report.read, report.ingested, report.quarantined) == (1, 1, 0)
    product = _products(workspace)["SKU1"]
    assert (product.name, product.category, product.list_price) == ("加绒卫衣", "上衣", 399.0)
    assert (product.fibre_composition, product.size_spec, product.safety_category) == (
        "棉 95% 氨纶 5%",
        "160/84A",
        "B",
    )
    assert (product.product_standard, product.care_instructions, product.manufacturer) == (
        "FZ/T 73020-2019",
        "30℃ 水洗",
        "某服饰有限公司",
    )


def test_unchanged_products_are_duplicates_and_changed_ones_are_ingested(
    workspace: Workspace, write_csv: WriteCsv
) -> None:
    ingest_files("products", [write_csv("a.csv", [HEADER, ROW])], workspace)
    again = ingest_files("products", [write_csv("a.csv", [HEADER, ROW])], workspace)
    assert (again.ingested, again.duplicates) == (0, 1)
    changed = ROW.copy()
    changed[3] = "459"
    update = ingest_files(
        "products", [write_csv("b.csv", [["sku", "list_price"], ["SKU1", "459"]])], workspace
    )
    assert (update.ingested, update.duplicates) == (1, 0)
    assert _products(workspace)["SKU1"].list_price == 459.0
    assert (
        _products(workspace)["SKU1"].fibre_composition == "棉 95% 氨纶 5%"
    )  # columns not in the file are kept


def test_bad_products_are_quarantined(workspace: Workspace, write_csv: WriteCsv) -> None:
    rows = [
        ["sku", "name", "list_price", "safety_category"],
        ["S1", "ok", "10", "A"],
        ["S2", "bad category", "10", "D类"],
        ["S3", "bad price", "free", "A"],
        ["", "no sku", "1", "A"],
        ["S" * 65, "sku too long", "1", "A"],
        ["S6", "'; DROP TABLE products; --", "-1", "C"],
    ]
    report = ingest_files("products", [write_csv("p.csv", rows)], workspace)
    assert (report.ingested, report.quarantined) == (1, 5)
    reasons = [record["reason"] for record in quarantined(report)]
    assert "column 'safety_category'" in reasons[0] and "column 'list_price'" in reasons[1]
    assert "column 'sku': empty" in reasons[2] and "longer than 64" in reasons[3]
    assert "negative amount" in reasons[4]


def test_parse_safety_category() -> None:
    assert [parse_safety_category(v) for v in ("a", "B类", "GB 18401 C类", "")] == ["A", "B", "C", None]
