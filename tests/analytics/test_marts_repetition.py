"""The narrow kept message table, repeated texts and the last day with data."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from brand_fixture import message_rows, new_workspace, order_rows, write_facts

from groupops.analytics import marts
from groupops.analytics.engine import DuckDBEngine
from groupops.analytics.kpis import data_last_day
from groupops.store.workspace import Workspace

HOSTILE = "<script>alert(1)</script>'; DROP TABLE messages; --"

MESSAGES = [
    # msgid, group, sender, staff, when (Shanghai), msgtype, action, text, recalled
    ("a1", "g1", "m01", False, "2024-03-01 10:00", "text", "send", "  新品上架 ", None),
    ("a2", "g1", "m02", False, "2024-03-02 10:00", "text", "send", "新品上架", None),
    ("a3", "g1", "s1", True, "2024-03-02 11:00", "text", "send", "新品上架", None),
    ("a4", "g1", "m03", False, "2024-04-01 10:00", "text", "send", "新品上架", None),  # alone in April
    ("a5", "g1", "m01", False, "2024-03-03 10:00", "image", "send", "新品上架", None),  # not a text
    ("a6", "g1", "m02", False, "2024-03-03 11:00", "text", "send", "   ", None),  # empty
    ("a7", "g1", "m03", False, "2024-03-03 12:00", "text", "send", "   ", None),
    ("a8", "g1", "m04", False, "2024-03-04 10:00", "text", "send", HOSTILE, None),
    ("a9", "g1", "m05", False, "2024-03-04 11:00", "text", "send", HOSTILE, None),
    ("r1", "g1", "m05", False, "2024-03-04 11:01", "text", "recall", None, "a9"),  # a9 recalled
    ("b1", "g2", "m01", False, "2024-03-31 23:30", "text", "send", "新品上架", None),  # other group
]


def _brand(root: Path) -> Workspace:
    workspace = new_workspace(root)
    write_facts(workspace, "messages", message_rows(MESSAGES))
    return workspace


def _by_key(rows: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, Any]]:
    return {(row["group_id"], row["day_number"]): row for row in rows}


def _daily(engine: DuckDBEngine, kept: bool) -> dict[tuple[str, int], dict[str, Any]]:
    facts = engine.facts()
    if not kept:
        return _by_key(engine.to_arrow(marts.group_daily_activity(facts)).to_pylist())
    facts = replace(facts, all_staff=engine.materialize(marts.staff_members(facts)))
    narrow = engine.materialize(marts.group_messages(facts, with_text=False, with_bodies=True))
    assert "text" not in narrow.columns and "body" in narrow.columns
    return _by_key(engine.to_arrow(marts.group_daily_activity(facts, narrow)).to_pylist())


def _day(text: str) -> int:
    return (date.fromisoformat(text) - date(1970, 1, 1)).days


def test_repeated_texts_count_trimmed_texts_seen_twice_in_the_group_month(tmp_path: Path) -> None:
    engine = DuckDBEngine(_brand(tmp_path))
    try:
        from_facts, from_kept = _daily(engine, kept=False), _daily(engine, kept=True)
    finally:
        engine.close()
    assert from_facts == from_kept
    repeated = {key: row["repeated_messages"] for key, row in from_kept.items()}
    assert repeated == {
        ("g1", _day("2024-03-01")): 1,  # a1 (trimmed) repeats a2 and a3
        ("g1", _day("2024-03-02")): 2,  # a2 and the staff message a3
        ("g1", _day("2024-03-03")): 0,  # an image and empty texts never count
        ("g1", _day("2024-03-04")): 0,  # a9 was recalled, so a8 is alone
        ("g1", _day("2024-04-01")): 0,  # alone in April
        ("g2", _day("2024-03-31")): 0,  # another group
    }
    assert from_kept[("g1", _day("2024-03-02"))]["staff_messages"] == 1


def test_data_last_day_is_the_latest_local_day_of_any_table(tmp_path: Path) -> None:
    workspace = _brand(tmp_path)
    engine = DuckDBEngine(workspace)
    try:
        assert data_last_day(engine, engine.facts()) == date(2024, 4, 1)
        write_facts(
            workspace, "orders", order_rows([("o1", "m01", "2024-04-02 23:59", "paid", 10.0, None, "group")])
        )
        assert data_last_day(engine, engine.facts()) == date(2024, 4, 2)
    finally:
        engine.close()


def test_data_last_day_of_an_empty_warehouse_is_none(tmp_path: Path) -> None:
    engine = DuckDBEngine(new_workspace(tmp_path))
    try:
        assert data_last_day(engine, engine.facts()) is None
    finally:
        engine.close()
