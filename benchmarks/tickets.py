"""Service tickets: time to label the archive and build tickets for a demo brand.

Usage: python benchmarks/tickets.py [--members N] [--days D] [--workdir DIR]

Builds the demo brand (or reuses DIR when it already holds one), then measures in the same run:
labelling every customer message (classify once per distinct text), building tickets with their
first responses and SLA clocks (`build_tickets`, DuckDB), and as a baseline a plain scan of the
same messages table (the floor any ticket builder pays to read the archive).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from groupops.config import Settings
from groupops.ops.labels import label_new_messages
from groupops.ops.tickets import TicketRules, build_tickets, member_names_table
from groupops.simulate.demo import build_demo_brand
from groupops.store.warehouse import new_duckdb_connection
from groupops.store.workspace import Workspace


def _timed(label: str, function):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = function()
    elapsed = time.perf_counter() - start
    print(f"{label:<52}{elapsed:>10.2f} s", flush=True)
    return result, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=3000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    data = args.workdir or Path(tempfile.mkdtemp(prefix="groupops-tickets-")) / "data"
    workspace = Workspace(Settings(data=data))
    if workspace.warehouse.row_count("messages") == 0:
        _timed(f"demo brand {args.members} members x {args.days} days", lambda: build_demo_brand(
            workspace, members=args.members, days=args.days, seed=11))  # fmt: skip
    messages = workspace.warehouse.row_count("messages")
    print(f"messages in the archive: {messages:,}")

    def scan() -> int:
        connection = new_duckdb_connection()
        workspace.warehouse.register_views(connection)
        rows = connection.sql(
            "SELECT count(*), count(DISTINCT group_id), max(sent_at) FROM messages WHERE NOT revoked"
        ).fetchall()
        connection.close()
        return int(rows[0][0])

    _, baseline = _timed("baseline: one scan of the messages table", scan)
    labelled, labelling = _timed(
        "label customer messages (incremental)", lambda: label_new_messages(workspace.warehouse)
    )
    names = member_names_table(workspace)
    tickets, building = _timed(
        "build tickets + first responses + SLA clocks",
        lambda: build_tickets(workspace.warehouse, names, TicketRules()),
    )
    print(f"\nlabelled {labelled.labelled:,} messages at {labelled.labelled / labelling:,.0f}/s")
    print(f"built {tickets.num_rows:,} tickets from {messages:,} messages in {building:.2f} s "
          f"({building / baseline:.1f}x the time of one scan of the archive)")  # fmt: skip


if __name__ == "__main__":
    main()
