"""The goals scorecard: goals are data (``data/goals.yaml``), progress is measured.

For each goal: the current value of its metric, the linear trajectory from baseline (at the
start) to target (at the deadline), and a status —

* ``green``: on or ahead of the trajectory;
* ``amber``: behind it by at most 10 % of the trajectory value;
* ``red``: further behind;
* ``no_data``: the metric cannot be measured yet (e.g. no shop events, no stage costs).

``down`` goals (churn) are mirrored. Each goal also gets its weekly and daily decomposition:
the change per week/day the trajectory asks for, and the change per week/day still needed
from the current value to reach the target by the deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from groupops.errors import ConfigurationError

__all__ = [
    "AMBER_TOLERANCE",
    "GOAL_METRICS",
    "Goal",
    "GoalProgress",
    "default_goals_path",
    "evaluate_goal",
    "load_goals",
    "scorecard",
]

AMBER_TOLERANCE = 0.10
GOAL_METRICS = {
    "active_ratio": "active members / members present, last active window",
    "group_sales_share": "group-attributed valid order amount / all valid order amount, last 30 days",
    "koc_count": "members classed as KOC (measured by the network/segment analytics when present)",
    "revenue_per_interaction": "group-attributed sales / interactions, last 30 days (yuan)",
    "follow_to_buy": "follow → buy funnel conversion (ordered, funnel window)",
    "view_to_favorite": "种草→收藏: view → favorite conversion (ordered, funnel window)",
    "cart_to_pay": "加购→支付: add_to_cart → pay conversion (ordered, funnel window)",
    "repurchase_rate": "KPI repurchase_rate",
    "churn_rate": "KPI churn_rate",
    "interaction_rate": "KPI interaction_rate",
    "conversion_rate": "KPI conversion_rate",
    "aov": "KPI aov (yuan)",
    "ltv": "KPI ltv (yuan)",
    "daily_interactions": "interactions per day, last 30 days",
    "daily_speakers": "members speaking per day, last 30 days",
    "stage_roi": "lowest ROI of the costed awareness/emotion/behaviour stages",
}
_REQUIRED = ("id", "title", "metric", "baseline", "target", "owner")


@dataclass(frozen=True)
class Goal:
    """One goal: a metric moving from baseline to target by a deadline, with an owner."""

    id: str
    title: str
    metric: str
    baseline: float
    target: float
    owner: str
    deadline: date | None = None
    start: date | None = None
    duration_days: int | None = None
    direction: str = "up"
    source: str = ""

    def resolved_dates(self, first_data_day: date) -> tuple[date, date]:
        """(start, deadline): start defaults to the first day with a member message or an order."""
        start = self.start or first_data_day
        if self.deadline:
            return start, self.deadline
        return start, start + timedelta(days=self.duration_days or 0)


@dataclass(frozen=True)
class GoalProgress:
    """A goal measured at ``as_of``."""

    goal: Goal
    as_of: date
    start: date
    deadline: date
    current: float | None
    expected: float
    status: str
    per_week_trajectory: float
    per_day_trajectory: float
    per_week_needed: float | None
    per_day_needed: float | None
    next_week_expected: float

    def to_json(self) -> dict[str, Any]:
        goal = self.goal
        return {
            "id": goal.id,
            "title": goal.title,
            "metric": goal.metric,
            "owner": goal.owner,
            "source": goal.source,
            "direction": goal.direction,
            "baseline": goal.baseline,
            "target": goal.target,
            "start": self.start.isoformat(),
            "deadline": self.deadline.isoformat(),
            "current": self.current,
            "expected": self.expected,
            "status": self.status,
            "decomposition": {
                "per_week_trajectory": self.per_week_trajectory,
                "per_day_trajectory": self.per_day_trajectory,
                "per_week_needed": self.per_week_needed,
                "per_day_needed": self.per_day_needed,
                "next_week_expected": self.next_week_expected,
            },
        }


def default_goals_path() -> Path:
    return Path(str(resources.files("groupops.analytics") / "data" / "goals.yaml"))


def _as_date(value: Any, field_name: str, goal_id: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as error:
        raise ConfigurationError(f"goal {goal_id!r}: {field_name} must be YYYY-MM-DD") from error


def _goal_from_mapping(entry: Any) -> Goal:
    if not isinstance(entry, dict):
        raise ConfigurationError("every goal must be a mapping")
    missing = [name for name in _REQUIRED if entry.get(name) in (None, "")]
    if missing:
        raise ConfigurationError(f"goal {entry.get('id', '?')!r} misses {', '.join(missing)}")
    goal_id = str(entry["id"])
    if entry["metric"] not in GOAL_METRICS:
        raise ConfigurationError(f"goal {goal_id!r}: unknown metric {entry['metric']!r}")
    try:
        baseline, target = float(entry["baseline"]), float(entry["target"])
        duration = int(entry["duration_days"]) if entry.get("duration_days") is not None else None
    except (TypeError, ValueError) as error:
        raise ConfigurationError(
            f"goal {goal_id!r}: baseline, target and duration must be numbers"
        ) from error
    deadline = _as_date(entry.get("deadline"), "deadline", goal_id)
    if deadline is None and (duration is None or duration <= 0):
        raise ConfigurationError(f"goal {goal_id!r}: give a deadline or a positive duration_days")
    direction = str(entry.get("direction") or ("down" if target < baseline else "up"))
    if direction not in ("up", "down"):
        raise ConfigurationError(f"goal {goal_id!r}: direction must be up or down")
    return Goal(
        id=goal_id,
        title=str(entry["title"]),
        metric=str(entry["metric"]),
        baseline=baseline,
        target=target,
        owner=str(entry["owner"]),
        deadline=deadline,
        start=_as_date(entry.get("start"), "start", goal_id),
        duration_days=duration,
        direction=direction,
        source=str(entry.get("source") or ""),
    )


def load_goals(path: Path | None = None) -> list[Goal]:
    """Goals from a YAML file (default: the plan's targets shipped with GroupOps)."""
    chosen = path or default_goals_path()
    try:
        document = yaml.safe_load(chosen.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ConfigurationError(f"cannot read goals from {chosen}: {error}") from error
    entries = document.get("goals") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ConfigurationError(f"{chosen}: expected a top-level 'goals:' list")
    goals = [_goal_from_mapping(entry) for entry in entries]
    ids = [goal.id for goal in goals]
    if len(set(ids)) != len(ids):
        raise ConfigurationError(f"{chosen}: goal ids must be unique")
    return goals


def _expected_at(goal: Goal, start: date, deadline: date, day: date) -> float:
    total = max((deadline - start).days, 1)
    fraction = min(max((day - start).days / total, 0.0), 1.0)
    return goal.baseline + (goal.target - goal.baseline) * fraction


def _status(goal: Goal, current: float | None, expected: float) -> str:
    if current is None:
        return "no_data"
    sign = 1.0 if goal.direction == "up" else -1.0
    gap = sign * (current - expected)
    if gap >= 0:
        return "green"
    return "amber" if -gap <= AMBER_TOLERANCE * abs(expected) else "red"


def evaluate_goal(goal: Goal, current: float | None, as_of: date, first_data_day: date) -> GoalProgress:
    """Measure one goal at ``as_of`` against its linear trajectory."""
    start, deadline = goal.resolved_dates(first_data_day)
    expected = _expected_at(goal, start, deadline, as_of)
    total_days = max((deadline - start).days, 1)
    per_day = (goal.target - goal.baseline) / total_days
    days_left = (deadline - as_of).days
    needed = None
    if current is not None and days_left > 0:
        needed = (goal.target - current) / days_left
    return GoalProgress(
        goal=goal,
        as_of=as_of,
        start=start,
        deadline=deadline,
        current=current,
        expected=expected,
        status=_status(goal, current, expected),
        per_week_trajectory=per_day * 7,
        per_day_trajectory=per_day,
        per_week_needed=None if needed is None else needed * 7,
        per_day_needed=needed,
        next_week_expected=_expected_at(goal, start, deadline, as_of + timedelta(days=7)),
    )


def scorecard(
    goals: list[Goal], metrics: dict[str, float | None], as_of: date, first_data_day: date
) -> list[GoalProgress]:
    """Every goal measured from ``metrics`` (metric name → current value; missing = no data)."""
    return [evaluate_goal(goal, metrics.get(goal.metric), as_of, first_data_day) for goal in goals]
