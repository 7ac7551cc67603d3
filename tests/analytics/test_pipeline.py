"""``run_pipeline``: marts on disk, the summary, and incremental runs equal to full ones."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from brand_fixture import build_small_brand, message_rows, new_workspace, order_rows, write_facts
from mart_comparison import assert_same_marts, mart_rows

from groupops.analytics.pipeline import PARTITIONED_MARTS, WHOLE_MARTS, read_mart, run_pipeline
from groupops.errors import StoreError

LATE_MESSAGES = [
    ("n-1", "g1", "m04", False, "2024-04-03 10:00", "text", "send", "还有货吗", None),
    ("n-2", "g2", "m11", False, "2024-04-05 10:00", "text", "send", "想要", None),
    # a late recall of a March message: March's partitions must change too
    ("n-3", "g1", "m01", False, "2024-04-01 00:05", "revoke", "recall", None, "a-4"),
]
LATE_ORDERS = [("o11", "m11", "2024-04-06 12:00", "paid", 90.0, 0.0, "store")]


def test_first_run_writes_every_mart_and_the_summary(tmp_path: Path) -> None:
    brand = build_small_brand(tmp_path / "data")
    result = run_pipeline(brand)
    marts_dir = brand.settings.marts_dir
    assert result.full and set(result.rows) == {*PARTITIONED_MARTS, *WHOLE_MARTS}
    summary = json.loads((marts_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["kpis"]["kpis"]["active_users"] >= 1
    assert {goal["status"] for goal in summary["goals"]} <= {"green", "amber", "red", "no_data"}
    daily = {row["day"].isoformat(): row for row in mart_rows(marts_dir, "brand_daily_activity")}
    assert daily["2024-03-05"]["dau"] == 2  # m01 spoke, m12 bought (o10)
    assert daily["2024-03-31"]["mau"] == 7  # 03-02..03-31: m01 m03 m05 m06 m09 m12 x99
    assert daily["2024-03-31"]["members"] == 10
    health = {(row["group_id"], row["month"]): row for row in mart_rows(marts_dir, "group_health")}
    assert health[("g1", "2024-03")]["members"] == 7 and health[("g1", "2024-03")]["leaves"] == 1
    assert health[("g1", "2024-03")]["staff_share"] == pytest.approx(2 / 6)
    assert health[("g1", "2024-03")]["repeated_share"] == pytest.approx(2 / 6)  # the promotion sent twice
    assert health[("g1", "2024-03")]["kind"] == "brand_official"


def test_goals_start_on_the_first_message_or_order_not_on_old_join_dates(tmp_path: Path) -> None:
    """Members joined from 2024-01-05; the first order is o3 on 2024-01-20 (before any message)."""
    brand = build_small_brand(tmp_path / "data")
    run_pipeline(brand)
    summary = json.loads((brand.settings.marts_dir / "summary.json").read_text(encoding="utf-8"))
    assert {goal["start"] for goal in summary["goals"]} == {"2024-01-20"}


def test_daily_marts_start_on_the_first_order_or_message_and_count_earlier_joins(tmp_path: Path) -> None:
    """Members joined from 2024-01-05, the first order is on 01-20: days before have no behaviour data.

    On 01-20, m01–m08 (g1, 01-05) and m09–m12 (g2, 01-10) are present: 12 customers.
    """
    brand = build_small_brand(tmp_path / "data")
    run_pipeline(brand)
    days = sorted(mart_rows(brand.settings.marts_dir, "brand_daily_activity"), key=lambda row: row["day"])
    assert days[0]["day"].isoformat() == "2024-01-20"
    assert days[0]["members"] == 12


def test_goals_start_on_the_first_message_when_it_comes_first(tmp_path: Path) -> None:
    brand = build_small_brand(tmp_path / "data")
    early = [("z-1", "g2", "m10", False, "2024-01-12 08:00", "text", "send", "来了", None)]
    write_facts(brand, "messages", message_rows(early))
    run_pipeline(brand)
    summary = json.loads((brand.settings.marts_dir / "summary.json").read_text(encoding="utf-8"))
    assert {goal["start"] for goal in summary["goals"]} == {"2024-01-12"}


def test_second_run_without_new_data_recomputes_no_month(tmp_path: Path) -> None:
    brand = build_small_brand(tmp_path / "data")
    run_pipeline(brand)
    again = run_pipeline(brand)
    assert not again.full
    assert all(months == [] for months in again.recomputed_months.values())


def test_incremental_equals_full(tmp_path: Path) -> None:
    brand = build_small_brand(tmp_path / "data")
    run_pipeline(brand)
    write_facts(brand, "messages", message_rows(LATE_MESSAGES))
    write_facts(brand, "orders", order_rows(LATE_ORDERS))
    incremental = run_pipeline(brand)
    assert not incremental.full
    assert incremental.recomputed_months["member_daily_activity"] == ["2024-03", "2024-04"]
    assert "2024-01" not in incremental.recomputed_months["orders_attributed"]
    shutil.copytree(tmp_path / "data", tmp_path / "copy")
    shutil.rmtree(tmp_path / "copy" / "marts")
    copy = new_workspace(tmp_path / "copy")
    assert run_pipeline(copy, full=True).full
    assert_same_marts(brand.settings.marts_dir, copy.settings.marts_dir)
    activity = {
        (row["member_id"], row["day"].isoformat())
        for row in mart_rows(brand.settings.marts_dir, "member_daily_activity")
    }
    assert ("m01", "2024-03-10") not in activity  # recalled in April
    assert ("m04", "2024-04-03") in activity


def test_empty_warehouse_runs(tmp_path: Path) -> None:
    result = run_pipeline(new_workspace(tmp_path))
    assert result.as_of is None and result.summary_path is None
    assert read_mart(tmp_path / "marts", "brand_daily_activity").num_rows == 0


def test_corrupt_state_is_reported(tmp_path: Path) -> None:
    brand = build_small_brand(tmp_path / "data")
    run_pipeline(brand)
    (brand.settings.marts_dir / "_state.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(StoreError):
        run_pipeline(brand)
    assert run_pipeline(brand, full=True).full is True
