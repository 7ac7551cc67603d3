"""Scan what staff already sent in groups with the compliance checker (issue: what went out before).

Reports every staff text message whose verdict is ``violation`` or ``review``, and the counts
by staff member and by group, so a brand sees where the ad-law risk was.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from groupops.store.workspace import Workspace

__all__ = ["ArchiveScan", "scan_archive"]

_BATCH = 20_000


@dataclass
class ArchiveScan:
    """Staff messages with findings, and the counts by staff member and group."""

    scanned: int = 0
    flagged: list[dict[str, Any]] = field(default_factory=list)
    by_staff: Counter[tuple[str, str]] = field(default_factory=Counter)
    by_group: Counter[tuple[str, str]] = field(default_factory=Counter)

    def to_json(self) -> dict[str, Any]:
        def table(counter: Counter[tuple[str, str]], key: str) -> list[dict[str, Any]]:
            totals: dict[str, dict[str, Any]] = {}
            for (name, verdict), count in counter.items():
                totals.setdefault(name, {key: name, "violation": 0, "review": 0})[verdict] = count
            return sorted(totals.values(), key=lambda row: (-row["violation"], -row["review"], str(row[key])))

        return {
            "scanned": self.scanned,
            "violations": sum(1 for row in self.flagged if row["verdict"] == "violation"),
            "reviews": sum(1 for row in self.flagged if row["verdict"] == "review"),
            "by_staff": table(self.by_staff, "staff_id"),
            "by_group": table(self.by_group, "group_id"),
            "messages": self.flagged,
        }


def scan_archive(
    workspace: Workspace,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    progress: Callable[[int], None] = lambda n: None,
) -> ArchiveScan:
    """Run the checker over staff text messages in ``[start, end)`` (all time by default)."""
    from groupops.text.compliance import check_texts

    conditions = ["sender_is_staff", "action = 'send'", "msgtype IN ('text', 'markdown', 'news', 'link')",
                  "text IS NOT NULL", "NOT revoked"]  # fmt: skip
    parameters: list[Any] = []
    for clause, value in (("sent_at >= ?", start), ("sent_at < ?", end)):
        if value is not None:
            conditions.append(clause)
            parameters.append(value)
    scan = ArchiveScan()
    with workspace.warehouse.connect(memory_limit="1GB") as connection:
        query = f"SELECT msgid, group_id, sender_id, sent_at, text FROM messages WHERE {' AND '.join(conditions)} ORDER BY sent_at, msgid"
        for batch in connection.sql(query, params=parameters).to_arrow_reader(_BATCH):
            rows = batch.to_pylist()
            for row, result in zip(rows, check_texts([r["text"] for r in rows]), strict=True):
                scan.scanned += 1
                if result.verdict == "clean":
                    continue
                scan.by_staff[(row["sender_id"], result.verdict)] += 1
                scan.by_group[(row["group_id"] or "", result.verdict)] += 1
                scan.flagged.append({**row, "sent_at": row["sent_at"].isoformat(), "verdict": result.verdict,
                                     "findings": [f.to_dict() for f in result.findings]})  # fmt: skip
            progress(len(rows))
    return scan
