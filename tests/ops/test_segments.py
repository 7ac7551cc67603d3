from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from groupops.errors import ConfigurationError
from groupops.ops.segments import (
    CLASS_KEYS,
    AxisRule,
    assign_member_classes,
    axis_threshold,
    class_movement,
    class_rules_path,
    load_class_rules,
    member_tags,
    rfm_scores,
)

PACKAGED = load_class_rules()


def _profiles(spend: list[float], interaction: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "member_id": [f"m{i}" for i in range(len(spend))],
            "net_spend_90d": spend,
            "active_days_30d": interaction,
        }
    )


def test_packaged_rules_have_the_four_classes_with_the_plans_strategies() -> None:
    assert sorted(PACKAGED.classes) == sorted(CLASS_KEYS)
    assert [PACKAGED.classes[k].short_zh for k in CLASS_KEYS] == ["种子", "潜力", "培育", "流失风险"]
    assert "VIP客服" in PACKAGED.classes["seed"].strategy_zh
    assert "专属优惠券" in PACKAGED.classes["churn_risk"].strategy_zh
    assert len(PACKAGED.win_back["steps"]) == 3 and PACKAGED.win_back["outcome_window_days"] == 14


def test_default_thresholds_are_medians_of_positive_values() -> None:
    profiles = _profiles([0, 100, 200, 300], [0, 5, 10, 0])
    classes, thresholds = assign_member_classes(profiles, PACKAGED)
    assert thresholds["spend"]["threshold"] == 200 and thresholds["interaction"]["threshold"] == 7.5
    assert classes["member_class"].tolist() == ["churn_risk", "churn_risk", "seed", "potential"]
    assert classes["member_class_zh"].tolist() == ["流失风险", "流失风险", "种子", "潜力"]


def test_a_value_exactly_at_the_threshold_is_high_and_zero_never_is() -> None:
    rules = load_class_rules()
    fixed = type(rules)(**{**rules.__dict__, "spend": AxisRule("net_spend_90d", value=100.0),
                           "interaction": AxisRule("active_days_30d", value=0.0)})  # fmt: skip
    classes, _ = assign_member_classes(_profiles([99.99, 100, 0], [1, 0, 3]), fixed)
    assert classes["high_spend"].tolist() == [False, True, False]
    assert classes["high_interaction"].tolist() == [True, False, True]
    assert classes["member_class"].tolist() == ["nurture", "potential", "nurture"]


def test_no_positive_values_means_nobody_is_high() -> None:
    assert axis_threshold(pd.Series([0.0, 0.0]), AxisRule("x")) is None
    classes, _ = assign_member_classes(_profiles([0, 0], [0, 0]), PACKAGED)
    assert set(classes["member_class"]) == {"churn_risk"}


def test_rfm_scores_rank_buyers_and_leave_non_buyers_empty() -> None:
    profiles = pd.DataFrame({
        "orders": [1, 2, 3, 4, 5, 0], "net_spend": [10, 20, 30, 40, 50, 0],
        "days_since_last_order": [50, 40, 30, 20, 10, None],
    })  # fmt: skip
    scores = rfm_scores(profiles)
    assert scores["recency_score"].tolist()[:5] == [1, 2, 3, 4, 5]
    assert scores["monetary_score"].tolist()[:5] == [1, 2, 3, 4, 5]
    assert scores["rfm_score"].tolist()[:5] == ["111", "222", "333", "444", "555"]
    assert pd.isna(scores.loc[5, "frequency_score"]) and pd.isna(scores.loc[5, "rfm_score"])


def test_tied_values_share_an_rfm_score() -> None:
    profiles = pd.DataFrame(
        {"orders": [1, 1, 1, 1], "net_spend": [5, 5, 5, 5], "days_since_last_order": [3, 3, 3, 3]}
    )
    assert set(rfm_scores(profiles)["rfm_score"]) == {"555"}


def test_vip_koc_and_regular_tags() -> None:
    profiles = pd.DataFrame({
        "net_spend": [0.0] + [float(v) for v in range(1, 11)] + [0.0],
        "followers": [50_000] + [10] * 10 + [None],
        "tags": [[]] * 11 + [["VIP"]],
    })  # fmt: skip
    tags = member_tags(profiles, PACKAGED)
    assert tags["member_tag"].tolist() == ["KOC"] + ["regular"] * 9 + ["VIP", "VIP"]


def test_class_movement_counts_transitions_and_newcomers() -> None:
    before = pd.DataFrame({"member_id": ["a", "b", "c"], "member_class": ["seed", "nurture", "nurture"]})
    after = pd.DataFrame(
        {"member_id": ["a", "b", "c", "d"], "member_class": ["seed", "seed", "churn_risk", "nurture"]}
    )
    movement = class_movement(before, after).to_dict(orient="records")
    assert movement == [
        {"from_class": "new", "to_class": "nurture", "members": 1},
        {"from_class": "seed", "to_class": "seed", "members": 1},
        {"from_class": "nurture", "to_class": "seed", "members": 1},
        {"from_class": "nurture", "to_class": "churn_risk", "members": 1},
    ]


def test_an_admin_copy_in_the_data_dir_overrides_the_defaults(tmp_path: Path) -> None:
    assert class_rules_path(tmp_path) is None
    text = (Path(__file__).parents[2] / "src/groupops/ops/data/member_classes.yaml").read_text(
        encoding="utf-8"
    )
    (tmp_path / "member_classes.yaml").write_text(
        text.replace("quantile: 0.5", "quantile: 0.75"), encoding="utf-8"
    )
    rules = load_class_rules(class_rules_path(tmp_path))
    assert rules.spend.quantile == 0.75 and rules.interaction.quantile == 0.75


@pytest.mark.parametrize(
    "content",
    ["", "- just a list", "axes: {spend: {metric: net_spend}}", "axes: [", "<script>alert(1)</script>",
     "axes:\n  spend: {metric: a, quantile: 7}\n  interaction: {metric: b}\nclasses: []\nwin_back: {steps: [1, 2, 3]}"],
)  # fmt: skip
def test_malformed_rule_files_are_configuration_errors(tmp_path: Path, content: str) -> None:
    path = tmp_path / "member_classes.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigurationError):
        load_class_rules(path)


def test_an_unknown_metric_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        assign_member_classes(pd.DataFrame({"member_id": ["a"], "spend": [1]}), PACKAGED)
