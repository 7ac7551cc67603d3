"""The member mart: profile, class, RFM, tags, CLV, churn risk and next-best products per member.

``refresh_member_intelligence`` reads the warehouse and the store, reuses the fitted models of
:mod:`groupops.analytics.clv`, :mod:`~groupops.analytics.churn` and
:mod:`~groupops.analytics.recommend`, and writes two files under ``<data>/marts/``:
``members.parquet`` (one row per member) and ``member_models.json`` (the measured figures:
churn AUC against the 7-day rule and P(alive), CLV holdout error, hit-rate@10 against
popularity). Both are replaced atomically (temporary file + ``os.replace``).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from threadpoolctl import threadpool_limits

from groupops.analytics import churn, clv, recommend
from groupops.errors import GroupOpsError, NotFoundError
from groupops.ops.profiles import PURCHASE_STATUSES, build_member_profiles, member_profile, resolve_as_of
from groupops.ops.segments import (
    MemberClassRules,
    assign_member_classes,
    class_movement,
    class_rules_path,
    load_class_rules,
    member_tags,
    rfm_scores,
)
from groupops.store.workspace import Workspace

__all__ = [
    "MART_FILE",
    "MODELS_FILE",
    "PROFILE_CHURN_FEATURES",
    "MemberIntelligenceRun",
    "class_rules_for",
    "member_card",
    "member_class_report",
    "read_member_mart",
    "read_member_models",
    "refresh_member_intelligence",
]

MART_FILE = "members.parquet"
MODELS_FILE = "member_models.json"
PROFILE_CHURN_FEATURES = (
    "net_spend", "orders", "questions", "complaints", "sentiment_score", "negative_messages",
    "replies_received", "mentions_received", "views", "add_to_cart", "returns", "groups",
)  # fmt: skip
"""Profile columns added to the activity features of the churn model."""

_RECOMMENDATIONS_KEPT = 5
_MIN_CLV_BUYERS = 20  # fewer buyers than this give no stable BG/NBD fit
_MIN_CHURN_MEMBERS = 30  # members known at the training cut-off
_HIT_RATE_K = 10


@dataclass(frozen=True)
class MemberIntelligenceRun:
    """What a refresh wrote: the mart, the evaluation document and its figures."""

    as_of: datetime
    members: int
    mart_path: Path
    models_path: Path
    evaluation: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """JSON summary for ``groupops members refresh --json``."""
        return {
            "as_of": self.as_of.isoformat(), "members": self.members, "mart": str(self.mart_path),
            "models": str(self.models_path), "evaluation": self.evaluation,
        }  # fmt: skip


def class_rules_for(workspace: Workspace) -> MemberClassRules:
    """The admin's ``<data>/member_classes.yaml`` when present, else the packaged rules."""
    return load_class_rules(class_rules_path(workspace.settings.data))


def _json_safe(value: Any) -> Any:
    """Plain JSON: NaN/inf → None, numpy scalars → Python, timestamps → ISO strings."""
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_json_safe(item) for item in value]
    if value is pd.NA or value is pd.NaT or value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    return value


# --- inputs from the warehouse ------------------------------------------------------------


def _warehouse_frames(workspace: Workspace, as_of: datetime) -> dict[str, pd.DataFrame]:
    """Activity log (member-day), order transactions and order lines up to ``as_of``, in local days."""
    tz = workspace.settings.timezone.replace("'", "''")
    local = f"timezone('{tz}', {{}})"
    purchase = ", ".join(f"'{status}'" for status in PURCHASE_STATUSES)
    net = "amount - coalesce(refund_amount, 0)"
    queries = {
        "activity": f"""
SELECT member_id, date_trunc('day', t) AS timestamp, sum(amount) AS amount FROM (
  SELECT sender_id AS member_id, {local.format("sent_at")} AS t, 0.0 AS amount FROM messages
  WHERE action = 'send' AND NOT revoked AND NOT sender_is_staff AND sent_at <= $as_of::TIMESTAMPTZ
  UNION ALL SELECT member_id, {local.format("occurred_at")}, 0.0 FROM shop_events
  WHERE occurred_at <= $as_of::TIMESTAMPTZ
  UNION ALL SELECT member_id, {local.format("placed_at")}, greatest({net}, 0.01) FROM orders
  WHERE status IN ({purchase}) AND placed_at <= $as_of::TIMESTAMPTZ
) WHERE member_id IS NOT NULL GROUP BY ALL ORDER BY member_id, timestamp""",
        "transactions": f"""
SELECT member_id, {local.format("placed_at")} AS timestamp, {net} AS amount FROM orders
WHERE status IN ({purchase}) AND placed_at <= $as_of::TIMESTAMPTZ AND member_id IS NOT NULL
ORDER BY member_id, placed_at, order_id""",
        "purchases": f"""
SELECT o.member_id, i.sku AS item_id, {local.format("o.placed_at")} AS timestamp,
       coalesce(nullif(i.category, ''), 'other') AS category, coalesce(i.product_name, i.sku) AS product_name
FROM order_items i JOIN orders o USING (order_id)
WHERE o.status IN ({purchase}) AND o.placed_at <= $as_of::TIMESTAMPTZ AND o.member_id IS NOT NULL AND i.sku IS NOT NULL
ORDER BY o.member_id, o.placed_at, i.line_id""",
    }
    with workspace.warehouse.connect(memory_limit="4GB") as connection:
        return {name: connection.sql(sql, params={"as_of": as_of}).df() for name, sql in queries.items()}


def _local_day(as_of: datetime, timezone: str) -> pd.Timestamp:
    return pd.Timestamp(as_of.astimezone(ZoneInfo(timezone)).date())


# --- CLV ------------------------------------------------------------------------------------


def _clv_section(
    transactions: pd.DataFrame, as_of_day: pd.Timestamp, holdout_days: int
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per-buyer CLV columns and the fit + calibration/holdout figures (errors reported, not raised)."""
    columns = ["probability_alive", "expected_purchases_90d", "expected_average_spend", "clv_365d"]
    report: dict[str, Any] = {
        "time_unit": "W",
        "horizon_days": 90,
        "clv_horizon_days": 365,
        "discount_rate_annual": 0.10,
    }
    if transactions.empty:
        return pd.DataFrame(columns=columns), {**report, "error": "no purchases"}
    rfm = clv.rfm_from_transactions(transactions, "member_id", "timestamp", "amount", as_of_day, "W")
    if len(rfm) < _MIN_CLV_BUYERS:
        return pd.DataFrame(columns=columns), {
            **report,
            "error": f"{len(rfm)} buyers: too few to fit (need {_MIN_CLV_BUYERS})",
        }
    try:
        fitted = clv.fit_clv_models(rfm)
        values = clv.customer_value_table(fitted, rfm, horizon_days=90, clv_horizon_days=365)
        report["fit"] = fitted.as_dict()
    except GroupOpsError as error:
        return pd.DataFrame(columns=columns), {**report, "error": str(error)}
    values.columns = columns
    calibration_end = as_of_day - pd.Timedelta(days=holdout_days)
    try:
        holdout = clv.calibration_holdout_error(
            transactions, calibration_end, as_of_day, "member_id", "timestamp", "W"
        )
        report["holdout"] = {**holdout.as_dict(), "calibration_end": calibration_end.date().isoformat()}
    except GroupOpsError as error:
        report["holdout"] = {"error": str(error)}
    return values, report


# --- churn ----------------------------------------------------------------------------------


def _churn_frame(
    activity: pd.DataFrame, profiles: pd.DataFrame, cutoff: pd.Timestamp, horizon: int | None
) -> tuple[pd.DataFrame, pd.Series | None]:
    """Activity features + profile features at ``cutoff`` (and labels of the next ``horizon`` days)."""
    features = churn.churn_features(activity, cutoff, amount_col="amount")
    extra = profiles.set_index("member_id")[list(PROFILE_CHURN_FEATURES)].astype(np.float64).fillna(0.0)
    features = features.join(extra, how="left")
    if horizon is None:
        return features, None
    labels = churn.churn_labels(activity, cutoff, horizon).reindex(features.index).astype(np.int64)
    return features, labels


def _score_summary(labels: pd.Series, scores: pd.Series) -> dict[str, float]:
    evaluation = churn.evaluate_churn(labels, scores, bins=10)
    return {"auc": evaluation.auc, "brier": evaluation.brier}


def _churn_evaluation(
    workspace: Workspace, activity: pd.DataFrame, cutoffs: tuple[pd.Timestamp, pd.Timestamp], horizon: int
) -> tuple[churn.ChurnModel, dict[str, Any]]:
    """Train at the first cut-off, judge at the second against the 7-day rule and 1 − P(alive)."""
    train_cutoff, test_cutoff = cutoffs
    care_days = workspace.settings.inactivity_care_days
    frames = [
        _churn_frame(activity, build_member_profiles(workspace, cutoff.date()).to_pandas(), cutoff, horizon)
        for cutoff in cutoffs
    ]
    (train_x, train_y), (test_x, test_y) = frames
    assert train_y is not None and test_y is not None
    model = churn.train_churn_model(train_x, train_y, "logistic")
    risk = churn.predict_churn_risk(model, test_x)["churn_risk"]
    rule = (test_x["days_since_last_activity"] >= care_days).astype(np.float64)
    p_alive = churn.probability_alive_churn_score(activity, test_cutoff).reindex(test_x.index)
    evaluation = churn.evaluate_churn(test_y, risk, {f"rule_{care_days}_day": rule, "p_alive": p_alive})
    boosted = churn.train_churn_model(train_x, train_y, "gradient_boosting")
    activity_only = churn.train_churn_model(train_x[list(churn.ACTIVITY_FEATURES)], train_y, "logistic")
    report = {
        "horizon_days": horizon, "train_cutoff": train_cutoff.date().isoformat(),
        "test_cutoff": test_cutoff.date().isoformat(), "model": "logistic (activity + profile features)",
        **evaluation.as_dict(),
        "gradient_boosting": _score_summary(test_y, churn.predict_churn_risk(boosted, test_x)["churn_risk"]),
        "activity_only_logistic": _score_summary(
            test_y, churn.predict_churn_risk(activity_only, test_x[list(churn.ACTIVITY_FEATURES)])["churn_risk"]
        ),
    }  # fmt: skip
    final_model = churn.train_churn_model(test_x, test_y, "logistic")
    return final_model, report


def _churn_section(
    workspace: Workspace, activity: pd.DataFrame, profiles: pd.DataFrame, as_of_day: pd.Timestamp
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per-member churn risk and reasons now, plus the holdout evaluation and monthly churn."""
    columns = ["churn_risk", "churn_top_reasons"]
    if activity.empty:
        return pd.DataFrame(columns=columns), {"error": "no activity"}
    history_days = int((as_of_day - activity["timestamp"].min()).days) + 1
    horizon = min(workspace.settings.churn_window_days, max(7, history_days // 3))
    cutoffs = (as_of_day - pd.Timedelta(days=2 * horizon), as_of_day - pd.Timedelta(days=horizon))
    report: dict[str, Any] = {}
    known = activity.loc[activity["timestamp"] <= cutoffs[0], "member_id"].nunique()
    try:
        if known < _MIN_CHURN_MEMBERS:
            raise GroupOpsError(
                f"{known} members at the training cut-off: too few to learn churn (need {_MIN_CHURN_MEMBERS})"
            )
        with threadpool_limits(limits=1, user_api="openmp"):  # OpenMP threads thrash on a busy machine
            model, report = _churn_evaluation(workspace, activity, cutoffs, horizon)
        features, _ = _churn_frame(activity, profiles, as_of_day, None)
        predicted = churn.predict_churn_risk(model, features)
        risk = pd.DataFrame(
            {"churn_risk": predicted["churn_risk"], "churn_top_reasons": predicted["top_reasons"]}
        )
    except GroupOpsError as error:
        risk, report = pd.DataFrame(columns=columns), {"error": str(error)}
    monthly = churn.monthly_churn_rate(activity)
    report["monthly"] = monthly.to_dict(orient="records")
    try:
        report["monthly_trend_per_month"] = churn.churn_rate_trend(monthly)
    except GroupOpsError:
        report["monthly_trend_per_month"] = None
    return risk, report


# --- recommendations ------------------------------------------------------------------------


def _recommendation_section(
    purchases: pd.DataFrame, members: list[str], as_of_day: pd.Timestamp, holdout_days: int
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Top products per member (SKUs and names) and hit-rate@10 against popularity."""
    columns = ["next_best_products", "next_best_product_names"]
    if purchases.empty:
        return pd.DataFrame(columns=columns), {"error": "no purchases"}
    names = purchases.drop_duplicates("item_id").set_index("item_id")["product_name"]
    ranked = recommend.recommend_products(
        purchases, "member_id", "item_id", "category", top_n=_RECOMMENDATIONS_KEPT, members=members
    )
    grouped = ranked.sort_values(["member_id", "rank"]).groupby("member_id")["item_id"].agg(list)
    table = pd.DataFrame({"next_best_products": grouped})
    table["next_best_product_names"] = table["next_best_products"].map(
        lambda skus: [str(names.get(s, s)) for s in skus]
    )
    cutoff = as_of_day - pd.Timedelta(days=holdout_days)
    try:
        hit = recommend.evaluate_hit_rate(purchases, cutoff, category_col="category", k=_HIT_RATE_K)
        report: dict[str, Any] = {**hit.as_dict(), "cutoff": cutoff.date().isoformat()}
    except GroupOpsError as error:
        report = {"error": str(error), "cutoff": cutoff.date().isoformat()}
    return table, report


# --- classes ------------------------------------------------------------------------------


def _class_table(profiles: pd.DataFrame, rules: MemberClassRules) -> tuple[pd.DataFrame, dict[str, Any]]:
    classes, thresholds = assign_member_classes(profiles, rules)
    table = pd.concat([classes, rfm_scores(profiles), member_tags(profiles, rules)], axis=1)
    return table, thresholds


def member_class_report(
    workspace: Workspace, as_of: datetime | date | str | None = None, profiles: pd.DataFrame | None = None
) -> dict[str, Any]:
    """Thresholds, members per class with the plan's strategy, and the movement since a week before."""
    rules = class_rules_for(workspace)
    moment = resolve_as_of(workspace, as_of)
    current = profiles if profiles is not None else build_member_profiles(workspace, moment).to_pandas()
    classes, thresholds = assign_member_classes(current, rules)
    before, _ = assign_member_classes(
        build_member_profiles(workspace, moment - timedelta(days=7)).to_pandas(), rules
    )
    counts = classes["member_class"].value_counts()
    return _json_safe({
        "as_of": moment.isoformat(), "rules": rules.source, "thresholds": thresholds, "members": len(classes),
        "classes": [
            {"key": c.key, "name_zh": c.name_zh, "short_zh": c.short_zh, "high_spend": c.high_spend,
             "high_interaction": c.high_interaction, "members": int(counts.get(c.key, 0)),
             "strategy_zh": c.strategy_zh, "strategy_en": c.strategy_en}
            for c in rules.classes.values()
        ],
        "movement_since": (moment - timedelta(days=7)).isoformat(),
        "movement": class_movement(before, classes).to_dict(orient="records"),
    })  # fmt: skip


# --- the mart ---------------------------------------------------------------------------------


def _write_atomically(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _assemble_mart(profiles: pd.DataFrame, parts: list[pd.DataFrame]) -> pd.DataFrame:
    mart = profiles.set_index("member_id", drop=False)
    for part in parts:
        mart = mart.join(part, how="left")
    return mart.reset_index(drop=True)


def refresh_member_intelligence(
    workspace: Workspace, as_of: datetime | date | str | None = None
) -> MemberIntelligenceRun:
    """Build the member mart and the model evaluation as of ``as_of`` (default: the latest fact)."""
    moment = resolve_as_of(workspace, as_of)
    as_of_day = _local_day(moment, workspace.settings.timezone)
    profiles = build_member_profiles(workspace, moment).to_pandas()
    frames = _warehouse_frames(workspace, moment)
    history_days = (
        int((as_of_day - frames["activity"]["timestamp"].min()).days) + 1 if len(frames["activity"]) else 0
    )
    holdout_days = min(90, max(7, history_days // 3))
    classes, thresholds = _class_table(profiles, class_rules_for(workspace))
    value, clv_report = _clv_section(frames["transactions"], as_of_day, holdout_days)
    risk, churn_report = _churn_section(workspace, frames["activity"], profiles, as_of_day)
    members = profiles["member_id"].tolist()
    products, recommend_report = _recommendation_section(
        frames["purchases"], members, as_of_day, holdout_days
    )
    mart = _assemble_mart(profiles, [classes.set_index("member_id"), value, risk, products])
    mart["inactive_for_care"] = (
        mart["days_since_last_active"].fillna(0) >= workspace.settings.inactivity_care_days
    )
    evaluation = _json_safe({
        "as_of": moment.isoformat(), "members": len(mart),
        "classes": member_class_report(workspace, moment, profiles) | {"thresholds": thresholds},
        "clv": clv_report, "churn": churn_report, "recommendations": recommend_report,
    })  # fmt: skip
    marts = workspace.settings.marts_dir
    _write_atomically(
        marts / MART_FILE, lambda p: pq.write_table(pa.Table.from_pandas(mart, preserve_index=False), p)
    )
    document = json.dumps(evaluation, ensure_ascii=False, indent=1)
    _write_atomically(marts / MODELS_FILE, lambda p: p.write_text(document + "\n", encoding="utf-8"))
    return MemberIntelligenceRun(moment, len(mart), marts / MART_FILE, marts / MODELS_FILE, evaluation)


def read_member_mart(workspace: Workspace) -> pd.DataFrame:
    """The last refreshed member mart (NotFoundError before the first ``members refresh``)."""
    path = workspace.settings.marts_dir / MART_FILE
    if not path.is_file():
        raise NotFoundError("no member mart yet: run `groupops members refresh` first")
    return pq.read_table(path).to_pandas()


def read_member_models(workspace: Workspace) -> dict[str, Any]:
    """The evaluation document of the last refresh."""
    path = workspace.settings.marts_dir / MODELS_FILE
    if not path.is_file():
        raise NotFoundError("no member model evaluation yet: run `groupops members refresh` first")
    return dict(json.loads(path.read_text(encoding="utf-8")))


_CARD_COLUMNS = (
    "member_class", "member_class_zh", "class_strategy_zh", "class_strategy_en", "recency_score",
    "frequency_score", "monetary_score", "rfm_score", "is_vip", "is_koc", "member_tag", "probability_alive",
    "expected_purchases_90d", "expected_average_spend", "clv_365d", "churn_risk", "churn_top_reasons",
    "next_best_products", "next_best_product_names",
)  # fmt: skip


def member_card(workspace: Workspace, member_id: str) -> dict[str, Any]:
    """A member's live profile plus their class, RFM, tag, CLV, churn risk and products from the mart."""
    profile = member_profile(workspace, member_id)
    card: dict[str, Any] = {**profile, "intelligence": None}
    path = workspace.settings.marts_dir / MART_FILE
    if path.is_file():
        mart = pq.read_table(path, filters=[("member_id", "=", member_id)]).to_pandas()
        if len(mart):
            row = mart.iloc[0]
            card["intelligence"] = _json_safe(
                {"mart_as_of": row["as_of"], **{c: row[c] for c in _CARD_COLUMNS if c in mart.columns}}
            )
    return card
