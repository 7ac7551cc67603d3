"""Importers: every source format goes through validation, normalisation, dedupe and quarantine.

``ingest_files(kind, paths, workspace)`` is the one entry point; the sources live in one
module each and register themselves in :mod:`groupops.ingest.registry`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from groupops.errors import InputFormatError
from groupops.ingest.quarantine import QuarantineWriter
from groupops.ingest.registry import IngestContext, get_source, register_source, sources
from groupops.store.models import ImportRun
from groupops.store.workspace import Workspace

__all__ = ["IngestReport", "ingest_files", "register_source", "sources"]


@dataclass(frozen=True)
class IngestReport:
    """The ``ingest --json`` contract."""

    kind: str
    files: list[str]
    read: int
    ingested: int
    duplicates: int
    quarantined: int
    quarantine_file: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _check_paths(paths: Sequence[Path]) -> list[Path]:
    checked = []
    for path in paths:
        if not path.exists():
            raise InputFormatError(f"{path}: no such file")
        if path.is_dir():
            checked.extend(sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")))
        else:
            checked.append(path)
    if not checked:
        raise InputFormatError("no input files")
    return checked


def ingest_files(
    kind: str,
    paths: Sequence[Path],
    workspace: Workspace,
    *,
    options: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """Import ``paths`` as ``kind``; re-running with the same files adds nothing."""
    source = get_source(kind)
    files = _check_paths(paths)
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    with QuarantineWriter(workspace.settings.quarantine_dir, run_id, kind) as quarantine:
        context = IngestContext(
            settings=workspace.settings,
            warehouse=workspace.warehouse,
            database=workspace.database,
            quarantine=quarantine,
            run_id=run_id,
            options=options or {},
            progress=progress or (lambda advance: None),
        )
        source.function(files, context)
    report = IngestReport(
        kind=kind,
        files=[str(f) for f in files],
        read=context.counts.read,
        ingested=context.counts.ingested,
        duplicates=context.counts.duplicates,
        quarantined=quarantine.count,
        quarantine_file=quarantine.file,
    )
    _record_run(workspace, run_id, report)
    return report


def _record_run(workspace: Workspace, run_id: str, report: IngestReport) -> None:
    with workspace.database.session() as session:
        session.add(
            ImportRun(
                id=run_id,
                kind=report.kind,
                files=report.files,
                finished_at=datetime.now(UTC),
                read=report.read,
                ingested=report.ingested,
                duplicates=report.duplicates,
                quarantined=report.quarantined,
                quarantine_file=report.quarantine_file,
            )
        )
