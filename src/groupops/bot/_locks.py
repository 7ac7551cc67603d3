"""One writer at a time per SQLite database inside a process (SQLite has a single writer anyway).

Waiting on a Python lock is cheap and fair; waiting on SQLite's busy handler sleeps in growing
steps (milliseconds), which would show up as latency spikes under load.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from groupops.store.database import Database

__all__ = ["serialized_writes"]

_sqlite_locks: dict[str, threading.RLock] = {}
_sqlite_locks_guard = threading.Lock()


@contextmanager
def serialized_writes(database: Database) -> Iterator[None]:
    """Serialise this process's read-then-write transactions on SQLite (a no-op on PostgreSQL)."""
    if database.engine.dialect.name != "sqlite":
        yield
        return
    with _sqlite_locks_guard:
        lock = _sqlite_locks.setdefault(database.url, threading.RLock())
    with lock:
        yield
