"""The demo brand: a deterministic apparel brand written as raw exports in the real formats.

``generate_demo_brand(out_dir)`` writes, under ``out_dir`` (normally ``<data>/raw/``),
``products.csv``, ``wecom/groups/groupchat-<chat_id>.json``, ``members.csv``,
``memotrace/<digits>@chatroom.csv``, ``wecom/archive/messages-YYYY-MM.jsonl``, ``orders.csv``
and ``events.csv``, plus ``out_dir.parent / "simulation" / "truth.json"`` (what was planted:
hubs, KOC tiers, churners, the product-defect incident). It never touches the warehouse or
the store: the importers read these files like any other export. Same seed → same bytes.
"""

from __future__ import annotations

import csv
import json
import multiprocessing
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from groupops.errors import ConfigurationError
from groupops.simulate._archive import ArchiveWriter, MonthResult, write_month
from groupops.simulate._calendar import Month, Period
from groupops.simulate._catalogue import build_catalogue, write_products_csv
from groupops.simulate._chat import ChatContext
from groupops.simulate._commerce import EVENT_COLUMNS, ORDER_COLUMNS, build_commerce, event_rows, order_rows
from groupops.simulate._exports import truth_document, write_group_snapshots, write_members_csv
from groupops.simulate._memotrace import write_memotrace_groups
from groupops.simulate._phrases import build_phrase_pools
from groupops.simulate._population import build_population

__all__ = ["DEFAULT_END", "DemoManifest", "default_start", "generate_demo_brand"]

DEFAULT_END = date(2026, 10, 31)
_PARALLEL_FROM_MESSAGES = 400_000  # below this, worker start-up costs more than it saves


@dataclass(frozen=True)
class DemoManifest:
    """What was written: ``files`` maps each ingest kind to its files, in the order to import them
    (products, wecom-groups, members, memotrace, wecom-archive, orders, events)."""

    out_dir: Path
    truth_path: Path
    files: dict[str, list[Path]]
    messages: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def entries(self) -> list[tuple[str, list[Path]]]:
        """``(ingest kind, files)`` pairs in import order."""
        return list(self.files.items())

    def paths(self, kind: str) -> list[Path]:
        """The files of one ingest kind (empty when none were written)."""
        return list(self.files.get(kind, []))


def default_start(days: int) -> date:
    """The start date such that the period ends on :data:`DEFAULT_END`."""
    return DEFAULT_END - timedelta(days=days - 1)


_WORKER_WRITER: ArchiveWriter | None = None


def _write_month_in_worker(job: tuple[Month, Path]) -> MonthResult:
    if _WORKER_WRITER is None:  # pragma: no cover - only when the start method is not fork
        raise RuntimeError("archive writer not initialised in worker")
    return write_month(_WORKER_WRITER, *job)


def _write_archive(
    writer: ArchiveWriter,
    months: list[Month],
    directory: Path,
    parallel: bool,
    meanwhile: Callable[[], None],
    advance: Callable[[], None],
) -> list[MonthResult]:
    """Months in two worker processes (fork, sharing the read-only context) while this process runs
    ``meanwhile`` (orders and events); or everything here, one after the other, for small brands."""
    global _WORKER_WRITER
    directory.mkdir(parents=True, exist_ok=True)
    jobs = [(month, directory) for month in months]
    if not parallel or len(months) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        results = []
        for job in jobs:
            results.append(write_month(writer, *job))
            advance()
        meanwhile()
        return results
    _WORKER_WRITER = writer
    try:
        with multiprocessing.get_context("fork").Pool(2) as pool:
            pending = [pool.apply_async(_write_month_in_worker, (job,)) for job in jobs]
            meanwhile()
            results = []
            for result in pending:
                results.append(result.get())
                advance()
            return results
    finally:
        _WORKER_WRITER = None


def _check_arguments(members: int, days: int) -> None:
    if not 20 <= members <= 1_000_000:
        raise ConfigurationError(f"members must be between 20 and 1,000,000 (got {members})")
    if not 1 <= days <= 3_660:
        raise ConfigurationError(f"days must be between 1 and 3,660 (got {days})")


def _write_rows(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _remove_stale(directory: Path, pattern: str, keep: list[Path]) -> None:
    """Drop files of our own naming pattern left by an earlier run with other settings."""
    kept = {path.name for path in keep}
    for path in sorted(directory.glob(pattern)):
        if path.name not in kept:
            path.unlink()


def generate_demo_brand(
    out_dir: Path,
    *,
    members: int = 1500,
    days: int = 60,
    seed: int = 11,
    start: date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DemoManifest:
    """Write the demo brand's raw exports under ``out_dir`` and its truth file beside it."""
    _check_arguments(members, days)
    out_dir = Path(out_dir)
    period = Period(start or default_start(days), days)
    months = period.months()
    total, done = len(months) + 6, 0

    def advance() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    root = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))
    population_rng, catalogue_rng, commerce_rng, phrase_rng, memotrace_rng = root.spawn(5)
    out_dir.mkdir(parents=True, exist_ok=True)
    population = build_population(population_rng, period, members)
    catalogue = build_catalogue(catalogue_rng, members)
    write_products_csv(catalogue, out_dir / "products.csv")
    advance()
    groups_dir = out_dir / "wecom" / "groups"
    group_files = write_group_snapshots(population, groups_dir)
    _remove_stale(groups_dir, "groupchat-*.json", group_files)
    write_members_csv(population, out_dir / "members.csv")
    advance()
    commerce = build_commerce(commerce_rng, population, catalogue)
    pools = build_phrase_pools(phrase_rng, catalogue.product_names())
    memotrace_dir = out_dir / "memotrace"
    memotrace_files = write_memotrace_groups(memotrace_rng, period, members, pools, memotrace_dir)
    _remove_stale(memotrace_dir, "*@chatroom.csv", memotrace_files)
    advance()
    writer = ArchiveWriter(ChatContext(population, pools, commerce.scheduled, seed))
    archive_dir = out_dir / "wecom" / "archive"
    parallel = members * days * 0.9 >= _PARALLEL_FROM_MESSAGES

    def write_commerce() -> None:
        _write_rows(out_dir / "orders.csv", ORDER_COLUMNS, order_rows(commerce, population, catalogue))
        _write_rows(out_dir / "events.csv", EVENT_COLUMNS, event_rows(commerce, population, catalogue))

    results = _write_archive(writer, months, archive_dir, parallel, write_commerce, advance)
    _remove_stale(archive_dir, "messages-*.jsonl", [result.path for result in results])
    advance()
    advance()
    incident_msgids = [msgid for result in results for msgid in result.incident_msgids]
    truth_path = out_dir.parent / "simulation" / "truth.json"
    truth_path.parent.mkdir(parents=True, exist_ok=True)
    truth = truth_document(population, catalogue, commerce.incident, incident_msgids, seed)
    truth_path.write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    advance()
    files = {
        "products": [out_dir / "products.csv"], "wecom-groups": group_files, "members": [out_dir / "members.csv"],
        "memotrace": memotrace_files, "wecom-archive": [result.path for result in results],
        "orders": [out_dir / "orders.csv"], "events": [out_dir / "events.csv"],
    }  # fmt: skip
    counts = {
        "groups": len(group_files), "members": members, "products": len(catalogue.skus),
        "order_lines": int(commerce.lines["order"].size),
        "store_order_lines": int(commerce.store_lines["order"].size), "events": int(commerce.events["time"].size),
    }  # fmt: skip
    messages = sum(result.messages for result in results)
    return DemoManifest(out_dir, truth_path, files, messages, counts)
