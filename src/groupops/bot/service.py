"""The bot service: load a group's state, run the core on an event, store the state, queue the actions.

One database transaction holds the new state, the outbox rows, the projections (member
points and warnings, draws, polls, FAQ tickets) and, when the caller passes an
:class:`EventJournal`, the journal record (the receiver's callback log): an event is either
fully applied or not at all, so there are no lost and no duplicated actions. The state row
carries a version; a writer that lost a race (another process changed the group meanwhile)
retries with the new state. On SQLite, writers of one process are serialised (SQLite has a
single writer anyway).

**Group commit.** :meth:`BotService.submit` hands an event to one applier thread per service;
it drains whatever is waiting and applies all of it in *one* transaction (one statement per
kind of row for the whole batch, one commit), then resolves every event's future. A batch that
fails as a whole is applied again one event at a time, so one bad event never takes the others
down with it. :meth:`BotService.handle` applies one event in the caller's thread.

The hot path is lean: the statements a batch repeats per event run on the DBAPI cursor with
one ``executemany`` per kind of row (:mod:`groupops.bot._raw`), the rest are SQLAlchemy Core;
the group's last state is kept in memory (reloaded only when another writer moved its
version), and the state's JSON text written incrementally
(:class:`~groupops.bot._codec.GroupStateEncoder`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from typing import cast as cast_table

from sqlalchemy import JSON as SqlJSON
from sqlalchemy import Table, Text, bindparam, cast, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from groupops.bot._codec import EncodedState, GroupStateEncoder, StoredEntry, decode_group_state
from groupops.bot._locks import serialized_writes
from groupops.bot._raw import RawDialect, insert_rows, raw_dialect, update_rows
from groupops.bot.core import Action, BotOutcome, Event, GroupBotState, GroupProfile, handle_event
from groupops.bot.outbox import OutboxRouting, enqueue_rows, outbox_rows_for
from groupops.bot.skills import SkillRegistry
from groupops.config import Settings
from groupops.errors import StoreError
from groupops.store.database import Database
from groupops.store.models import GROUP_KINDS, Group
from groupops.store.models.base import utc_now
from groupops.store.models.bot import BotDraw, BotGroupState, BotGroupStateEntry, BotMemberState, BotPoll
from groupops.store.workspace import record_audit

__all__ = ["BotService", "EventJournal", "JournalBook", "ServiceResult", "serialized_writes"]

log = logging.getLogger(__name__)

_MAX_CONFLICT_RETRIES = 8
_LEDGER_ENTRIES_KEPT = 400
SLOW_BATCH_SECONDS = 0.25  # a batch slower than this is logged as a warning
_APPLIER_IDLE_SECONDS = 2.0
_MEMBER_TABLE = cast_table(Table, BotMemberState.__table__)
_STATE_TABLE = cast_table(Table, BotGroupState.__table__)
_GROUP_TABLE = cast_table(Table, Group.__table__)
_ENTRY_TABLE = cast_table(Table, BotGroupStateEntry.__table__)
_RETRYABLE = (IntegrityError, OperationalError)


class _StateConflict(Exception):
    """Another writer changed a group's state between our read and our write."""


@dataclass(frozen=True)
class ServiceResult:
    """What handling one event did."""

    event_id: str
    group_id: str
    actions: tuple[Action, ...]
    enqueued: int
    duplicate: bool = False


class EventJournal(Protocol):
    """A record written in the event's own transaction (the receiver's callback log)."""

    def begin(self, session: Session) -> bool:
        """Claim the record; False means the event was already applied (nothing else happens)."""
        ...

    def finish(self, session: Session, result: ServiceResult) -> None:
        """Mark the record done, in the same transaction as the state and the outbox rows."""
        ...


class JournalBook(Protocol):
    """Claims and finishes the records of many journals with one statement each (group commit).

    A journal with a ``book`` attribute is written through it instead of ``begin``/``finish``.
    """

    def begin_all(self, session: Session, journals: Sequence[Any]) -> list[bool]:
        """Claim each journal's record; False for those already applied (or twice in the list)."""
        ...

    def finish_all(self, session: Session, finished: Sequence[tuple[Any, ServiceResult]]) -> None:
        """Mark the claimed records done, in the batch's transaction."""
        ...


ProfileSource = Callable[[Session, str], GroupProfile]


@dataclass
class _CachedGroup:
    version: int
    state: GroupBotState
    encoder: GroupStateEncoder


@dataclass
class _Pending:
    """One event waiting to be applied, with its journal and (when submitted) its future."""

    event: Event
    journal: EventJournal | None = None
    future: Future[ServiceResult] | None = None
    loop: asyncio.AbstractEventLoop | None = None
    waiter: asyncio.Future[ServiceResult] | None = None


@dataclass
class _Applied:
    """An event run through the core inside the batch; its result is known after the inserts."""

    pending: _Pending
    actions: tuple[Action, ...] = ()
    keys: tuple[str, ...] = ()
    duplicate: bool = False


@dataclass
class _Batch:
    """The writes of one batch that go out as one statement per kind."""

    now: datetime
    outbox_rows: list[dict[str, Any]] = field(default_factory=list)
    members: _MemberChanges = field(default_factory=lambda: _MemberChanges())


class BotService:
    """Runs the bot core against the operational store."""

    def __init__(
        self,
        database: Database,
        settings: Settings | None = None,
        *,
        routing: OutboxRouting | None = None,
        registry: SkillRegistry | None = None,
        profile_overrides: Mapping[str, Mapping[str, Any]] | None = None,
        clock: Callable[[], datetime] = utc_now,
        on_enqueued: Callable[[], None] | None = None,
        outbox_slots: Callable[[str, str, datetime], datetime | None] | None = None,
        batch_max_events: int = 256,
    ) -> None:
        self.database = database
        self.settings = settings or Settings()
        self.routing = routing or OutboxRouting()
        self.registry = registry
        self.profile_overrides = {key: dict(value) for key, value in (profile_overrides or {}).items()}
        self.on_enqueued = on_enqueued
        # (channel, target, now) → the slot of a new row whose robot is out of budget, else None
        # (OutboxWorker.reserve_slot): such rows are queued at their slot instead of moved later
        self.outbox_slots = outbox_slots
        self.batch_max_events = max(1, batch_max_events)
        self._clock = clock
        self._cache: dict[str, _CachedGroup] = {}
        self._apply_lock = threading.Lock()
        self._dialect = database.engine.dialect.name
        self._inbox: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        self._applier: threading.Thread | None = None
        self._applier_guard = threading.Lock()

    # -- profiles -------------------------------------------------------------------------------
    def profile_for(self, session: Session, group_id: str) -> GroupProfile:
        """The group's profile: the stored group (kind, name, admins), the settings, then overrides."""
        return self._profiles(session, [group_id])[group_id]

    def _profiles(self, session: Session, group_ids: Sequence[str]) -> dict[str, GroupProfile]:
        table = _GROUP_TABLE
        statement = select(table.c.id, table.c.name, table.c.kind, table.c.admins).where(
            table.c.id.in_(bindparam("ids", expanding=True))
        )
        rows = {row[0]: row for row in session.connection().execute(statement, {"ids": list(group_ids)})}
        return {group_id: self._profile(group_id, rows.get(group_id)) for group_id in group_ids}

    def _profile(self, group_id: str, row: Any) -> GroupProfile:
        fields: dict[str, Any] = {
            "group_id": group_id,
            "timezone": self.settings.timezone,
            "quiet_hours": self.settings.quiet_hours,
        }
        if row is not None:
            _, name, kind, admins = row
            fields["name"] = name or ""
            fields["admin_ids"] = tuple(admins or ())
            if kind in GROUP_KINDS:
                fields["kind"] = kind
        fields.update(self.profile_overrides.get("*", {}))
        fields.update(self.profile_overrides.get(group_id, {}))
        return GroupProfile(**fields)

    # -- events ---------------------------------------------------------------------------------
    def handle(self, event: Event, journal: EventJournal | None = None) -> ServiceResult:
        """Apply ``event`` now: journal, state, outbox rows and projections in one transaction.

        Replays (an event id already in the state, or a journal that says so) do nothing.
        """
        with self._apply_lock:
            result = self._apply_alone(_Pending(event, journal))
        if isinstance(result, BaseException):
            raise result
        if result.enqueued and self.on_enqueued is not None:
            self.on_enqueued()
        return result

    def apply_now(
        self, items: Sequence[tuple[Event, EventJournal | None]]
    ) -> list[ServiceResult | BaseException]:
        """Apply ``items`` as the applier applies a batch, in the caller's thread: one transaction
        (each event on its own if that fails); each item's result, or the error that stopped it.

        For a caller that gathers its own batches (the writer process's callback host).
        """
        outcomes: list[ServiceResult | BaseException] = []
        for start in range(0, len(items), self.batch_max_events):
            chunk = [
                _Pending(event, journal) for event, journal in items[start : start + self.batch_max_events]
            ]
            outcomes.extend(self._applied_batch(chunk))
        return outcomes

    def submit(self, event: Event, journal: EventJournal | None = None) -> Future[ServiceResult]:
        """Queue ``event`` for the group-commit applier; the future resolves after the commit holding it."""
        future: Future[ServiceResult] = Future()
        self._enqueue(_Pending(event, journal, future))
        return future

    async def apply(self, event: Event, journal: EventJournal | None = None) -> ServiceResult:
        """:meth:`submit` for an event loop: the waiters of a batch are woken with one loop call."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[ServiceResult] = loop.create_future()
        self._enqueue(_Pending(event, journal, loop=loop, waiter=waiter))
        return await waiter

    def _enqueue(self, pending: _Pending) -> None:
        with self._applier_guard:
            self._inbox.put(pending)
            if self._applier is None:
                self._applier = threading.Thread(target=self._run_applier, daemon=True, name="bot-applier")
                self._applier.start()

    def state_of(self, group_id: str) -> GroupBotState:
        """The stored state of a group (a fresh one before its first event)."""
        with self.database.session() as session:
            stored = session.scalar(select(BotGroupState.state).where(BotGroupState.group_id == group_id))
            entries = _stored_entries(session, [group_id]).get(group_id, [])
            return decode_group_state(group_id, stored, entries=entries)

    # -- the applier ----------------------------------------------------------------------------
    def _run_applier(self) -> None:
        """Drain the inbox batch by batch; stop after an idle spell (``submit`` starts a new one)."""
        while True:
            try:
                first = self._inbox.get(timeout=_APPLIER_IDLE_SECONDS)
            except queue.Empty:
                with self._applier_guard:
                    if self._inbox.empty():
                        self._applier = None
                        return
                continue
            batch = [first]
            while len(batch) < self.batch_max_events:
                try:
                    batch.append(self._inbox.get_nowait())
                except queue.Empty:
                    break
            self._run_batch(batch)

    def _applied_batch(self, batch: list[_Pending]) -> list[ServiceResult | BaseException]:
        started = time.perf_counter()
        try:
            with self._apply_lock:
                outcomes = self._apply(batch)
        except BaseException as error:  # never leave a waiter hanging
            outcomes = [error] * len(batch)
        took = time.perf_counter() - started
        if took > SLOW_BATCH_SECONDS:  # every callback of the batch waited this long for its answer
            log.warning(
                "bot batch of %d events took %.0f ms (store or machine busy)", len(batch), took * 1000
            )
        enqueued = any(not isinstance(outcome, BaseException) and outcome.enqueued for outcome in outcomes)
        if enqueued and self.on_enqueued is not None:
            self.on_enqueued()  # the worker starts on the new rows at once
        return outcomes

    def _run_batch(self, batch: list[_Pending]) -> None:
        outcomes = self._applied_batch(batch)
        waiters: dict[asyncio.AbstractEventLoop, list[tuple[Any, ServiceResult | BaseException]]] = {}
        for pending, outcome in zip(batch, outcomes, strict=True):
            if pending.loop is not None:
                waiters.setdefault(pending.loop, []).append((pending.waiter, outcome))
            elif pending.future is not None:
                _settle(pending.future, outcome)
        for loop, settled in waiters.items():
            try:
                loop.call_soon_threadsafe(_wake_waiters, settled)
            except RuntimeError:  # the loop has closed: nobody waits any more
                log.warning("an event loop closed before %d bot results were delivered", len(settled))

    def _apply(self, batch: list[_Pending]) -> list[ServiceResult | BaseException]:
        """All of ``batch`` in one transaction; when that fails, each event on its own."""
        if len(batch) == 1:
            return [self._apply_alone(batch[0])]
        try:
            return list(self._apply_with_retries(batch))
        except Exception as error:
            log.warning("bot batch of %d events failed (%s); applying them one by one", len(batch), error)
        return [self._apply_alone(pending) for pending in batch]

    def _apply_alone(self, pending: _Pending) -> ServiceResult | BaseException:
        try:
            return self._apply_with_retries([pending])[0]
        except Exception as error:
            return error

    def _apply_with_retries(self, batch: list[_Pending]) -> list[ServiceResult]:
        for _ in range(_MAX_CONFLICT_RETRIES):
            try:
                with serialized_writes(self.database):
                    return self._apply_once(batch)
            except (_StateConflict, *_RETRYABLE):
                self._forget(batch)
            except BaseException:
                self._forget(batch)  # the encoders ran ahead of what was rolled back
                raise
        groups = ", ".join(sorted({pending.event.group_id for pending in batch}))
        raise StoreError(f"bot state of group {groups} kept changing; events not applied")

    def _forget(self, batch: list[_Pending]) -> None:
        for pending in batch:
            self._cache.pop(pending.event.group_id, None)

    def _apply_once(self, batch: list[_Pending]) -> list[ServiceResult]:
        """One transaction: journals, states, outbox rows, projections; the cache moves after the commit."""
        with self.database.session() as session:
            claimed = _begin_journals(session, batch)
            group_ids = sorted(
                {pending.event.group_id for pending, ok in zip(batch, claimed, strict=True) if ok}
            )
            loaded = self._load(session, group_ids)
            profiles = self._profiles(session, group_ids) if group_ids else {}
            working = {group_id: cached.state for group_id, cached in loaded.items()}
            writes = _Batch(self._clock())
            applied = [
                self._run_core(session, pending, working, profiles, writes)
                if ok
                else _Applied(pending, duplicate=True)
                for pending, ok in zip(batch, claimed, strict=True)
            ]
            changed = [group_id for group_id in group_ids if working[group_id] is not loaded[group_id].state]
            self._store(session, changed, loaded, working, writes.now)
            new_keys = enqueue_rows(session, writes.outbox_rows)
            writes.members.flush(session, writes.now)
            results = [_result(item, new_keys) for item in applied]
            _finish_journals(session, batch, claimed, results)
        for group_id in changed:
            cached = loaded[group_id]
            self._cache[group_id] = _CachedGroup(cached.version + 1, working[group_id], cached.encoder)
        return results

    def _run_core(
        self,
        session: Session,
        pending: _Pending,
        working: dict[str, GroupBotState],
        profiles: dict[str, GroupProfile],
        writes: _Batch,
    ) -> _Applied:
        event = pending.event
        before = working[event.group_id]
        outcome = handle_event(before, event, profiles[event.group_id], self.registry)
        if outcome.duplicate:
            return _Applied(pending, duplicate=True)
        working[event.group_id] = outcome.state
        rows = outbox_rows_for(outcome.actions, self.routing, event_id=event.event_id, now=writes.now)
        if self.outbox_slots is not None:
            for row in rows:
                if row["next_attempt_at"] <= writes.now:
                    slot = self.outbox_slots(row["channel"], row["target"], writes.now)
                    row["next_attempt_at"] = slot or row["next_attempt_at"]
        writes.outbox_rows.extend(rows)
        _apply_projections(session, writes.members, event, before, outcome, writes.now)
        return _Applied(pending, outcome.actions, tuple(row["idempotency_key"] for row in rows))

    def _load(self, session: Session, group_ids: list[str]) -> dict[str, _CachedGroup]:
        """The groups' states: versions in one query (locked on PostgreSQL), states only where stale."""
        if not group_ids:
            return {}
        table = _STATE_TABLE
        query = (
            select(table.c.group_id, table.c.version)
            .where(table.c.group_id.in_(bindparam("ids", expanding=True)))
            .order_by(table.c.group_id)
        )
        if self._dialect == "postgresql":
            query = query.with_for_update()
        connection = session.connection()
        versions = {row[0]: row[1] for row in connection.execute(query, {"ids": group_ids})}
        loaded: dict[str, _CachedGroup] = {}
        stale: list[str] = []
        for group_id in group_ids:
            version, cached = versions.get(group_id), self._cache.get(group_id)
            if version is None:
                loaded[group_id] = _CachedGroup(0, GroupBotState(group_id), GroupStateEncoder())
            elif cached is not None and cached.version == version:
                loaded[group_id] = cached
            else:
                stale.append(group_id)
        if stale:
            states = select(table.c.group_id, table.c.state).where(
                table.c.group_id.in_(bindparam("ids", expanding=True))
            )
            entries = _stored_entries(session, stale)
            for group_id, stored in connection.execute(states, {"ids": stale}):
                group_state = decode_group_state(group_id, stored, entries=entries.get(group_id, []))
                loaded[group_id] = _CachedGroup(versions[group_id], group_state, GroupStateEncoder())
        return loaded

    def _store(
        self,
        session: Session,
        group_ids: list[str],
        loaded: dict[str, _CachedGroup],
        working: dict[str, GroupBotState],
        now: datetime,
    ) -> None:
        """Write the changed groups' states: new rows inserted, the others updated on their version."""
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        parts: list[tuple[str, EncodedState]] = []
        for group_id in group_ids:
            cached = loaded[group_id]
            encoded = cached.encoder.encode_parts(working[group_id])
            parts.append((group_id, encoded))
            values = {"g": group_id, "v": cached.version, "s": encoded.text, "n": now}
            (updates if cached.version else inserts).append(values)
        connection = session.connection()
        if inserts:
            inserted = connection.execute(self._insert_statement(), inserts).scalars().all()
            if len(inserted) != len(inserts):
                raise _StateConflict(group_ids)
        if updates:
            dialect = raw_dialect(connection)
            rows = [(u["s"], u["v"] + 1, dialect.time(u["n"]), u["g"], u["v"]) for u in updates]
            result = dialect.execute_many(connection, _state_update_text(dialect), rows)
            if result.rowcount != len(updates):
                raise _StateConflict(group_ids)
        _write_entries(session, parts)

    def _insert_statement(self) -> Any:
        dialect = postgresql if self._dialect == "postgresql" else sqlite
        return (
            dialect.insert(_STATE_TABLE)
            .values(
                group_id=bindparam("g"), state=self._json_param("s"), version=1, updated_at=bindparam("n")
            )
            .on_conflict_do_nothing()
            .returning(_STATE_TABLE.c.group_id)
        )

    def _json_param(self, name: str) -> Any:
        """Already-encoded JSON text bound to the JSON column (no second serialisation)."""
        value = bindparam(name, type_=Text)
        return cast(value, SqlJSON) if self._dialect == "postgresql" else value


def _state_update_text(dialect: RawDialect) -> str:
    """The optimistic state update: state, new version, time; where group and old version."""
    return (
        f"UPDATE {_STATE_TABLE.name} SET state = {dialect.json_marker}, version = ?, updated_at = ?"
        " WHERE group_id = ? AND version = ?"
    )


def _wake_waiters(settled: list[tuple[Any, ServiceResult | BaseException]]) -> None:
    """On the waiters' event loop: hand each its result (a cancelled waiter is skipped)."""
    for waiter, outcome in settled:
        if not waiter.done():
            _settle(waiter, outcome)


def _settle(future: Any, outcome: ServiceResult | BaseException) -> None:
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _stored_entries(session: Session, group_ids: list[str]) -> dict[str, list[StoredEntry]]:
    """The stored parts of the groups' states, in stored order."""
    table = _ENTRY_TABLE
    query = (
        select(table.c.group_id, table.c.path, table.c.entry_key, table.c.value)
        .where(table.c.group_id.in_(bindparam("ids", expanding=True)))
        .order_by(table.c.id)
    )
    entries: dict[str, list[StoredEntry]] = {}
    for group_id, path, key, value in session.connection().execute(query, {"ids": group_ids}):
        entries.setdefault(group_id, []).append((path, key, value))
    return entries


def _write_entries(session: Session, parts: list[tuple[str, EncodedState]]) -> None:
    """Replaced collections cleared, dropped elements deleted, new and changed ones upserted."""
    connection = session.connection()
    dialect, name = raw_dialect(connection), _ENTRY_TABLE.name
    resets = [(group_id, path) for group_id, encoded in parts for path in encoded.resets]
    deletes = [(g, path, key) for g, encoded in parts for path, key in encoded.deletes]
    upserts = [(g, path, key, value) for g, encoded in parts for path, key, value in encoded.upserts]
    if resets:
        dialect.execute_many(connection, f"DELETE FROM {name} WHERE group_id = ? AND path = ?", resets)
    if deletes:
        text = f"DELETE FROM {name} WHERE group_id = ? AND path = ? AND entry_key = ?"
        dialect.execute_many(connection, text, deletes)
    if upserts:
        dialect.execute_many(connection, _ENTRY_UPSERT, upserts)


_ENTRY_UPSERT = (
    f"INSERT INTO {_ENTRY_TABLE.name} (group_id, path, entry_key, value) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (group_id, path, entry_key) DO UPDATE SET value = excluded.value"
)


def _result(item: _Applied, new_keys: set[str]) -> ServiceResult:
    event = item.pending.event
    if item.duplicate:
        return ServiceResult(event.event_id, event.group_id, (), 0, duplicate=True)
    enqueued = sum(1 for key in item.keys if key in new_keys)
    return ServiceResult(event.event_id, event.group_id, item.actions, enqueued)


def _begin_journals(session: Session, batch: list[_Pending]) -> list[bool]:
    """Claim every journal of the batch (journals with a ``book`` in one go); True where none."""
    claimed = [True] * len(batch)
    books: dict[int, tuple[JournalBook, list[int]]] = {}
    for index, pending in enumerate(batch):
        journal = pending.journal
        book = getattr(journal, "book", None)
        if journal is None:
            continue
        if book is None:
            claimed[index] = journal.begin(session)
        else:
            books.setdefault(id(book), (book, []))[1].append(index)
    for book, indices in books.values():
        flags = book.begin_all(session, [batch[index].journal for index in indices])
        for index, flag in zip(indices, flags, strict=True):
            claimed[index] = flag
    return claimed


def _finish_journals(
    session: Session, batch: list[_Pending], claimed: list[bool], results: list[ServiceResult]
) -> None:
    books: dict[int, tuple[JournalBook, list[tuple[Any, ServiceResult]]]] = {}
    for pending, ok, result in zip(batch, claimed, results, strict=True):
        journal = pending.journal
        if journal is None or not ok:
            continue
        book = getattr(journal, "book", None)
        if book is None:
            journal.finish(session, result)
        else:
            books.setdefault(id(book), (book, []))[1].append((journal, result))
    for book, finished in books.values():
        book.finish_all(session, finished)


# --- projections ------------------------------------------------------------------------------
_MEMBER_COLUMNS = tuple(column.name for column in _MEMBER_TABLE.columns if column.name != "id")
_MEMBER_DEFAULTS: dict[str, Any] = {
    "points_balance": 0,
    "checkin_streak": 0,
    "longest_streak": 0,
    "checkin_days": 0,
    "points_ledger": [],
    "faq_tickets_opened": 0,
    "rule_warnings": 0,
    "last_checkin_on": None,
    "last_warning_at": None,
    "last_cared_on": None,
}


class _MemberChanges:
    """Member projection changes of a batch: one read of the rows, then one write per kind of change."""

    def __init__(self) -> None:
        self._changes: list[tuple[tuple[str, str], Callable[[Mapping[str, Any]], dict[str, Any]]]] = []

    def change(
        self, group_id: str, member_id: str, change: Callable[[Mapping[str, Any]], dict[str, Any]]
    ) -> None:
        """Apply ``change`` to the member's row (defaults when new) at :meth:`flush`, in order."""
        self._changes.append(((group_id, member_id), change))

    def flush(self, session: Session, now: datetime) -> None:
        if not self._changes:
            return
        connection = session.connection()
        pairs = set(pair for pair, _ in self._changes)
        groups, member_ids = sorted({g for g, _ in pairs}), sorted({m for _, m in pairs})
        found = connection.execute(_member_rows_query(), {"groups": groups, "members": member_ids})
        rows = {
            pair: dict(row)
            for row in found.mappings()
            if (pair := (row["group_id"], row["member_id"])) in pairs
        }
        written: dict[tuple[str, str], set[str]] = {}
        for pair, change in self._changes:
            row = rows.get(pair)
            if row is None:
                row = rows[pair] = _MEMBER_DEFAULTS | {"id": None, "group_id": pair[0], "member_id": pair[1]}
            values = change(row) | {"updated_at": now}
            row.update(values)
            written.setdefault(pair, set()).update(values)
        self._changes.clear()
        _write_members(session, [rows[pair] for pair in written if rows[pair]["id"] is None], written, rows)


@functools.cache
def _member_rows_query() -> Any:
    """Rows of the members by group and member id: ``IN`` on both columns probes the unique index.

    (A row-value ``(group_id, member_id) IN (…)`` makes SQLite scan the whole table.)
    """
    table = _MEMBER_TABLE
    return select(table).where(
        table.c.group_id.in_(bindparam("groups", expanding=True)),
        table.c.member_id.in_(bindparam("members", expanding=True)),
    )


def _write_members(
    session: Session,
    new_rows: list[dict[str, Any]],
    written: dict[tuple[str, str], set[str]],
    rows: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """New members inserted in one statement; existing ones updated, one statement per set of columns."""
    table, connection = _MEMBER_TABLE, session.connection()
    insert_rows(connection, table, _MEMBER_COLUMNS, new_rows)
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for pair, columns in written.items():
        row = rows[pair]
        if row["id"] is not None:
            by_columns.setdefault(tuple(sorted(columns)), []).append(row)
    for names, changed in by_columns.items():
        update_rows(connection, table, "id", names, changed)


def _fixed(values: dict[str, Any]) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    return lambda _row: dict(values)


def _json_ready(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(item) for item in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {field.name: _json_ready(getattr(value, field.name)) for field in fields(value)}
    return value


def _apply_projections(
    session: Session,
    members: _MemberChanges,
    event: Event,
    previous: GroupBotState,
    outcome: BotOutcome,
    now: datetime,
) -> None:
    skills, before = outcome.state.skill_states, previous.skill_states
    for action in outcome.actions:
        if action.kind == "award_points" and action.member_id:
            _project_points(members, action, skills.get("checkin"))
        elif action.kind == "open_ticket" and action.member_id:
            _project_ticket(session, members, event, action)
        elif (
            action.skill == "group_rules"
            and event.member_id
            and action.kind in ("send_text", "notify_admins")
        ):
            members.change(
                event.group_id,
                event.member_id,
                lambda row: {"rule_warnings": row["rule_warnings"] + 1, "last_warning_at": event.occurred_at},
            )
        elif action.kind == "send_private_text" and action.skill == "care" and action.member_id:
            cared = _fixed({"last_cared_on": event.occurred_at.date()})
            members.change(event.group_id, action.member_id, cared)
        elif action.kind == "remove_member":
            record_audit(
                session, "bot", "bot.remove_member.requested", "member", action.member_id or "", **action.data
            )
    if skills.get("draws") is not before.get("draws"):
        _project_draws(session, event.group_id, skills.get("draws"), now)
    if skills.get("outfit_poll") is not before.get("outfit_poll"):
        _project_polls(session, event.group_id, skills.get("outfit_poll"), now)


def _project_points(members: _MemberChanges, action: Action, checkins: Any) -> None:
    assert action.member_id is not None
    entries = [_json_ready(entry) for entry in action.data.get("entries", ())]
    record = getattr(checkins, "members", {}).get(action.member_id)

    def change(row: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {
            "points_balance": int(action.data.get("balance", row["points_balance"])),
            "points_ledger": [*(row["points_ledger"] or []), *entries][-_LEDGER_ENTRIES_KEPT:],
        }
        if record is not None:
            values |= {
                "checkin_streak": record.streak,
                "longest_streak": record.longest_streak,
                "checkin_days": record.total_days,
                "last_checkin_on": record.last_day,
            }
        return values

    members.change(action.group_id, action.member_id, change)


def _project_ticket(session: Session, members: _MemberChanges, event: Event, action: Action) -> None:
    assert action.member_id is not None
    members.change(
        action.group_id, action.member_id, lambda row: {"faq_tickets_opened": row["faq_tickets_opened"] + 1}
    )
    try:
        from groupops.store.models.ops import Ticket
    except ImportError:  # pragma: no cover - the ops tables ship with the store
        return
    if session.get(Ticket, event.event_id) is not None:
        return
    minutes = int(action.data.get("sla_minutes", 15) or 15)
    session.add(
        Ticket(
            id=event.event_id[:128],
            group_id=action.group_id,
            member_id=action.member_id,
            kind="question",
            topic=str(action.data.get("closest_faq_id") or "")[:32],
            text=action.text,
            messages=1,
            opened_at=event.occurred_at,
            response_due_at=event.occurred_at + timedelta(minutes=minutes),
            status="open",
        )
    )


def _project_draws(session: Session, group_id: str, draws: Any, now: datetime) -> None:
    for draw_id, record in getattr(draws, "draws", {}).items():
        row = session.scalar(select(BotDraw).where(BotDraw.group_id == group_id, BotDraw.draw_id == draw_id))
        if row is None:
            row = BotDraw(group_id=group_id, draw_id=draw_id, commitment=record.commitment, winners=[])
            session.add(row)
        row.title, row.status, row.quantity = record.spec.title, record.status, record.spec.quantity
        row.draw_at, row.updated_at = record.spec.draw_at, now
        if record.status in ("frozen", "revealed"):
            row.eligible_hash, row.eligible_count = record.eligible_hash, len(record.eligible_member_ids)
        if record.status == "revealed":
            row.seed_revealed, row.winners = record.seed, list(record.winners)


def _project_polls(session: Session, group_id: str, polls: Any, now: datetime) -> None:
    if polls is None:
        return
    from groupops.bot.skills.outfit_poll import tally

    current = getattr(polls, "current", None)
    if current is not None:
        result = tally(current)
        _poll_row(session, group_id, result.poll_id, now, result.question, result.options, result.counts)
        _poll_row_opened(session, result.poll_id, current.opened_on)
    last = getattr(polls, "last_result", None)
    if last is not None:
        row = _poll_row(session, group_id, last.poll_id, now, last.question, last.options, last.counts)
        row.closed = True


def _poll_row(
    session: Session,
    group_id: str,
    poll_id: str,
    now: datetime,
    question: str,
    options: tuple[str, ...],
    counts: tuple[int, ...],
) -> BotPoll:
    row = session.get(BotPoll, poll_id)
    if row is None:
        row = BotPoll(poll_id=poll_id, group_id=group_id, closed=False)
        session.add(row)
    row.question, row.options, row.counts, row.updated_at = question, list(options), list(counts), now
    return row


def _poll_row_opened(session: Session, poll_id: str, opened_on: date) -> None:
    row = session.get(BotPoll, poll_id)
    if row is not None and row.opened_on is None:
        row.opened_on = opened_on
