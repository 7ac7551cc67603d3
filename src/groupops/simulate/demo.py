"""The demo brand end to end: write raw exports, then import them through the normal importers."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from groupops.ingest import IngestReport, ingest_files
from groupops.store.workspace import Workspace

__all__ = ["DemoBuild", "build_demo_brand"]


@dataclass
class DemoBuild:
    """What ``groupops demo`` wrote and imported."""

    raw_dir: Path
    reports: list[IngestReport] = field(default_factory=list)


def build_demo_brand(
    workspace: Workspace,
    *,
    members: int,
    days: int,
    seed: int,
    on_stage: Callable[[str], None] = lambda stage: None,
    progress: Callable[[int, int], None] | None = None,
) -> DemoBuild:
    """Generate the demo brand's raw exports under ``<data>/raw`` and ingest them in order."""
    from groupops.simulate import generate_demo_brand

    raw_dir = workspace.settings.raw_dir
    if raw_dir.exists():
        shutil.rmtree(raw_dir)
    on_stage("generate")
    manifest = generate_demo_brand(raw_dir, members=members, days=days, seed=seed, progress=progress)
    build = DemoBuild(raw_dir=raw_dir)
    for kind, paths in manifest.files.items():
        if not paths:
            continue
        on_stage(f"ingest {kind}")
        build.reports.append(ingest_files(kind, list(paths), workspace, options={"preset": "generic"}))
    return build
