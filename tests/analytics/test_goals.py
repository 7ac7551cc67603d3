"""Goals as data: the plan's default set, trajectories, statuses and decomposition."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from groupops.analytics.goals import GOAL_METRICS, Goal, evaluate_goal, load_goals, scorecard
from groupops.errors import ConfigurationError

START = date(2024, 1, 1)


def goal(**changes: object) -> Goal:
    fields: dict[str, object] = {
        "id": "active",
        "title": "活跃用户比例 15% → 35%",
        "metric": "active_ratio",
        "baseline": 0.15,
        "target": 0.35,
        "owner": "运营",
        "deadline": date(2024, 4, 10),
        "start": START,
    }
    fields.update(changes)
    return Goal(**fields)  # type: ignore[arg-type]


def test_the_default_goals_are_the_plans_targets() -> None:
    goals = {item.id: item for item in load_goals()}
    assert (goals["active_ratio_6m"].baseline, goals["active_ratio_6m"].target) == (0.15, 0.35)
    assert (goals["group_sales_share_6m"].baseline, goals["group_sales_share_6m"].target) == (0.08, 0.20)
    assert goals["revenue_per_interaction"].target == 0.8
    assert (goals["repurchase_rate"].baseline, goals["repurchase_rate"].target) == (0.18, 0.28)
    assert goals["monthly_churn"].target == 0.08 and goals["monthly_churn"].direction == "down"
    assert (goals["koc_count_6m"].baseline, goals["koc_count_6m"].target) == (5, 50)
    assert (goals["view_to_favorite"].baseline, goals["view_to_favorite"].target) == (0.12, 0.22)
    assert (goals["cart_to_pay"].baseline, goals["cart_to_pay"].target) == (0.25, 0.35)
    assert goals["follow_to_buy"].target == 0.28 and goals["stage_roi"].target == 1.5
    assert all(item.metric in GOAL_METRICS and item.owner for item in goals.values())


def test_linear_trajectory_and_status() -> None:
    target = goal(deadline=date(2024, 4, 10))  # 100 days
    halfway = date(2024, 2, 20)  # day 50: expected 0.25
    assert evaluate_goal(target, 0.26, halfway, START).status == "green"
    assert evaluate_goal(target, 0.25, halfway, START).expected == pytest.approx(0.25)
    assert evaluate_goal(target, 0.23, halfway, START).status == "amber"  # 8 % behind
    assert evaluate_goal(target, 0.22, halfway, START).status == "red"  # 12 % behind
    assert evaluate_goal(target, None, halfway, START).status == "no_data"
    after = evaluate_goal(target, 0.30, date(2024, 6, 1), START)
    assert after.expected == pytest.approx(0.35) and after.status == "red"


def test_down_goals_are_mirrored() -> None:
    churn = goal(
        metric="churn_rate", baseline=0.15, target=0.08, direction="down", deadline=date(2024, 4, 10)
    )
    halfway = date(2024, 2, 20)  # expected 0.115
    assert evaluate_goal(churn, 0.11, halfway, START).status == "green"
    assert evaluate_goal(churn, 0.12, halfway, START).status == "amber"
    assert evaluate_goal(churn, 0.14, halfway, START).status == "red"


def test_weekly_and_daily_decomposition() -> None:
    target = goal(deadline=date(2024, 4, 10))
    progress = evaluate_goal(target, 0.20, date(2024, 2, 20), START)
    assert progress.per_day_trajectory == pytest.approx(0.002)
    assert progress.per_week_trajectory == pytest.approx(0.014)
    assert progress.per_day_needed == pytest.approx(0.15 / 50)
    assert progress.per_week_needed == pytest.approx(0.15 / 50 * 7)
    assert progress.next_week_expected == pytest.approx(0.15 + 0.2 * 57 / 100)
    document = progress.to_json()
    assert document["status"] == "red" and set(document["decomposition"]) >= {
        "per_week_needed",
        "per_day_needed",
    }


def test_duration_counts_from_the_first_day_with_data() -> None:
    relative = goal(deadline=None, start=None, duration_days=182)
    [progress] = scorecard([relative], {"active_ratio": 0.4}, date(2024, 3, 1), first_data_day=START)
    assert progress.start == START and progress.deadline == date(2024, 7, 1)
    assert progress.status == "green"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "goals: 3",
        "goals:\n  - id: x\n    title: t\n    metric: nonsense\n    baseline: 0\n    target: 1\n    owner: o\n    duration_days: 5",
        "goals:\n  - id: x\n    title: t\n    metric: aov\n    baseline: abc\n    target: 1\n    owner: o\n    duration_days: 5",
        "goals:\n  - id: x\n    title: t\n    metric: aov\n    baseline: 0\n    target: 1\n    owner: o",
        "goals:\n  - id: x\n    title: t\n    metric: aov\n    baseline: 0\n    target: 1\n    owner: o\n    deadline: soon",
        "goals: [{id: x, title: t, metric: aov, baseline: 0, target: 1, owner: o, duration_days: 1}, "
        "{id: x, title: t, metric: aov, baseline: 0, target: 1, owner: o, duration_days: 1}]",
        "!!python/object/apply:os.system ['echo hacked']",
        "goals: [\x00",
    ],
)
def test_malformed_goal_files_are_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "goals.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError):
        load_goals(path)


def test_missing_goal_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        load_goals(tmp_path / "nope.yaml")
