"""Member classes (种子/潜力/培育/流失风险, plan §5.3), RFM scores and VIP/KOC/regular tags (plan §5.1).

Classes cross two axes of the profile, spend and interaction, each split at a threshold kept
as data in ``ops/data/member_classes.yaml`` (by default the median of the members with a
positive value); a ``<data>/member_classes.yaml`` copy edited by an admin overrides it. The
file also carries the plan's strategy for each class and the messages tasks suggest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from groupops.errors import ConfigurationError

__all__ = [
    "CLASS_KEYS",
    "AxisRule",
    "MemberClass",
    "MemberClassRules",
    "assign_member_classes",
    "axis_threshold",
    "class_movement",
    "class_rules_path",
    "load_class_rules",
    "member_tags",
    "rfm_scores",
]

CLASS_KEYS = ("seed", "potential", "nurture", "churn_risk")
_RULES_FILE = "member_classes.yaml"


@dataclass(frozen=True)
class AxisRule:
    """One axis: the profile column and how its threshold is set (quantile or fixed value)."""

    metric: str
    quantile: float = 0.5
    basis: str = "positive"
    value: float | None = None


@dataclass(frozen=True)
class MemberClass:
    """One class: which side of each axis, the plan's strategy and the care message."""

    key: str
    name_zh: str
    short_zh: str
    high_spend: bool
    high_interaction: bool
    strategy_zh: str
    strategy_en: str
    care_message_zh: str
    care_message_en: str


@dataclass(frozen=True)
class MemberClassRules:
    """Everything in ``member_classes.yaml``: axes, classes, win-back, tags and KOC tiers."""

    spend: AxisRule
    interaction: AxisRule
    classes: dict[str, MemberClass]
    win_back: dict[str, Any]
    tags: dict[str, Any]
    koc_tiers: dict[str, dict[str, str]]
    vip_care: dict[str, str]
    source: str

    def member_class(self, high_spend: bool, high_interaction: bool) -> MemberClass:
        """The class on that side of both axes."""
        for member_class in self.classes.values():
            if (member_class.high_spend, member_class.high_interaction) == (high_spend, high_interaction):
                return member_class
        raise ConfigurationError(
            f"{self.source}: no class for spend={high_spend}, interaction={high_interaction}"
        )


def class_rules_path(data_dir: Path | None = None) -> Path | None:
    """The admin's ``<data>/member_classes.yaml`` when it exists, else None (packaged defaults)."""
    if data_dir is None:
        return None
    candidate = Path(data_dir) / _RULES_FILE
    return candidate if candidate.is_file() else None


def _axis(raw: Any, name: str, source: str) -> AxisRule:
    if not isinstance(raw, dict) or not isinstance(raw.get("metric"), str):
        raise ConfigurationError(f"{source}: axes.{name} needs a metric")
    quantile, value = raw.get("quantile", 0.5), raw.get("value")
    if not isinstance(quantile, int | float) or not 0.0 <= float(quantile) <= 1.0:
        raise ConfigurationError(f"{source}: axes.{name}.quantile must be a number in 0..1")
    if value is not None and (not isinstance(value, int | float) or not math.isfinite(float(value))):
        raise ConfigurationError(f"{source}: axes.{name}.value must be a number or null")
    basis = str(raw.get("basis", "positive"))
    if basis not in ("positive", "all"):
        raise ConfigurationError(f"{source}: axes.{name}.basis must be 'positive' or 'all'")
    return AxisRule(raw["metric"], float(quantile), basis, None if value is None else float(value))


def _classes(raw: Any, source: str) -> dict[str, MemberClass]:
    if not isinstance(raw, list):
        raise ConfigurationError(f"{source}: classes must be a list")
    try:
        classes = {str(entry["key"]): MemberClass(**{**entry, "key": str(entry["key"])}) for entry in raw}
    except (TypeError, KeyError) as error:
        raise ConfigurationError(f"{source}: a class entry is malformed ({error})") from error
    if sorted(classes) != sorted(CLASS_KEYS):
        raise ConfigurationError(f"{source}: classes must be exactly {', '.join(CLASS_KEYS)}")
    sides = {(c.high_spend, c.high_interaction) for c in classes.values()}
    if len(sides) != 4:
        raise ConfigurationError(f"{source}: each class must cover a different spend × interaction side")
    return classes


def load_class_rules(path: Path | None = None) -> MemberClassRules:
    """Rules from ``path`` (an admin's copy) or the packaged ``ops/data/member_classes.yaml``."""
    if path is None:
        source = f"ops/data/{_RULES_FILE}"
        text = resources.files("groupops.ops").joinpath("data", _RULES_FILE).read_text(encoding="utf-8")
    else:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigurationError(f"{source}: cannot read member class rules ({error})") from error
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigurationError(f"{source}: not valid YAML ({error})") from error
    if not isinstance(raw, dict) or not isinstance(raw.get("axes"), dict):
        raise ConfigurationError(f"{source}: expected a mapping with 'axes' and 'classes'")
    win_back = raw.get("win_back") or {}
    if len(win_back.get("steps") or []) != 3:
        raise ConfigurationError(f"{source}: win_back.steps must list the 3 steps of the plan")
    return MemberClassRules(
        spend=_axis(raw["axes"].get("spend"), "spend", source),
        interaction=_axis(raw["axes"].get("interaction"), "interaction", source),
        classes=_classes(raw.get("classes"), source),
        win_back=win_back,
        tags=raw.get("tags") or {},
        koc_tiers=raw.get("koc_tiers") or {},
        vip_care=raw.get("vip_care") or {},
        source=source,
    )


def _metric(profiles: pd.DataFrame, metric: str) -> pd.Series:
    if metric not in profiles.columns:
        raise ConfigurationError(f"class rules: profile has no column {metric!r}")
    return pd.to_numeric(profiles[metric], errors="coerce").fillna(0.0).astype(np.float64)


def axis_threshold(values: pd.Series, rule: AxisRule) -> float | None:
    """The threshold of one axis on these values (None when no member has a positive value)."""
    if rule.value is not None:
        return rule.value
    basis = values[values > 0] if rule.basis == "positive" else values
    if basis.empty:
        return None
    return float(np.quantile(basis.to_numpy(dtype=np.float64), rule.quantile))


def _is_high(values: pd.Series, threshold: float | None) -> pd.Series:
    if threshold is None:
        return pd.Series(False, index=values.index)
    return (values > 0) & (values >= threshold)


def assign_member_classes(
    profiles: pd.DataFrame, rules: MemberClassRules
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per member: spend/interaction values, high flags, class key, Chinese name and strategy.

    Returns the table (indexed like ``profiles``, with ``member_id``) and the thresholds used.
    """
    spend, interaction = _metric(profiles, rules.spend.metric), _metric(profiles, rules.interaction.metric)
    spend_threshold = axis_threshold(spend, rules.spend)
    interaction_threshold = axis_threshold(interaction, rules.interaction)
    high_spend, high_interaction = (
        _is_high(spend, spend_threshold),
        _is_high(interaction, interaction_threshold),
    )
    keys = {(c.high_spend, c.high_interaction): c for c in rules.classes.values()}
    chosen = [keys[(bool(s), bool(i))] for s, i in zip(high_spend, high_interaction, strict=True)]
    table = pd.DataFrame(
        {
            "member_id": profiles["member_id"].to_numpy(),
            "spend_value": spend.to_numpy(),
            "interaction_value": interaction.to_numpy(),
            "high_spend": high_spend.to_numpy(),
            "high_interaction": high_interaction.to_numpy(),
            "member_class": [c.key for c in chosen],
            "member_class_zh": [c.short_zh for c in chosen],
            "class_strategy_zh": [c.strategy_zh for c in chosen],
            "class_strategy_en": [c.strategy_en for c in chosen],
        },
        index=profiles.index,
    )
    thresholds = {
        "spend": {"metric": rules.spend.metric, "threshold": spend_threshold},
        "interaction": {"metric": rules.interaction.metric, "threshold": interaction_threshold},
    }
    return table, thresholds


def _quintile_score(values: pd.Series) -> pd.Series:
    """1..5 by cumulative share (ties share a score): ceil(5 · cume_dist)."""
    cume_dist = values.rank(method="max", pct=True)
    return np.ceil(5 * cume_dist).clip(1, 5).astype("Int64")


def rfm_scores(profiles: pd.DataFrame) -> pd.DataFrame:
    """Recency, frequency and monetary scores 1–5 among buyers (5 = best); null for non-buyers.

    Recency uses days since the last order (fewer is better), frequency the number of orders,
    monetary the net spend. ``rfm_score`` is the three digits, e.g. ``"545"``.
    """
    buyers = profiles["orders"].fillna(0) > 0
    result = pd.DataFrame(index=profiles.index)
    for column in ("recency_score", "frequency_score", "monetary_score"):
        result[column] = pd.Series(pd.NA, index=profiles.index, dtype="Int64")
    if buyers.any():
        bought = profiles[buyers]
        result.loc[buyers, "recency_score"] = _quintile_score(-bought["days_since_last_order"].astype(float))
        result.loc[buyers, "frequency_score"] = _quintile_score(bought["orders"].astype(float))
        result.loc[buyers, "monetary_score"] = _quintile_score(bought["net_spend"].astype(float))
    digits = result.astype("string")
    result["rfm_score"] = (
        digits["recency_score"] + digits["frequency_score"] + digits["monetary_score"]
    ).where(buyers, None)
    return result


def _has_tag(tags: pd.Series, wanted: list[str]) -> pd.Series:
    wanted_set = {str(tag) for tag in wanted}
    return tags.map(lambda values: bool(wanted_set.intersection(values if values is not None else [])))


def member_tags(profiles: pd.DataFrame, rules: MemberClassRules) -> pd.DataFrame:
    """``is_vip``, ``is_koc`` and ``member_tag`` (VIP > KOC > regular) per member."""
    vip_rule, koc_rule = rules.tags.get("vip", {}), rules.tags.get("koc", {})
    net_spend = pd.to_numeric(profiles["net_spend"], errors="coerce").fillna(0.0)
    buyers = net_spend[net_spend > 0]
    cut = float(np.quantile(buyers, float(vip_rule.get("spend_quantile", 0.9)))) if len(buyers) else math.inf
    tags = profiles["tags"] if "tags" in profiles else pd.Series([[]] * len(profiles), index=profiles.index)
    is_vip = ((net_spend > 0) & (net_spend >= cut)) | _has_tag(tags, vip_rule.get("store_tags", []))
    followers = pd.to_numeric(profiles["followers"], errors="coerce").fillna(0)
    is_koc = (followers >= int(koc_rule.get("min_followers", 1000))) | _has_tag(
        tags, koc_rule.get("store_tags", [])
    )
    tag = np.where(is_vip, "VIP", np.where(is_koc, "KOC", "regular"))
    return pd.DataFrame(
        {"is_vip": is_vip.astype(bool), "is_koc": is_koc.astype(bool), "member_tag": tag},
        index=profiles.index,
    )


def class_movement(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Members moving between classes: ``from_class, to_class, members`` (``new`` for newcomers).

    Both tables need ``member_id`` and ``member_class``; rows are sorted by class order.
    """
    merged = after[["member_id", "member_class"]].merge(
        before[["member_id", "member_class"]], on="member_id", how="left", suffixes=("", "_before")
    )
    merged["from_class"] = merged["member_class_before"].fillna("new")
    counts = merged.groupby(["from_class", "member_class"]).size().rename("members").reset_index()
    counts = counts.rename(columns={"member_class": "to_class"})
    order = {key: position for position, key in enumerate(("new", *CLASS_KEYS))}
    counts["_order"] = counts["from_class"].map(order) * 10 + counts["to_class"].map(order)
    return counts.sort_values("_order").drop(columns="_order").reset_index(drop=True)
