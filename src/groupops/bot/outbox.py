"""The outbox: every outgoing message is a row first, then a worker delivers it exactly once or never.

Enqueue is idempotent on the action's key (a second enqueue of a key is a no-op), so the bot
core, the receiver and the scheduler may repeat themselves freely.

The worker claims due ``pending`` rows (PostgreSQL: ``SELECT … FOR UPDATE SKIP LOCKED``;
SQLite: one ``UPDATE … WHERE status = 'pending' … RETURNING`` status transition), marks them
``sending``, checks the text with the compliance checker, calls the channel's
:class:`~groupops.wecom.senders.Sender`, and records ``sent`` with WeCom's message id.

- WeCom busy / rate limited (after the client's own retries) or never reached → back to
  ``pending`` with exponential backoff; after ``max_attempts`` → ``dead``.
- The client-side robot budget is spent → back to ``pending`` for when a token returns
  (not counted as an attempt).
- A refusal that will not change (too long, unknown webhook, other WeCom codes) → ``dead``.
- A compliance ``violation`` → ``dead``, never sent, the findings in ``last_error``.
- An answer that leaves delivery unknown (connection lost mid-request, unexpected error) →
  ``failed``: a person checks the group and resends or closes it (:func:`release_for_resend`).

The worker records the outcomes of a round (one claimed batch) together, in one transaction
after the sends, so it takes the store's writer lock twice per round rather than once per row.

Crash between send and acknowledge: the row stays ``sending`` (at most the rows of one round). :meth:`OutboxWorker.reconcile_stuck`
(run at worker start) looks at rows ``sending`` for longer than ``stale_after``. The group
robot webhook has no idempotency on WeCom's side, so resending could post twice: such rows
become ``failed`` (at most once) unless the channel's sender can confirm the outcome
(a :class:`DeliveryConfirmer` answering True → ``sent``, False → ``pending``).
"""

from __future__ import annotations

import functools
import importlib
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, runtime_checkable

import httpx
from sqlalchemy import Select, bindparam, func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from groupops.bot._locks import serialized_writes
from groupops.bot._raw import RawDialect, raw_dialect
from groupops.bot.core import SEND_ACTION_KINDS, Action
from groupops.errors import ConfigurationError, GroupOpsError, NotFoundError
from groupops.store.database import Database
from groupops.store.models.base import utc_now
from groupops.store.models.bot import OUTBOX_CHANNELS, OutboxItem
from groupops.wecom.client import (
    RobotRateLimitExceededError,
    WeComRateLimitedError,
    WeComSystemBusyError,
    WeComTransportError,
)
from groupops.wecom.senders import MessageFormat, OutgoingMessage, Sender

__all__ = [
    "OUTBOX_ACTION_KINDS",
    "ComplianceDecision",
    "DeliveryConfirmer",
    "OutboxPolicy",
    "OutboxRouting",
    "OutboxWorker",
    "ReconcileReport",
    "WorkerReport",
    "compliance_decision",
    "enqueue",
    "enqueue_actions",
    "enqueue_rows",
    "outbox_counts",
    "outbox_payload_for",
    "outbox_rows_for",
    "release_for_resend",
]

OUTBOX_ACTION_KINDS: frozenset[str] = SEND_ACTION_KINDS | {"notify_admins"}
Clock = Callable[[], datetime]
_MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class OutboxRouting:
    """Which channel and target each kind of action goes to.

    ``private_channel``: one-to-one care pushes; the robot cannot post privately, so they go
    to the console (an operator's task list) unless routed elsewhere. ``admin_target``: the
    robot key name of the admins' own group for ``notify_admins`` (None = the group itself).
    """

    group_channel: str = "robot"
    private_channel: str = "console"
    admin_channel: str = "robot"
    admin_target: str | None = None

    def __post_init__(self) -> None:
        for channel in (self.group_channel, self.private_channel, self.admin_channel):
            if channel not in OUTBOX_CHANNELS:
                raise ConfigurationError(
                    f"unknown outbox channel {channel!r}; use {', '.join(OUTBOX_CHANNELS)}"
                )

    def route(self, action: Action) -> tuple[str, str]:
        """(channel, target) of ``action``."""
        if action.kind == "notify_admins":
            return self.admin_channel, self.admin_target or action.group_id
        if action.kind == "send_private_text":
            return self.private_channel, action.group_id
        return self.group_channel, action.group_id


@dataclass(frozen=True)
class OutboxPolicy:
    """Retry and claiming limits of the worker.

    ``per_target_batch`` caps the rows of one channel and target in a round: a robot whose
    budget is spent then costs a few claims, not a whole batch, and no group crowds out the others.
    ``deferral_spacing_seconds``: when a robot's budget is spent, its due rows get one slot each,
    this far apart (60 / the robot's messages per minute; WeCom: 20 → 3 s), in queue order.
    ``min_round_interval_seconds``: :meth:`OutboxWorker.run_forever` starts a round at most this
    often, so that rows queued by many callbacks are claimed and recorded together.
    ``busy_pause_ratio``: after a round, :meth:`OutboxWorker.run_forever` also pauses this many
    times as long as the round took, so that a burst of sends (every robot's budget fresh after
    a start) spreads out instead of taking the process's interpreter from the callbacks.
    """

    max_attempts: int = 5
    backoff_base_seconds: float = 5.0
    backoff_max_seconds: float = 900.0
    batch_size: int = 20
    per_target_batch: int = 5
    stale_after_seconds: float = 300.0
    deferral_spacing_seconds: float = 3.0
    min_round_interval_seconds: float = 0.1
    busy_pause_ratio: float = 1.0

    def backoff(self, attempts: int) -> timedelta:
        """Wait before attempt ``attempts + 1``: base × 2^(attempts − 1), capped."""
        seconds = self.backoff_base_seconds * 2 ** max(0, attempts - 1)
        return timedelta(seconds=min(seconds, self.backoff_max_seconds))


@dataclass(frozen=True)
class ComplianceDecision:
    """The compliance checker's word on one outgoing text."""

    verdict: Literal["violation", "review", "clean"]
    reasons: tuple[str, ...] = ()


@runtime_checkable
class DeliveryConfirmer(Protocol):
    """A sender that can tell, after a crash, whether a key was delivered (None = cannot tell)."""

    def confirm_delivery(self, idempotency_key: str) -> bool | None:
        """True delivered, False certainly not delivered, None unknown."""
        ...


@dataclass
class WorkerReport:
    """What one worker round did."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    deferred: int = 0
    failed: int = 0
    dead: int = 0
    blocked: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)  # (idempotency key, why) of unsent rows

    def add(self, other: WorkerReport) -> None:
        for name in ("claimed", "sent", "retried", "deferred", "failed", "dead", "blocked"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.problems.extend(other.problems)


@dataclass
class ReconcileReport:
    """What reconciling stuck ``sending`` rows did."""

    confirmed_sent: int = 0
    requeued: int = 0
    needs_review: list[str] = field(default_factory=list)


# --- compliance ---------------------------------------------------------------------------------
def compliance_decision(text: str) -> ComplianceDecision | None:
    """``groupops.text.compliance.check_text`` on ``text``; None when that library is not installed."""
    try:
        compliance = importlib.import_module("groupops.text.compliance")
    except ModuleNotFoundError:
        return None
    result = compliance.check_text(text)
    reasons = tuple(
        f"{finding.severity}: {finding.term} ({finding.category}) — {finding.reason}"
        for finding in result.findings
    )
    return ComplianceDecision(result.verdict, reasons)


# --- enqueue ------------------------------------------------------------------------------------
def outbox_payload_for(action: Action, event_id: str = "") -> dict[str, Any]:
    """The stored payload of an outgoing action."""
    mentioned = list(action.mentioned_member_ids)
    if action.kind == "send_private_text" and action.member_id:
        mentioned = [action.member_id]
    return {
        "kind": action.kind,
        "group_id": action.group_id,
        "skill": action.skill,
        "text": action.text,
        "format": "markdown" if action.kind == "send_markdown" else "text",
        "mentioned_user_ids": mentioned,
        "member_id": action.member_id,
        "event_id": event_id,
    }


@functools.cache
def _insert_statement(dialect: str) -> Any:
    """``INSERT … ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key``, built once per dialect."""
    table: Any = OutboxItem.__table__
    if dialect == "postgresql":
        statement: Any = postgresql.insert(table)
    elif dialect == "sqlite":
        statement = sqlite.insert(table)
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported stores
        raise ConfigurationError(f"the outbox does not support the {dialect} dialect")
    return statement.on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(
        table.c.idempotency_key
    )


def _outbox_row(
    idempotency_key: str,
    channel: str,
    target: str,
    payload: Mapping[str, Any],
    not_before: datetime | None,
    moment: datetime,
) -> dict[str, Any]:
    if not idempotency_key or len(idempotency_key) > 128:
        raise ConfigurationError("an outbox idempotency key must have 1 to 128 characters")
    if channel not in OUTBOX_CHANNELS:
        raise ConfigurationError(f"unknown outbox channel {channel!r}; use {', '.join(OUTBOX_CHANNELS)}")
    return {
        "idempotency_key": idempotency_key,
        "channel": channel,
        "target": target[:128],
        "payload": dict(payload),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": max(moment, not_before) if not_before else moment,
        "created_at": moment,
    }


def enqueue_rows(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """Insert prepared outbox rows in one statement; the keys that were new (others were queued before)."""
    if not rows:
        return set()
    connection = session.connection()
    if connection.dialect.name not in ("sqlite", "postgresql"):  # pragma: no cover - the supported stores
        statement = _insert_statement(connection.dialect.name)
        return {str(key) for key in connection.execute(statement, rows).scalars()}
    dialect = raw_dialect(connection)
    described = [dialect.column(_OUTBOX_TABLE, name) for name in _OUTBOX_INSERT_COLUMNS]
    stored = [
        value
        for row in rows
        for value in (
            convert(row[name]) for name, (_, convert) in zip(_OUTBOX_INSERT_COLUMNS, described, strict=True)
        )
    ]
    new_keys: set[str] = set()
    for start in range(0, len(rows), _OUTBOX_ROWS_PER_INSERT):
        count = min(_OUTBOX_ROWS_PER_INSERT, len(rows) - start)
        width = len(_OUTBOX_INSERT_COLUMNS)
        values = stored[start * width : (start + count) * width]
        result = dialect.execute(connection, _outbox_insert_text(dialect, count), values)
        new_keys.update(str(key) for (key,) in result)
    return new_keys


_OUTBOX_TABLE: Any = OutboxItem.__table__
_OUTBOX_INSERT_COLUMNS = (
    "idempotency_key",
    "channel",
    "target",
    "payload",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
)
_OUTBOX_ROWS_PER_INSERT = 500  # 4,000 parameters, far below SQLite's limit


@functools.cache
def _outbox_insert_text(dialect: RawDialect, count: int) -> str:
    """One multi-row ``INSERT … ON CONFLICT DO NOTHING RETURNING idempotency_key`` (new rows' keys)."""
    json_index = _OUTBOX_INSERT_COLUMNS.index("payload")
    rows = dialect.values_rows(count, len(_OUTBOX_INSERT_COLUMNS), (json_index,))
    return (
        f"INSERT INTO {_OUTBOX_TABLE.name} ({', '.join(_OUTBOX_INSERT_COLUMNS)}) VALUES {rows}"
        " ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key"
    )


def enqueue(
    session: Session,
    idempotency_key: str,
    channel: str,
    target: str,
    payload: Mapping[str, Any],
    *,
    not_before: datetime | None = None,
    now: datetime | None = None,
) -> bool:
    """Add one outgoing message; False (and nothing changes) when the key is already queued."""
    row = _outbox_row(idempotency_key, channel, target, payload, not_before, now or utc_now())
    return bool(enqueue_rows(session, [row]))


def outbox_rows_for(
    actions: Iterable[Action],
    routing: OutboxRouting | None = None,
    *,
    event_id: str = "",
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The outbox rows of the outgoing actions among ``actions`` (sends and admin notices)."""
    chosen, moment = routing or OutboxRouting(), now or utc_now()
    rows: list[dict[str, Any]] = []
    for action in actions:
        if action.kind not in OUTBOX_ACTION_KINDS or not action.text.strip():
            continue
        if not action.idempotency_key:
            raise ConfigurationError(f"action {action.kind} has no idempotency key")
        channel, target = chosen.route(action)
        payload = outbox_payload_for(action, event_id)
        rows.append(_outbox_row(action.idempotency_key, channel, target, payload, action.not_before, moment))
    return rows


def enqueue_actions(
    session: Session,
    actions: Iterable[Action],
    routing: OutboxRouting | None = None,
    *,
    event_id: str = "",
    now: datetime | None = None,
) -> int:
    """Queue the outgoing actions among ``actions`` (sends and admin notices); returns how many were new."""
    return len(enqueue_rows(session, outbox_rows_for(actions, routing, event_id=event_id, now=now)))


def outbox_counts(database: Database) -> dict[str, int]:
    """Rows per status."""
    with database.session() as session:
        rows = session.execute(select(OutboxItem.status, func.count()).group_by(OutboxItem.status))
        return {str(status): int(count) for status, count in rows}


def release_for_resend(
    database: Database, idempotency_key: str, *, actor: str = "system", now: datetime | None = None
) -> None:
    """A person checked a ``failed`` row and wants it sent (again): back to ``pending``."""
    with database.session() as session:
        item = session.scalar(select(OutboxItem).where(OutboxItem.idempotency_key == idempotency_key))
        if item is None:
            raise NotFoundError(f"no outbox item with key {idempotency_key!r}")
        if item.status != "failed":
            raise ConfigurationError(f"only failed items can be released; this one is {item.status}")
        item.status = "pending"
        item.next_attempt_at = now or utc_now()
        item.last_error = f"released for resend by {actor}; before: {item.last_error or ''}"[
            :_MAX_ERROR_CHARS
        ]


# --- the worker ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Claimed:
    id: int
    idempotency_key: str
    channel: str
    target: str
    payload: dict[str, Any]
    attempts: int


_Outcome = Literal["sent", "retry", "defer", "failed", "dead", "blocked"]


class OutboxWorker:
    """Claims due rows and delivers them through the sender of their channel."""

    def __init__(
        self,
        database: Database,
        senders: Mapping[str, Sender],
        *,
        policy: OutboxPolicy | None = None,
        clock: Clock = utc_now,
        compliance: Callable[[str], ComplianceDecision | None] | None = compliance_decision,
        on_sent: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.database = database
        self.senders = dict(senders)
        self.policy = policy or OutboxPolicy()
        self._clock = clock
        self._compliance = compliance
        self._on_sent = on_sent
        self._wake = threading.Event()
        self._acks: list[tuple[_Claimed, dict[str, Any]]] = []
        self._blocked_until: dict[tuple[str, str], datetime] = {}  # robots out of budget, until when
        self._next_slot: dict[tuple[str, str], datetime] = {}  # their next free deferral slot
        self._budgets = threading.Lock()  # the two maps above (never held across a database call)

    def wake(self) -> None:
        """New rows were queued: end the current idle wait of :meth:`run_forever` now."""
        self._wake.set()

    def reserve_slot(self, channel: str, target: str, now: datetime) -> datetime | None:
        """The send slot of a new row for a robot known to be out of budget (None: due now).

        The bot service asks as it queues rows (``BotService.outbox_slots``), so a spent robot's
        rows are born with their slots, in queue order, and the worker need not move them later.
        """
        key = (channel, target)
        with self._budgets:
            until = self._blocked_until.get(key)
            if until is None or until <= now:
                return None
            slot = max(until, self._next_slot.get(key, now))
            self._next_slot[key] = slot + timedelta(seconds=self.policy.deferral_spacing_seconds)
            return slot

    def warm_up(self) -> None:
        """Build the compliance checker now (≈ 0.35 s of Python, compiled once per process).

        Left to the first delivery, that build holds the interpreter lock while the first
        callbacks arrive and stalls the applier and the event loop; call this before serving.
        """
        if self._compliance is not None:
            self._compliance("")

    # -- claiming --------------------------------------------------------------------------
    def _due(self, now: datetime) -> Select[Any]:
        """Ids of the oldest due rows, at most ``per_target_batch`` of each channel and target."""
        order = (OutboxItem.next_attempt_at, OutboxItem.id)
        rank = func.row_number().over(partition_by=(OutboxItem.channel, OutboxItem.target), order_by=order)
        ranked = (
            select(OutboxItem.id, OutboxItem.next_attempt_at, rank.label("rank"))
            .where(*_due_now(now))
            .subquery()
        )
        return (
            select(ranked.c.id)
            .where(ranked.c.rank <= self.policy.per_target_batch)
            .order_by(ranked.c.next_attempt_at, ranked.c.id)
            .limit(self.policy.batch_size)
        )

    def _anything_due(self, now: datetime) -> bool:
        """Whether any row is due (a read on the due index, outside the writer lock)."""
        with self.database.engine.connect() as connection:
            found = connection.execute(select(OutboxItem.id).where(*_due_now(now)).limit(1)).first()
        return found is not None

    def _claim(self, now: datetime) -> list[_Claimed]:
        if not self._anything_due(now):  # most rounds once robots are out of budget: no write lock
            return []
        transition = dict(status="sending", attempts=OutboxItem.attempts + 1, claimed_at=now)
        with serialized_writes(self.database), self.database.session() as session:
            self._slot_rows_of_spent_robots(session, now)
            if session.get_bind().dialect.name == "postgresql":
                locked = (
                    select(OutboxItem.id)
                    .where(
                        OutboxItem.id.in_(self._due(now).scalar_subquery()), OutboxItem.status == "pending"
                    )
                    .with_for_update(skip_locked=True)
                )
                ids: list[int] = list(session.scalars(locked))
                if ids:
                    session.execute(update(OutboxItem).where(OutboxItem.id.in_(ids)).values(**transition))
            else:
                claimed = session.execute(
                    update(OutboxItem)
                    .where(
                        OutboxItem.id.in_(self._due(now).scalar_subquery()), OutboxItem.status == "pending"
                    )
                    .values(**transition)
                    .returning(OutboxItem.id)
                )
                ids = [int(row[0]) for row in claimed]
            if not ids:
                return []
            columns = (OutboxItem.id, OutboxItem.idempotency_key, OutboxItem.channel, OutboxItem.target)
            rows = session.execute(
                select(*columns, OutboxItem.payload, OutboxItem.attempts)
                .where(OutboxItem.id.in_(ids))
                .order_by(OutboxItem.id)
            )
            return [_Claimed(row[0], row[1], row[2], row[3], dict(row[4] or {}), row[5]) for row in rows]

    def _slot_rows_of_spent_robots(self, session: Session, now: datetime) -> None:
        """Rows queued since for a robot known to be out of budget: their slots, without a claim."""
        with self._budgets:
            spent = list(self._blocked_until)
        if not spent:
            return
        table: Any = OutboxItem.__table__
        spacing = timedelta(seconds=self.policy.deferral_spacing_seconds)
        waiting = (
            session.connection()
            .execute(
                select(table.c.id, table.c.channel, table.c.target)
                .where(
                    *_due_now(now),
                    tuple_(table.c.channel, table.c.target).in_(bindparam("spent", expanding=True)),
                )
                .order_by(table.c.id),
                {"spent": spent},
            )
            .all()
        )
        moves = []
        with self._budgets:
            for row_id, channel, target in waiting:
                key = (channel, target)
                until = self._blocked_until.get(key)
                if until is None:
                    continue
                slot = max(until, self._next_slot.get(key, now))
                moves.append({"row_id": row_id, "at": slot})
                self._next_slot[key] = slot + spacing
        if moves:
            session.connection().execute(_deferral_statement(), moves)

    # -- one round ---------------------------------------------------------------------------
    def run_once(self) -> WorkerReport:
        """Claim one batch of due rows, deliver each, then record every outcome in one transaction."""
        report = WorkerReport()
        blocked: dict[tuple[str, str], timedelta] = {}
        self._acks = []
        now = self._clock()
        with self._budgets:
            self._blocked_until = {key: until for key, until in self._blocked_until.items() if until > now}
            kept = self._blocked_until
            self._next_slot = {key: slot for key, slot in self._next_slot.items() if key in kept}
            # robots out of budget get no send attempt this round
            blocked.update((key, until - now) for key, until in self._blocked_until.items())
        targets: set[tuple[str, str]] = set()
        for item in self._claim(now):
            report.claimed += 1
            targets.add((item.channel, item.target))
            wait = blocked.get((item.channel, item.target))
            if wait is not None:  # its robot has no budget left: no send attempt, no attempt counted
                self._finish(item, "pending", error="robot budget spent", delay=wait, uncount=True)
                outcome: _Outcome = "defer"
            else:
                outcome = self._deliver(item, report, blocked)
            field_name = {"retry": "retried", "defer": "deferred"}.get(outcome, outcome)
            setattr(report, field_name, getattr(report, field_name) + 1)
        self._record_round({key: wait for key, wait in blocked.items() if key in targets})
        return report

    def _record_round(self, blocked: dict[tuple[str, str], timedelta]) -> None:
        """The round's acknowledgements (one transaction, one statement per shape), then its deferrals.

        Each robot out of budget is deferred in its own short transaction, so the applier gets
        the writer lock in between (deferring 50 robots at once held it for ~50 ms).
        """
        acks, self._acks = self._acks, []
        if not acks and not blocked:
            return
        shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for _, values in acks:
            shapes.setdefault(tuple(sorted(values)), []).append(values)
        if shapes:
            with serialized_writes(self.database), self.database.session() as session:
                connection = session.connection()
                for names, rows in shapes.items():
                    connection.execute(_ack_statement(names), rows)
        for (channel, target), wait in blocked.items():
            with serialized_writes(self.database), self.database.session() as session:
                self._defer_target(session, channel, target, wait)
            with self._budgets:
                self._blocked_until[(channel, target)] = self._clock() + wait
        if self._on_sent is not None:
            for item, values in acks:
                if values["status"] == "sent":
                    self._on_sent(item.idempotency_key, item.payload)

    def _defer_target(self, session: Session, channel: str, target: str, wait: timedelta) -> None:
        """Give the due rows of a target whose robot budget is spent their own later slots.

        In queue order, after the target's rows that already wait (or from when the budget
        returns), ``deferral_spacing_seconds`` apart: a token that returns then finds about one
        row due, and rows queued meanwhile go to the end without moving the others.
        """
        table: Any = OutboxItem.__table__
        now, spacing = self._clock(), timedelta(seconds=self.policy.deferral_spacing_seconds)
        of_target = (table.c.channel == channel, table.c.target == target, table.c.status == "pending")
        connection = session.connection()
        last = connection.execute(
            select(func.max(table.c.next_attempt_at)).where(*of_target, table.c.next_attempt_at > now)
        ).scalar()
        slot = max(now + wait, last + spacing) if last is not None else now + wait
        due = connection.execute(
            select(table.c.id).where(*of_target, table.c.next_attempt_at <= now).order_by(table.c.id)
        ).scalars()
        moves = [{"row_id": row_id, "at": slot + spacing * position} for position, row_id in enumerate(due)]
        if moves:
            connection.execute(_deferral_statement(), moves)
        with self._budgets:
            key = (channel, target)
            following = slot + spacing * len(moves)
            self._next_slot[key] = max(following, self._next_slot.get(key, following))

    def run_until_idle(self, max_rounds: int = 1000) -> WorkerReport:
        """Run rounds until nothing due is left (or ``max_rounds``)."""
        total = WorkerReport()
        for _ in range(max_rounds):
            report = self.run_once()
            total.add(report)
            if report.claimed == 0:
                break
        return total

    def run_forever(self, stop: threading.Event, poll_seconds: float = 0.2) -> None:
        """Warm up, reconcile stuck rows, then deliver until ``stop`` is set."""
        self.warm_up()
        self.reconcile_stuck()
        while not stop.is_set():
            started = time.monotonic()
            report = self.run_once()
            worked = time.monotonic() - started
            if report.claimed == report.deferred:  # nothing claimed, or only rows still out of budget
                self._wake.wait(poll_seconds)
                self._wake.clear()
            since = time.monotonic() - started
            pause = max(self.policy.min_round_interval_seconds - since, worked * self.policy.busy_pause_ratio)
            if pause > 0:  # let new rows gather: a round's cost is mostly per round, not per row
                stop.wait(pause)

    def _deliver(
        self, item: _Claimed, report: WorkerReport, blocked: dict[tuple[str, str], timedelta] | None = None
    ) -> _Outcome:
        text = str(item.payload.get("text", ""))
        decision = self._compliance(text) if self._compliance is not None else None
        if decision is not None and decision.verdict == "violation":
            error = "blocked by the compliance check: " + "; ".join(decision.reasons)
            self._finish(item, "dead", error=error)
            report.problems.append((item.idempotency_key, error))
            return "blocked"
        sender = self.senders.get(item.channel)
        if sender is None:
            self._finish(item, "dead", error=f"no sender is configured for channel {item.channel!r}")
            return "dead"
        try:
            receipt = sender.send(self._message(item))
        except Exception as error:  # every failure is classified and recorded
            outcome = self._after_error(item, error)
            if isinstance(error, RobotRateLimitExceededError) and blocked is not None:
                blocked[(item.channel, item.target)] = timedelta(seconds=error.wait_seconds)
            if outcome in ("failed", "dead"):
                report.problems.append((item.idempotency_key, f"{type(error).__name__}: {error}"))
            return outcome
        self._finish(item, "sent", remote_id=receipt.remote_id)
        return "sent"

    @staticmethod
    def _message(item: _Claimed) -> OutgoingMessage:
        payload = item.payload
        message_format: MessageFormat = "markdown" if payload.get("format") == "markdown" else "text"
        return OutgoingMessage(
            idempotency_key=item.idempotency_key,
            group_id=item.target,
            text=str(payload.get("text", "")),
            format=message_format,
            mentioned_user_ids=tuple(str(user) for user in payload.get("mentioned_user_ids") or ()),
        )

    def _after_error(self, item: _Claimed, error: Exception) -> _Outcome:
        description = f"{type(error).__name__}: {error}"
        if isinstance(error, RobotRateLimitExceededError):
            self._finish(
                item, "pending", error=description, delay=timedelta(seconds=error.wait_seconds), uncount=True
            )
            return "defer"
        if isinstance(error, WeComSystemBusyError | WeComRateLimitedError) or _never_reached(error):
            if item.attempts >= self.policy.max_attempts:
                self._finish(item, "dead", error=f"gave up after {item.attempts} attempts: {description}")
                return "dead"
            self._finish(item, "pending", error=description, delay=self.policy.backoff(item.attempts))
            return "retry"
        if isinstance(error, WeComTransportError) or not isinstance(error, GroupOpsError):
            self._finish(item, "failed", error=f"delivery unknown, check the group: {description}")
            return "failed"
        self._finish(item, "dead", error=description)
        return "dead"

    def _finish(
        self,
        item: _Claimed,
        status: str,
        *,
        error: str | None = None,
        remote_id: str | None = None,
        delay: timedelta | None = None,
        uncount: bool = False,
    ) -> None:
        """Note the item's outcome; the round records all of them together (:meth:`_record_round`)."""
        now = self._clock()
        values: dict[str, Any] = {"row_id": item.id, "status": status, "uncount": 1 if uncount else 0}
        if status == "sent":
            values |= {"sent_at": now, "wecom_msgid": remote_id, "last_error": None}
        if error is not None:
            values["last_error"] = error[:_MAX_ERROR_CHARS]
        if delay is not None:
            values["next_attempt_at"] = now + delay
        self._acks.append((item, values))

    # -- crash recovery --------------------------------------------------------------------
    def reconcile_stuck(self, *, stale_after: timedelta | None = None) -> ReconcileReport:
        """Settle rows left ``sending`` by a stopped worker (see the module docs); at most once."""
        limit = stale_after if stale_after is not None else timedelta(seconds=self.policy.stale_after_seconds)
        cutoff = self._clock() - limit
        report = ReconcileReport()
        with self.database.session() as session:
            stuck = session.scalars(
                select(OutboxItem).where(OutboxItem.status == "sending", OutboxItem.claimed_at <= cutoff)
            ).all()
            for item in stuck:
                self._settle(item, report)
        return report

    def _settle(self, item: OutboxItem, report: ReconcileReport) -> None:
        sender = self.senders.get(item.channel)
        answer = (
            sender.confirm_delivery(item.idempotency_key) if isinstance(sender, DeliveryConfirmer) else None
        )
        if answer is True:
            item.status, item.sent_at = "sent", item.sent_at or self._clock()
            item.last_error = "confirmed delivered after a worker stop"
            report.confirmed_sent += 1
        elif answer is False:
            item.status, item.next_attempt_at = "pending", self._clock()
            item.attempts = max(0, item.attempts - 1)
            item.last_error = "requeued after a worker stop: the sender confirmed it was not delivered"
            report.requeued += 1
        else:
            item.status = "failed"
            item.last_error = (
                f"delivery unknown: the worker stopped between sending and recording ({item.channel} has no "
                "idempotency on WeCom's side); check the group, then release_for_resend() or leave it closed"
            )
            report.needs_review.append(item.idempotency_key)


def _due_now(now: datetime) -> tuple[Any, ...]:
    """The conditions of a row due at ``now`` (what the due index serves)."""
    return OutboxItem.status == "pending", OutboxItem.next_attempt_at <= now


@functools.cache
def _deferral_statement() -> Any:
    table: Any = OutboxItem.__table__
    return update(table).where(table.c.id == bindparam("row_id")).values(next_attempt_at=bindparam("at"))


@functools.cache
def _ack_statement(names: tuple[str, ...]) -> Any:
    """``UPDATE … WHERE id = :row_id AND status = 'sending'`` setting ``names`` (attempts − :uncount)."""
    table: Any = OutboxItem.__table__
    values: dict[str, Any] = {name: bindparam(name) for name in names if name not in ("row_id", "uncount")}
    values["attempts"] = table.c.attempts - bindparam("uncount")
    return update(table).where(table.c.id == bindparam("row_id"), table.c.status == "sending").values(values)


def _never_reached(error: Exception) -> bool:
    """A transport error that certainly happened before the request reached WeCom."""
    cause = error.__cause__
    return isinstance(error, WeComTransportError) and isinstance(
        cause, httpx.ConnectError | httpx.ConnectTimeout
    )
