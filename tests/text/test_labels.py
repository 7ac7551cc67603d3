"""Tests of groupops.text.labels: the GB/T 5296.4 / GB 18401 label checklist."""

from __future__ import annotations

import json

import pytest

from groupops.errors import InputFormatError
from groupops.text.labels import (
    LABEL_FIELDS,
    check_product_label,
    check_product_labels,
    parse_fibre_composition,
    parse_products,
)

COMPLETE = {
    "sku": "CT-001",
    "name": "女士双面羊绒大衣",
    "manufacturer": "杭州某某服饰有限公司",
    "manufacturer_address": "浙江省杭州市余杭区文一西路100号",
    "size_spec": "160/84A（M）",
    "fibre_composition": "面料：山羊绒70% 绵羊毛30%；里料：聚酯纤维100%",
    "care_instructions": "不可水洗，不可漂白，平摊晾干，低温熨烫，常规干洗",
    "product_standard": "FZ/T 81004-2022",
    "safety_category": "B类（直接接触皮肤）",
    "usage_notes": "避免与粗糙物摩擦，以免起球",
    "storage_notes": "防潮防蛀，通风干燥处悬挂存放",
    "category": "coat",
}


def _fields(product: dict[str, object]) -> list[tuple[str, str]]:
    return [(finding.field, finding.problem) for finding in check_product_label(product)]


def test_complete_label_has_no_findings() -> None:
    assert check_product_label(COMPLETE) == []


@pytest.mark.parametrize("field", list(LABEL_FIELDS))
def test_every_required_item_is_reported_when_missing(field: str) -> None:
    product = {**COMPLETE, field: "  "}
    findings = check_product_label(product)
    assert [(f.field, f.problem, f.severity) for f in findings] == [(field, "missing", "violation")]
    assert findings[0].reference.startswith("GB/T 5296.4-2012")


def test_missing_keys_count_as_missing() -> None:
    findings = check_product_label({"sku": "X"})
    assert {f.field for f in findings} == set(LABEL_FIELDS)


@pytest.mark.parametrize(
    ("size_spec", "category", "ok"),
    [
        ("160/84A", "coat", True),
        ("170/92A XL", "coat", True),
        ("165/70A", "pants", True),
        ("130/64", "kids", True),
        ("M", "coat", False),
        ("均码", "coat", False),
        ("180cm×70cm", "scarf", True),
        ("22-24cm", "socks", True),
        ("180cm×70cm", "coat", False),
    ],
)
def test_size_needs_a_hao_xing_or_a_specification(size_spec: str, category: str, ok: bool) -> None:
    product = {**COMPLETE, "size_spec": size_spec, "category": category}
    assert (("size_spec", "malformed") not in _fields(product)) is ok


@pytest.mark.parametrize(
    ("composition", "problem"),
    [
        ("棉95% 氨纶5%", None),
        ("95%棉 5%氨纶", None),
        ("纯棉", None),
        ("填充物：白鸭绒 含绒量90%；面料：锦纶100%；里料：锦纶100%", None),
        ("莫代尔纤维92% 氨纶8%", None),
        ("棉95% 氨纶4%", "合计 99%"),
        ("冰丝95% 氨纶5%", "不是规范纤维名称"),
        ("天丝100%", "莱赛尔纤维"),
        ("棉 氨纶", "未标注含量"),
        ("锦纶", "单一纤维"),
        ("外星纤维100%", "不在 GB/T 4146"),
    ],
)
def test_fibre_composition(composition: str, problem: str | None) -> None:
    findings = [
        f
        for f in check_product_label({**COMPLETE, "fibre_composition": composition})
        if f.field == "fibre_composition"
    ]
    if problem is None:
        assert findings == []
    else:
        assert any(problem in f.message for f in findings), findings


def test_fibre_composition_parts() -> None:
    components = parse_fibre_composition("面料：羊毛70% 锦纶30%；里料：聚酯纤维100%")
    assert [(c.part, c.total) for c in components] == [("面料", 100), ("里料", 100)]


@pytest.mark.parametrize(
    ("care", "ok"),
    [
        ("30℃水洗，不可漂白，悬挂晾干，低温熨烫，不可干洗", True),
        ("手洗", False),
        ("注意保养", False),
    ],
)
def test_care_instructions_cover_the_gbt8685_aspects(care: str, ok: bool) -> None:
    assert (("care_instructions", "malformed") not in _fields({**COMPLETE, "care_instructions": care})) is ok


@pytest.mark.parametrize(
    ("standard", "ok"),
    [
        ("GB/T 2660-2017", True),
        ("FZ/T 73020-2019", True),
        ("Q/HZ 001-2023", True),
        ("GB 18401", False),
        ("合格", False),
    ],
)
def test_product_standard(standard: str, ok: bool) -> None:
    assert (
        ("product_standard", "malformed") not in _fields({**COMPLETE, "product_standard": standard})
    ) is ok


@pytest.mark.parametrize(
    ("safety", "name", "size", "ok"),
    [
        ("A类", "婴儿连体衣", "66/44", True),
        ("B类", "婴儿连体衣", "66/44", False),
        ("B类", "宝宝哈衣", "73/48", False),
        ("B类", "童装卫衣", "52/48", False),  # 号型 height ≤ 100 cm: an infant's size
        ("B类", "童装卫衣", "130/64", True),
        ("GB 18401 C类", "女士大衣", "160/84A", True),
        ("合格", "女士大衣", "160/84A", False),
    ],
)
def test_safety_category(safety: str, name: str, size: str, ok: bool) -> None:
    product = {**COMPLETE, "safety_category": safety, "name": name, "size_spec": size, "category": "kids"}
    assert (("safety_category", "malformed") not in _fields(product)) is ok


def test_reports_list_only_products_with_findings() -> None:
    reports = check_product_labels([COMPLETE, {**COMPLETE, "sku": "CT-002", "storage_notes": ""}])
    assert [report.sku for report in reports] == ["CT-002"]
    assert reports[0].to_dict()["findings"][0]["field"] == "storage_notes"  # type: ignore[index]


def test_parse_products_csv_and_json() -> None:
    csv_text = "\ufeffsku,name,size_spec\nA1,卫衣,160/84A\n"
    assert parse_products(csv_text, "csv") == [{"sku": "A1", "name": "卫衣", "size_spec": "160/84A"}]
    assert parse_products(json.dumps([{"sku": "A1"}]), "json") == [{"sku": "A1"}]
    assert parse_products(json.dumps({"products": [{"sku": "A2"}]}), "json") == [{"sku": "A2"}]


@pytest.mark.parametrize(
    ("text", "format", "message"),
    [
        ("name,size\n卫衣,M\n", "csv", "sku"),
        ("{not json", "json", "invalid JSON at line 1"),
        ('{"items": []}', "json", "list of product objects"),
    ],
)
def test_parse_products_rejects_bad_input(text: str, format: str, message: str) -> None:
    with pytest.raises(InputFormatError, match=message):
        parse_products(text, format)  # type: ignore[arg-type]
