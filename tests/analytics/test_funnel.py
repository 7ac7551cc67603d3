"""Funnels in the three modes (PostHog semantics) and the three-stage funnel with ROI."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from brand_fixture import build_small_brand, new_workspace, shop_event_rows, write_facts

from groupops.analytics.engine import open_engine
from groupops.analytics.funnel import awareness_funnel, compute_funnel
from groupops.analytics.kpis import KpiScope
from groupops.errors import ConfigurationError
from groupops.store.workspace import Workspace

EVENTS = [
    # a converts in order over two days
    ("a", "view", "2024-03-01 10:00"),
    ("a", "favorite", "2024-03-01 11:00"),
    ("a", "add_to_cart", "2024-03-02 10:00"),
    ("a", "pay", "2024-03-03 10:00"),
    # b shares between view and favorite: ordered yes, strict no
    ("b", "view", "2024-03-01 10:00"),
    ("b", "share", "2024-03-01 10:30"),
    ("b", "favorite", "2024-03-01 11:00"),
    # c does every step within 3 hours, but favourites before viewing: only any_order counts it
    ("c", "favorite", "2024-03-01 09:00"),
    ("c", "view", "2024-03-01 10:00"),
    ("c", "add_to_cart", "2024-03-01 11:00"),
    ("c", "pay", "2024-03-01 12:00"),
    # d favourites 19 days after viewing: outside the 14-day window
    ("d", "view", "2024-03-01 10:00"),
    ("d", "favorite", "2024-03-20 10:00"),
]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    workspace = new_workspace(tmp_path_factory.mktemp("shop"))
    write_facts(workspace, "shop_events", shop_event_rows(EVENTS))
    return workspace


def members(workspace: Workspace, **options: object) -> list[int]:
    return [step.members for step in compute_funnel(workspace, **options).steps]  # type: ignore[arg-type]


def test_ordered_mode_allows_other_events_in_between(shop: Workspace) -> None:
    result = compute_funnel(shop, mode="ordered")
    assert [step.members for step in result.steps] == [4, 2, 1, 1]
    assert result.steps[1].conversion_from_previous == pytest.approx(0.5)
    assert result.steps[3].conversion_overall == pytest.approx(0.25)
    assert result.steps[1].median_seconds_to_convert == 3600.0  # a and b, one hour each
    assert result.steps[3].median_seconds_to_convert == 2 * 86400.0


def test_strict_mode_needs_the_very_next_event(shop: Workspace) -> None:
    assert members(shop, mode="strict") == [4, 1, 1, 1]


def test_any_order_counts_steps_done_in_any_order_within_the_window(shop: Workspace) -> None:
    result = compute_funnel(shop, mode="any_order")
    assert [step.members for step in result.steps] == [4, 3, 2, 2]
    # a takes 2 days, c 3 hours: the median of the two
    assert result.steps[3].median_seconds_to_convert == pytest.approx((172800 + 10800) / 2)


def test_a_longer_window_lets_d_convert(shop: Workspace) -> None:
    assert members(shop, mode="ordered", window_days=30) == [4, 3, 1, 1]


def test_start_dates_limit_the_attempts(shop: Workspace) -> None:
    assert members(shop, date_from=date(2024, 3, 2)) == [0, 0, 0, 0]
    assert members(shop, steps=("favorite", "pay")) == [4, 2]  # a, b, c, d favourite; a and c pay after


def test_bad_funnel_definitions_are_refused(shop: Workspace) -> None:
    with pytest.raises(ConfigurationError):
        compute_funnel(shop, mode="sideways")
    with pytest.raises(ConfigurationError):
        compute_funnel(shop, steps=("view", "view"))
    with pytest.raises(ConfigurationError):
        compute_funnel(shop, funnel="DROP TABLE shop_events")
    with pytest.raises(ConfigurationError):
        compute_funnel(shop, window_days=-3)


def test_follow_to_buy_uses_joins_and_valid_orders(tmp_path: Path) -> None:
    """Followers: m01-m12 (staff s1 excluded). Only m09 (joined 01-10... bought 02-10) is 31 days: none in 14 days."""
    brand = build_small_brand(tmp_path)
    result = compute_funnel(brand, funnel="follow_to_buy")
    assert [step.members for step in result.steps] == [12, 0]
    longer = compute_funnel(brand, funnel="follow_to_buy", window_days=62)
    # within 62 days of joining: m01 (03-06), m02 (01-20), m09 (02-10), m12 (03-05); m05's second join 02-01 -> none
    assert [step.members for step in longer.steps] == [12, 4]


def test_awareness_funnel_with_costs(tmp_path: Path) -> None:
    """March: aware 10 members; emotion m01 m03 m05 m09; behaviour m01 (o1 channel group) and m03
    (o5 the day after speaking). Revenue: aware 750, emotion 700 (m01 300 + m03 400), behaviour
    200 + 400 (o2 was 10 days after m01 last spoke and is a store order)."""
    brand = build_small_brand(tmp_path)
    with open_engine(brand) as engine:
        result = awareness_funnel(
            engine,
            KpiScope(date(2024, 3, 2), date(2024, 3, 31)),
            costs={"awareness": 500.0, "emotion": 400.0, "behaviour": 300.0},
        )
        stages = {stage.stage: stage for stage in result.stages}
        assert [stages[name].members for name in ("awareness", "emotion", "behaviour")] == [10, 4, 2]
        assert stages["emotion"].conversion_from_previous == pytest.approx(0.4)
        assert stages["awareness"].roi == pytest.approx(750 / 500)
        assert stages["emotion"].roi == pytest.approx(700 / 400)
        assert stages["behaviour"].roi == pytest.approx(600 / 300)
        with pytest.raises(ConfigurationError):
            awareness_funnel(engine, KpiScope(date(2024, 3, 2), date(2024, 3, 31)), costs={"loyalty": 1.0})
