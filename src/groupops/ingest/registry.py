"""The registry of import sources: ``groupops ingest KIND`` looks KIND up here.

A source is a callable ``(paths, context) -> None`` that reads its files, validates every
record, stages facts in the warehouse and/or upserts the operational store, quarantines bad
records and updates ``context.counts``. The built-in sources register themselves with the
same ``register_source`` decorator a plugin would use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from groupops.config import Settings
from groupops.errors import ConfigurationError
from groupops.ingest.quarantine import QuarantineWriter
from groupops.store.warehouse import Warehouse

__all__ = [
    "IngestContext",
    "IngestCounts",
    "Source",
    "SourceFunction",
    "get_source",
    "register_source",
    "sources",
]


@dataclass
class IngestCounts:
    """Counts reported by ``ingest --json``."""

    read: int = 0
    ingested: int = 0
    duplicates: int = 0


@dataclass
class IngestContext:
    """What a source needs: settings, the warehouse, the store, the quarantine and progress."""

    settings: Settings
    warehouse: Warehouse
    database: Any  # groupops.store.Database; Any to keep sources free of an import cycle
    quarantine: QuarantineWriter
    run_id: str
    options: dict[str, Any] = field(default_factory=dict)
    counts: IngestCounts = field(default_factory=IngestCounts)
    progress: Callable[[int], None] = lambda advance: None


SourceFunction = Callable[[Sequence[Path], IngestContext], None]


@dataclass(frozen=True)
class Source:
    """A registered import source."""

    kind: str
    function: SourceFunction
    description: str


_SOURCES: dict[str, Source] = {}


def register_source(kind: str, description: str) -> Callable[[SourceFunction], SourceFunction]:
    """Register ``function`` as the importer of ``kind`` (decorator)."""

    def decorate(function: SourceFunction) -> SourceFunction:
        _SOURCES[kind] = Source(kind, function, description)
        return function

    return decorate


def _load_builtins() -> None:
    from groupops.ingest import (  # noqa: F401  (imported for their registrations)
        events,
        members,
        memotrace,
        orders,
        products,
        wecom_archive,
        wecom_groups,
    )


def sources() -> dict[str, Source]:
    """All registered sources by kind."""
    _load_builtins()
    return dict(_SOURCES)


def get_source(kind: str) -> Source:
    known = sources()
    if kind not in known:
        raise ConfigurationError(f"unknown ingest kind {kind!r}; choose one of: {', '.join(sorted(known))}")
    return known[kind]
