"""The brand-zone time columns of the DuckDB engine: offsets looked up once equal ICU per row."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from brand_fixture import message_rows, write_facts

from groupops.analytics.engine import DuckDBEngine, _month_span
from groupops.config import Settings
from groupops.store.workspace import Workspace

ZONES = ("Asia/Shanghai", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "Europe/London")


def _instants() -> list[datetime]:
    """Every 7 minutes around the 2024 transitions of the zones above, plus a year's spread."""
    around = [
        datetime(2024, 3, 9, tzinfo=UTC),
        datetime(2024, 3, 30, tzinfo=UTC),
        datetime(2024, 4, 6, tzinfo=UTC),
    ]
    around += [
        datetime(2024, 10, 5, tzinfo=UTC),
        datetime(2024, 10, 26, tzinfo=UTC),
        datetime(2024, 11, 2, tzinfo=UTC),
    ]
    moments = [start + timedelta(minutes=7 * step) for start in around for step in range(2 * 24 * 60 // 7)]
    moments += [datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=13 * step) for step in range(700)]
    # an instant one second before and at a transition (New York, 2024-11-03 06:00 UTC)
    moments += [datetime(2024, 11, 3, 5, 59, 59, tzinfo=UTC), datetime(2024, 11, 3, 6, 0, 0, tzinfo=UTC)]
    return moments


def _workspace(root: Path, zone: str) -> Workspace:
    workspace = Workspace(Settings(data=root, timezone=zone, _env_file=None))  # type: ignore[call-arg]
    rows = message_rows(
        [
            (f"m{index}", "g1", "u1", False, "2024-01-01 00:00", "text", "send", "hi", None)
            for index in range(1)
        ]
    )
    template = rows[0]
    messages = []
    for index, moment in enumerate(_instants()):
        messages.append(
            {**template, "msgid": f"m{index}", "sent_at": moment, "month": moment.strftime("%Y-%m")}
        )
    messages.append({**template, "msgid": "no-time", "sent_at": None, "month": "2024-01"})
    write_facts(workspace, "messages", messages)
    return workspace


@pytest.mark.parametrize("zone", ZONES)
def test_local_time_and_day_match_the_zone_rules(tmp_path: Path, zone: str) -> None:
    with DuckDBEngine(_workspace(tmp_path, zone)) as engine:
        table = engine.facts().unrecalled_messages
        assert table is not None
        rows = engine.to_arrow(
            table.select("msgid", "sent_at", "local_time", "day_number", "local_month")
        ).to_pylist()
    checked = 0
    for row in rows:
        if row["sent_at"] is None:
            assert row["local_time"] is None and row["day_number"] is None
            continue
        local = row["sent_at"].astimezone(ZoneInfo(zone)).replace(tzinfo=None)
        assert row["local_time"] == local, (zone, row)
        assert row["day_number"] == (local.date() - date(1970, 1, 1)).days
        assert row["local_month"] == local.strftime("%Y-%m")
        checked += 1
    assert checked == len(_instants())


def test_rows_outside_the_partition_months_use_the_exact_conversion(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path, "America/New_York")
    stray = datetime(2031, 7, 1, 3, 30, tzinfo=UTC)  # filed under a wrong month: outside the span
    rows = message_rows([("x", "g1", "u1", False, "2024-01-01 00:00", "text", "send", "hi", None)])
    write_facts(workspace, "messages", [{**rows[0], "msgid": "stray", "sent_at": stray, "month": "2024-01"}])
    with DuckDBEngine(workspace) as engine:
        table = engine.facts().unrecalled_messages
        assert table is not None
        found = engine.to_arrow(table.filter(table.msgid == "stray").select("local_time")).to_pylist()
    assert found == [{"local_time": datetime(2031, 6, 30, 23, 30)}]


def test_month_span_skips_unreadable_months() -> None:
    assert _month_span([]) is None
    assert _month_span([None, "garbage", "<script>"]) is None
    first, end = _month_span(["2024-03", "2024-01"]) or (0, 0)
    assert first < (date(2024, 1, 1) - date(1970, 1, 1)).days * 86_400_000_000 < end
    assert _month_span(["1970-01"]) is None  # too close to the epoch for the fast path
    assert _month_span(["1990-01", "2099-12"]) is None  # an implausible span: converted row by row
