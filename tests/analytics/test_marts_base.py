"""The compact base of a run (sender days, unrepeated texts) against the per-message marts,
the shared period tables, the day-number calendar helpers and strict funnels."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest
from brand_fixture import build_small_brand, message_rows, new_workspace, write_facts

from groupops.analytics import marts
from groupops.analytics.engine import DuckDBEngine
from groupops.analytics.funnel import member_funnel_progress
from groupops.analytics.kpis import KpiInputs
from groupops.analytics.retention import (
    cohort_table,
    cohort_table_of_periods,
    monthly_churn,
    monthly_churn_of_periods,
)
from groupops.store.workspace import Workspace

HOSTILE = "<script>alert(1)</script>'; DROP TABLE messages; --"

MESSAGES = [
    # msgid, group, sender, staff, when (Shanghai), msgtype, action, text, recalled
    ("a1", "g1", "m01", False, "2024-03-01 10:00", "text", "send", " 新品 ", None),
    ("a2", "g1", "m01", False, "2024-03-01 11:00", "text", "send", "新品", None),  # same sender, same day
    ("a3", "g1", "m02", False, "2024-03-31 23:30", "text", "send", "新品", None),  # still March locally
    (
        "a4",
        "g1",
        "m02",
        False,
        "2024-04-01 00:30",
        "text",
        "send",
        "新品",
        None,
    ),  # April locally, March in UTC
    ("a5", "g1", "s1", True, "2024-03-02 09:00", "text", "send", HOSTILE, None),
    ("a6", "g1", "m03", False, "2024-03-02 10:00", "text", "send", HOSTILE, None),
    ("a7", "g1", "m03", False, "2024-03-02 10:05", "text", "send", None, None),  # blank (null) text
    ("a8", "g1", "m04", False, "2024-03-02 10:06", "text", "send", "  ", None),  # blank text
    ("a9", "g1", "m04", False, "2024-03-02 10:07", "image", "send", "新品", None),  # not a text
    ("b1", "g1", "m05", False, "2024-03-03 10:00", "text", "send", "撤回", None),
    ("b2", "g1", "m05", False, "2024-03-03 10:01", "revoke", "recall", None, "b1"),
    ("b3", "g1", "m06", False, "2024-03-03 10:02", "text", "send", "撤回", None),  # alone once b1 is recalled
    ("c1", "g1", None, False, "2024-03-04 10:00", "text", "send", "无名", None),  # no sender
    ("c2", "g1", None, False, "2024-03-04 11:00", "text", "send", "无名", None),
    ("c3", "g1", "m07", True, "2024-03-04 12:00", "text", "send", "兼职", None),  # flagged once ...
    ("c4", "g1", "m07", False, "2024-03-05 12:00", "text", "send", "兼职", None),  # ... so staff here too
    ("d1", "g2", "m01", False, "2024-03-01 10:00", "text", "send", "新品", None),  # another group
    ("d2", "g2", "m08", False, "2024-03-01 10:00", "agree", "send", None, None),  # not an interaction
    ("e1", None, "m09", False, "2024-03-01 10:00", "text", "send", "私聊", None),  # not in a group
]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Any:
    workspace = new_workspace(tmp_path_factory.mktemp("base"))
    write_facts(workspace, "messages", message_rows(MESSAGES))
    opened = DuckDBEngine(workspace)
    yield opened
    opened.close()


def _rows(engine: DuckDBEngine, expression: ibis.Table, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    return sorted(engine.to_arrow(expression).to_pylist(), key=lambda row: [str(row[key]) for key in keys])


def _day(text: str) -> int:
    return (date.fromisoformat(text) - date(1970, 1, 1)).days


def _per_message(engine: DuckDBEngine) -> tuple[Any, ibis.Table]:
    facts = engine.facts()
    facts = replace(facts, all_staff=engine.materialize(marts.staff_members(facts)))
    return facts, engine.materialize(marts.group_messages(facts, with_text=False, with_bodies=True))


def test_group_daily_activity_from_sender_days_equals_the_per_message_count(engine: DuckDBEngine) -> None:
    facts, messages = _per_message(engine)
    keys = ("group_id", "day_number")
    from_messages = _rows(engine, marts.group_daily_activity(facts, messages), keys)
    senders = engine.materialize(marts.sender_days(facts))
    unrepeated = engine.materialize(marts.unrepeated_texts(facts))
    from_base = _rows(engine, marts.group_daily_from_sender_days(senders, unrepeated), keys)
    assert from_base == from_messages
    assert from_base == _rows(engine, marts.group_daily_activity(engine.facts()), keys)
    march_first = next(
        row for row in from_base if row["group_id"] == "g1" and row["day_number"] == _day("2024-03-01")
    )
    assert march_first["repeated_messages"] == 2  # a1 and a2 repeat a3 (March); a4 is April
    assert march_first["speakers"] == 1 and march_first["messages"] == 2


def test_repetition_ignores_blank_texts_recalls_and_month_boundaries(engine: DuckDBEngine) -> None:
    rows = {
        (row["group_id"], row["day_number"]): row
        for row in engine.to_arrow(marts.group_daily_activity(engine.facts())).to_pylist()
    }
    g1 = {day: rows[("g1", _day(day))] for day in ("2024-03-02", "2024-03-03", "2024-03-31", "2024-04-01")}
    assert g1["2024-03-02"]["repeated_messages"] == 2  # the hostile text twice; blanks and the image never
    assert g1["2024-03-02"]["staff_messages"] == 1 and g1["2024-03-02"]["customer_messages"] == 4
    assert g1["2024-03-03"]["repeated_messages"] == 0  # b1 was recalled: b3 is alone
    assert g1["2024-03-31"]["repeated_messages"] == 1 and g1["2024-03-31"]["month"] == "2024-03"
    assert g1["2024-04-01"]["repeated_messages"] == 0 and g1["2024-04-01"]["month"] == "2024-04"


def test_member_activity_from_sender_days_equals_the_per_message_count(engine: DuckDBEngine) -> None:
    facts, messages = _per_message(engine)
    keys = ("group_id", "day_number", "member_id")
    from_messages = _rows(engine, marts.member_daily_activity(facts, messages), keys)
    from_base = _rows(engine, marts.member_daily_activity(facts), keys)
    assert from_base == from_messages
    members = {row["member_id"] for row in from_base}
    assert "s1" not in members and "m07" not in members  # staff, and a sender flagged once
    assert "m09" not in members and "m08" not in members  # a private chat, an 'agree'


@pytest.mark.parametrize(
    "day", [date(1970, 1, 1), date(2000, 2, 29), date(2023, 12, 31), date(2024, 1, 1), date(2099, 12, 31)]
)
def test_month_label_and_index_of_a_day_number(engine: DuckDBEngine, day: date) -> None:
    number = (day - date(1970, 1, 1)).days
    table = ibis.memtable(pa.table({"day_number": pa.array([number], pa.int64())}))
    row = engine.to_arrow(
        table.select(
            label=marts.month_label_of_day(table.day_number), index=marts.month_index_of_day(table.day_number)
        )
    ).to_pylist()[0]
    assert row == {"label": day.strftime("%Y-%m"), "index": day.year * 12 + day.month - 1}


@pytest.fixture(scope="module")
def brand(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return build_small_brand(tmp_path_factory.mktemp("brand"))


def test_kept_periods_and_previous_days_give_the_same_marts(brand: Workspace) -> None:
    with DuckDBEngine(brand) as engine:
        inputs = KpiInputs.from_facts(engine.facts(), engine)
        member_days = marts.active_member_days(inputs.activity, inputs.orders)
        kept = engine.materialize(marts.with_previous_active_day(member_days))
        months = engine.materialize(marts.active_periods(kept, "month"))
        calendar = ibis.memtable(
            pa.table({"day_number": pa.array(range(_day("2024-01-01"), _day("2024-04-05")), pa.int64())})
        )
        for window in (1, 7, 30):
            plain = _rows(
                engine, marts.rolling_distinct_members(member_days, calendar, window), ("day_number",)
            )
            shared = _rows(engine, marts.rolling_distinct_members(kept, calendar, window), ("day_number",))
            assert plain == shared and any(row["members"] for row in plain)
        for period in ("week", "month"):
            expected = _rows(engine, marts.lifecycle(member_days, period), ("period_index",))
            periods = marts.active_periods(kept, period)
            assert _rows(engine, marts.lifecycle_of_periods(periods, period), ("period_index",)) == expected
        for kind in ("first_time", "recurring"):
            keys = ("cohort_index", "offset")
            expected = _rows(
                engine, cohort_table(member_days, kind=kind, period="month", max_periods=3), keys
            )
            assert _rows(engine, cohort_table_of_periods(months, kind=kind, max_periods=3), keys) == expected
        keys = ("month_index",)
        assert _rows(engine, monthly_churn_of_periods(months), keys) == _rows(
            engine, monthly_churn(kept), keys
        )


def test_an_unknown_lifecycle_period_is_refused() -> None:
    table = ibis.table({"member_id": "string", "day_number": "int64"}, name="days")
    with pytest.raises(ValueError, match="period"):
        marts.lifecycle(table, "day")
    with pytest.raises(ValueError, match="period"):
        marts.active_periods(table, "fortnight")


# -- strict funnels: one window of lags against a direct reading of the definition ------------

STEPS = ("view", "favorite", "add_to_cart", "pay")
WINDOW_DAYS = 2


def _strict_reference(
    events: list[tuple[str, str, int, str]], first_day: int | None
) -> dict[str, list[float]]:
    """Per member, the shortest time to each step: step k directly follows steps 1..k-1."""
    window = WINDOW_DAYS * 86_400_000_000
    by_member: dict[str, list[tuple[int, str, str]]] = {}
    for member, event, epoch, event_id in events:
        by_member.setdefault(member, []).append((epoch, event_id, event))
    result = {}
    for member, rows in by_member.items():
        rows.sort()
        best: list[float] = [float("inf")] * len(STEPS)
        for start, (epoch, _event_id, event) in enumerate(rows):
            if event != STEPS[0] or (first_day is not None and epoch // 86_400_000_000 < first_day):
                continue
            for k in range(len(STEPS)):
                if start + k >= len(rows) or rows[start + k][2] != STEPS[k]:
                    break
                elapsed = rows[start + k][0] - epoch
                if elapsed <= window:
                    best[k] = min(best[k], elapsed / 1e6)
        result[member] = best
    return result


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_strict_funnel_matches_the_definition(engine: DuckDBEngine, seed: int) -> None:
    generator = random.Random(seed)
    kinds = [*STEPS, "share"]
    events = []
    for index in range(600):
        member = f"m{generator.randrange(12)}"
        # coarse instants: many ties, broken by the event id as in the engine
        epoch = generator.randrange(0, 6 * 24) * 3_600_000_000
        events.append((member, generator.choice(kinds), epoch, f"e{index:04d}"))
    table = ibis.memtable(
        pa.table(
            {
                "member_id": [row[0] for row in events],
                "event": [row[1] for row in events],
                "epoch_us": pa.array([row[2] for row in events], pa.int64()),
                "day_number": pa.array([row[2] // 86_400_000_000 for row in events], pa.int64()),
                "event_id": [row[3] for row in events],
            }
        )
    )
    for first_day in (None, 2):
        progress = member_funnel_progress(
            table, STEPS, window_days=WINDOW_DAYS, mode="strict", first_day=first_day
        )
        computed = {
            row["member_id"]: [row[f"seconds_{k}"] for k in range(1, 5)]
            for row in engine.to_arrow(progress).to_pylist()
        }
        expected = _strict_reference(events, first_day)
        assert computed.keys() == expected.keys()
        for member, seconds in expected.items():
            assert computed[member] == [None if value == float("inf") else value for value in seconds], member


def test_an_empty_warehouse_gives_empty_base_tables(tmp_path: Path) -> None:
    with DuckDBEngine(new_workspace(tmp_path)) as engine:
        facts = engine.facts()
        assert engine.to_arrow(marts.sender_days(facts)).num_rows == 0
        assert engine.to_arrow(marts.unrepeated_texts(facts)).num_rows == 0
        assert engine.to_arrow(marts.group_daily_activity(facts)).num_rows == 0
        assert engine.to_arrow(marts.member_daily_activity(facts)).num_rows == 0
