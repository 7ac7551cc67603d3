"""The demo brand's product catalogue with textile label fields (``products.csv``)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from groupops.simulate._phrases import ProductNames

__all__ = ["PRODUCT_COLUMNS", "Catalogue", "build_catalogue", "write_products_csv"]

PRODUCT_COLUMNS = [
    "sku", "name", "category", "list_price", "manufacturer", "manufacturer_address", "size_spec",
    "fibre_composition", "care_instructions", "product_standard", "safety_category", "usage_notes",
    "storage_notes",
]  # fmt: skip

# category: (sku code, standard, safety class, price range, fibre options, size specs, styles)
_CATEGORIES: dict[str, tuple[str, str, str, tuple[int, int], list[str], list[str], list[str]]] = {
    "T恤": ("TS", "GB/T 22849-2014", "B类", (59, 159), ["棉 100%", "棉 95% 氨纶 5%", "棉 60% 聚酯纤维 40%"],
             ["160/84A", "165/88A", "170/92A", "175/96A"], ["纯棉短袖T恤", "宽松印花T恤", "修身圆领T恤"]),
    "卫衣": ("SW", "FZ/T 73020-2019", "B类", (129, 299), ["棉 80% 聚酯纤维 20%", "棉 100%"],
             ["160/84A", "165/88A", "170/92A"], ["连帽卫衣", "oversize圆领卫衣", "加绒卫衣"]),
    "连衣裙": ("DR", "FZ/T 81004-2022", "B类", (199, 459), ["聚酯纤维 100%", "粘纤 70% 锦纶 30%", "桑蚕丝 100%"],
             ["155/80A", "160/84A", "165/88A"], ["法式碎花连衣裙", "针织长袖连衣裙", "收腰衬衫裙"]),
    "牛仔裤": ("JN", "FZ/T 81006-2017", "B类", (169, 359), ["棉 98% 氨纶 2%", "棉 100%"],
              ["155/62A", "160/66A", "165/70A", "170/74A"], ["高腰直筒牛仔裤", "阔腿牛仔裤", "小脚牛仔裤"]),
    "羽绒服": ("DJ", "GB/T 14272-2021", "C类", (499, 1299), ["面料：锦纶 100% 填充物：白鸭绒（含绒量90%）"],
              ["160/84A", "165/88A", "170/92A"], ["短款羽绒服", "长款连帽羽绒服", "轻薄羽绒马甲"]),
    "针织衫": ("KN", "FZ/T 73018-2021", "B类", (159, 399), ["羊毛 30% 腈纶 70%", "棉 60% 腈纶 40%", "羊毛 100%"],
              ["160/84A", "165/88A"], ["V领针织开衫", "慵懒风毛衣", "短款针织衫"]),
    "衬衫": ("SH", "GB/T 2660-2017", "B类", (139, 299), ["棉 100%", "天丝 70% 麻 30%"],
            ["160/84A", "165/88A", "170/92A"], ["通勤白衬衫", "条纹衬衫", "亚麻衬衫"]),
    "半身裙": ("SK", "FZ/T 81004-2022", "B类", (129, 299), ["聚酯纤维 100%", "羊毛 50% 聚酯纤维 50%"],
              ["155/64A", "160/66A", "165/70A"], ["百褶半身裙", "A字半身裙", "包臀针织半身裙"]),
    "外套": ("CT", "FZ/T 81007-2022", "C类", (299, 899), ["羊毛 70% 聚酯纤维 30%", "聚酯纤维 100%"],
            ["160/84A", "165/88A", "170/92A"], ["双面呢大衣", "西装外套", "风衣外套"]),
    "童装": ("KD", "FZ/T 73045-2013", "A类", (69, 199), ["棉 100%", "棉 95% 氨纶 5%"],
            ["90/52", "110/56", "120/60", "130/64"], ["儿童纯棉套装", "儿童卫衣", "婴儿连体衣"]),
}  # fmt: skip

_COLOURS = ["白色", "黑色", "燕麦色", "雾霾蓝", "奶咖色", "藏青", "酒红", "浅灰", "卡其", "牛油果绿"]
_MANUFACTURERS = [
    ("杭州栖木服饰有限公司", "浙江省杭州市余杭区良渚街道古墩路1888号"),
    ("广州锦程制衣有限公司", "广东省广州市番禺区南村镇兴业大道36号"),
    ("宁波甬秀针织有限公司", "浙江省宁波市海曙区集士港镇万众路99号"),
    ("东莞虎门华羽服装厂", "广东省东莞市虎门镇大宁工业区12号"),
]
_CARE = {
    "C类": "不可水洗；专业干洗；不可漂白；低温熨烫；平摊晾干",
    "A类": "30℃水温手洗；不可漂白；悬挂晾干；低温熨烫；不可干洗",
    "B类": "30℃水温轻柔机洗；不可漂白；悬挂晾干；中温熨烫；不可翻转干燥",
}
_USAGE = "深色产品首次洗涤可能轻微掉色，请与浅色衣物分开洗涤"
_STORAGE = "存放于阴凉干燥处，避免阳光直射，防潮防虫"


@dataclass(frozen=True)
class Catalogue:
    """Products as parallel lists; ``label_defects`` maps SKU → what is wrong with its label."""

    skus: list[str]
    names: list[str]
    categories: list[str]
    list_prices: np.ndarray
    rows: list[dict[str, str]]
    label_defects: dict[str, str]

    def product_names(self) -> ProductNames:
        prices = [f"{price * 0.8:.0f}" for price in self.list_prices]
        return ProductNames(self.names, self.categories, prices)


def _product_row(rng: np.random.Generator, category: str, serial: int) -> dict[str, str]:
    code, standard, safety, (low, high), fibres, specs, styles = _CATEGORIES[category]
    colour = _COLOURS[int(rng.integers(len(_COLOURS)))]
    style = styles[int(rng.integers(len(styles)))]
    manufacturer, address = _MANUFACTURERS[int(rng.integers(len(_MANUFACTURERS)))]
    price = int(rng.integers(low, high + 1)) // 10 * 10 + 9
    return {
        "sku": f"QM-{code}-{2600 + serial:04d}",
        "name": f"{style} {colour}",
        "category": category,
        "list_price": f"{price:.2f}",
        "manufacturer": manufacturer,
        "manufacturer_address": address,
        "size_spec": specs[int(rng.integers(len(specs)))],
        "fibre_composition": fibres[int(rng.integers(len(fibres)))],
        "care_instructions": _CARE[safety],
        "product_standard": standard,
        "safety_category": safety,
        "usage_notes": _USAGE,
        "storage_notes": _STORAGE,
    }


def _break_label(rng: np.random.Generator, row: dict[str, str]) -> str:
    """Damage one label field the way real listings get it wrong; returns what was done."""
    defect = int(rng.integers(6))
    if defect == 0:
        row["fibre_composition"] = ""
        return "missing fibre_composition"
    if defect == 1:
        row["fibre_composition"] = "棉 95% 氨纶 3%"
        return "fibre_composition does not add up to 100%"
    if defect == 2:
        row["size_spec"] = "均码"
        return "size_spec is not a 号型 (e.g. 160/84A)"
    if defect == 3:
        row["product_standard"] = row["product_standard"].replace("-", "")[:-2] or "FZ/T"
        return "malformed product_standard"
    if defect == 4:
        row["safety_category"] = ""
        return "missing safety_category"
    row["care_instructions"] = ""
    return "missing care_instructions"


def build_catalogue(rng: np.random.Generator, members: int) -> Catalogue:
    """60–150 SKUs across the apparel categories; about 5% carry a label defect."""
    count = int(np.clip(60 + members // 200, 60, 150))
    categories = list(_CATEGORIES)
    weights = np.asarray([1.4, 1.2, 1.1, 1.1, 0.6, 0.9, 0.9, 0.8, 0.7, 0.6])
    chosen = rng.choice(len(categories), size=count, p=weights / weights.sum())
    rows = [_product_row(rng, categories[int(index)], serial) for serial, index in enumerate(chosen)]
    defective = rng.choice(count, size=max(3, round(count * 0.05)), replace=False)
    label_defects = {
        rows[int(index)]["sku"]: _break_label(rng, rows[int(index)]) for index in sorted(defective)
    }
    return Catalogue(
        skus=[row["sku"] for row in rows],
        names=["".join(reversed(row["name"].split(" "))) for row in rows],
        categories=[row["category"] for row in rows],
        list_prices=np.asarray([float(row["list_price"]) for row in rows]),
        rows=rows,
        label_defects=label_defects,
    )


def write_products_csv(catalogue: Catalogue, path: Path) -> None:
    """``products.csv`` (UTF-8) with the label columns."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=PRODUCT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(catalogue.rows)
