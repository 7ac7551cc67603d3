"""The bot service: load a group's state, run the core on an event, store the state, queue the actions.

One database transaction per event holds the new state, the outbox rows, the projections
(member points and warnings, draws, polls, FAQ tickets) and, when the caller passes an
:class:`EventJournal`, the callback-log row: an event is either fully applied or not at all,
so there are no lost and no duplicated actions. The state row carries a version; a writer
that lost a race (another process changed the group meanwhile) retries with the new state.
On SQLite, writers of one process are serialised (SQLite has a single writer anyway).

The hot path is lean: SQLAlchemy Core statements only, the group's last state kept in memory
(reloaded only when another writer moved its version), and the state's JSON text written
incrementally (:class:`~groupops.bot._codec.GroupStateEncoder`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, is_dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from typing import cast as cast_table

from sqlalchemy import JSON as SqlJSON
from sqlalchemy import Table, Text, bindparam, cast, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from groupops.bot._codec import GroupStateEncoder, decode_group_state
from groupops.bot._locks import serialized_writes
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

__all__ = ["BotService", "EventJournal", "ServiceResult", "serialized_writes"]

_MAX_CONFLICT_RETRIES = 8
_LEDGER_ENTRIES_KEPT = 400
_MEMBER_TABLE = cast_table(Table, BotMemberState.__table__)
_STATE_TABLE = cast_table(Table, BotGroupState.__table__)


class _StateConflict(Exception):
    """Another writer changed the group's state between our read and our write."""


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


ProfileSource = Callable[[Session, str], GroupProfile]


@dataclass
class _CachedGroup:
    version: int
    state: GroupBotState
    encoder: GroupStateEncoder


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
    ) -> None:
        self.database = database
        self.settings = settings or Settings()
        self.routing = routing or OutboxRouting()
        self.registry = registry
        self.profile_overrides = {key: dict(value) for key, value in (profile_overrides or {}).items()}
        self.on_enqueued = on_enqueued
        self._clock = clock
        self._cache: dict[str, _CachedGroup] = {}
        self._group_locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._dialect = database.engine.dialect.name
        self._update: Any = None

    # -- profiles -------------------------------------------------------------------------------
    def profile_for(self, session: Session, group_id: str) -> GroupProfile:
        """The group's profile: the stored group (kind, name, admins), the settings, then overrides."""
        row = session.execute(
            select(Group.name, Group.kind, Group.admins).where(Group.id == group_id)
        ).first()
        fields: dict[str, Any] = {
            "group_id": group_id,
            "timezone": self.settings.timezone,
            "quiet_hours": self.settings.quiet_hours,
        }
        if row is not None:
            name, kind, admins = row
            fields["name"] = name or ""
            fields["admin_ids"] = tuple(admins or ())
            if kind in GROUP_KINDS:
                fields["kind"] = kind
        fields.update(self.profile_overrides.get("*", {}))
        fields.update(self.profile_overrides.get(group_id, {}))
        return GroupProfile(**fields)

    # -- events ---------------------------------------------------------------------------------
    def handle(self, event: Event, journal: EventJournal | None = None) -> ServiceResult:
        """Apply ``event``: journal, state, outbox rows and projections in one transaction.

        Replays (an event id already in the state, or a journal that says so) do nothing.
        """
        with self._group_lock(event.group_id):
            for _ in range(_MAX_CONFLICT_RETRIES):
                try:
                    with serialized_writes(self.database):
                        result = self._handle_once(event, journal)
                except (_StateConflict, IntegrityError, OperationalError):
                    self._cache.pop(event.group_id, None)
                    continue
                if result.enqueued and self.on_enqueued is not None:
                    self.on_enqueued()
                return result
        raise StoreError(
            f"bot state of group {event.group_id} kept changing; event {event.event_id} not applied"
        )

    def state_of(self, group_id: str) -> GroupBotState:
        """The stored state of a group (a fresh one before its first event)."""
        with self.database.session() as session:
            stored = session.scalar(select(BotGroupState.state).where(BotGroupState.group_id == group_id))
            return decode_group_state(group_id, stored)

    def _group_lock(self, group_id: str) -> threading.Lock:
        with self._guard:
            return self._group_locks.setdefault(group_id, threading.Lock())

    def _handle_once(self, event: Event, journal: EventJournal | None) -> ServiceResult:
        with self.database.session() as session:
            if journal is not None and not journal.begin(session):
                return ServiceResult(event.event_id, event.group_id, (), 0, duplicate=True)
            cached = self._load(session, event.group_id)
            outcome = handle_event(
                cached.state, event, self.profile_for(session, event.group_id), self.registry
            )
            if outcome.duplicate:
                result = ServiceResult(event.event_id, event.group_id, (), 0, duplicate=True)
            else:
                now = self._clock()
                self._store(session, event.group_id, cached, outcome.state, now)
                enqueued = enqueue_actions(
                    session, outcome.actions, self.routing, event_id=event.event_id, now=now
                )
                _apply_projections(session, event, cached.state, outcome, now)
                result = ServiceResult(event.event_id, event.group_id, outcome.actions, enqueued)
            if journal is not None:
                journal.finish(session, result)
        if not result.duplicate:
            cached.version, cached.state = cached.version + 1, outcome.state
            self._cache[event.group_id] = cached
        return result

    def _load(self, session: Session, group_id: str) -> _CachedGroup:
        query = select(BotGroupState.version).where(BotGroupState.group_id == group_id)
        if self._dialect == "postgresql":
            query = query.with_for_update()
        version = session.scalar(query)
        if version is None:
            return _CachedGroup(0, GroupBotState(group_id), GroupStateEncoder())
        cached = self._cache.get(group_id)
        if cached is not None and cached.version == version:
            return cached
        stored = session.scalar(select(BotGroupState.state).where(BotGroupState.group_id == group_id))
        return _CachedGroup(version, decode_group_state(group_id, stored), GroupStateEncoder())

    def _store(
        self, session: Session, group_id: str, cached: _CachedGroup, state: GroupBotState, now: datetime
    ) -> None:
        encoded_text = cached.encoder.encode(state)
        version = cached.version
        if version == 0:
            dialect_insert = (postgresql if self._dialect == "postgresql" else sqlite).insert(_STATE_TABLE)
            inserted = session.execute(
                dialect_insert.values(
                    group_id=group_id, state=self._json_text(encoded_text), version=1, updated_at=now
                )
                .on_conflict_do_nothing()
                .returning(_STATE_TABLE.c.group_id)
            ).first()
            if inserted is None:
                raise _StateConflict(group_id)
            return
        result: Any = session.execute(
            self._update_statement(), {"g": group_id, "v": version, "s": encoded_text, "n": now}
        )
        if result.rowcount != 1:
            raise _StateConflict(group_id)

    def _update_statement(self) -> Any:
        """The optimistic state update, built once (parameters g, v, s, n)."""
        if self._update is None:
            table = _STATE_TABLE
            self._update = (
                update(table)
                .where(table.c.group_id == bindparam("g"), table.c.version == bindparam("v"))
                .values(state=self._json_param("s"), version=bindparam("v") + 1, updated_at=bindparam("n"))
            )
        return self._update

    def _json_param(self, name: str) -> Any:
        value = bindparam(name, type_=Text)
        return cast(value, SqlJSON) if self._dialect == "postgresql" else value

    def _json_text(self, text: str) -> Any:
        """Bind already-encoded JSON text to the JSON column (no second serialisation)."""
        value = bindparam(None, text, type_=Text)
        return cast(value, SqlJSON) if self._dialect == "postgresql" else value


# --- projections ------------------------------------------------------------------------------
_MEMBER_DEFAULTS: dict[str, Any] = {
    "points_balance": 0,
    "checkin_streak": 0,
    "longest_streak": 0,
    "checkin_days": 0,
    "points_ledger": [],
    "faq_tickets_opened": 0,
    "rule_warnings": 0,
}


def _update_member(
    session: Session,
    group_id: str,
    member_id: str,
    now: datetime,
    change: Callable[[Mapping[str, Any]], dict[str, Any]],
    *columns: str,
) -> None:
    """Read ``columns`` of the member's row (defaults when new), apply ``change``, write it back."""
    table = _MEMBER_TABLE
    row = (
        session.execute(
            select(table.c.id, *(table.c[name] for name in columns)).where(
                table.c.group_id == group_id, table.c.member_id == member_id
            )
        )
        .mappings()
        .first()
    )
    current: Mapping[str, Any] = dict(row) if row is not None else _MEMBER_DEFAULTS
    values = change(current) | {"updated_at": now}
    if row is None:
        session.execute(
            insert(table).values(_MEMBER_DEFAULTS | values | {"group_id": group_id, "member_id": member_id})
        )
    else:
        session.execute(update(table).where(table.c.id == row["id"]).values(values))


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
            _update_member(
                session,
                event.group_id,
                event.member_id,
                now,
                lambda row: {"rule_warnings": row["rule_warnings"] + 1, "last_warning_at": event.occurred_at},
                "rule_warnings",
            )
        elif action.kind == "send_private_text" and action.skill == "care" and action.member_id:
            cared = _fixed({"last_cared_on": event.occurred_at.date()})
            _update_member(session, event.group_id, action.member_id, now, cared)
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

    _update_member(session, action.group_id, action.member_id, now, change, "points_balance", "points_ledger")


def _project_ticket(session: Session, event: Event, action: Action, now: datetime) -> None:
    assert action.member_id is not None
    _update_member(
        session,
        action.group_id,
        action.member_id,
        now,
        lambda row: {"faq_tickets_opened": row["faq_tickets_opened"] + 1},
        "faq_tickets_opened",
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
