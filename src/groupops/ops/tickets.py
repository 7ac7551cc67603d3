"""Service tickets from the archive: who asked what, who answered when, and the SLA clocks.

Rules (all windows are ``TicketRules`` fields, defaults from settings):

* A customer text message labelled ``question`` or ``complaint`` (and not spam) asks something.
  Asks of one member in one group less than ``thread_minutes`` apart form one ticket; the
  ticket is identified by its first message's ``msgid``.
* Kind: ``complaint`` if any ask is a complaint; ``inquiry`` if the first ask is about the
  product (size/fit, material/care, price); otherwise ``question``. SLA for the first response:
  question 15 min, inquiry 3 h, complaint 24 h; complaints are also due resolved in 3 days.
* First response: the first staff message in the group after the ticket opened that quotes or
  @-mentions the member; or, when unambiguous, the next staff message in the group, if it comes
  within ``unambiguous_reply_minutes`` and before anyone else opens a ticket in that group.
* Resolution: questions and inquiries are resolved by the first response; complaints by the
  member's next positive message in the group after the response, or by a person marking the
  ticket resolved in the CS queue (that status is never overwritten by a re-run).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import delete, insert, select, update

from groupops.config import Settings
from groupops.store.models import Ticket
from groupops.store.rosters import member_display_names
from groupops.store.warehouse import Warehouse, new_duckdb_connection, sql_string
from groupops.store.workspace import Workspace

__all__ = [
    "PRODUCT_INTENTS",
    "SlaSummary",
    "TicketRules",
    "build_tickets",
    "member_names_table",
    "refresh_tickets",
    "sla_summary",
]

PRODUCT_INTENTS = ("size_fit", "material_care", "price_discount")


@dataclass(frozen=True)
class TicketRules:
    """Windows and service levels of ticket building, in minutes."""

    thread_minutes: int = 30
    unambiguous_reply_minutes: int = 30
    question_minutes: int = 15
    inquiry_minutes: int = 180
    complaint_response_minutes: int = 1440
    complaint_resolution_minutes: int = 4320
    queue_days: int = 14  # tickets opened this recently are kept in the CS queue (operational store)

    @classmethod
    def from_settings(cls, settings: Settings) -> TicketRules:
        return cls(
            question_minutes=settings.sla_question_minutes,
            inquiry_minutes=settings.sla_inquiry_minutes,
            complaint_response_minutes=settings.sla_complaint_response_minutes,
            complaint_resolution_minutes=settings.sla_complaint_resolution_minutes,
        )


def _tickets_sql(rules: TicketRules) -> str:
    product = ", ".join(f"'{intent}'" for intent in PRODUCT_INTENTS)
    return f"""
WITH asks AS (
  SELECT l.msgid, l.group_id, l.sender_id AS member_id, l.sent_at, l.complaint, l.intents, m.text
  FROM message_labels l JOIN messages m USING (msgid)
  WHERE (l.question OR l.complaint) AND NOT l.spam AND l.group_id IS NOT NULL AND NOT m.revoked
), threaded AS (
  SELECT *, CASE WHEN sent_at - lag(sent_at) OVER w <= INTERVAL {rules.thread_minutes} MINUTE THEN 0 ELSE 1 END AS new_thread
  FROM asks WINDOW w AS (PARTITION BY group_id, member_id ORDER BY sent_at, msgid)
), numbered AS (
  SELECT *, sum(new_thread) OVER (PARTITION BY group_id, member_id ORDER BY sent_at, msgid
                                  ROWS UNBOUNDED PRECEDING) AS thread_no
  FROM threaded
), tickets AS (
  SELECT group_id, member_id,
         arg_min(msgid, sent_at) AS ticket_id, min(sent_at) AS opened_at, bool_or(complaint) AS is_complaint,
         count(*) AS messages, arg_min(text, sent_at) AS text, arg_min(intents, sent_at) AS intents
  FROM numbered GROUP BY group_id, member_id, thread_no
), kinds AS (
  SELECT *,
    CASE WHEN is_complaint THEN 'complaint'
         WHEN len(list_intersect(intents, [{product}])) > 0 THEN 'inquiry'
         ELSE 'question' END AS kind,
    coalesce(intents[1], '') AS topic,
    lead(opened_at) OVER (PARTITION BY group_id ORDER BY opened_at, ticket_id) AS next_ticket_at
  FROM tickets
), staff AS (
  SELECT group_id, sender_id, sent_at, mention_names, quote_name FROM messages
  WHERE sender_is_staff AND action = 'send' AND group_id IS NOT NULL AND NOT revoked
), addressed AS (
  SELECT a.group_id, n.member_id, a.sent_at, a.sender_id
  FROM (SELECT group_id, sender_id, sent_at, unnest(list_append(mention_names, quote_name)) AS name FROM staff) a
  JOIN member_names n ON n.group_id = a.group_id AND n.name = a.name
), replied AS (
  SELECT k.*, a.sent_at AS addressed_at, a.sender_id AS addressed_by
  FROM kinds k ASOF LEFT JOIN addressed a
    ON k.group_id = a.group_id AND k.member_id = a.member_id AND a.sent_at > k.opened_at
), nexted AS (
  SELECT r.*, s.sent_at AS next_staff_at, s.sender_id AS next_staff_by
  FROM replied r ASOF LEFT JOIN staff s ON r.group_id = s.group_id AND s.sent_at > r.opened_at
), responded AS (
  SELECT *,
    CASE WHEN next_staff_at <= opened_at + INTERVAL {rules.unambiguous_reply_minutes} MINUTE
              AND (next_ticket_at IS NULL OR next_staff_at < next_ticket_at)
         THEN next_staff_at END AS unambiguous_at
  FROM nexted
), first_response AS (
  SELECT *,
    CASE WHEN addressed_at IS NULL THEN unambiguous_at
         WHEN unambiguous_at IS NULL THEN addressed_at
         ELSE least(addressed_at, unambiguous_at) END AS first_response_at,
    CASE WHEN addressed_at IS NULL OR (unambiguous_at IS NOT NULL AND unambiguous_at < addressed_at)
         THEN CASE WHEN unambiguous_at IS NOT NULL THEN next_staff_by END
         ELSE addressed_by END AS first_responder
  FROM responded
), positives AS (
  SELECT group_id, sender_id AS member_id, sent_at FROM message_labels WHERE sentiment = 'positive'
), resolved AS (
  SELECT f.*, p.sent_at AS positive_at
  FROM first_response f ASOF LEFT JOIN positives p
    ON f.group_id = p.group_id AND f.member_id = p.member_id AND p.sent_at > f.first_response_at
)
SELECT ticket_id AS id, group_id, member_id, kind, topic, text, messages, opened_at,
  opened_at + CASE kind WHEN 'question' THEN INTERVAL {rules.question_minutes} MINUTE
                        WHEN 'inquiry' THEN INTERVAL {rules.inquiry_minutes} MINUTE
                        ELSE INTERVAL {rules.complaint_response_minutes} MINUTE END AS response_due_at,
  CASE WHEN kind = 'complaint' THEN opened_at + INTERVAL {rules.complaint_resolution_minutes} MINUTE END
    AS resolution_due_at,
  first_response_at, first_responder,
  CASE WHEN kind = 'complaint' THEN positive_at ELSE first_response_at END AS resolved_at
FROM resolved
ORDER BY opened_at, id
"""


def member_names_table(workspace: Workspace) -> pa.Table:
    """The rosters' names as an Arrow table (group_id, member_id, name) for address matching."""
    rows = member_display_names(workspace)
    return pa.table(
        {"group_id": pa.array([r[0] for r in rows], pa.string()), "member_id": pa.array([r[1] for r in rows], pa.string()),
         "name": pa.array([r[2] for r in rows], pa.string())}
    )  # fmt: skip


def build_tickets(warehouse: Warehouse, member_names: pa.Table, rules: TicketRules) -> pa.Table:
    """All tickets derivable from the labelled archive (a pure read of the warehouse)."""
    with warehouse.connect(memory_limit="2GB") as connection:
        connection.register("member_names", member_names)
        return connection.sql(_tickets_sql(rules)).to_arrow_table()


_WRITE_BATCH = 20_000
TICKETS_MART = "tickets.parquet"


def _with_status(table: pa.Table, as_of: datetime) -> pa.Table:
    """Add ``status`` as of ``as_of``: resolved, answered or open."""
    moment = pa.scalar(as_of, pa.timestamp("us", tz="UTC"))
    resolved = pc.fill_null(pc.less_equal(table["resolved_at"], moment), False)
    answered = pc.fill_null(pc.less_equal(table["first_response_at"], moment), False)
    status = pc.if_else(resolved, "resolved", pc.if_else(answered, "answered", "open"))
    return table.append_column("status", status)


def _write_mart(workspace: Workspace, table: pa.Table) -> Path:
    """Every ticket of the archive as Parquet (history for SLA figures), replaced atomically."""
    directory = workspace.settings.marts_dir
    directory.mkdir(parents=True, exist_ok=True)
    temporary = directory / f".{TICKETS_MART}.{uuid.uuid4().hex}.tmp"
    pq.write_table(table, temporary, compression="zstd")
    os.replace(temporary, directory / TICKETS_MART)
    return directory / TICKETS_MART


def _store_queue(workspace: Workspace, table: pa.Table, cutoff: datetime) -> None:
    """Keep the CS queue in the operational store: recent tickets, plus any a person touched.

    Untouched tickets are replaced wholesale with bulk statements. Tickets a person assigned
    or set a status on keep those choices (a status set by hand also keeps ``resolved_at``);
    only their derived fields are updated.
    """
    touched_query = select(Ticket.id, Ticket.status_set_by).where(
        Ticket.status_set_by.is_not(None) | Ticket.assignee.is_not(None)
    )
    with workspace.database.session() as session:
        touched = {ticket_id: set_by for ticket_id, set_by in session.execute(touched_query)}
        recent = pc.greater_equal(table["opened_at"], pa.scalar(cutoff, pa.timestamp("us", tz="UTC")))
        keep = pc.or_(recent, pc.is_in(table["id"], pa.array(list(touched), pa.string())))
        rows = table.filter(keep).to_pylist()
        session.execute(delete(Ticket).where(Ticket.id.not_in(list(touched))))
        fresh = [row for row in rows if row["id"] not in touched]
        for start in range(0, len(fresh), _WRITE_BATCH):
            session.execute(insert(Ticket), fresh[start : start + _WRITE_BATCH])
        for row in rows:
            if row["id"] not in touched:
                continue
            kept = ("status", "resolved_at") if touched[row["id"]] is not None else ()
            values = {key: value for key, value in row.items() if key != "id" and key not in kept}
            session.execute(update(Ticket).where(Ticket.id == row["id"]).values(values))


def refresh_tickets(
    workspace: Workspace, rules: TicketRules | None = None, as_of: datetime | None = None
) -> int:
    """Label new messages and rebuild every ticket; returns how many tickets the archive holds.

    All tickets go to ``<data>/marts/tickets.parquet`` (the history SLA figures are computed
    from); the last ``queue_days`` of them, and any a person touched, are the CS queue in the
    operational store, where statuses and assignments set by people are kept.
    """
    from groupops.ops.labels import label_new_messages

    rules = rules or TicketRules.from_settings(workspace.settings)
    as_of = as_of or datetime.now(UTC)
    label_new_messages(workspace.warehouse)
    table = _with_status(build_tickets(workspace.warehouse, member_names_table(workspace), rules), as_of)
    _write_mart(workspace, table)
    _store_queue(workspace, table, as_of - timedelta(days=rules.queue_days))
    return table.num_rows


@dataclass(frozen=True)
class SlaSummary:
    """SLA compliance: tickets answered within their service level, overall and by slice."""

    as_of: datetime
    overall: dict[str, Any]
    by_kind: list[dict[str, Any]]
    by_group: list[dict[str, Any]]
    by_staff: list[dict[str, Any]]
    by_day: list[dict[str, Any]]
    unanswered: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "overall": self.overall,
            "by_kind": self.by_kind,
            "by_group": self.by_group,
            "by_staff": self.by_staff,
            "by_day": self.by_day,
            "unanswered": self.unanswered,
        }


_SLA_SELECT = """
  count(*) FILTER (WHERE decided) AS tickets,
  count(*) FILTER (WHERE met) AS within_sla,
  CASE WHEN count(*) FILTER (WHERE decided) > 0
       THEN count(*) FILTER (WHERE met) / count(*) FILTER (WHERE decided) END AS compliance,
  quantile_cont(epoch(first_response_at - opened_at) / 60.0, 0.5) AS median_response_minutes
"""


def _sla_rows(connection: duckdb.DuckDBPyConnection, dimension: str | None) -> list[dict[str, Any]]:
    group_by = f"GROUP BY {dimension} ORDER BY {dimension}" if dimension else ""
    select_dimension = f"{dimension}, " if dimension else ""
    relation = connection.sql(f"SELECT {select_dimension}{_SLA_SELECT} FROM decided_tickets {group_by}")
    columns = relation.columns
    return [dict(zip(columns, row, strict=True)) for row in relation.fetchall()]


def _ticket_history(workspace: Workspace) -> pa.Table:
    """Every ticket: the mart written by ``refresh_tickets``, else the tickets in the store."""
    path = workspace.settings.marts_dir / TICKETS_MART
    if path.exists():
        return pq.read_table(path, columns=_TICKET_ARROW_SCHEMA.names)
    with workspace.database.session() as session:
        rows = [
            {name: getattr(ticket, name) for name in _TICKET_ARROW_SCHEMA.names}
            for ticket in session.scalars(select(Ticket))
        ]
    return pa.Table.from_pylist(rows, schema=_TICKET_ARROW_SCHEMA)


def sla_summary(
    workspace: Workspace,
    as_of: datetime | None = None,
    timezone: str | None = None,
    unanswered_limit: int = 500,
) -> SlaSummary:
    """SLA compliance over every ticket of the archive (unanswered and not yet due: undecided).

    ``unanswered`` lists the most recent unanswered tickets (at most ``unanswered_limit``);
    ``overall["unanswered"]`` counts them all.
    """
    as_of = as_of or datetime.now(UTC)
    tz = timezone or workspace.settings.timezone
    connection = new_duckdb_connection()
    try:
        connection.execute(f"SET TimeZone = {sql_string(tz)}")
        connection.register("stored_tickets", _ticket_history(workspace))
        connection.execute(
            "CREATE TEMP VIEW decided_tickets AS SELECT *, "
            "strftime(opened_at, '%Y-%m-%d') AS day, "
            "(first_response_at IS NOT NULL AND first_response_at <= response_due_at) AS met, "
            f"(first_response_at IS NOT NULL OR response_due_at <= TIMESTAMPTZ '{as_of.isoformat()}') AS decided "
            "FROM stored_tickets"
        )
        overall = _sla_rows(connection, None)[0]
        overall["unanswered"] = connection.execute(
            "SELECT count(*) FROM decided_tickets WHERE first_response_at IS NULL"
        ).fetchall()[0][0]
        unanswered_rows = (
            connection.sql(
                "SELECT id, group_id, member_id, kind, text, opened_at, response_due_at FROM decided_tickets "
                f"WHERE first_response_at IS NULL ORDER BY opened_at DESC, id LIMIT {int(unanswered_limit)}"
            )
            .to_arrow_table()
            .to_pylist()
        )
        return SlaSummary(
            as_of=as_of, overall=overall, by_kind=_sla_rows(connection, "kind"),
            by_group=_sla_rows(connection, "group_id"), by_staff=_sla_rows(connection, "first_responder"),
            by_day=_sla_rows(connection, "day"), unanswered=unanswered_rows,
        )  # fmt: skip
    finally:
        connection.close()


_UTC_TIME = pa.timestamp("us", tz="UTC")
_TICKET_ARROW_SCHEMA = pa.schema(
    [
        ("id", pa.string()), ("group_id", pa.string()), ("member_id", pa.string()), ("kind", pa.string()),
        ("text", pa.string()), ("opened_at", _UTC_TIME), ("response_due_at", _UTC_TIME),
        ("first_response_at", _UTC_TIME), ("first_responder", pa.string()),
    ]
)  # fmt: skip
