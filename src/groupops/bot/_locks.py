"""One writer at a time per SQLite database inside a process (SQLite has a single writer anyway).

Waiting on a Python lock is cheap; waiting on SQLite's busy handler sleeps in growing steps
(milliseconds), which would show up as latency spikes under load. The lock is *fair*: it is
handed to waiters in arrival order, so the outbox worker's acknowledgements get their turn
between two batches of the bot's applier instead of losing every race to it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from groupops.store.database import Database

__all__ = ["FairReentrantLock", "serialized_writes"]


class FairReentrantLock:
    """A reentrant lock granted in first-come, first-served order (ownership is handed over on release)."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._owner: int | None = None
        self._depth = 0
        self._waiters: deque[tuple[int, threading.Lock]] = deque()

    def acquire(self) -> None:
        me = threading.get_ident()
        with self._mutex:
            if self._owner == me:
                self._depth += 1
                return
            if self._owner is None and not self._waiters:
                self._owner, self._depth = me, 1
                return
            gate = threading.Lock()
            gate.acquire()
            self._waiters.append((me, gate))
        gate.acquire()  # released by the owner that hands the lock to us

    def release(self) -> None:
        with self._mutex:
            if self._owner != threading.get_ident():
                raise RuntimeError("release of a lock this thread does not hold")
            self._depth -= 1
            if self._depth:
                return
            if not self._waiters:
                self._owner = None
                return
            self._owner, gate = self._waiters.popleft()
            self._depth = 1
        gate.release()

    def __enter__(self) -> FairReentrantLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


_sqlite_locks: dict[str, FairReentrantLock] = {}
_sqlite_locks_guard = threading.Lock()


@contextmanager
def serialized_writes(database: Database) -> Iterator[None]:
    """Serialise this process's read-then-write transactions on SQLite (a no-op on PostgreSQL)."""
    if database.engine.dialect.name != "sqlite":
        yield
        return
    with _sqlite_locks_guard:
        lock = _sqlite_locks.setdefault(database.url, FairReentrantLock())
    with lock:
        yield
