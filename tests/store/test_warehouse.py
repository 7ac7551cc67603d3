from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from groupops.errors import StoreError
from groupops.store.schemas import FACT_SCHEMAS
from groupops.store.warehouse import LINE_COLUMN, Warehouse


def _events(ids: list[str], month: str = "2026-01") -> pa.Table:
    rows = {
        "event_id": ids,
        "member_id": ["wm1"] * len(ids),
        "occurred_at": [datetime(2026, 1, 5, tzinfo=UTC)] * len(ids),
        "event": ["view"] * len(ids),
        "sku": ["S1"] * len(ids),
        "campaign": [None] * len(ids),
        "month": [month] * len(ids),
    }
    table = pa.table(rows, schema=FACT_SCHEMAS["shop_events"])
    return table.append_column(LINE_COLUMN, pa.array(range(1, len(ids) + 1), pa.int64()))


def _commit(warehouse: Warehouse, table: pa.Table) -> tuple[int, int]:
    with warehouse.staged_import("shop_events") as staged:
        staged.add(table)
        result = warehouse.commit(staged)
    return result.written, result.duplicates


def test_commit_deduplicates_within_and_across_imports(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path)
    assert _commit(warehouse, _events(["e1", "e2", "e2"])) == (2, 1)
    assert _commit(warehouse, _events(["e2", "e3"])) == (1, 1)
    assert sorted(warehouse.read_table("shop_events")["event_id"].to_pylist()) == ["e1", "e2", "e3"]
    assert warehouse.row_count("shop_events") == 3


def test_empty_warehouse_reads_as_empty_tables_with_the_schema(tmp_path: Path) -> None:
    table = Warehouse(tmp_path).read_table("orders")
    assert table.num_rows == 0
    assert table.schema.names == FACT_SCHEMAS["orders"].names


def test_files_not_in_the_manifest_are_invisible_and_cleaned(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path)
    _commit(warehouse, _events(["e1"]))
    orphan = tmp_path / "shop_events" / "month=2026-01" / "part-orphan.parquet"
    pq.write_table(_events(["ghost"]).drop_columns([LINE_COLUMN]), orphan)
    assert warehouse.read_table("shop_events")["event_id"].to_pylist() == ["e1"]
    _commit(warehouse, _events(["e2"]))
    assert not orphan.exists()


def test_partitions_by_month(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path)
    _commit(warehouse, pa.concat_tables([_events(["a"], "2026-01"), _events(["b"], "2026-02")]))
    months = sorted(entry["month"] for entry in warehouse.manifest("shop_events")["files"])
    assert months == ["2026-01", "2026-02"]
    assert [p.parent.name for p in warehouse.files("shop_events", {"2026-02"})] == ["month=2026-02"]


def test_unknown_table_and_corrupt_manifest_are_named_errors(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path)
    with pytest.raises(StoreError, match="unknown warehouse table"):
        warehouse.files("../etc")
    (tmp_path / "orders").mkdir()
    (tmp_path / "orders" / "_manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(StoreError, match="unreadable"):
        warehouse.files("orders")


_ARCHIVE_LINE = (
    '{{"msgid":"k{i}","action":"send","from":"wm{s}","tolist":["staff"],"roomid":"wr{g}",'
    '"msgtime":{t},"msgtype":"text","text":{{"content":"第{i}条消息 请问有S码吗"}}}}\n'
)


def _write_archive(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for i in range(count):
            handle.write(_ARCHIVE_LINE.format(i=i, s=i % 997, g=i % 7, t=1_767_225_600_000 + i * 60_000))


def _ingest_process(data: Path, archive: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "groupops",
        "ingest",
        "wecom-archive",
        str(archive),
        "--data",
        str(data),
        "--json",
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _assert_readable(warehouse: Warehouse) -> int:
    manifest = warehouse.manifest("messages")
    for entry in manifest["files"]:
        pq.read_metadata(warehouse.table_dir("messages") / entry["path"])
    table = warehouse.read_table("messages")
    assert len(set(table["msgid"].to_pylist())) == table.num_rows
    return table.num_rows


@pytest.mark.slow
def test_sigkill_at_any_point_leaves_a_readable_warehouse_and_a_rerun_completes(tmp_path: Path) -> None:
    archive = tmp_path / "archive.jsonl"
    count = 150_000
    _write_archive(archive, count)
    data = tmp_path / "data"
    seen_counts = set()
    for delay in (0.2, 0.8, 1.4, 2.0, 2.6, 3.2):
        process = _ingest_process(data, archive)
        time.sleep(delay)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait()
        seen_counts.add(_assert_readable(Warehouse(data / "warehouse")))
    assert seen_counts <= {0, count}  # all or nothing, never a partial import
    process = _ingest_process(data, archive)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err.decode()
    report = json.loads(out)
    assert report["ingested"] + report["duplicates"] == count
    assert _assert_readable(Warehouse(data / "warehouse")) == count
