"""Churn rule, features, time-split model and evaluation on synthetic members with known fate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from groupops.analytics import churn
from groupops.errors import GroupOpsError, InputFormatError

START = pd.Timestamp("2024-01-01")


def synthetic_activity(members: int = 1200, days: int = 180, seed: int = 7) -> pd.DataFrame:
    """Members with their own daily activity rate; 60 % fade out linearly over 20-45 days and stop.

    The truth the model must find: a fading member is about to churn even when their last
    activity was recent, while a naturally quiet member often has 7-day gaps and stays.
    """
    rng = np.random.default_rng(seed)
    base_rate = np.exp(rng.uniform(np.log(0.04), np.log(0.6), members))
    churn_day = np.where(rng.random(members) < 0.6, rng.uniform(20, 260, members), np.inf)
    fade_days = rng.uniform(20, 45, members)
    day_index = np.arange(days)
    rows = []
    for member in range(members):
        rate = base_rate[member] * np.clip((churn_day[member] - day_index) / fade_days[member], 0.0, 1.0)
        for day in day_index[rng.random(days) < rate]:
            stamp = START + pd.Timedelta(days=int(day), hours=int(rng.integers(8, 22)))
            rows.append((f"m{member:04d}", stamp, 199.0 if rng.random() < 0.1 else 0.0))
    return pd.DataFrame(rows, columns=["member_id", "timestamp", "amount"])


@pytest.fixture(scope="module")
def activity() -> pd.DataFrame:
    return synthetic_activity()


def small_log() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "member_id": ["a", "a", "a", "b", "b", "c"],
            "timestamp": [
                "2024-01-01",
                "2024-01-05",
                "2024-01-09 23:59",
                "2024-01-02",
                "2024-01-20",
                "2024-01-03",
            ],
            "amount": [0.0, 50.0, 0.0, 0.0, 0.0, 0.0],
        }
    )


# --- the rule and features ----------------------------------------------------------------


def test_members_inactive_for_seven_days_follow_the_plan_rule() -> None:
    inactive = churn.members_inactive_for(small_log(), "2024-01-10", days=7)
    assert inactive.to_dict() == {"a": False, "b": True, "c": True}  # b: 8 days, c: 7 days, a: 1 day
    assert not churn.members_inactive_for(small_log(), "2024-01-09", days=7).to_dict()["c"]


def test_features_count_days_not_events_and_ignore_the_future() -> None:
    log = pd.concat([small_log(), small_log().iloc[[0]]])  # a duplicate event on the same day
    features = churn.churn_features(log, "2024-01-10", amount_col="amount")
    a = features.loc["a"]
    assert a["days_since_last_activity"] == 1 and a["tenure_days"] == 10
    assert a["active_days_7"] == 2 and a["active_days_30"] == 3
    assert a["purchases_90"] == 1 and a["spend_90"] == 50.0
    assert features.loc["b", "active_days_30"] == 1  # the 2024-01-20 event is after the cut-off
    assert set(churn.ACTIVITY_FEATURES) == set(features.columns)


def test_labels_mark_members_silent_in_the_horizon() -> None:
    labels = churn.churn_labels(small_log(), "2024-01-10", horizon_days=14)
    assert labels.to_dict() == {"a": 1, "b": 0, "c": 1}
    with pytest.raises(InputFormatError, match="ends at or before"):
        churn.churn_labels(small_log(), "2024-02-01", horizon_days=14)


# --- the model with a time split ---------------------------------------------------------------


@pytest.mark.parametrize("method", ["logistic", "gradient_boosting"])
def test_model_beats_the_seven_day_rule_on_a_later_period(
    activity: pd.DataFrame, method: churn.ChurnMethod
) -> None:
    report = churn.churn_holdout_report(
        activity, "2024-03-01", "2024-04-01", horizon_days=30, method=method, amount_col="amount"
    )
    evaluation = report.evaluation
    rule = evaluation.baselines["rule_7_day"]
    assert 0.1 < evaluation.churn_rate < 0.9
    assert evaluation.auc > rule["auc"] + 0.05
    assert evaluation.brier < rule["brier"]
    assert evaluation.auc > evaluation.baselines["p_alive"]["auc"]
    assert 0.0 <= evaluation.baselines["p_alive"]["auc"] <= 1.0
    assert report.predictions["churn_risk"].between(0, 1).all()


def test_calibration_table_has_deciles_and_rising_observed_rate(activity: pd.DataFrame) -> None:
    report = churn.churn_holdout_report(activity, "2024-03-01", "2024-04-01")
    table = report.evaluation.calibration
    assert list(table["decile"]) == list(range(1, 11))
    assert table["members"].sum() == report.evaluation.members
    assert table["mean_predicted"].is_monotonic_increasing
    assert table["observed_rate"].iloc[-1] > table["observed_rate"].iloc[0] + 0.5
    document = report.evaluation.as_dict()
    assert len(document["calibration"]) == 10 and set(document["baselines"]) == {"rule_7_day", "p_alive"}


def test_top_reasons_explain_the_risk(activity: pd.DataFrame) -> None:
    features, labels = churn.churn_dataset(activity, "2024-03-01", horizon_days=30)
    for method in ("logistic", "gradient_boosting"):
        model = churn.train_churn_model(features, labels, method=method)  # type: ignore[arg-type]
        predictions = churn.predict_churn_risk(model, features, top_reasons=2)
        riskiest = predictions.sort_values("churn_risk").iloc[-1]
        assert 1 <= len(riskiest["top_reasons"]) <= 2
        assert set(riskiest["top_reasons"]) <= set(churn.ACTIVITY_FEATURES)
        assert all(weight > 0 for weight in riskiest["reason_weights"])
        assert sorted(riskiest["reason_weights"], reverse=True) == riskiest["reason_weights"]


def test_a_long_silence_is_the_reason_for_a_silent_member(activity: pd.DataFrame) -> None:
    features, labels = churn.churn_dataset(activity, "2024-03-01", horizon_days=30)
    model = churn.train_churn_model(features, labels)
    silent = features.sort_values("silence_vs_usual_gap").iloc[[-1]]
    predictions = churn.predict_churn_risk(model, silent)
    assert predictions["churn_risk"].iloc[0] > 0.9
    assert {"days_since_last_activity", "silence_vs_usual_gap"} & set(predictions["top_reasons"].iloc[0])


def test_training_with_one_class_or_bad_features_is_refused() -> None:
    features = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    with pytest.raises(InputFormatError, match="single class"):
        churn.train_churn_model(features, [0, 0, 0])
    with pytest.raises(InputFormatError, match="same length"):
        churn.train_churn_model(features, [0, 1])
    with pytest.raises(InputFormatError, match="numeric"):
        churn.train_churn_model(pd.DataFrame({"x": ["<b>1</b>", "2", "3"]}), [0, 1, 0])
    with pytest.raises(InputFormatError, match="method"):
        churn.train_churn_model(features, [0, 1, 0], method="forest")  # type: ignore[arg-type]


def test_prediction_needs_the_training_features(activity: pd.DataFrame) -> None:
    features, labels = churn.churn_dataset(activity, "2024-03-01")
    model = churn.train_churn_model(features, labels)
    with pytest.raises(InputFormatError, match="missing column"):
        churn.predict_churn_risk(model, features.drop(columns="tenure_days"))
    assert churn.predict_churn_risk(model, features.iloc[:0]).empty


def test_holdout_cutoffs_must_not_overlap(activity: pd.DataFrame) -> None:
    with pytest.raises(InputFormatError, match="no label overlap"):
        churn.churn_holdout_report(activity, "2024-03-01", "2024-03-15", horizon_days=30)


# --- evaluation ---------------------------------------------------------------------------------


def test_evaluate_churn_metrics_on_known_scores() -> None:
    labels = np.array([0, 0, 1, 1])
    evaluation = churn.evaluate_churn(labels, [0.1, 0.2, 0.8, 0.9], {"coin": [0.5, 0.5, 0.5, 0.5]}, bins=2)
    assert evaluation.auc == 1.0
    assert evaluation.brier == pytest.approx((0.01 + 0.04 + 0.04 + 0.01) / 4)
    assert evaluation.baselines["coin"] == {"auc": 0.5, "brier": 0.25}
    assert evaluation.calibration["observed_rate"].tolist() == [0.0, 1.0]


def test_evaluate_churn_rejects_bad_inputs() -> None:
    with pytest.raises(InputFormatError, match="single class"):
        churn.evaluate_churn([1, 1], [0.2, 0.3])
    with pytest.raises(InputFormatError, match="same length"):
        churn.evaluate_churn([0, 1], [0.2])
    with pytest.raises(InputFormatError, match="baseline 'rule'"):
        churn.evaluate_churn([0, 1], [0.2, 0.3], {"rule": [1.0]})


def test_activity_log_errors_are_named() -> None:
    with pytest.raises(InputFormatError, match="missing column"):
        churn.churn_features(pd.DataFrame({"member_id": ["a"]}), "2024-01-01")
    hostile = pd.DataFrame({"member_id": ["a"], "timestamp": ["'; DROP TABLE tasks; --"]})
    with pytest.raises(InputFormatError, match="not dates"):
        churn.churn_features(hostile, "2024-01-01")


# --- monthly churn rate ---------------------------------------------------------------------------


def test_monthly_churn_rate_counts_members_lost_month_over_month() -> None:
    log = pd.DataFrame(
        {
            "member_id": ["a", "b", "c", "a", "b", "a", "d"],
            "timestamp": [
                "2024-01-03",
                "2024-01-09",
                "2024-01-20",
                "2024-02-01",
                "2024-02-11",
                "2024-03-05",
                "2024-03-06",
            ],
        }
    )
    monthly = churn.monthly_churn_rate(log)
    assert monthly["month"].tolist() == ["2024-02", "2024-03"]
    assert monthly["churned"].tolist() == [1, 1]  # c leaves in February, b in March
    assert monthly["churn_rate"].tolist() == pytest.approx([1 / 3, 1 / 2])
    assert churn.churn_rate_trend(monthly) == pytest.approx(1 / 2 - 1 / 3)


def test_churn_trend_rises_when_members_fade(activity: pd.DataFrame) -> None:
    monthly = churn.monthly_churn_rate(activity)
    assert len(monthly) == 5
    assert churn.churn_rate_trend(monthly) > 0
    with pytest.raises(GroupOpsError, match="two months"):
        churn.churn_rate_trend(monthly.iloc[:1])
