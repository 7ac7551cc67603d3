"""``events``: shop behaviour events, validation, derived ids and dedupe."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from groupops.errors import InputFormatError
from groupops.ingest import ingest_files
from groupops.store.workspace import Workspace

from .conftest import WriteCsv, quarantined

HEADER = ["event_id", "member_id", "occurred_at", "event", "sku", "campaign"]


def test_events_import_with_utc_times_and_brand_months(workspace: Workspace, write_csv: WriteCsv) -> None:
    rows = [
        HEADER,
        ["e1", "wmA", "2024-03-01 00:10:00", "view", "SKU1", "春季上新"],
        ["e2", "wmA", "2024-03-01T08:00:00+08:00", "加购", "SKU1", ""],
        ["e3", "wmB", "1709251200000", "Add To Cart", "", ""],
        ["e4", "wmB", "2024-03-02 12:00:00", "share", "SKU2", "<b>camp</b>"],
    ]
    report = ingest_files("events", [write_csv("events.csv", rows)], workspace)
    assert (report.read, report.ingested, report.duplicates, report.quarantined) == (4, 4, 0, 0)
    events = {row["event_id"]: row for row in workspace.warehouse.read_table("shop_events").to_pylist()}
    assert events["e1"]["occurred_at"] == datetime(2024, 2, 29, 16, 10, tzinfo=UTC)
    assert events["e1"]["month"] == "2024-03" and events["e1"]["campaign"] == "春季上新"
    assert events["e2"]["event"] == "add_to_cart" and events["e3"]["event"] == "add_to_cart"
    assert events["e3"]["sku"] is None and events["e4"]["campaign"] == "<b>camp</b>"


def test_bad_events_are_quarantined_with_reasons(workspace: Workspace, write_csv: WriteCsv) -> None:
    rows = [
        HEADER,
        ["e1", "wmA", "2024-03-01 00:10:00", "purchase", "SKU1", ""],
        ["e2", "", "2024-03-01 00:10:00", "view", "SKU1", ""],
        ["e3", "wmA", "", "view", "SKU1", ""],
        ["e4", "wmA", "2024-13-45 99:00:00", "view", "SKU1", ""],
        ["e5", "wmA", "2024-03-01 00:10:00", "pay", "SKU1", ""],
    ]
    report = ingest_files("events", [write_csv("events.csv", rows)], workspace)
    assert (report.ingested, report.quarantined) == (1, 4)
    reasons = {record["line"]: record["reason"] for record in quarantined(report)}
    assert "unknown event 'purchase'; allowed: view, favorite, add_to_cart, pay, share" in reasons[2]
    assert "column 'member_id'" in reasons[3]
    assert "column 'occurred_at': empty" in reasons[4]
    assert "column 'occurred_at'" in reasons[5]


def test_events_without_ids_get_stable_ids_so_reimport_dedupes(
    workspace: Workspace, write_csv: WriteCsv
) -> None:
    rows = [["member_id", "occurred_at", "event", "sku"], ["wmA", "2024-03-01 10:00:00", "favorite", "SKU1"]]
    path = write_csv("events.csv", rows)
    first = ingest_files("events", [path], workspace)
    second = ingest_files("events", [path], workspace)
    assert (first.ingested, second.ingested, second.duplicates) == (1, 0, 1)
    event_id = workspace.warehouse.read_table("shop_events").to_pylist()[0]["event_id"]
    assert event_id.startswith("ev:") and len(event_id) == 43


def test_huge_line_is_quarantined_and_the_rest_imports(tmp_path: Path, write_csv: WriteCsv) -> None:
    from groupops.config import Settings

    workspace = Workspace(Settings(data=tmp_path / "data", max_line_bytes=2000))
    rows = [
        HEADER,
        ["e1", "wmA", "2024-03-01 10:00:00", "view", "S" * 100_000, ""],
        ["e2", "wmA", "2024-03-01 10:00:00", "view", "S", ""],
    ]
    report = ingest_files("events", [write_csv("events.csv", rows)], workspace)
    assert (report.read, report.ingested, report.quarantined) == (2, 1, 1)
    record = quarantined(report)[0]
    assert record["line"] == 2 and "longer than 2000" in record["reason"]
    workspace.close()


def test_missing_columns_are_named(workspace: Workspace, write_csv: WriteCsv) -> None:
    with pytest.raises(InputFormatError, match="occurred_at, event"):
        ingest_files("events", [write_csv("events.csv", [["member_id", "sku"], ["wmA", "x"]])], workspace)
