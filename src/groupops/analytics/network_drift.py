"""Drift of the community's degree distribution, week by week, against a baseline window (plan §4.2).

Each week's degree distribution (number of distinct members a member interacted with) is
compared with the pooled baseline weeks by the two-sample Kolmogorov–Smirnov statistic and the
Jensen–Shannon divergence of binned degrees; its Gini coefficient and the share of messages
(or of degree) held by the top 15 % are compared with the baseline weeks' values. A figure
outside its :class:`DriftBand` yields a :class:`DriftAlert`. The band of each figure is the wider
of a fixed floor and the baseline's own week-to-week spread (mean ± ``sigmas`` standard
deviations, measured leave-one-week-out), so a naturally noisy community does not alert every week.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp

from groupops.analytics._network_stats import gini_coefficient, top_share
from groupops.analytics.network import GraphRules, interaction_edges
from groupops.errors import ConfigurationError

__all__ = [
    "DriftAlert",
    "DriftBand",
    "WeeklyActivity",
    "WeeklyDegreeStatistics",
    "degree_bins",
    "detect_degree_drift",
    "jensen_shannon_divergence",
    "weekly_activity",
    "weekly_degree_statistics",
]

FloatArray = npt.NDArray[np.float64]
METRICS: tuple[str, ...] = ("ks_statistic", "js_divergence", "degree_gini", "top_share")


@dataclass(frozen=True)
class DriftBand:
    """When a week counts as drifted (floors are absolute; the baseline spread can widen them)."""

    max_ks_statistic: float = 0.10  # KS distance to the pooled baseline degrees
    ks_alpha: float = 0.01  # …and the KS test must also reject at this level
    max_js_divergence: float = 0.02  # Jensen–Shannon divergence in bits (0..1) of binned degrees
    gini_tolerance: float = 0.04  # absolute change of the degree Gini from the baseline mean
    top_share_tolerance: float = 0.05  # absolute change of the top members' share of messages
    top_fraction: float = 0.15  # "top members" = this fraction (plan: the top 15 % influencers)
    sigmas: float = 3.0  # band = baseline mean ± sigmas × baseline week-to-week deviation, if wider
    min_members: int = 20  # weeks with fewer active members are reported but never alert

    def __post_init__(self) -> None:
        if not 0.0 < self.top_fraction <= 1.0:
            raise ConfigurationError("DriftBand.top_fraction must be in (0, 1]")
        if (
            min(self.max_ks_statistic, self.max_js_divergence, self.gini_tolerance, self.top_share_tolerance)
            < 0
        ):
            raise ConfigurationError("DriftBand tolerances must be non-negative")


@dataclass(frozen=True)
class WeeklyDegreeStatistics:
    """One week's distribution figures against the baseline (baseline weeks: leave-one-out)."""

    week: str
    members: int
    in_baseline: bool
    ks_statistic: float
    ks_pvalue: float
    js_divergence: float
    degree_gini: float
    top_share: float


@dataclass(frozen=True)
class DriftAlert:
    """A week whose figure left its band; ``direction`` is "up" or "down" against the baseline."""

    week: str
    metric: str
    value: float
    baseline: float
    threshold: float
    direction: str
    message: str


@dataclass(frozen=True)
class WeeklyActivity:
    """Per week (start date, ISO): degree and message count of every member who took part."""

    degrees: dict[str, npt.NDArray[np.int64]]
    message_counts: dict[str, npt.NDArray[np.int64]]


# --- statistics --------------------------------------------------------------------------


_BIN_EDGES = sorted(
    {0, 1, 2, 3} | {2**power for power in range(2, 48)} | {3 * 2**power for power in range(1, 47)}
)


def degree_bins(degrees: npt.ArrayLike) -> FloatArray:
    """Bin edges 0, 1, 2, 3, 4, 6, 8, 12, 16, 24, … up past the largest degree (heavy tails)."""
    largest = float(np.max(np.asarray(degrees, dtype=np.float64), initial=0.0))
    last = next(index for index, edge in enumerate(_BIN_EDGES) if edge > largest)
    return np.asarray(_BIN_EDGES[: last + 1], dtype=np.float64)


def jensen_shannon_divergence(first: npt.ArrayLike, second: npt.ArrayLike, bins: FloatArray) -> float:
    """Jensen–Shannon divergence (bits, 0..1) between two samples binned on ``bins``."""
    first_counts, _ = np.histogram(np.asarray(first, dtype=np.float64), bins=bins)
    second_counts, _ = np.histogram(np.asarray(second, dtype=np.float64), bins=bins)
    if first_counts.sum() == 0 or second_counts.sum() == 0:
        return 0.0
    return float(jensenshannon(first_counts, second_counts, base=2.0) ** 2)


def _week_figures(
    week: str,
    degrees: FloatArray,
    messages: FloatArray,
    reference: FloatArray,
    in_baseline: bool,
    band: DriftBand,
) -> WeeklyDegreeStatistics:
    if degrees.size == 0 or reference.size == 0:
        ks_statistic, ks_pvalue = 0.0, 1.0
    else:
        test = ks_2samp(degrees, reference)
        ks_statistic, ks_pvalue = float(test.statistic), float(test.pvalue)
    bins = degree_bins(np.concatenate([degrees, reference]))
    return WeeklyDegreeStatistics(
        week=week,
        members=int(degrees.size),
        in_baseline=in_baseline,
        ks_statistic=ks_statistic,
        ks_pvalue=ks_pvalue,
        js_divergence=jensen_shannon_divergence(degrees, reference, bins),
        degree_gini=gini_coefficient(degrees),
        top_share=top_share(messages, band.top_fraction),
    )


def weekly_degree_statistics(
    weekly_degrees: Mapping[str, npt.ArrayLike],
    baseline_weeks: Sequence[str],
    band: DriftBand | None = None,
    *,
    weekly_messages: Mapping[str, npt.ArrayLike] | None = None,
) -> list[WeeklyDegreeStatistics]:
    """Figures of every week in key order; baseline weeks are compared with the other baseline weeks.

    ``weekly_messages`` (messages per member, any order) gives the top members' share of
    messages; without it the share is taken of degree.
    """
    band = band or DriftBand()
    weeks = sorted(weekly_degrees, key=str)
    baseline = [week for week in weeks if week in set(baseline_weeks)]
    if not baseline:
        raise ConfigurationError(
            "no baseline week has degree data: choose baseline weeks present in the input"
        )
    degrees = {week: np.asarray(weekly_degrees[week], dtype=np.float64).ravel() for week in weeks}
    messages = {
        week: np.asarray((weekly_messages or weekly_degrees).get(week, []), dtype=np.float64).ravel()
        for week in weeks
    }
    pooled = np.concatenate([degrees[week] for week in baseline])
    figures = []
    for week in weeks:
        in_baseline = week in baseline
        reference = _leave_one_out(degrees, baseline, week) if in_baseline else pooled
        figures.append(_week_figures(str(week), degrees[week], messages[week], reference, in_baseline, band))
    return figures


def _leave_one_out(degrees: Mapping[str, FloatArray], baseline: list[str], week: str) -> FloatArray:
    others = [degrees[other] for other in baseline if other != week]
    return np.concatenate(others) if others else degrees[week]


# --- alerts --------------------------------------------------------------------------------


def detect_degree_drift(
    weekly_degrees: Mapping[str, npt.ArrayLike],
    baseline_weeks: Sequence[str],
    band: DriftBand | None = None,
    *,
    weekly_messages: Mapping[str, npt.ArrayLike] | None = None,
) -> list[DriftAlert]:
    """Alerts for the weeks outside the baseline whose figures leave their band (week order)."""
    band = band or DriftBand()
    figures = weekly_degree_statistics(weekly_degrees, baseline_weeks, band, weekly_messages=weekly_messages)
    baseline = [figure for figure in figures if figure.in_baseline and figure.members >= band.min_members]
    alerts: list[DriftAlert] = []
    for figure in figures:
        if figure.in_baseline or figure.members < band.min_members:
            continue
        alerts.extend(_alerts_for_week(figure, baseline, band))
    return alerts


def _alerts_for_week(
    figure: WeeklyDegreeStatistics, baseline: list[WeeklyDegreeStatistics], band: DriftBand
) -> list[DriftAlert]:
    alerts = []
    floors = {
        "ks_statistic": band.max_ks_statistic,
        "js_divergence": band.max_js_divergence,
        "degree_gini": band.gini_tolerance,
        "top_share": band.top_share_tolerance,
    }
    for metric in METRICS:
        history = np.asarray([getattr(week, metric) for week in baseline], dtype=np.float64)
        alert = _band_check(figure, metric, history, floors[metric], band)
        if alert is not None:
            alerts.append(alert)
    return alerts


def _band_check(
    figure: WeeklyDegreeStatistics, metric: str, history: FloatArray, floor: float, band: DriftBand
) -> DriftAlert | None:
    value = float(getattr(figure, metric))
    mean = float(history.mean()) if history.size else 0.0
    spread = band.sigmas * float(history.std(ddof=1)) if history.size > 1 else 0.0
    if metric in ("ks_statistic", "js_divergence"):
        # distances: the baseline level is the noise of a week against the others
        threshold = max(floor, mean + spread)
        drifted = value > threshold and (metric != "ks_statistic" or figure.ks_pvalue < band.ks_alpha)
        baseline_value, direction = mean, "up"
    else:
        threshold = max(floor, spread)
        drifted = abs(value - mean) > threshold
        baseline_value, direction = mean, "up" if value > mean else "down"
    if not drifted:
        return None
    return DriftAlert(
        week=figure.week,
        metric=metric,
        value=value,
        baseline=baseline_value,
        threshold=threshold,
        direction=direction,
        message=_alert_message(figure.week, metric, value, baseline_value, threshold, direction),
    )


def _alert_message(
    week: str, metric: str, value: float, baseline: float, threshold: float, direction: str
) -> str:
    labels = {
        "ks_statistic": "degree distribution moved away from the baseline (KS distance)",
        "js_divergence": "degree distribution moved away from the baseline (Jensen–Shannon divergence)",
        "degree_gini": "inequality of interaction (Gini of degree) went " + direction,
        "top_share": "share of messages from the top members went " + direction,
    }
    if metric in ("ks_statistic", "js_divergence"):
        return f"week {week}: {labels[metric]}: {value:.3f} > {threshold:.3f}"
    return f"week {week}: {labels[metric]}: {value:.3f} vs baseline {baseline:.3f} (band ±{threshold:.3f})"


# --- weekly degrees from messages --------------------------------------------------------------


def weekly_activity(
    messages: pa.Table | pd.DataFrame,
    name_to_member: Mapping[tuple[str, str], str],
    rules: GraphRules | None = None,
    *,
    timezone: str = "Asia/Shanghai",
) -> WeeklyActivity:
    """Degrees and message counts per member for each week (Monday start in ``timezone``).

    A member who spoke in a week without interacting has degree 0 that week.
    """
    table = (
        messages if isinstance(messages, pa.Table) else pa.Table.from_pandas(messages, preserve_index=False)
    )
    week_keys = _week_keys(table, timezone)
    degrees: dict[str, npt.NDArray[np.int64]] = {}
    counts: dict[str, npt.NDArray[np.int64]] = {}
    for week in sorted(set(week_keys.tolist())):
        week_table = table.filter(pa.array(week_keys == week))
        senders = pd.Series(week_table["sender_id"].to_pylist(), dtype=object).dropna()
        message_counts = senders.value_counts()
        week_degrees = _distinct_neighbours(interaction_edges(week_table, name_to_member, rules))
        members = message_counts.index.union(week_degrees.index)
        degrees[week] = week_degrees.reindex(members).fillna(0).to_numpy(dtype=np.int64)
        counts[week] = message_counts.reindex(members).fillna(0).to_numpy(dtype=np.int64)
    return WeeklyActivity(degrees=degrees, message_counts=counts)


def _week_keys(table: pa.Table, timezone: str) -> npt.NDArray[np.object_]:
    sent_at = pd.Series(pc.cast(table["sent_at"], pa.timestamp("us", tz="UTC")).to_pandas())
    local_days = sent_at.dt.tz_convert(timezone).dt.tz_localize(None).dt.normalize()
    week_starts = local_days - pd.to_timedelta(local_days.dt.day_of_week, unit="D")
    return week_starts.dt.strftime("%Y-%m-%d").to_numpy(dtype=object)


def _distinct_neighbours(edges: pd.DataFrame) -> pd.Series:
    if len(edges) == 0:
        return pd.Series(dtype=np.int64)
    source, target = edges["source"].astype(object), edges["target"].astype(object)
    low = source.where(source < target, target)
    high = target.where(source < target, source)
    pairs = pd.DataFrame({"low": low, "high": high}).drop_duplicates()
    return pd.concat([pairs["low"], pairs["high"]]).value_counts()
