"""Chinese phrase pools for the group chat, expanded from ``data/phrases.yaml``.

Every template is expanded a fixed number of times with random slot values, so a message
only picks an index into a pool. Pools keep the raw text and its JSON-escaped form, which
the archive writer concatenates without calling ``json.dumps`` per message.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import yaml

__all__ = [
    "PhrasePools",
    "ProductNames",
    "build_phrase_pools",
    "fill_template",
    "json_escape",
    "load_phrases",
]

_SLOT = re.compile(r"\{(\w+)\}")


def json_escape(text: str) -> str:
    """The body of a JSON string literal for ``text`` (no surrounding quotes)."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


@dataclass(frozen=True)
class ProductNames:
    """What templates may say about products: names, categories and group prices."""

    names: list[str]
    categories: list[str]
    prices: list[str]


@dataclass(frozen=True)
class PhrasePools:
    """Pools of expanded phrases by ``section.category`` name."""

    names: list[str]
    raw: list[list[str]]
    escaped: list[list[str]]

    def index(self, name: str) -> int:
        return self.names.index(name)

    def sizes(self) -> np.ndarray:
        return np.asarray([len(pool) for pool in self.raw], dtype=np.int64)


def load_phrases() -> dict[str, Any]:
    """The phrase file as a mapping (``slots``, ``member``, ``reply``, ``staff``)."""
    text = resources.files("groupops.simulate").joinpath("data/phrases.yaml").read_text("utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def fill_template(
    template: str,
    rng: np.random.Generator,
    slots: dict[str, list[str]],
    products: ProductNames,
    fixed: dict[str, str] | None = None,
) -> str:
    """``template`` with every ``{slot}`` replaced by a random value (or one from ``fixed``)."""
    product = int(rng.integers(len(products.names)))

    def value(match: re.Match[str]) -> str:
        slot = match.group(1)
        if fixed and slot in fixed:
            return fixed[slot]
        if slot == "product":
            return products.names[product]
        if slot == "category":
            return products.categories[product]
        if slot == "price":
            return products.prices[product]
        choices = slots[slot]
        return choices[int(rng.integers(len(choices)))]

    return _SLOT.sub(value, template)


def build_phrase_pools(
    rng: np.random.Generator, products: ProductNames, variants_per_template: int = 24
) -> PhrasePools:
    """Expand every template of the phrase file into a pool per ``section.category``."""
    phrases = load_phrases()
    slots: dict[str, list[str]] = phrases["slots"]
    names: list[str] = []
    raw: list[list[str]] = []
    for section in ("member", "reply", "staff", "titles"):
        for category, templates in phrases[section].items():
            pool: list[str] = []
            for template in templates:
                repeats = variants_per_template if _SLOT.search(template) else 1
                pool.extend(fill_template(template, rng, slots, products) for _ in range(repeats))
            names.append(f"{section}.{category}")
            raw.append(pool)
    escaped = [[json_escape(text) for text in pool] for pool in raw]
    return PhrasePools(names, raw, escaped)
