"""The bot service: load a group's state, run the core on an event, store the state, queue the actions.

One database transaction per event holds the new state, the outbox rows and the projections
(member points and warnings, draws, polls, FAQ tickets), so an event is either fully applied
or not at all: no lost and no duplicated actions. The state row carries a version; a writer
that lost a race (another process changed the group meanwhile) retries with the new state.
On SQLite, writers of one process are serialised (SQLite has a single writer anyway).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, is_dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from groupops.bot._codec import decode_group_state, encode_group_state
from groupops.bot.core import Action, BotOutcome, Event, GroupBotState, GroupProfile, handle_event
from groupops.bot.outbox import OutboxRouting, enqueue_actions
from groupops.bot.skills import SkillRegistry
from groupops.config import Settings
from groupops.errors import StoreError
from groupops.store.database import Database
from groupops.store.models import GROUP_KINDS, Group
from groupops.store.models.base import utc_now
from groupops.store.models.bot import BotDraw, BotGroupState, BotMemberState, BotPoll
from groupops.store.workspace import record_audit

__all__ = ["BotService", "ServiceResult", "serialized_writes"]

_MAX_CONFLICT_RETRIES = 8
_LEDGER_ENTRIES_KEPT = 400
_sqlite_locks: dict[str, threading.RLock] = {}
_sqlite_locks_guard = threading.Lock()


class _StateConflict(Exception):
    """Another writer changed the group's state between our read and our write."""


@contextmanager
def serialized_writes(database: Database) -> Iterator[None]:
    """Serialise this process's read-then-write transactions on SQLite (a no-op on PostgreSQL)."""
    if database.engine.dialect.name != "sqlite":
        with nullcontext():
            yield
        return
    with _sqlite_locks_guard:
        lock = _sqlite_locks.setdefault(database.url, threading.RLock())
    with lock:
        yield


@dataclass(frozen=True)
class ServiceResult:
    """What handling one event did."""

    event_id: str
    group_id: str
    actions: tuple[Action, ...]
    enqueued: int
    duplicate: bool = False


ProfileSource = Callable[[Session, str], GroupProfile]


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
    ) -> None:
        self.database = database
        self.settings = settings or Settings()
        self.routing = routing or OutboxRouting()
        self.registry = registry
        self.profile_overrides = {key: dict(value) for key, value in (profile_overrides or {}).items()}
        self._clock = clock
        self._cache: dict[str, tuple[int, GroupBotState]] = {}
        self._group_locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    # -- profiles -------------------------------------------------------------------------------
    def profile_for(self, session: Session, group_id: str) -> GroupProfile:
        """The group's profile: the stored group (kind, name, admins), the settings, then overrides."""
        group = session.get(Group, group_id)
        fields: dict[str, Any] = {
            "group_id": group_id,
            "timezone": self.settings.timezone,
            "quiet_hours": self.settings.quiet_hours,
        }
        if group is not None:
            fields["name"] = group.name or ""
            fields["admin_ids"] = tuple(group.admins or ())
            if group.kind in GROUP_KINDS:
                fields["kind"] = group.kind
        fields.update(self.profile_overrides.get("*", {}))
        fields.update(self.profile_overrides.get(group_id, {}))
        return GroupProfile(**fields)

    # -- events ---------------------------------------------------------------------------------
    def handle(self, event: Event) -> ServiceResult:
        """Apply ``event``: state, outbox rows and projections in one transaction (replays do nothing)."""
        with self._group_lock(event.group_id):
            for _ in range(_MAX_CONFLICT_RETRIES):
                try:
                    with serialized_writes(self.database):
                        return self._handle_once(event)
                except (_StateConflict, IntegrityError, OperationalError):
                    self._cache.pop(event.group_id, None)
        raise StoreError(
            f"bot state of group {event.group_id} kept changing; event {event.event_id} not applied"
        )

    def state_of(self, group_id: str) -> GroupBotState:
        """The stored state of a group (a fresh one before its first event)."""
        with self.database.session() as session:
            row = session.get(BotGroupState, group_id)
            return decode_group_state(group_id, row.state if row else None)

    def _group_lock(self, group_id: str) -> threading.Lock:
        with self._guard:
            return self._group_locks.setdefault(group_id, threading.Lock())

    def _handle_once(self, event: Event) -> ServiceResult:
        with self.database.session() as session:
            version, state = self._load(session, event.group_id)
            outcome = handle_event(state, event, self.profile_for(session, event.group_id), self.registry)
            if outcome.duplicate:
                return ServiceResult(event.event_id, event.group_id, (), 0, duplicate=True)
            self._store(session, event.group_id, version, outcome.state)
            enqueued = enqueue_actions(
                session, outcome.actions, self.routing, event_id=event.event_id, now=self._clock()
            )
            _apply_projections(session, event, state, outcome, self._clock())
        self._cache[event.group_id] = (version + 1, outcome.state)
        return ServiceResult(event.event_id, event.group_id, outcome.actions, enqueued)

    def _load(self, session: Session, group_id: str) -> tuple[int, GroupBotState]:
        query = select(BotGroupState.version).where(BotGroupState.group_id == group_id)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        version = session.scalar(query)
        if version is None:
            return 0, GroupBotState(group_id)
        cached = self._cache.get(group_id)
        if cached is not None and cached[0] == version:
            return version, cached[1]
        stored = session.scalar(select(BotGroupState.state).where(BotGroupState.group_id == group_id))
        return version, decode_group_state(group_id, stored)

    def _store(self, session: Session, group_id: str, version: int, state: GroupBotState) -> None:
        encoded, now = encode_group_state(state), self._clock()
        if version == 0:
            values = {"group_id": group_id, "state": encoded, "version": 1, "updated_at": now}
            dialect = session.get_bind().dialect.name
            insert = (postgresql if dialect == "postgresql" else sqlite).insert(BotGroupState)
            inserted = session.execute(
                insert.values(**values).on_conflict_do_nothing().returning(BotGroupState.group_id)
            ).first()
            if inserted is None:
                raise _StateConflict(group_id)
            return
        result: Any = session.execute(
            update(BotGroupState)
            .where(BotGroupState.group_id == group_id, BotGroupState.version == version)
            .values(state=encoded, version=version + 1, updated_at=now)
        )
        if result.rowcount != 1:
            raise _StateConflict(group_id)


# --- projections ------------------------------------------------------------------------------
def _member_row(session: Session, group_id: str, member_id: str, now: datetime) -> BotMemberState:
    row = session.scalar(
        select(BotMemberState).where(
            BotMemberState.group_id == group_id, BotMemberState.member_id == member_id
        )
    )
    if row is None:
        row = BotMemberState(
            group_id=group_id,
            member_id=member_id,
            points_balance=0,
            checkin_streak=0,
            longest_streak=0,
            checkin_days=0,
            points_ledger=[],
            faq_tickets_opened=0,
            rule_warnings=0,
        )
        session.add(row)
    row.updated_at = now
    return row


def _json_ready(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(item) for item in value]
    if is_dataclass(value) and not isinstance(value, type):
        return _json_ready(asdict(value))
    return value


def _apply_projections(
    session: Session, event: Event, previous: GroupBotState, outcome: BotOutcome, now: datetime
) -> None:
    skills, before = outcome.state.skill_states, previous.skill_states
    for action in outcome.actions:
        if action.kind == "award_points" and action.member_id:
            _project_points(session, action, skills.get("checkin"), now)
        elif action.kind == "open_ticket" and action.member_id:
            _project_ticket(session, event, action, now)
        elif (
            action.skill == "group_rules"
            and event.member_id
            and action.kind in ("send_text", "notify_admins")
        ):
            row = _member_row(session, event.group_id, event.member_id, now)
            row.rule_warnings += 1
            row.last_warning_at = event.occurred_at
        elif action.kind == "send_private_text" and action.skill == "care" and action.member_id:
            _member_row(
                session, event.group_id, action.member_id, now
            ).last_cared_on = event.occurred_at.date()
        elif action.kind == "remove_member":
            record_audit(
                session, "bot", "bot.remove_member.requested", "member", action.member_id or "", **action.data
            )
    if skills.get("draws") is not before.get("draws"):
        _project_draws(session, event.group_id, skills.get("draws"), now)
    if skills.get("outfit_poll") is not before.get("outfit_poll"):
        _project_polls(session, event.group_id, skills.get("outfit_poll"), now)


def _project_points(session: Session, action: Action, checkins: Any, now: datetime) -> None:
    assert action.member_id is not None
    row = _member_row(session, action.group_id, action.member_id, now)
    row.points_balance = int(action.data.get("balance", row.points_balance))
    entries = [_json_ready(entry) for entry in action.data.get("entries", ())]
    row.points_ledger = [*(row.points_ledger or []), *entries][-_LEDGER_ENTRIES_KEPT:]
    record = getattr(checkins, "members", {}).get(action.member_id)
    if record is not None:
        row.checkin_streak, row.longest_streak = record.streak, record.longest_streak
        row.checkin_days, row.last_checkin_on = record.total_days, record.last_day


def _project_ticket(session: Session, event: Event, action: Action, now: datetime) -> None:
    assert action.member_id is not None
    row = _member_row(session, action.group_id, action.member_id, now)
    row.faq_tickets_opened += 1
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
