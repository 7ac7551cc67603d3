"""Label checklist for apparel product records (GB/T 5296.4-2012, GB 18401-2010, GB/T 29862-2013).

GB/T 5296.4-2012 《消费品使用说明 第4部分：纺织品和服装》 requires, on the label or instructions:
the manufacturer's name and address, the product name, its size or 号型 (GB/T 1335, e.g.
``160/84A``), fibre composition and content (GB/T 29862, names per GB/T 4146 / FZ/T 01053),
care instructions (GB/T 8685 symbols), the product standard it follows, its safety category
(GB 18401: A/B/C; items for infants of 36 months or younger must be A), and usage and storage
notes.

``check_product_label(product)`` takes a mapping with the keys ``sku, name, manufacturer,
manufacturer_address, size_spec, fibre_composition, care_instructions, product_standard,
safety_category, usage_notes, storage_notes, category`` and returns the missing or malformed
items. It is a pure function; reading product files is the caller's business
(:func:`parse_products` turns CSV or JSON text into such mappings).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from groupops.errors import InputFormatError

__all__ = [
    "LABEL_FIELDS",
    "LabelFinding",
    "ProductLabelReport",
    "check_product_label",
    "check_product_labels",
    "parse_fibre_composition",
    "parse_products",
]

LabelProblem = Literal["missing", "malformed"]
LabelSeverity = Literal["violation", "review"]
_Add = Callable[[str, LabelProblem, LabelSeverity, str], None]  # reports one finding of the product

LABEL_FIELDS: dict[str, str] = {
    "manufacturer": "制造者名称",
    "manufacturer_address": "制造者地址",
    "name": "产品名称",
    "size_spec": "号型或规格",
    "fibre_composition": "纤维成分及含量",
    "care_instructions": "维护方法",
    "product_standard": "执行的产品标准",
    "safety_category": "安全类别",
    "usage_notes": "使用注意事项",
    "storage_notes": "贮藏注意事项",
}
"""The required label items (record key → name on the label), GB/T 5296.4-2012 第5章."""

_STANDARD_OF: dict[str, str] = {
    "manufacturer": "GB/T 5296.4-2012 5.1",
    "manufacturer_address": "GB/T 5296.4-2012 5.1",
    "name": "GB/T 5296.4-2012 5.2",
    "size_spec": "GB/T 5296.4-2012 5.3；GB/T 1335",
    "fibre_composition": "GB/T 5296.4-2012 5.4；GB/T 29862-2013",
    "care_instructions": "GB/T 5296.4-2012 5.5；GB/T 8685",
    "product_standard": "GB/T 5296.4-2012 5.6",
    "safety_category": "GB/T 5296.4-2012 5.7；GB 18401-2010",
    "usage_notes": "GB/T 5296.4-2012 5.8",
    "storage_notes": "GB/T 5296.4-2012 5.8",
}


@dataclass(frozen=True)
class LabelFinding:
    """One missing or malformed label item of one product."""

    sku: str
    field: str
    problem: LabelProblem
    severity: LabelSeverity
    message: str
    reference: str

    def to_dict(self) -> dict[str, str]:
        return {
            "sku": self.sku,
            "field": self.field,
            "problem": self.problem,
            "severity": self.severity,
            "message": self.message,
            "reference": self.reference,
        }


@dataclass(frozen=True)
class ProductLabelReport:
    """The label findings of one product."""

    sku: str
    name: str
    findings: tuple[LabelFinding, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "sku": self.sku,
            "name": self.name,
            "findings": [finding.to_dict() for finding in self.findings],
        }


# --- fibre names (GB/T 4146.1, FZ/T 01053, GB/T 29862 附录) -------------------------------------

STANDARD_FIBRES = frozenset(
    """
    棉 彩棉 有机棉 亚麻 苎麻 大麻 汉麻 黄麻 罗布麻 剑麻 羊毛 绵羊毛 山羊绒 羊绒
    马海毛 兔毛 安哥拉兔毛 羊驼毛 驼绒 骆驼绒 骆驼毛 牦牛绒 牦牛毛 羊仔毛 美丽奴羊毛 桑蚕丝 柞蚕丝 蚕丝
    粘纤 粘胶纤维 黏纤 黏胶纤维 莫代尔纤维 莱赛尔纤维 铜氨纤维 醋纤 醋酯纤维 三醋酯纤维 竹浆粘胶纤维 竹浆纤维 大豆蛋白纤维 牛奶蛋白改性聚丙烯腈纤维
    再生纤维素纤维 聚酯纤维 涤纶 聚酰胺纤维 锦纶 聚丙烯腈纤维 腈纶 改性聚丙烯腈纤维 聚氨酯弹性纤维 氨纶 聚乙烯醇纤维 维纶 聚丙烯纤维 丙纶
    聚乙烯纤维 乙纶 聚氯乙烯纤维 氯纶 聚乳酸纤维 聚对苯二甲酸丙二醇酯纤维 聚对苯二甲酸丁二醇酯纤维 芳纶 间位芳纶 对位芳纶 碳纤维 玻璃纤维 金属纤维 不锈钢纤维
    银纤维 聚四氟乙烯纤维 弹性聚烯烃纤维 白鸭绒 灰鸭绒 白鹅绒 灰鹅绒 鸭绒 鹅绒 羽绒 鸭毛 鹅毛 羽毛 白鸭毛
    灰鸭毛 白鹅毛 灰鹅毛 其他纤维 其它纤维
    """.split()  # noqa: SIM905 (a word list reads better than 85 quoted strings)
)
"""Fibre names accepted on a label (with or without a trailing 纤维 / a bracketed qualifier)."""

NONSTANDARD_FIBRES: dict[str, str] = {
    "冰丝": "按实际成分写规范名称（如 粘纤、莱赛尔纤维、聚酰胺纤维）",
    "冰蚕丝": "按实际成分写规范名称（如 粘纤、聚酯纤维）",
    "天丝": "莱赛尔纤维（天丝为商标名）",
    "莱卡": "氨纶 / 聚氨酯弹性纤维（莱卡为商标名）",
    "莫代尔": "莫代尔纤维",
    "莱赛尔": "莱赛尔纤维",
    "人棉": "粘纤",
    "人造棉": "粘纤",
    "人造丝": "粘纤",
    "牛奶丝": "按实际成分写规范名称（如 牛奶蛋白改性聚丙烯腈纤维、聚酯纤维）",
    "牛奶纤维": "牛奶蛋白改性聚丙烯腈纤维",
    "貂绒": "按实际成分写规范名称（常为 聚酰胺纤维、聚丙烯腈纤维）",
    "水貂绒": "按实际成分写规范名称（常为 聚酰胺纤维、聚丙烯腈纤维）",
    "真丝": "桑蚕丝",
    "纯棉": "棉",
    "涤棉": "分别标注 聚酯纤维 和 棉 的含量",
    "化纤": "写明具体纤维名称（如 聚酯纤维）",
    "雪纺": "雪纺是织物名称，写纤维名称（如 聚酯纤维）",
    "莱卡棉": "分别标注 棉 和 氨纶 的含量",
    "竹纤维": "竹浆粘胶纤维",
    "冰麻": "按实际成分写规范名称",
}

_COMPONENT_LABELS = re.compile(
    r"(面料|里料|里布|填充物|填充|罗纹|夹层|衬里|衬布|口袋布|主料|辅料|拼接|网布|毛领|帽里|袖里|底布|绒子|胆布|面布)\s*[:：]"
)
_FIBRE_PERCENT = re.compile(
    r"(?P<name1>[^\d\s%,，;；、:：/+]+?)\s*(?P<pct1>\d+(?:\.\d+)?)\s*%"
    r"|(?P<pct2>\d+(?:\.\d+)?)\s*%\s*(?P<name2>[^\d\s%,，;；、:：/+]+)"
)
_PURE = re.compile(r"^\s*纯\s*(?P<name>[^\d\s%,，;；、]+)\s*$")
_DOWN_FIGURES = re.compile(r"(含绒量|充绒量|绒子含量|蓬松度)\s*[:：]?\s*\d+(?:\.\d+)?\s*(%|g|克|cm3/30g)?")


@dataclass(frozen=True)
class FibreComponent:
    """One component of a composition (``面料``, ``里料`` … or the whole product) and its fibres."""

    part: str
    fibres: tuple[tuple[str, Decimal | None], ...]

    @property
    def total(self) -> Decimal:
        return sum((share for _, share in self.fibres if share is not None), Decimal(0))


def parse_fibre_composition(text: str) -> list[FibreComponent]:
    """Parse ``面料：羊毛70% 锦纶30%；里料：聚酯纤维100%`` into components with fibre shares.

    A component without percentages but written ``纯X`` counts as 100 % X. Down figures
    (含绒量, 充绒量) are not fibre content and are ignored.
    """
    cleaned = _DOWN_FIGURES.sub(" ", text.replace("％", "%"))
    pieces = _COMPONENT_LABELS.split(cleaned)
    components: list[FibreComponent] = []
    # split() alternates text, label, text …; a leading text belongs to an unnamed component
    leading, rest = pieces[0], pieces[1:]
    for part, body in [("", leading), *zip(rest[::2], rest[1::2], strict=True)]:
        for sub_body in re.split(r"[;；\n]", body):
            component = _parse_component(part, sub_body)
            if component is not None:
                components.append(component)
    return components


def _parse_component(part: str, body: str) -> FibreComponent | None:
    if not body.strip(" ，,。、"):
        return None
    fibres: list[tuple[str, Decimal | None]] = []
    for match in _FIBRE_PERCENT.finditer(body):
        name = (match.group("name1") or match.group("name2") or "").strip(" ，,。、()（）")
        share = match.group("pct1") or match.group("pct2")
        fibres.append((name, Decimal(share)))
    if not fibres and (pure := _PURE.match(body.strip(" ，,。、"))):
        fibres.append((pure.group("name"), Decimal(100)))
    elif not fibres:
        fibres = [(name.strip(), None) for name in re.split(r"[\s,，、/+]+", body) if name.strip()]
    return FibreComponent(part, tuple(fibres))


def _fibre_problem(name: str) -> str | None:
    bare = re.sub(r"[（(][^）)]*[）)]", "", name).strip()
    if (
        bare in STANDARD_FIBRES
        or bare.removesuffix("纤维") in STANDARD_FIBRES
        or f"{bare}纤维" in STANDARD_FIBRES
    ):
        return None
    for nickname, advice in NONSTANDARD_FIBRES.items():
        if nickname in bare:
            return f"“{name}”不是规范纤维名称，应写：{advice}"
    return f"“{name}”不在 GB/T 4146 / FZ/T 01053 规范纤维名称中"


def _is_down_filling(component: FibreComponent) -> bool:
    return component.part.startswith("填充") and component.fibres[0][0].endswith(("绒", "羽毛"))


def _composition_findings(text: str) -> list[tuple[LabelProblem, LabelSeverity, str]]:
    components = parse_fibre_composition(text)
    if not components:
        return [("malformed", "violation", "未写出任何纤维名称和含量")]
    problems: list[tuple[LabelProblem, LabelSeverity, str]] = []
    for component in components:
        where = f"{component.part}：" if component.part else ""
        names = [name for name, _ in component.fibres]
        unquantified = any(share is None for _, share in component.fibres)
        if unquantified and len(names) == 1 and _is_down_filling(component):
            pass  # 填充物：白鸭绒 (含绒量 stated separately, GB/T 14272)
        elif unquantified and len(names) == 1:
            problems.append(("malformed", "review", f"{where}单一纤维应写“100%{names[0]}”或“纯{names[0]}”"))
        elif unquantified:
            problems.append(("malformed", "violation", f"{where}{'、'.join(names)} 未标注含量百分比"))
        elif component.total != 100:
            problems.append(
                ("malformed", "violation", f"{where}各纤维含量合计 {component.total}%，应为 100%")
            )
        for name in names:
            problem = _fibre_problem(name)
            if problem is not None:
                problems.append(("malformed", "review", f"{where}{problem}"))
    return problems


# --- size / 号型 (GB/T 1335) -----------------------------------------------------------------------

_HAO_XING = re.compile(
    r"(?<!\d)(?P<height>\d{2,3})\s*/\s*(?P<girth>\d{2,3})\s*(?P<body>[YABC])?(?![\d/])", re.IGNORECASE
)
_DIMENSION = re.compile(
    r"\d+(?:\.\d+)?\s*(?:cm|mm|厘米|毫米|m|米)?\s*[×xX*]\s*\d+(?:\.\d+)?\s*(?:cm|mm|厘米|毫米|m|米)"
)
_FOOT_OR_HEAD = re.compile(
    r"\d{2}(?:\.\d)?\s*[-~～至]\s*\d{2}(?:\.\d)?\s*(?:cm|厘米)?|\d{2}(?:\.\d)?\s*(?:cm|厘米)"
)
_ACCESSORIES = {
    "scarf",
    "围巾",
    "hat",
    "帽子",
    "socks",
    "袜子",
    "gloves",
    "手套",
    "accessory",
    "配饰",
    "bag",
    "包",
}
_INFANT_WORDS = re.compile(r"婴幼儿|婴儿|新生儿|宝宝|infant|baby|0-3岁|36个月|爬服|连体衣|哈衣|襁褓|口水巾")
INFANT_MAX_HEIGHT_CM = 100
"""GB 18401 / GB 31701: infants are children of 36 months or younger, i.e. up to 100 cm tall."""


def _size_findings(size: str, category: str) -> list[tuple[LabelProblem, LabelSeverity, str]]:
    if _HAO_XING.search(size):
        return []
    if category.lower() in _ACCESSORIES and (_DIMENSION.search(size) or _FOOT_OR_HEAD.search(size)):
        return []
    example = "如 160/84A（身高/胸围+体型），可同时标注 S/M/L"
    return [("malformed", "review", f"“{size}”不是号型或规格；服装号型按 GB/T 1335 标注，{example}")]


def _is_infant_product(product: Mapping[str, object]) -> bool:
    text = " ".join(str(product.get(key) or "") for key in ("category", "name"))
    if _INFANT_WORDS.search(text):
        return True
    heights = [int(m.group("height")) for m in _HAO_XING.finditer(str(product.get("size_spec") or ""))]
    return bool(heights) and max(heights) <= INFANT_MAX_HEIGHT_CM


# --- the other items ---------------------------------------------------------------------------

_PRODUCT_STANDARD = re.compile(
    r"(GB/T|GB|FZ/T|FZ|QB/T|QB|SN/T|Q/[A-Z]+)\s*\d{3,6}(?:\.\d+)?(?:\s*[-—–]\s*\d{4})?", re.IGNORECASE
)
_SAFETY_STANDARD_ONLY = re.compile(r"^\s*GB\s*18401(?:\s*[-—–]\s*\d{4})?\s*$", re.IGNORECASE)
_SAFETY_CATEGORY = re.compile(r"(?<![A-Za-z])([ABC])\s*类?(?![A-Za-z])", re.IGNORECASE)
_CARE_ASPECTS = {
    "水洗": re.compile(r"水洗|手洗|机洗|洗涤|不可洗|不可水洗|冷水洗|温水洗|洗涤温度|\d+\s*℃|\d+\s*度"),
    "漂白": re.compile(r"漂白"),
    "干燥": re.compile(r"晾|干燥|烘干|滚筒|翻转干燥|平摊|平铺|悬挂|阴干|拧干"),
    "熨烫": re.compile(r"熨|烫"),
    "专业维护": re.compile(r"干洗|湿洗|专业"),
}
_MIN_CARE_ASPECTS = 3
_ADDRESS = re.compile(r"省|市|区|县|镇|乡|村|路|街|道|号|巷|弄|园|大厦|工业")


def check_product_label(product: Mapping[str, object]) -> list[LabelFinding]:
    """Missing or malformed label items of one product record (empty list: the label is complete)."""
    sku = str(product.get("sku") or "").strip() or "(no sku)"
    findings: list[LabelFinding] = []

    def add(field: str, problem: LabelProblem, severity: LabelSeverity, message: str) -> None:
        findings.append(LabelFinding(sku, field, problem, severity, message, _STANDARD_OF[field]))

    values = {field: str(product.get(field) or "").strip() for field in LABEL_FIELDS}
    for field, label in LABEL_FIELDS.items():
        if not values[field]:
            add(field, "missing", "violation", f"缺少{label}")
    if values["manufacturer_address"] and not _ADDRESS.search(values["manufacturer_address"]):
        add("manufacturer_address", "malformed", "review", "制造者地址应为依法登记的地址（省/市/区/路/号）")
    if values["size_spec"]:
        for problem, severity, message in _size_findings(
            values["size_spec"], str(product.get("category") or "")
        ):
            add("size_spec", problem, severity, message)
    if values["fibre_composition"]:
        for problem, severity, message in _composition_findings(values["fibre_composition"]):
            add("fibre_composition", problem, severity, message)
    if values["care_instructions"]:
        _check_care(values["care_instructions"], add)
    if values["product_standard"]:
        _check_product_standard(values["product_standard"], add)
    if values["safety_category"]:
        _check_safety_category(values["safety_category"], _is_infant_product(product), add)
    return findings


def _check_care(text: str, add: _Add) -> None:
    present = [aspect for aspect, pattern in _CARE_ASPECTS.items() if pattern.search(text)]
    if "水洗" not in present and "专业维护" not in present:
        add(
            "care_instructions",
            "malformed",
            "review",
            "维护方法未写水洗或干洗方式（GB/T 8685：水洗、漂白、干燥、熨烫、专业维护）",
        )
    elif len(present) < _MIN_CARE_ASPECTS:
        missing = "、".join(aspect for aspect in _CARE_ASPECTS if aspect not in present)
        add(
            "care_instructions",
            "malformed",
            "review",
            f"维护方法不完整，未涉及：{missing}（GB/T 8685 的五类符号）",
        )


def _check_product_standard(text: str, add: _Add) -> None:
    if _SAFETY_STANDARD_ONLY.match(text):
        add(
            "product_standard",
            "malformed",
            "violation",
            "GB 18401 是安全技术规范，不是产品标准；请写产品标准（如 FZ/T 73020-2019）",
        )
    elif not _PRODUCT_STANDARD.search(text):
        add(
            "product_standard",
            "malformed",
            "review",
            f"“{text}”不像标准编号（如 GB/T 2660-2017、FZ/T 73020-2019）",
        )


def _check_safety_category(text: str, infant: bool, add: _Add) -> None:
    found = _SAFETY_CATEGORY.search(text)
    if not found:
        add("safety_category", "malformed", "violation", f"“{text}”不是 GB 18401 安全类别（A类、B类或C类）")
        return
    category = found.group(1).upper()
    if infant and category != "A":
        add(
            "safety_category",
            "malformed",
            "violation",
            f"婴幼儿用品应为 A 类，标注为 {category} 类（GB 18401-2010 5.1）",
        )


def check_product_labels(products: Iterable[Mapping[str, object]]) -> list[ProductLabelReport]:
    """Reports for the products whose label has missing or malformed items, in input order."""
    reports = []
    for product in products:
        findings = check_product_label(product)
        if findings:
            reports.append(
                ProductLabelReport(findings[0].sku, str(product.get("name") or ""), tuple(findings))
            )
    return reports


def parse_products(text: str, format: Literal["csv", "json"]) -> list[dict[str, object]]:
    """Product records from CSV (a header row with the label keys) or JSON (a list, or {"products": [...]}).

    Raises :class:`InputFormatError` naming the problem when the text cannot be read.
    """
    if format == "csv":
        reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
        if not reader.fieldnames or "sku" not in reader.fieldnames:
            raise InputFormatError("CSV needs a header row with at least a 'sku' column")
        return [dict(row) for row in reader]
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputFormatError(
            f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from error
    records = document.get("products") if isinstance(document, dict) else document
    if not isinstance(records, list) or not all(isinstance(record, dict) for record in records):
        raise InputFormatError('JSON must be a list of product objects or {"products": [...]}')
    return records
