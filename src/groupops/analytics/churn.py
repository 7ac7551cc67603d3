"""Churn (流失风险): the plan's 7-day inactivity rule and a predictive model with a time split.

Input is an activity log, one row per member action (message, reply, view, order...):
``member_id``, ``timestamp`` and optionally ``amount`` (order value, 0 for non-purchases).
Features are computed from the log up to a cut-off date; the label is "no activity in the
following ``horizon_days`` days". Training and evaluation use different cut-offs, so the
model is always judged on a later period than the one it learned from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from groupops.analytics._frames import parse_times
from groupops.analytics.clv import fit_bgnbd, probability_alive, rfm_from_transactions
from groupops.errors import GroupOpsError, InputFormatError

__all__ = [
    "ACTIVITY_FEATURES",
    "ChurnEvaluation",
    "ChurnHoldoutReport",
    "ChurnMethod",
    "ChurnModel",
    "churn_dataset",
    "churn_features",
    "churn_holdout_report",
    "churn_labels",
    "churn_rate_trend",
    "evaluate_churn",
    "members_inactive_for",
    "monthly_churn_rate",
    "predict_churn_risk",
    "probability_alive_churn_score",
    "train_churn_model",
]

ChurnMethod = Literal["logistic", "gradient_boosting"]
FloatArray = NDArray[np.float64]

ACTIVITY_FEATURES = (
    "days_since_last_activity",
    "tenure_days",
    "active_days_7",
    "active_days_30",
    "active_days_90",
    "activity_trend_14",
    "mean_gap_days",
    "silence_vs_usual_gap",
    "purchases_90",
    "spend_90",
)
"""Features built by :func:`churn_features` (``purchases_90``/``spend_90`` need an amount column)."""


@dataclass(frozen=True)
class ChurnModel:
    """A fitted churn classifier and what is needed to explain its scores."""

    method: ChurnMethod
    feature_names: tuple[str, ...]
    pipeline: Pipeline
    reference_values: FloatArray
    training_members: int
    training_churn_rate: float


@dataclass(frozen=True)
class ChurnEvaluation:
    """Discrimination and calibration of a churn score on one labelled set."""

    members: int
    churn_rate: float
    auc: float
    brier: float
    calibration: pd.DataFrame
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary including the decile calibration table."""
        return {
            "members": self.members,
            "churn_rate": self.churn_rate,
            "auc": self.auc,
            "brier": self.brier,
            "calibration": self.calibration.to_dict(orient="records"),
            "baselines": self.baselines,
        }


@dataclass(frozen=True)
class ChurnHoldoutReport:
    """Model trained at one cut-off and evaluated at a later one, with both baselines."""

    train_cutoff: pd.Timestamp
    test_cutoff: pd.Timestamp
    horizon_days: int
    model: ChurnModel
    evaluation: ChurnEvaluation
    predictions: pd.DataFrame


# --- the rule ---------------------------------------------------------------------------


def _activity_days(
    activity: pd.DataFrame, member_col: str, time_col: str, amount_col: str | None
) -> pd.DataFrame:
    """One row per member and day: member, day, events, purchases, spend."""
    missing = [
        name for name in (member_col, time_col, amount_col) if name is not None and name not in activity
    ]
    if missing:
        raise InputFormatError(f"activity: missing column(s) {', '.join(map(repr, missing))}")
    days = parse_times(activity[time_col], "activity").dt.tz_localize(None).dt.normalize()
    amounts = pd.Series(0.0, index=activity.index)
    if amount_col is not None:
        amounts = pd.to_numeric(activity[amount_col], errors="coerce")
        if amounts.isna().any():
            raise InputFormatError(f"activity: column {amount_col!r} holds values that are not numbers")
    frame = pd.DataFrame({"member": activity[member_col].to_numpy(), "day": days, "amount": amounts})
    frame["purchase"] = (frame["amount"] > 0).astype(np.int64)
    grouped = frame.groupby(["member", "day"], sort=True)
    return grouped.agg(
        events=("amount", "size"), purchases=("purchase", "sum"), spend=("amount", "sum")
    ).reset_index()


def _day(value: object) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return (stamp.tz_localize(None) if stamp.tzinfo is not None else stamp).normalize()


def members_inactive_for(
    activity: pd.DataFrame,
    as_of: object,
    days: int = 7,
    member_col: str = "member_id",
    time_col: str = "timestamp",
) -> pd.Series:
    """The plan's rule: True for members with no activity in the last ``days`` days up to ``as_of``."""
    table = _activity_days(activity, member_col, time_col, None)
    as_of_day = _day(as_of)
    last_seen = table[table["day"] <= as_of_day].groupby("member")["day"].max()
    inactive = (as_of_day - last_seen).dt.days >= days
    inactive.index.name = member_col
    return inactive.rename("inactive")


# --- features and labels ----------------------------------------------------------------


def _window_sum(table: pd.DataFrame, cutoff: pd.Timestamp, days: int, column: str) -> pd.Series:
    recent = table[table["day"] > cutoff - pd.Timedelta(days=days)]
    return recent.groupby("member")[column].sum()


def churn_features(
    activity: pd.DataFrame,
    cutoff: object,
    member_col: str = "member_id",
    time_col: str = "timestamp",
    amount_col: str | None = None,
) -> pd.DataFrame:
    """Activity features per member from the log up to ``cutoff`` (inclusive); see ACTIVITY_FEATURES."""
    cutoff_day = _day(cutoff)
    table = _activity_days(activity, member_col, time_col, amount_col)
    table = table[table["day"] <= cutoff_day]
    table = table.assign(active=1)
    grouped = table.groupby("member")["day"]
    first, last, active_days = grouped.min(), grouped.max(), grouped.size()
    features = pd.DataFrame(index=first.index)
    features["days_since_last_activity"] = (cutoff_day - last).dt.days
    features["tenure_days"] = (cutoff_day - first).dt.days + 1
    for window in (7, 30, 90):
        features[f"active_days_{window}"] = _window_sum(table, cutoff_day, window, "active")
    last_14 = _window_sum(table, cutoff_day, 14, "active").reindex(features.index).fillna(0)
    last_28 = _window_sum(table, cutoff_day, 28, "active").reindex(features.index).fillna(0)
    features["activity_trend_14"] = last_14 - (last_28 - last_14)
    features["mean_gap_days"] = features["tenure_days"] / active_days
    features["silence_vs_usual_gap"] = features["days_since_last_activity"] / features["mean_gap_days"]
    if amount_col is not None:
        features["purchases_90"] = _window_sum(table, cutoff_day, 90, "purchases")
        features["spend_90"] = _window_sum(table, cutoff_day, 90, "spend")
    features = features.fillna(0.0).astype(np.float64)
    features.index.name = member_col
    return features


def churn_labels(
    activity: pd.DataFrame,
    cutoff: object,
    horizon_days: int = 30,
    member_col: str = "member_id",
    time_col: str = "timestamp",
) -> pd.Series:
    """1 for members seen by ``cutoff`` with no activity in (cutoff, cutoff + horizon_days], else 0."""
    if horizon_days < 1:
        raise InputFormatError("horizon_days must be at least 1")
    cutoff_day = _day(cutoff)
    table = _activity_days(activity, member_col, time_col, None)
    if table.empty or table["day"].max() <= cutoff_day:
        raise InputFormatError("activity log ends at or before the cut-off: churn labels need later data")
    known = pd.Index(table.loc[table["day"] <= cutoff_day, "member"].unique())
    window = table[
        (table["day"] > cutoff_day) & (table["day"] <= cutoff_day + pd.Timedelta(days=horizon_days))
    ]
    came_back = known.isin(window["member"].unique())
    labels = pd.Series((~came_back).astype(np.int64), index=known, name="churned").sort_index()
    labels.index.name = member_col
    return labels


def churn_dataset(
    activity: pd.DataFrame,
    cutoff: object,
    horizon_days: int = 30,
    member_col: str = "member_id",
    time_col: str = "timestamp",
    amount_col: str | None = None,
) -> tuple[pd.DataFrame, pd.Series]:
    """Features at ``cutoff`` and the churn label of the following ``horizon_days``, aligned."""
    features = churn_features(activity, cutoff, member_col, time_col, amount_col)
    labels = churn_labels(activity, cutoff, horizon_days, member_col, time_col)
    return features, labels.reindex(features.index).astype(np.int64)


# --- model ---------------------------------------------------------------------------------


def _feature_matrix(features: pd.DataFrame, names: tuple[str, ...] | None = None) -> FloatArray:
    if names is not None:
        missing = [name for name in names if name not in features.columns]
        if missing:
            raise InputFormatError(f"features: missing column(s) {', '.join(missing)}")
        features = features.loc[:, list(names)]
    try:
        matrix = features.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InputFormatError(f"features must be numeric columns ({error})") from error
    if np.isinf(matrix).any():
        raise InputFormatError("features must not contain infinite values")
    return matrix


def _classifier(method: ChurnMethod, random_state: int) -> Pipeline:
    if method == "logistic":
        return make_pipeline(
            SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(C=1.0, max_iter=2000)
        )
    if method == "gradient_boosting":
        return make_pipeline(
            HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=random_state)
        )
    raise InputFormatError(f"method must be 'logistic' or 'gradient_boosting', got {method!r}")


def train_churn_model(
    features: pd.DataFrame,
    labels: pd.Series | ArrayLike,
    method: ChurnMethod = "logistic",
    random_state: int = 0,
) -> ChurnModel:
    """Fit a churn classifier on numeric member features (one row per member) and 0/1 labels."""
    matrix = _feature_matrix(features)
    target = np.asarray(labels, dtype=np.int64).reshape(-1)
    if len(target) != len(matrix) or len(matrix) == 0:
        raise InputFormatError("features and labels must be non-empty and of the same length")
    if len(np.unique(target)) < 2:
        raise InputFormatError("labels hold a single class: nothing to learn (choose another cut-off)")
    pipeline = _classifier(method, random_state)
    pipeline.fit(matrix, target)
    return ChurnModel(
        method=method,
        feature_names=tuple(str(column) for column in features.columns),
        pipeline=pipeline,
        reference_values=np.nanmedian(matrix, axis=0),
        training_members=len(matrix),
        training_churn_rate=float(target.mean()),
    )


def _feature_contributions(model: ChurnModel, matrix: FloatArray) -> FloatArray:
    """Per-member, per-feature push on the risk (positive = raises risk)."""
    if model.method == "logistic":
        imputer, scaler, regression = (step for _, step in model.pipeline.steps)
        standardized = scaler.transform(imputer.transform(matrix))
        return np.asarray(standardized * regression.coef_[0], dtype=np.float64)
    base = model.pipeline.predict_proba(matrix)[:, 1]
    contributions = np.empty_like(matrix)
    for index in range(matrix.shape[1]):
        replaced = matrix.copy()
        replaced[:, index] = model.reference_values[index]
        contributions[:, index] = base - model.pipeline.predict_proba(replaced)[:, 1]
    return contributions


def predict_churn_risk(model: ChurnModel, features: pd.DataFrame, top_reasons: int = 3) -> pd.DataFrame:
    """Per member: ``churn_risk`` (0..1) and ``top_reasons`` (features pushing risk up, strongest first).

    Logistic regression explains with coefficient × standardized feature; gradient boosting
    with the drop in risk when a feature is set to the training median (no permutations).
    """
    matrix = _feature_matrix(features, model.feature_names)
    risk = model.pipeline.predict_proba(matrix)[:, 1] if len(matrix) else np.empty(0)
    contributions = (
        _feature_contributions(model, matrix) if len(matrix) else np.empty((0, len(model.feature_names)))
    )
    order = np.argsort(-contributions, axis=1, kind="stable")[:, :top_reasons]
    reasons = [
        [model.feature_names[index] for index in row if contributions[member, index] > 0]
        for member, row in enumerate(order)
    ]
    weights = [
        [round(float(contributions[member, index]), 4) for index in row if contributions[member, index] > 0]
        for member, row in enumerate(order)
    ]
    result = pd.DataFrame(
        {"churn_risk": risk, "top_reasons": reasons, "reason_weights": weights}, index=features.index
    )
    return result


# --- evaluation ----------------------------------------------------------------------------


def _calibration_table(labels: FloatArray, risk: FloatArray, bins: int) -> pd.DataFrame:
    ranks = pd.Series(risk).rank(method="first")
    deciles = pd.qcut(ranks, q=min(bins, len(risk)), labels=False) + 1
    frame = pd.DataFrame({"decile": deciles.to_numpy(), "risk": risk, "label": labels})
    table = frame.groupby("decile").agg(
        members=("label", "size"), mean_predicted=("risk", "mean"), observed_rate=("label", "mean")
    )
    return table.reset_index()


def _score_metrics(labels: FloatArray, score: FloatArray) -> dict[str, float]:
    return {
        "auc": float(roc_auc_score(labels, score)),
        "brier": float(brier_score_loss(labels, np.clip(score, 0.0, 1.0))),
    }


def evaluate_churn(
    labels: pd.Series | ArrayLike,
    risk: pd.Series | ArrayLike,
    baseline_scores: dict[str, ArrayLike] | None = None,
    bins: int = 10,
) -> ChurnEvaluation:
    """AUC, Brier score and a decile calibration table of ``risk``, and AUC/Brier of each baseline.

    Baseline scores are churn probabilities in the same member order, e.g. the 7-day rule as
    0/1 and 1 − P(alive) from BG/NBD (see :func:`churn_holdout_report`).
    """
    target = np.asarray(labels, dtype=np.float64).reshape(-1)
    score = np.asarray(risk, dtype=np.float64).reshape(-1)
    if len(target) != len(score) or len(target) == 0:
        raise InputFormatError("labels and risk must be non-empty and of the same length")
    if len(np.unique(target)) < 2:
        raise InputFormatError("labels hold a single class: AUC is undefined")
    baselines = {}
    for name, values in (baseline_scores or {}).items():
        baseline = np.asarray(values, dtype=np.float64).reshape(-1)
        if len(baseline) != len(target):
            raise InputFormatError(f"baseline {name!r} has {len(baseline)} scores for {len(target)} members")
        baselines[name] = _score_metrics(target, baseline)
    metrics = _score_metrics(target, score)
    return ChurnEvaluation(
        members=len(target),
        churn_rate=float(target.mean()),
        auc=metrics["auc"],
        brier=metrics["brier"],
        calibration=_calibration_table(target, score, bins),
        baselines=baselines,
    )


def probability_alive_churn_score(
    activity: pd.DataFrame, cutoff: object, member_col: str = "member_id", time_col: str = "timestamp"
) -> pd.Series:
    """1 − P(alive) from BG/NBD fitted on activity days (time unit: days) up to ``cutoff``."""
    rfm = rfm_from_transactions(activity, member_col, time_col, None, _day(cutoff), time_unit="D")
    model = fit_bgnbd(rfm["frequency"], rfm["recency"], rfm["T"])
    alive = probability_alive(model, rfm["frequency"], rfm["recency"], rfm["T"])
    return pd.Series(1.0 - alive, index=rfm.index, name="churn_score_p_alive")


def churn_holdout_report(
    activity: pd.DataFrame,
    train_cutoff: object,
    test_cutoff: object,
    horizon_days: int = 30,
    method: ChurnMethod = "logistic",
    inactive_days: int = 7,
    member_col: str = "member_id",
    time_col: str = "timestamp",
    amount_col: str | None = None,
) -> ChurnHoldoutReport:
    """Train at ``train_cutoff``, evaluate at ``test_cutoff`` against the rule and P(alive)."""
    train_day, test_day = _day(train_cutoff), _day(test_cutoff)
    if test_day < train_day + pd.Timedelta(days=horizon_days):
        raise InputFormatError(
            "test_cutoff must be at least horizon_days after train_cutoff (no label overlap)"
        )
    train_features, train_labels = churn_dataset(
        activity, train_day, horizon_days, member_col, time_col, amount_col
    )
    model = train_churn_model(train_features, train_labels, method)
    test_features, test_labels = churn_dataset(
        activity, test_day, horizon_days, member_col, time_col, amount_col
    )
    predictions = predict_churn_risk(model, test_features)
    rule = (test_features["days_since_last_activity"] >= inactive_days).astype(np.float64)
    p_alive = probability_alive_churn_score(activity, test_day, member_col, time_col).reindex(
        test_features.index
    )
    evaluation = evaluate_churn(
        test_labels, predictions["churn_risk"], {f"rule_{inactive_days}_day": rule, "p_alive": p_alive}
    )
    predictions["churned"] = test_labels
    predictions["rule_at_risk"] = rule.astype(bool)
    return ChurnHoldoutReport(train_day, test_day, horizon_days, model, evaluation, predictions)


# --- monthly churn rate --------------------------------------------------------------------


def monthly_churn_rate(
    activity: pd.DataFrame, member_col: str = "member_id", time_col: str = "timestamp"
) -> pd.DataFrame:
    """Per calendar month: members active the month before, how many of them were not active
    this month (churned), and churn_rate = churned / active_previous_month (plan target < 8 %)."""
    table = _activity_days(activity, member_col, time_col, None)
    months = table.assign(month=table["day"].dt.to_period("M"))[["member", "month"]].drop_duplicates()
    active = months.groupby("month")["member"].apply(frozenset)
    rows = []
    for month in pd.period_range(active.index.min(), active.index.max(), freq="M")[1:]:
        previous = active.get(month - 1, frozenset())
        current = active.get(month, frozenset())
        churned = len(previous - current)
        rate = churned / len(previous) if previous else math.nan
        rows.append(
            {
                "month": str(month),
                "active_previous_month": len(previous),
                "churned": churned,
                "churn_rate": rate,
            }
        )
    return pd.DataFrame(rows, columns=["month", "active_previous_month", "churned", "churn_rate"])


def churn_rate_trend(monthly: pd.DataFrame) -> float:
    """Least-squares slope of churn_rate per month (positive = churn getting worse)."""
    rates = monthly["churn_rate"].dropna().to_numpy(dtype=np.float64)
    if len(rates) < 2:
        raise GroupOpsError("a churn-rate trend needs at least two months with active members")
    return float(stats.linregress(np.arange(len(rates), dtype=np.float64), rates).slope)
