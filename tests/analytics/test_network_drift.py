"""Tests of the weekly degree-distribution drift monitor."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest
from scipy.stats import ks_2samp

from groupops.analytics.network_drift import (
    DriftBand,
    degree_bins,
    detect_degree_drift,
    jensen_shannon_divergence,
    weekly_activity,
    weekly_degree_statistics,
)
from groupops.errors import ConfigurationError

MEMBERS = 300
WEEK_SECONDS = 7 * 86_400
FIRST_MONDAY = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday; weeks are keyed in UTC below


def population(seed: int) -> np.ndarray:
    """Heavy-tailed activity of a fixed community (the top 15 % talk most)."""
    return np.random.default_rng(seed).lognormal(mean=0.0, sigma=1.2, size=MEMBERS)


def week_messages(seed: int, week: int, activity: np.ndarray, count: int = 2500) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    senders = rng.choice(MEMBERS, size=count, p=activity / activity.sum())
    offsets = np.sort(rng.uniform(0, WEEK_SECONDS - 1, size=count))
    start = int(FIRST_MONDAY.timestamp()) + week * WEEK_SECONDS
    return {"sender": senders, "at": (start + offsets) * 1_000_000}


def simulated_weeks(
    seed: int, weeks: int, shifted_from: int | None = None, shift: str = "hub collapse"
) -> pa.Table:
    """Weekly group chat; from ``shifted_from`` on, the generative process changes."""
    activity = population(seed)
    hubs = activity >= np.quantile(activity, 0.85)
    parts = []
    for week in range(weeks):
        week_activity = activity
        if shifted_from is not None and week >= shifted_from:
            if shift == "hub collapse":
                week_activity = np.where(hubs, activity * 0.02, activity)
            else:  # flattening: everyone equally active
                week_activity = np.ones(MEMBERS)
        parts.append(week_messages(seed * 1000 + week, week, week_activity))
    senders = np.concatenate([part["sender"] for part in parts])
    times = np.concatenate([part["at"] for part in parts]).astype(np.int64)
    return pa.table(
        {
            "group_id": pa.array(["g1"] * senders.size),
            "sender_id": pa.array([f"wm{sender:04d}" for sender in senders]),
            "sent_at": pa.array(times, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        }
    )


def run_monitor(
    table: pa.Table, baseline_count: int = 6, band: DriftBand | None = None
) -> tuple[list, list[str]]:
    activity = weekly_activity(table, {}, timezone="UTC")
    weeks = sorted(activity.degrees)
    alerts = detect_degree_drift(
        activity.degrees, weeks[:baseline_count], band, weekly_messages=activity.message_counts
    )
    return alerts, weeks


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_stable_period_stays_quiet(seed: int) -> None:
    alerts, weeks = run_monitor(simulated_weeks(seed, weeks=12))
    assert len(weeks) == 12
    assert alerts == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hub_collapse_fires_alerts_in_the_shifted_weeks(seed: int) -> None:
    alerts, weeks = run_monitor(simulated_weeks(seed, weeks=10, shifted_from=8))
    alerted_weeks = {alert.week for alert in alerts}
    assert alerted_weeks == set(weeks[8:])
    metrics = {alert.metric for alert in alerts}
    assert {alert.week for alert in alerts if alert.metric == "top_share"} == set(weeks[8:])
    assert metrics & {"ks_statistic", "js_divergence"} and "degree_gini" in metrics
    top_share_alert = next(alert for alert in alerts if alert.metric == "top_share")
    assert top_share_alert.direction == "down" and top_share_alert.value < top_share_alert.baseline
    assert "share of messages" in top_share_alert.message


def test_flattening_lowers_the_gini() -> None:
    alerts, weeks = run_monitor(simulated_weeks(4, weeks=9, shifted_from=7, shift="flattening"))
    gini_alerts = [alert for alert in alerts if alert.metric == "degree_gini"]
    assert {alert.week for alert in gini_alerts} == set(weeks[7:])
    assert all(alert.direction == "down" for alert in gini_alerts)


def test_statistics_cover_baseline_and_later_weeks() -> None:
    activity = weekly_activity(simulated_weeks(5, weeks=4), {}, timezone="UTC")
    weeks = sorted(activity.degrees)
    figures = weekly_degree_statistics(activity.degrees, weeks[:2], weekly_messages=activity.message_counts)
    assert [figure.week for figure in figures] == weeks
    assert [figure.in_baseline for figure in figures] == [True, True, False, False]
    assert all(0.0 <= figure.ks_statistic <= 1.0 and 0.0 <= figure.js_divergence <= 1.0 for figure in figures)
    assert all(0.0 < figure.top_share < 1.0 and figure.members > 200 for figure in figures)
    # the message counts and degrees line up member by member
    assert all(activity.degrees[week].size == activity.message_counts[week].size for week in weeks)


def test_ks_matches_scipy_and_js_is_zero_for_equal_distributions() -> None:
    rng = np.random.default_rng(0)
    weekly = {"w1": rng.poisson(5, 400), "w2": rng.poisson(5, 400), "w3": rng.poisson(9, 400)}
    figures = {figure.week: figure for figure in weekly_degree_statistics(weekly, ["w1", "w2"])}
    pooled = np.concatenate([weekly["w1"], weekly["w2"]])
    assert figures["w3"].ks_statistic == pytest.approx(ks_2samp(weekly["w3"], pooled).statistic)
    assert figures["w1"].ks_statistic == pytest.approx(ks_2samp(weekly["w1"], weekly["w2"]).statistic)
    bins = degree_bins([0, 10])
    assert jensen_shannon_divergence([1, 2, 3], [1, 2, 3], bins) == pytest.approx(0.0)
    assert jensen_shannon_divergence([0, 0], [9, 9], bins) == pytest.approx(1.0)
    assert jensen_shannon_divergence([], [1], bins) == 0.0


def test_small_weeks_never_alert_and_bad_configuration_is_rejected() -> None:
    weekly = {"w1": np.arange(50), "w2": np.arange(50), "w3": np.zeros(5)}
    assert detect_degree_drift(weekly, ["w1", "w2"]) == []
    assert detect_degree_drift(weekly, ["w1", "w2"], DriftBand(min_members=3)) != []
    with pytest.raises(ConfigurationError, match="baseline"):
        detect_degree_drift(weekly, ["w9"])
    with pytest.raises(ConfigurationError):
        DriftBand(top_fraction=0.0)


def test_weekly_activity_counts_silent_interactions_and_mentions() -> None:
    table = pa.table(
        {
            "group_id": ["g1", "g1", "g1", "g1"],
            "sender_id": ["a", "b", "a", "c"],
            "sent_at": pa.array(
                [
                    datetime(2024, 1, 1, 1, 0, tzinfo=UTC),
                    datetime(2024, 1, 1, 1, 1, tzinfo=UTC),
                    datetime(2024, 1, 1, 1, 2, tzinfo=UTC),
                    datetime(2024, 1, 9, 9, 0, tzinfo=UTC),
                ],
                pa.timestamp("us", tz="UTC"),
            ),
            "mention_names": [None, None, ["@Dee"], None],
        }
    )
    activity = weekly_activity(table, {("g1", "Dee"): "d"}, timezone="UTC")
    assert sorted(activity.degrees) == ["2024-01-01", "2024-01-08"]
    assert sorted(activity.degrees["2024-01-01"].tolist()) == [1, 1, 2]  # a: b and d; b: a; d: a
    assert sorted(activity.message_counts["2024-01-01"].tolist()) == [0, 1, 2]
    assert activity.degrees["2024-01-08"].tolist() == [0]
    shanghai = weekly_activity(table, {}, timezone="Asia/Shanghai")
    assert sorted(shanghai.degrees) == ["2024-01-01", "2024-01-08"]
