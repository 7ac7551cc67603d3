"""The WeCom callback receiver: URL verification, encrypted event POSTs, membership facts, bot events.

``wecom_callback_router(workspace)`` returns a FastAPI ``APIRouter``; the web app mounts it
with ``app.include_router(router, prefix="/wecom/callback")``.

- ``GET`` — URL verification: checks ``msg_signature`` and answers the decrypted ``echostr``.
- ``POST`` — an encrypted event: it is verified, decrypted, parsed, logged under a dedupe key
  (``bot_callback_events``) and applied once; WeCom's retries of the same callback are
  answered ``success`` without acting again. A group text message is handed to the bot
  service's group-commit applier and answered ``success`` only after the transaction holding
  it has committed; other callbacks run in the thread pool. Archive pulls run after the answer.

Events:

- ``change_external_chat`` (create / update add_member, del_member, change_owner, change_name,
  change_notice / dismiss) → ``membership_changes`` facts (join / leave), ``GroupMembership``
  stays, the group row, and ``member_joined`` / ``member_left`` bot events (welcome …);
- ``change_external_contact`` → ``membership_changes`` facts without a group (``contact_add``,
  ``contact_deleted``, ``follow_deleted``); ``del_follow_user`` (the customer deleted the staff
  member) also tags the member ``churn_signal:del_follow_user`` and writes an audit entry;
- ``msgaudit_notify`` → an archive pull through an :class:`ArchiveFetcher`, stored with the
  ``wecom-archive`` importer;
- a text message (``MsgType`` text with ``MsgId``, ``FromUserName``, ``Content`` and ``ChatId``)
  → a bot ``message`` event; the bot's answers go to the outbox.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import shutil
import string
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, cast, runtime_checkable
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import pyarrow as pa
from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from groupops.bot._raw import insert_rows, raw_dialect
from groupops.bot.core import Event, EventKind
from groupops.bot.service import BotService, ServiceResult, serialized_writes
from groupops.errors import ConfigurationError, GroupOpsError, InputFormatError
from groupops.ingest import IngestReport, ingest_files
from groupops.ingest.wecom_groups import membership_event_id
from groupops.store.models import Group, GroupMembership, Member, Staff
from groupops.store.models.base import utc_now
from groupops.store.models.bot import CallbackEventLog
from groupops.store.schemas import FACT_SCHEMAS
from groupops.store.warehouse import LINE_COLUMN
from groupops.store.workspace import Workspace, record_audit
from groupops.wecom.crypto import MAX_CALLBACK_XML_BYTES, WeComCrypto, WeComCryptoError
from groupops.wecom.messages import (
    CallbackEvent,
    ExternalChatChange,
    ExternalContactChange,
    MessageAuditNotify,
    UnknownCallback,
    parse_callback_event,
)

__all__ = [
    "ARCHIVE_SUFFIXES",
    "ArchiveBatch",
    "ArchiveFetcher",
    "CallbackEndpoint",
    "CallbackFastPath",
    "CallbackOutcome",
    "CallbackProcessor",
    "DirectoryArchiveFetcher",
    "SubmittedCallback",
    "crypto_from_settings",
    "is_external_user_id",
    "pull_archive",
    "wecom_callback_router",
]

log = logging.getLogger(__name__)

ARCHIVE_SUFFIXES = (".json", ".jsonl")
CHURN_SIGNAL_TAG = "churn_signal:del_follow_user"
_LOG_TABLE = cast(Table, CallbackEventLog.__table__)
_PROCESSING_LEASE_SECONDS = 60.0
_CONTACT_FACTS = {
    "add_external_contact": "contact_add",
    "add_half_external_contact": "contact_add",
    "del_external_contact": "contact_deleted",
    "del_follow_user": "follow_deleted",
}


def is_external_user_id(user_id: str) -> bool:
    """WeCom external contacts have ids starting ``wm`` (or ``wo`` for WeChat users of other corps)."""
    return user_id.startswith(("wm", "wo"))


# --- archive pulls ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ArchiveBatch:
    """Decrypted archive files ready to import, and the fetcher's cursor after them."""

    paths: tuple[Path, ...]
    cursor: str | None = None


@runtime_checkable
class ArchiveFetcher(Protocol):
    """Where decrypted chat-archive records come from (会话内容存档).

    ``fetch`` returns files of decrypted messages in WeCom's JSON format (one per line);
    ``acknowledge`` is called once they are stored, so the fetcher can advance its cursor.
    A fetcher for the finance SDK calls ``GetChatData(seq, limit)``, decrypts each entry's
    ``encrypt_random_key`` with the corp's RSA private key and the ``encrypt_chat_msg`` with
    ``DecryptData``, writes the messages as JSON lines to a temporary file and keeps the last
    ``seq`` as its cursor (see docs/wecom.md).
    """

    def fetch(self) -> ArchiveBatch:
        """The next batch (empty ``paths`` when there is nothing new)."""
        ...

    def acknowledge(self, batch: ArchiveBatch) -> None:
        """The batch is stored; do not return it again."""
        ...


class DirectoryArchiveFetcher:
    """Picks up decrypted archive files dropped into ``inbox`` and moves them to ``inbox/done``."""

    def __init__(self, inbox: Path, *, done_dir: Path | None = None) -> None:
        self.inbox = Path(inbox)
        self.done_dir = done_dir or self.inbox / "done"

    def fetch(self) -> ArchiveBatch:
        """Regular ``*.json`` / ``*.jsonl`` files inside the inbox (not in ``done``, no links out)."""
        if not self.inbox.is_dir():
            return ArchiveBatch(())
        root = self.inbox.resolve()
        done = self.done_dir.resolve()
        found = []
        for path in sorted(self.inbox.rglob("*")):
            resolved = path.resolve()
            if path.is_symlink() or not path.is_file() or path.name.startswith("."):
                continue
            if path.suffix.lower() not in ARCHIVE_SUFFIXES or not resolved.is_relative_to(root):
                continue
            if resolved.is_relative_to(done):
                continue
            found.append(path)
        return ArchiveBatch(tuple(found))

    def acknowledge(self, batch: ArchiveBatch) -> None:
        """Move the stored files into ``done`` (a name already there gets a numbered suffix)."""
        self.done_dir.mkdir(parents=True, exist_ok=True)
        for path in batch.paths:
            if path.exists():
                shutil.move(str(path), str(_free_name(self.done_dir / path.name)))


def _free_name(path: Path) -> Path:
    candidate, number = path, 1
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}.{number}{path.suffix}")
        number += 1
    return candidate


def pull_archive(workspace: Workspace, fetcher: ArchiveFetcher) -> IngestReport | None:
    """Fetch, store with the ``wecom-archive`` importer, acknowledge; None when nothing was new."""
    batch = fetcher.fetch()
    if not batch.paths:
        return None
    report = ingest_files("wecom-archive", list(batch.paths), workspace)
    fetcher.acknowledge(batch)
    return report


# --- processing ---------------------------------------------------------------------------------
@dataclass
class CallbackOutcome:
    """What one callback did."""

    dedupe_key: str
    event: str
    duplicate: bool = False
    facts_written: int = 0
    bot_results: list[ServiceResult] = field(default_factory=list)
    archive_pull_requested: bool = False


def _dedupe_key(plain_xml: str, event: CallbackEvent) -> str:
    message_id = event.raw.get("MsgId", "")
    if message_id:
        return f"msg:{message_id}"[:128]
    return "xml:" + hashlib.sha256(plain_xml.strip().encode("utf-8")).hexdigest()


def _event_name(event: CallbackEvent) -> str:
    header = event.header
    detail = getattr(event, "update_detail", None) or getattr(event, "change_type", "")
    name = header.event or header.msg_type
    return f"{name}:{detail}"[:64] if detail else name[:64]


def _moment(event: CallbackEvent) -> datetime:
    stamp = event.header.create_time
    return datetime.fromtimestamp(stamp, UTC) if stamp > 0 else utc_now()


class _CallbackJournal:
    """The callback-log row of one message callback, written in the bot event's transaction."""

    def __init__(self, processor: CallbackProcessor, outcome: CallbackOutcome) -> None:
        self.processor, self.outcome = processor, outcome
        self.book = processor._log_book
        self.claimed = False
        self.takeover_id: int | None = None
        self.attempts = 1
        self.received_at: datetime | None = None

    def begin(self, session: Session) -> bool:
        return self.book.begin_all(session, [self])[0]

    def finish(self, session: Session, result: ServiceResult) -> None:
        self.book.finish_all(session, [(self, result)])


class _CallbackLogBook:
    """Claims and finishes the callback-log rows of a whole batch of message callbacks.

    Claiming reads the batch's keys in one query: a key that is ``done`` (or ``processing``
    within its lease, or a second copy in the same batch) is a duplicate; a new key gets its
    row inserted already ``done`` when the batch commits; a ``failed`` or abandoned row is
    taken over. Another process inserting the same key meanwhile makes the insert fail, the
    batch is rolled back and applied again, and then finds the row ``done``.
    """

    def __init__(self, processor: CallbackProcessor) -> None:
        self.processor = processor

    def begin_all(self, session: Session, journals: Sequence[_CallbackJournal]) -> list[bool]:
        now = self.processor._clock()
        keys = [journal.outcome.dedupe_key for journal in journals]
        existing = _log_rows(session, keys)
        seen: set[str] = set()
        for journal, key in zip(journals, keys, strict=True):
            journal.claimed = key not in seen and _claimable(existing.get(key), now)
            row = existing.get(key)
            journal.takeover_id = row.id if journal.claimed and row is not None else None
            journal.attempts = row.attempts + 1 if journal.claimed and row is not None else 1
            journal.received_at = now
            seen.add(key)
        return [journal.claimed for journal in journals]

    def finish_all(
        self, session: Session, finished: Sequence[tuple[_CallbackJournal, ServiceResult]]
    ) -> None:
        now = self.processor._clock()
        inserts, updates = [], []
        for journal, result in finished:
            journal.outcome.bot_results[:] = [result]
            values = {
                "dedupe_key": journal.outcome.dedupe_key,
                "event": journal.outcome.event,
                "status": "done",
                "attempts": journal.attempts,
                "received_at": journal.received_at or now,
                "processed_at": now,
                "detail": _log_detail(journal.outcome),
                "error": None,
            }
            if journal.takeover_id is None:
                inserts.append(values)
            else:
                updates.append(values | {"row_id": journal.takeover_id})
        connection = session.connection()
        insert_rows(connection, _LOG_TABLE, _LOG_INSERT_COLUMNS, inserts)
        if updates:
            connection.execute(_log_takeover_statement(), updates)


_LOG_INSERT_COLUMNS = (
    "dedupe_key",
    "event",
    "status",
    "attempts",
    "received_at",
    "processed_at",
    "detail",
    "error",
)


@dataclass(frozen=True)
class _LogRow:
    id: int
    status: str
    attempts: int
    received_at: datetime


def _log_rows(session: Session, keys: Sequence[str]) -> dict[str, _LogRow]:
    """The callback-log rows of ``keys`` (one query on the DBAPI cursor)."""
    if not keys:
        return {}
    connection = session.connection()
    dialect = raw_dialect(connection)
    markers = ", ".join("?" * len(keys))
    text = f"SELECT dedupe_key, id, status, attempts, received_at FROM {_LOG_TABLE.name} WHERE dedupe_key IN ({markers})"
    rows = dialect.execute(connection, text, keys)
    return {
        key: _LogRow(row_id, status, attempts, _stored_time(received))
        for key, row_id, status, attempts, received in rows
    }


def _stored_time(value: Any) -> datetime:
    """A UTC timestamp as the driver gives it (SQLite: SQLAlchemy's text form)."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _claimable(row: Any, now: datetime) -> bool:
    """A message callback may be applied: no row yet, a failed one, or one abandoned past its lease."""
    if row is None:
        return True
    if row.status == "done":
        return False
    in_progress = (now - row.received_at).total_seconds() < _PROCESSING_LEASE_SECONDS
    return not (row.status == "processing" and in_progress)


@functools.cache
def _log_takeover_statement() -> Any:
    table = _LOG_TABLE
    columns = ("status", "attempts", "received_at", "processed_at", "detail", "error")
    return (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values({name: bindparam(name) for name in columns})
    )


def _log_detail(outcome: CallbackOutcome) -> dict[str, Any]:
    return {
        "facts_written": outcome.facts_written,
        "bot_events": [result.event_id for result in outcome.bot_results],
        "actions_enqueued": sum(result.enqueued for result in outcome.bot_results),
        "archive_pull_requested": outcome.archive_pull_requested,
    }


@dataclass
class SubmittedCallback:
    """A message callback queued for the group-commit applier; ``future`` resolves after its commit."""

    outcome: CallbackOutcome
    future: Future[ServiceResult]
    journal: _CallbackJournal

    def finished(self) -> CallbackOutcome:
        """The outcome, once ``future`` has completed without an error."""
        self.outcome.duplicate = not self.journal.claimed
        return self.outcome


class CallbackProcessor:
    """Applies decrypted callbacks to the store, the warehouse and the bot, once per dedupe key."""

    def __init__(
        self,
        workspace: Workspace,
        *,
        service: BotService | None = None,
        fetcher: ArchiveFetcher | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.workspace = workspace
        self.service = service or BotService(workspace.database, workspace.settings)
        self.fetcher = fetcher
        self._clock = clock
        self._zone = ZoneInfo(workspace.settings.timezone)
        self._pull_lock = threading.Lock()
        self._log_book = _CallbackLogBook(self)

    def process(self, plain_xml: str) -> CallbackOutcome:
        """Apply one decrypted callback (a repeat of a done one changes nothing)."""
        event = parse_callback_event(plain_xml)
        outcome = CallbackOutcome(_dedupe_key(plain_xml, event), _event_name(event))
        bot_event = self._message_event(event)
        if bot_event is not None:
            return self._process_message(bot_event, outcome)
        if not self._begin(outcome.dedupe_key, outcome.event):
            outcome.duplicate = True
            return outcome
        try:
            self._apply(event, outcome)
        except Exception as error:
            self._finish(outcome, error=f"{type(error).__name__}: {error}")
            raise
        self._finish(outcome)
        return outcome

    def submit(self, plain_xml: str) -> SubmittedCallback | None:
        """Queue a group text message for the service's group-commit applier (None for other callbacks).

        Wait for ``future``; on an error call :meth:`record_failure` (WeCom will retry).
        """
        prepared = self.prepare_message(plain_xml)
        if prepared is None:
            return None
        bot_event, journal = prepared
        return SubmittedCallback(journal.outcome, self.service.submit(bot_event, journal), journal)

    async def apply_message(self, plain_xml: str) -> CallbackOutcome | None:
        """Apply a group text message through the applier, on the event loop (None for other callbacks).

        Returns once the transaction holding it has committed; a failure is recorded in the
        callback log (in the thread pool) and raised.
        """
        prepared = self.prepare_message(plain_xml)
        if prepared is None:
            return None
        bot_event, journal = prepared
        try:
            await self.service.apply(bot_event, journal)
        except Exception as error:
            await run_in_threadpool(self.record_failure, journal.outcome, error)
            raise
        journal.outcome.duplicate = not journal.claimed
        return journal.outcome

    def prepare_message(self, plain_xml: str) -> tuple[Event, _CallbackJournal] | None:
        """A group text message's bot event and callback-log journal, for :meth:`BotService.apply_now`
        (None for other callbacks; unreadable XML raises :class:`InputFormatError`)."""
        event = parse_callback_event(plain_xml)
        bot_event = self._message_event(event)
        if bot_event is None:
            return None
        outcome = CallbackOutcome(_dedupe_key(plain_xml, event), _event_name(event))
        return bot_event, _CallbackJournal(self, outcome)

    def record_failure(self, outcome: CallbackOutcome, error: BaseException) -> None:
        """After a failed message callback: keep a ``failed`` log row saying why (best effort)."""
        self._record_failure(outcome, f"{type(error).__name__}: {error}")

    def _process_message(self, bot_event: Event, outcome: CallbackOutcome) -> CallbackOutcome:
        """The hot path: callback log, bot state, outbox rows and projections in one transaction."""
        journal = _CallbackJournal(self, outcome)
        try:
            self.service.handle(bot_event, journal)
        except Exception as error:
            self._record_failure(outcome, f"{type(error).__name__}: {error}")
            raise
        outcome.duplicate = not journal.claimed
        return outcome

    def pull_archive(self) -> IngestReport | None:
        """Run one archive pull (pulls never overlap); None without a fetcher or new files."""
        if self.fetcher is None:
            log.warning("msgaudit_notify received but no archive fetcher is configured")
            return None
        with self._pull_lock:
            return pull_archive(self.workspace, self.fetcher)

    # -- the callback log -----------------------------------------------------------------------
    def _begin(self, key: str, event_name: str) -> bool:
        database = self.workspace.database
        with serialized_writes(database), database.session() as session:
            return self._claim_log(session, key, event_name)

    def _claim_log(self, session: Session, key: str, event_name: str) -> bool:
        """Insert the log row, or take over a failed / abandoned one; False when it is done or busy."""
        now = self._clock()
        values = {"dedupe_key": key, "event": event_name, "status": "processing", "attempts": 1}
        values |= {"received_at": now, "detail": {}}
        dialect = session.get_bind().dialect.name
        insert = (postgresql if dialect == "postgresql" else sqlite).insert(_LOG_TABLE)
        statement = insert.values(**values).on_conflict_do_nothing().returning(_LOG_TABLE.c.id)
        if session.execute(statement).first() is not None:
            return True
        row = session.execute(
            select(_LOG_TABLE.c.id, _LOG_TABLE.c.status, _LOG_TABLE.c.received_at).where(
                _LOG_TABLE.c.dedupe_key == key
            )
        ).first()
        if row is None or row.status == "done":
            return False
        in_progress = (now - row.received_at).total_seconds() < _PROCESSING_LEASE_SECONDS
        if row.status == "processing" and in_progress:
            return False
        session.execute(
            update(_LOG_TABLE)
            .where(_LOG_TABLE.c.id == row.id)
            .values(status="processing", attempts=_LOG_TABLE.c.attempts + 1, received_at=now, error=None)
        )
        return True

    def _finish(self, outcome: CallbackOutcome, *, error: str | None = None) -> None:
        database = self.workspace.database
        with serialized_writes(database), database.session() as session:
            self._finish_log(session, outcome, error=error)

    def _finish_log(self, session: Session, outcome: CallbackOutcome, *, error: str | None = None) -> None:
        detail = _log_detail(outcome)
        session.execute(
            update(_LOG_TABLE)
            .where(_LOG_TABLE.c.dedupe_key == outcome.dedupe_key)
            .values(
                status="failed" if error else "done", error=error, processed_at=self._clock(), detail=detail
            )
        )

    def _record_failure(self, outcome: CallbackOutcome, error: str) -> None:
        """After a rolled-back hot-path transaction: keep a ``failed`` row saying why (best effort)."""
        try:
            database = self.workspace.database
            with serialized_writes(database), database.session() as session:
                if self._claim_log(session, outcome.dedupe_key, outcome.event):
                    self._finish_log(session, outcome, error=error)
        except Exception:  # the original error is what the caller reports
            log.exception("could not record the failed callback %s", outcome.dedupe_key)

    # -- events ---------------------------------------------------------------------------------
    def _apply(self, event: CallbackEvent, outcome: CallbackOutcome) -> None:
        if isinstance(event, ExternalChatChange):
            self._external_chat(event, outcome)
        elif isinstance(event, ExternalContactChange):
            self._external_contact(event, outcome)
        elif isinstance(event, MessageAuditNotify):
            outcome.archive_pull_requested = True

    def _external_chat(self, event: ExternalChatChange, outcome: CallbackOutcome) -> None:
        if not event.chat_id:
            raise InputFormatError("change_external_chat without ChatId")
        moment = _moment(event)
        change = {"add_member": "join", "del_member": "leave"}.get(event.update_detail or "")
        members = event.member_change_list if change else ()
        facts = [
            self._fact(event.chat_id, member, change or "", moment, event.join_scene) for member in members
        ]
        outcome.facts_written += self._write_facts(facts)
        with serialized_writes(self.workspace.database), self.workspace.database.session() as session:
            group = _ensure_group(session, event.chat_id, moment)
            names = self._apply_chat_change(session, group, event, members, moment)
        for member_id in members:
            if change and is_external_user_id(member_id):
                outcome.bot_results.append(self._membership_event(event, outcome, member_id, change, names))

    def _apply_chat_change(
        self,
        session: Session,
        group: Group,
        event: ExternalChatChange,
        members: Sequence[str],
        moment: datetime,
    ) -> dict[str, str]:
        detail = event.update_detail or ""
        if event.change_type == "dismiss":
            group.dismissed_at = moment
            _close_open_stays(session, group.id, None, moment)
        elif detail == "add_member":
            for member_id in members:
                _open_stay(session, group.id, member_id, moment, event.join_scene)
        elif detail == "del_member":
            for member_id in members:
                _close_open_stays(session, group.id, member_id, moment)
        target = f"{event.change_type}:{detail}" if detail else event.change_type
        record_audit(session, "wecom", f"wecom.group.{target}", "group", group.id, members=list(members))
        known = session.scalars(select(Member).where(Member.id.in_(list(members)))).all()
        return {member.id: member.name for member in known}

    def _membership_event(
        self,
        event: ExternalChatChange,
        outcome: CallbackOutcome,
        member_id: str,
        change: str,
        names: dict[str, str],
    ) -> ServiceResult:
        kind: EventKind = "member_joined" if change == "join" else "member_left"
        bot_event = Event(
            event_id=f"{change}:{outcome.dedupe_key}:{member_id}"[:160],
            kind=kind,
            group_id=event.chat_id,
            occurred_at=_moment(event),
            member_id=member_id,
            member_name=names.get(member_id, ""),
        )
        return self.service.handle(bot_event)

    def _external_contact(self, event: ExternalContactChange, outcome: CallbackOutcome) -> None:
        moment, member_id = _moment(event), event.external_user_id
        fact_change = _CONTACT_FACTS.get(event.change_type)
        if fact_change and member_id:
            fact = self._fact(None, member_id, fact_change, moment, None, invitor=event.user_id or None)
            outcome.facts_written += self._write_facts([fact])
        if not member_id:
            return
        with serialized_writes(self.workspace.database), self.workspace.database.session() as session:
            member = _ensure_member(session, member_id, moment)
            if event.change_type == "del_follow_user":
                member.tags = sorted({*(member.tags or []), CHURN_SIGNAL_TAG})
            record_audit(
                session,
                "wecom",
                f"wecom.contact.{event.change_type}"[:64],
                "member",
                member_id,
                staff=event.user_id,
                churn_signal=event.change_type == "del_follow_user",
            )

    @staticmethod
    def _message_event(event: CallbackEvent) -> Event | None:
        """The bot event of a group text message (None for anything else or an incomplete one)."""
        if not isinstance(event, UnknownCallback) or event.header.msg_type != "text":
            return None
        raw = event.raw
        group_id, sender = raw.get("ChatId", ""), event.header.from_user_name
        if not group_id or not sender or not raw.get("MsgId"):
            return None
        return Event(
            event_id=f"msg:{raw['MsgId']}"[:160],
            kind="message",
            group_id=group_id,
            occurred_at=_moment(event),
            member_id=sender,
            member_name=raw.get("SenderName", ""),
            text=raw.get("Content", "")[:4000],
            sender_is_staff=not is_external_user_id(sender),
        )

    # -- facts ----------------------------------------------------------------------------------
    def _fact(
        self,
        group_id: str | None,
        member_id: str,
        change: str,
        moment: datetime,
        join_scene: int | None,
        *,
        invitor: str | None = None,
    ) -> dict[str, Any]:
        return {
            "event_id": membership_event_id(group_id or "", member_id, change, moment),
            "group_id": group_id,
            "member_id": member_id,
            "change": change,
            "occurred_at": moment,
            "join_scene": join_scene,
            "invitor": invitor,
            "source": "callback",
            "month": moment.astimezone(self._zone).strftime("%Y-%m"),
        }

    def _write_facts(self, facts: list[dict[str, Any]]) -> int:
        if not facts:
            return 0
        schema = FACT_SCHEMAS["membership_changes"].append(pa.field(LINE_COLUMN, pa.int64()))
        rows = [{**fact, LINE_COLUMN: position} for position, fact in enumerate(facts)]
        warehouse = self.workspace.warehouse
        with warehouse.staged_import("membership_changes") as staged:
            staged.add(pa.Table.from_pylist(rows, schema=schema))
            return warehouse.commit(staged).written


# --- store helpers --------------------------------------------------------------------------------
def _ensure_group(session: Session, group_id: str, moment: datetime) -> Group:
    group = session.get(Group, group_id[:128])
    if group is None:
        group = Group(
            id=group_id[:128], name="", kind="core_user", admins=[], source="callback", created_at=moment
        )
        session.add(group)
        session.flush()
    return group


def _ensure_member(session: Session, member_id: str, moment: datetime) -> Member:
    member = session.get(Member, member_id[:128])
    if member is None:
        member = Member(id=member_id[:128], name="", tags=[], source="callback", first_seen_at=moment)
        session.add(member)
    return member


def _open_stay(session: Session, group_id: str, member_id: str, moment: datetime, scene: int | None) -> None:
    open_stay = session.scalar(
        select(GroupMembership.id).where(
            GroupMembership.group_id == group_id,
            GroupMembership.member_id == member_id,
            GroupMembership.left_at.is_(None),
        )
    )
    if open_stay is not None:
        return
    external = is_external_user_id(member_id)
    if external:
        _ensure_member(session, member_id, moment)
    elif session.get(Staff, member_id[:128]) is None:
        session.add(Staff(id=member_id[:128], name="", role="operator", is_robot=False))
    session.add(
        GroupMembership(
            group_id=group_id,
            member_id=member_id[:128],
            member_type="external" if external else "staff",
            joined_at=moment,
            join_scene=scene,
        )
    )


def _close_open_stays(session: Session, group_id: str, member_id: str | None, moment: datetime) -> None:
    query = select(GroupMembership).where(
        GroupMembership.group_id == group_id, GroupMembership.left_at.is_(None)
    )
    if member_id is not None:
        query = query.where(GroupMembership.member_id == member_id)
    for stay in session.scalars(query):
        stay.left_at = moment


# --- HTTP ----------------------------------------------------------------------------------------
def crypto_from_settings(workspace: Workspace) -> WeComCrypto:
    """The callback crypto from ``wecom_token``, ``wecom_aes_key`` and ``wecom_corp_id``."""
    settings = workspace.settings
    if not settings.wecom_token or not settings.wecom_aes_key or not settings.wecom_corp_id:
        raise ConfigurationError(
            "the WeCom callback needs GROUPOPS_WECOM_TOKEN, GROUPOPS_WECOM_AES_KEY and GROUPOPS_WECOM_CORP_ID"
        )
    return WeComCrypto(settings.wecom_token, settings.wecom_aes_key, settings.wecom_corp_id)


def _plain(text: str, status_code: int = 200) -> PlainTextResponse:
    return PlainTextResponse(text, status_code=status_code)


_SUCCESS = PlainTextResponse("success")  # built once: a response holds no per-request state
_ENCRYPT_OPEN, _ENCRYPT_CLOSE = "<Encrypt><![CDATA[", "]]></Encrypt>"
_BASE64_CHARACTERS = frozenset(string.ascii_letters + string.digits + "+/=")


def _envelope_ciphertext(body: str) -> str:
    """The ``Encrypt`` value of a plain WeCom envelope, found without an XML parse; else ``body``.

    Taken only from ``<xml>…</xml>`` with one ``<Encrypt`` and no markup declaration other than
    CDATA (no comment, DOCTYPE or entity), holding ``<Encrypt><![CDATA[base64]]></Encrypt>``;
    anything else is returned whole for the crypto's hardened XML parse. The signature check
    then covers exactly the value taken, so a forged or odd body is refused as before.
    """
    text = body.strip()
    if not (text.startswith("<xml>") and text.endswith("</xml>")) or text.count("<Encrypt") != 1:
        return body
    if text.count("<!") != text.count("<![CDATA["):
        return body
    start = text.find(_ENCRYPT_OPEN)
    end = text.find(_ENCRYPT_CLOSE, start)
    if start < 0 or end < 0:
        return body
    value = text[start + len(_ENCRYPT_OPEN) : end]
    if not value or not _BASE64_CHARACTERS.issuperset(value):
        return body
    return value


class CallbackEndpoint:
    """The callback's answers, shared by the FastAPI routes and :class:`CallbackFastPath`."""

    def __init__(
        self,
        workspace: Workspace,
        *,
        crypto: WeComCrypto | None = None,
        processor: CallbackProcessor | None = None,
        fetcher: ArchiveFetcher | None = None,
        forward: Callable[[str], Awaitable[tuple[int, str]]] | None = None,
    ) -> None:
        self.workspace, self.fetcher = workspace, fetcher
        self._crypto, self._processor = crypto, processor
        self._forward = forward  # hands the decrypted XML to the writer process (bot/writer.py)
        self._lock = threading.Lock()

    def crypto(self) -> WeComCrypto:
        with self._lock:
            if self._crypto is None:
                self._crypto = crypto_from_settings(self.workspace)
            return self._crypto

    def processor(self) -> CallbackProcessor:
        with self._lock:
            if self._processor is None:
                self._processor = CallbackProcessor(self.workspace, fetcher=self.fetcher)
            return self._processor

    async def _processor_now(self) -> CallbackProcessor:
        if self._processor is not None:
            return self._processor
        return await run_in_threadpool(self.processor)  # the first build loads the skills

    async def respond(self, body: bytes, query: Mapping[str, str]) -> Response:
        """Verify, decrypt and parse here; a group text message goes to the group-commit applier."""
        params = _callback_params(query)
        if params is None:
            return _plain("msg_signature, timestamp and nonce are required query parameters", 422)
        if len(body) > MAX_CALLBACK_XML_BYTES:
            return _plain("-40002 ParseXml_Error: body too large", 413)
        try:
            ciphertext = _envelope_ciphertext(body.decode("utf-8", "replace"))
            plain = self.crypto().decrypt_message(ciphertext, *params)
            if self._forward is not None:
                status, text = await self._forward(plain)
                return _plain(text, status)
            processor = await self._processor_now()
            outcome = await processor.apply_message(plain)
        except (WeComCryptoError, InputFormatError, ConfigurationError) as error:
            return _refusal(error)
        except Exception as error:  # answer 500 so that WeCom retries; the log row says why
            log.exception("WeCom callback failed")
            return _plain(f"callback failed: {error}", 500)
        if outcome is None:
            return await run_in_threadpool(_handle_other, processor, plain)
        return _SUCCESS


class CallbackFastPath:
    """ASGI middleware answering ``POST path`` itself, before routing and dependency solving.

    Add it with ``app.add_middleware(CallbackFastPath, endpoint=…, path="/wecom/callback")``;
    every other request goes on to the app (the ``GET`` verification included).
    """

    def __init__(self, app: ASGIApp, *, endpoint: CallbackEndpoint, path: str = "/wecom/callback") -> None:
        self.app, self.endpoint, self.path = app, endpoint, path.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].rstrip("/") != self.path:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive, MAX_CALLBACK_XML_BYTES + 1)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        response = await self.endpoint.respond(body, query)
        await response(scope, receive, send)


async def _read_body(receive: Receive, limit: int) -> bytes:
    """The request body, cut after ``limit`` bytes (the rest is read and dropped)."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        if size < limit:
            chunks.append(chunk[: limit - size])
        size += len(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def wecom_callback_router(
    workspace: Workspace,
    *,
    crypto: WeComCrypto | None = None,
    processor: CallbackProcessor | None = None,
    fetcher: ArchiveFetcher | None = None,
    endpoint: CallbackEndpoint | None = None,
) -> APIRouter:
    """The callback routes (``GET`` verification, ``POST`` events); mount with a prefix."""
    router = APIRouter(tags=["wecom"])
    answers = endpoint or CallbackEndpoint(workspace, crypto=crypto, processor=processor, fetcher=fetcher)

    @router.get("", response_class=PlainTextResponse, summary="WeCom callback URL verification")
    def verify_url(
        msg_signature: str = Query(..., max_length=128),
        timestamp: str = Query(..., max_length=32),
        nonce: str = Query(..., max_length=128),
        echostr: str = Query(..., max_length=4096),
    ) -> PlainTextResponse:
        try:
            return _plain(answers.crypto().verify_url(msg_signature, timestamp, nonce, echostr))
        except WeComCryptoError as error:
            return _plain(f"{error.code} {error.code_name}", 403 if error.code == -40001 else 400)
        except ConfigurationError as error:
            return _plain(str(error), 503)

    @router.post("", response_class=PlainTextResponse, summary="WeCom encrypted callback events")
    async def receive_event(request: Request) -> Response:
        """Verify, decrypt and parse; a group text message goes to the group-commit applier."""
        return await answers.respond(await request.body(), request.query_params)

    return router


def _callback_params(query: Mapping[str, str]) -> tuple[str, str, str] | None:
    """msg_signature, timestamp, nonce: each present, non-empty and within its length limit."""
    values = []
    for name, limit in (("msg_signature", 128), ("timestamp", 32), ("nonce", 128)):
        value = query.get(name)
        if not value or len(value) > limit:
            return None
        values.append(value)
    return values[0], values[1], values[2]


def _refusal(error: Exception) -> PlainTextResponse:
    status, text = refusal(error)
    return _plain(text, status)


def refusal(error: Exception) -> tuple[int, str]:
    """The answer to a callback refused for ``error`` (bad crypto, unreadable XML, missing settings)."""
    if isinstance(error, WeComCryptoError):
        return 403 if error.code == -40001 else 400, f"{error.code} {error.code_name}"
    if isinstance(error, InputFormatError):
        return 400, f"unreadable callback: {error}"
    return 503, str(error)


def _handle_other(processor: CallbackProcessor, plain: str) -> PlainTextResponse:
    """Membership, contact and archive callbacks (their own short transactions, warehouse writes)."""
    status, text, pull = answer_other(processor, plain)
    if pull:
        return PlainTextResponse(text, background=BackgroundTask(pull_archive_quietly, processor))
    return _plain(text, status)


def answer_other(processor: CallbackProcessor, plain: str) -> tuple[int, str, bool]:
    """Apply a callback that is not a group text message: (HTTP status, body, archive pull wanted)."""
    try:
        outcome = processor.process(plain)
    except (InputFormatError, ConfigurationError) as error:
        return *refusal(error), False
    except Exception as error:  # answer 500 so that WeCom retries; the log row says why
        log.exception("WeCom callback failed")
        return 500, f"callback failed: {error}", False
    return 200, "success", outcome.archive_pull_requested and not outcome.duplicate


def pull_archive_quietly(processor: CallbackProcessor) -> None:
    """The archive pull a ``msgaudit_notify`` asked for, after the answer (errors are logged)."""
    try:
        report = processor.pull_archive()
    except GroupOpsError:
        log.exception("archive pull after msgaudit_notify failed")
        return
    if report is not None:
        log.info("archive pull stored %d new messages from %d files", report.ingested, len(report.files))
