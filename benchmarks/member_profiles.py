"""Member profiles (six dimensions, DuckDB SQL) on a demo brand, against a plain scan of the archive.

    python benchmarks/member_profiles.py [--members 1500] [--days 60] [--seed 11]

Prints the profile time, the time of a baseline measured in the same run (one GROUP BY over
all messages: the least any per-member profile must do) and their ratio. The target is 20,000
members over a year (~7M messages) in seconds: ``--members 20000 --days 365``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from groupops.config import Settings
from groupops.ops.labels import label_new_messages
from groupops.ops.profiles import build_member_profiles
from groupops.simulate.demo import build_demo_brand
from groupops.store.warehouse import new_duckdb_connection
from groupops.store.workspace import Workspace


def _baseline_seconds(workspace: Workspace) -> tuple[float, int]:
    connection = new_duckdb_connection()
    try:
        workspace.warehouse.register_views(connection)
        started = time.perf_counter()
        rows = connection.sql("SELECT sender_id, count(*) FROM messages GROUP BY sender_id").fetchall()
        return time.perf_counter() - started, sum(count for _, count in rows)
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=1500)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--skip-labels", action="store_true", help="Do not classify messages (big runs).")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        workspace = Workspace(Settings(data=Path(directory) / "data"))
        build_demo_brand(workspace, members=arguments.members, days=arguments.days, seed=arguments.seed)
        if not arguments.skip_labels:
            label_new_messages(workspace.warehouse)
        baseline, messages = _baseline_seconds(workspace)
        started = time.perf_counter()
        profiles = build_member_profiles(workspace)
        seconds = time.perf_counter() - started
        workspace.close()
    print(f"messages: {messages:,}  members profiled: {profiles.num_rows:,}")
    print(
        f"profiles: {seconds:.2f} s   baseline scan: {baseline:.3f} s   ratio: {seconds / max(baseline, 1e-9):.1f}x"
    )


if __name__ == "__main__":
    main()
