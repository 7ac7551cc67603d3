"""Compare the marts of two data directories row by row (floats to 1e-9)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from groupops.analytics.pipeline import PARTITIONED_MARTS, WHOLE_MARTS, read_mart


def mart_rows(marts_dir: Path, name: str) -> list[dict[str, Any]]:
    table = read_mart(marts_dir, name)
    rows = table.to_pylist()
    return sorted(
        rows,
        key=lambda row: json.dumps(
            {k: v for k, v in row.items() if not isinstance(v, float)}, default=str, sort_keys=True
        ),
    )


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, float) and isinstance(right, float):
        if math.isnan(left) or math.isnan(right):
            return math.isnan(left) and math.isnan(right)
        return math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-9)
    return bool(left == right)


def assert_same_marts(left_dir: Path, right_dir: Path) -> None:
    for name in (*PARTITIONED_MARTS, *WHOLE_MARTS):
        left, right = mart_rows(left_dir, name), mart_rows(right_dir, name)
        assert len(left) == len(right), f"{name}: {len(left)} rows vs {len(right)}"
        for row_left, row_right in zip(left, right, strict=True):
            assert set(row_left) == set(row_right), name
            for column in row_left:
                assert _same(row_left[column], row_right[column]), (name, column, row_left, row_right)
