"""``products``: the product catalogue as CSV/XLSX, with the textile label fields (吊牌/耐久性标签).

Columns: ``sku`` (货号), ``name`` (品名), ``category`` (品类), ``list_price`` (吊牌价) and the label
fields of GB/T 5296.4 / GB 18401: ``manufacturer`` (生产者), ``manufacturer_address`` (地址),
``size_spec`` (号型), ``fibre_composition`` (纤维成分), ``care_instructions`` (维护方法),
``product_standard`` (执行标准), ``safety_category`` (安全类别 A/B/C), ``usage_notes``
(使用注意事项), ``storage_notes`` (贮藏说明). Only the columns a file has are written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from groupops.ingest._tabular import (
    RecordError,
    TabularRow,
    check_header,
    check_store_values,
    parse_money,
    read_rows,
    upsert_records,
)
from groupops.ingest.presets import column_map_from_options
from groupops.ingest.registry import IngestContext, register_source
from groupops.store.models import Product

__all__ = ["SAFETY_CATEGORIES", "import_products", "parse_safety_category"]

SAFETY_CATEGORIES = ("A", "B", "C")
_ALIASES: dict[str, tuple[str, ...]] = {
    "sku": ("货号", "款号", "商品编码", "product_id"),
    "name": ("product_name", "品名", "商品名称", "名称"),
    "category": ("品类", "类目", "类别"),
    "list_price": ("price", "吊牌价", "零售价", "价格"),
    "manufacturer": ("生产者", "制造商", "生产企业", "厂家"),
    "manufacturer_address": ("address", "生产者地址", "地址"),
    "size_spec": ("size", "号型", "规格"),
    "fibre_composition": ("fiber_composition", "composition", "纤维成分", "成分", "面料成分"),
    "care_instructions": ("care", "维护方法", "洗涤说明", "洗涤方法"),
    "product_standard": ("standard", "执行标准", "产品标准"),
    "safety_category": ("安全类别", "安全技术类别"),
    "usage_notes": ("使用注意事项", "注意事项"),
    "storage_notes": ("贮藏说明", "储藏说明", "贮存方法"),
}
_TEXT_FIELDS = (
    "manufacturer",
    "manufacturer_address",
    "size_spec",
    "fibre_composition",
    "care_instructions",
    "product_standard",
    "usage_notes",
    "storage_notes",
)
_REQUIRED = ("sku",)
_SESSION_ROWS = 1000


def parse_safety_category(value: str) -> str | None:
    """``A`` / ``B`` / ``C`` from ``'B'``, ``'B类'``, ``'GB 18401 B类'``; empty gives ``None``."""
    text = value.strip()
    if not text:
        return None
    match = re.fullmatch(r"(?:GB\s*18401[-—\s\d]*)?\s*([ABCabc])\s*类?", text)
    if match is None:
        raise RecordError(f"column 'safety_category': {text!r} is not A, B or C (GB 18401)")
    return match[1].upper()


def _product_values(row: TabularRow) -> dict[str, Any]:
    header = row.header
    if header is None:
        return {}
    values: dict[str, Any] = {}
    for field_name in ("name", "category"):
        if header.has(field_name):
            values[field_name] = row.text(field_name)
    for field_name in _TEXT_FIELDS:
        if header.has(field_name):
            values[field_name] = row.text(field_name) or None
    if header.has("list_price"):
        values["list_price"] = parse_money(row.get("list_price"), "list_price")
    if header.has("safety_category"):
        values["safety_category"] = parse_safety_category(row.text("safety_category"))
    return values


def _parse_product(row: TabularRow) -> tuple[str, dict[str, Any]]:
    if row.error is not None:
        raise RecordError(row.error)
    sku = row.text("sku")
    if not sku:
        raise RecordError("column 'sku': empty (every product needs its SKU)")
    values = _product_values(row)
    check_store_values(Product, {"sku": sku, **values})
    return sku, values


def _flush(batch: list[tuple[str, dict[str, Any]]], context: IngestContext) -> None:
    if not batch:
        return
    with context.database.session() as session:
        counts = upsert_records(session, Product, "sku", batch, None)
    context.counts.ingested += counts.ingested
    context.counts.duplicates += counts.duplicates
    batch.clear()


@register_source("products", "Product catalogue CSV/XLSX with the textile label fields.")
def import_products(paths: Sequence[Path], context: IngestContext) -> None:
    """Validate every product row of ``paths`` and upsert it into ``products``."""
    aliases = column_map_from_options(context.options, presets=False).aliases(_ALIASES)
    limit = context.settings.max_line_bytes
    for path in paths:
        check_header(path, aliases, _REQUIRED, limit)
    batch: list[tuple[str, dict[str, Any]]] = []
    for path in paths:
        for row in read_rows(path, aliases, _REQUIRED, limit, context.progress):
            context.counts.read += 1
            try:
                batch.append(_parse_product(row))
            except RecordError as error:
                context.quarantine.add(path, row.line, str(error), row.raw())
            if len(batch) >= _SESSION_ROWS:
                _flush(batch, context)
    _flush(batch, context)
