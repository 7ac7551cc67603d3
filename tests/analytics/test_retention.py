"""Cohorts and monthly churn on the hand-made brand.

Active months (interacted or placed a valid order): January m02 (o3); February m01 m02 m05
m09 (o7) m11; March m01 m03 m05 m06 m09 m12 x99 (orders count even for non-members); April m10.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from brand_fixture import build_small_brand, new_workspace

from groupops.analytics.retention import compute_retention, period_label
from groupops.errors import ConfigurationError
from groupops.store.workspace import Workspace


@pytest.fixture(scope="module")
def brand(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return build_small_brand(tmp_path_factory.mktemp("brand"))


def rows(result: dict, key: str) -> dict[str, list[int]]:  # type: ignore[type-arg]
    return {cohort["cohort"]: [period[key] for period in cohort["periods"]] for cohort in result["cohorts"]}


def test_first_time_cohorts(brand: Workspace) -> None:
    result = compute_retention(brand, kind="first_time", period="month", max_periods=2).to_json()
    assert rows(result, "retained") == {
        "2024-01": [1, 1, 0],
        "2024-02": [4, 3, 0],  # m01 m05 m09 m11; March m01 m05 m09
        "2024-03": [4, 0],  # m03 m06 m12 x99
        "2024-04": [1],
    }
    assert rows(result, "retained_unbounded")["2024-02"] == [4, 3, 0]
    assert result["cohorts"][1]["periods"][1]["rate"] == pytest.approx(0.75)


def test_recurring_cohorts_start_in_every_active_month(brand: Workspace) -> None:
    result = compute_retention(brand, kind="recurring", period="month", max_periods=1).to_json()
    # February: 5 active (m02 again); March: 7 active
    assert {cohort["cohort"]: cohort["size"] for cohort in result["cohorts"]} == {
        "2024-01": 1,
        "2024-02": 5,
        "2024-03": 7,
        "2024-04": 1,
    }
    assert rows(result, "retained")["2024-02"] == [5, 3]


def test_period_labels() -> None:
    assert period_label("month", 2024 * 12 + 2) == "2024-03"
    assert period_label("day", 19783) == "2024-03-01"
    assert period_label("week", (19783 + 3) // 7) == "2024-02-26"  # 2024-03-01 is a Friday


def test_weekly_unbounded_counts_later_returns(brand: Workspace) -> None:
    """m01 is active in the weeks of 02-05, 03-04 and 03-18: not in the week after 02-05, but later."""
    result = compute_retention(brand, kind="first_time", period="week", max_periods=2).to_json()
    cohort = next(item for item in result["cohorts"] if item["cohort"] == "2024-02-05")
    assert cohort["size"] == 3  # m01 (02-10), m09 (o7 02-10), m11 (02-05)
    assert cohort["periods"][1]["retained"] == 0
    assert cohort["periods"][1]["retained_unbounded"] == 2  # m01 and m09 come back later


def test_monthly_churn(brand: Workspace) -> None:
    churn = compute_retention(brand).to_json()["monthly_churn"]
    assert [(row["month"], row["active_previous"], row["churned"]) for row in churn] == [
        ("2024-02", 1, 0),
        ("2024-03", 5, 2),  # m02 and m11 gone
        ("2024-04", 7, 7),
    ]
    assert churn[1]["churn_rate"] == pytest.approx(0.4)


def test_empty_and_bad_requests(tmp_path: Path) -> None:
    empty = compute_retention(new_workspace(tmp_path)).to_json()
    assert empty["cohorts"] == [] and empty["monthly_churn"] == []
    with pytest.raises(ConfigurationError):
        compute_retention(new_workspace(tmp_path), kind="sometimes")
    with pytest.raises(ConfigurationError):
        compute_retention(new_workspace(tmp_path), period="fortnight")
