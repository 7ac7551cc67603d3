"""The operator's day: care, 3-step win-back, KOC invitations and VIP care, from the member mart.

Every task has a deterministic id, so generating again never duplicates one:

* ``care:<member>:<ISO week>`` — silent for ``inactivity_care_days`` (7) or more (plan §3.4),
  with the suggested message of the member's class;
* ``winback:<member>:<start date>:<step>`` — the 3-step win-back (plan §5.3) for 流失风险
  members who were active before and went silent; its outcome is ``came_back`` when the member
  is active again within the window (14 days) after step 1, else ``no_response``;
* ``koc_invite:<member>`` — buyers with 1k+ followers by tier (tail/waist/head, plan §4.1) and
  network influencers/spreaders who buy (one invitation per member);
* ``vip_care:<member>:<YYYY-MM>`` — VIP members, once a month.
"""

from __future__ import annotations

import string
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa
from sqlalchemy import select

from groupops.errors import GroupOpsError, InputFormatError, NotFoundError
from groupops.ops.member_intelligence import class_rules_for, read_member_mart
from groupops.ops.profiles import PURCHASE_STATUSES
from groupops.ops.segments import MemberClassRules
from groupops.ops.task_kinds import LISTED_TASK_KINDS, TASK_KINDS, TASK_STATUSES
from groupops.store.models import Group, Task
from groupops.store.workspace import Workspace, record_audit
from groupops.tabular_export import write_csv, write_xlsx

__all__ = [
    "TASK_KINDS",
    "TASK_STATUSES",
    "TaskRun",
    "complete_task",
    "export_tasks",
    "generate_tasks",
    "list_tasks",
]

_EXPORT_COLUMNS = (
    "id", "kind", "title", "suggestion", "member_id", "group_id", "step", "assignee", "due_at", "status",
    "outcome", "completed_at", "completed_by", "created_at",
)  # fmt: skip
_WINBACK_COOLDOWN_DAYS = 30
_ID_CHUNK = 500


@dataclass
class TaskRun:
    """What one generation added, and how many win-back sequences got their outcome."""

    as_of: datetime
    created: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TASK_KINDS, 0))
    outcomes: dict[str, int] = field(default_factory=dict)
    skipped_not_members: int = 0
    """Open tasks of people who are no longer in the member mart (left the member list, or
    were only ever shop customers), set to ``skipped``."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "created": self.created,
            "outcomes": self.outcomes,
            "skipped_not_members": self.skipped_not_members,
        }


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def _fill(template: str, **values: Any) -> str:
    """``template`` with ``{name}``-style fields filled; unknown fields and bad templates stay harmless."""
    try:
        return string.Formatter().vformat(template, (), _Blank({k: str(v) for k, v in values.items()}))
    except (ValueError, IndexError, AttributeError):
        return template


def _display_name(row: pd.Series) -> str:
    name = row.get("name")
    return str(name) if isinstance(name, str) and name else str(row["member_id"])


def _category(row: pd.Series) -> str:
    category = row.get("top_category")
    return str(category) if isinstance(category, str) and category else "单品"


def _task(
    member: pd.Series, task_id: str, kind: str, title: str, suggestion: str, due_at: datetime, **extra: Any
) -> Task:
    group = member.get("primary_group_id")
    return Task(
        id=task_id[:160], kind=kind, title=title[:256], suggestion=suggestion, member_id=str(member["member_id"]),
        group_id=group if isinstance(group, str) else None, due_at=due_at, status="open",
        step=extra.pop("step", None), detail=extra,
    )  # fmt: skip


# --- candidates -------------------------------------------------------------------------------


def _winback_eligible(mart: pd.DataFrame, care_days: int) -> pd.Series:
    silent = mart["days_since_last_active"].fillna(0) >= care_days
    return silent & (mart["member_class"] == "churn_risk") & ~mart["never_active"].fillna(True).astype(bool)


def _care_tasks(
    mart: pd.DataFrame, rules: MemberClassRules, as_of: datetime, week: str, care_days: int
) -> list[Task]:
    silent = mart[
        (mart["days_since_last_active"].fillna(0) >= care_days) & ~_winback_eligible(mart, care_days)
    ]
    tasks = []
    for _, member in silent.iterrows():
        member_class = rules.classes[str(member["member_class"])]
        days = int(member["days_since_last_active"])
        tasks.append(_task(
            member, f"care:{member['member_id']}:{week}", "care",
            f"关怀 {_display_name(member)}：{days} 天未活跃（{member_class.short_zh}）",
            _fill(member_class.care_message_zh, name=_display_name(member), category=_category(member)),
            as_of + timedelta(days=1), member_class=member_class.key, days_inactive=days,
            message_en=_fill(member_class.care_message_en, name=_display_name(member), category=_category(member)),
        ))  # fmt: skip
    return tasks


def _winback_tasks(
    mart: pd.DataFrame,
    rules: MemberClassRules,
    as_of: datetime,
    today: str,
    blocked: set[str],
    care_days: int,
) -> list[Task]:
    eligible = mart[_winback_eligible(mart, care_days) & ~mart["member_id"].isin(blocked)]
    tasks = []
    for _, member in eligible.iterrows():
        sequence = f"winback:{member['member_id']}:{today}"
        for step in rules.win_back["steps"]:
            values = {"name": _display_name(member), "category": _category(member)}
            tasks.append(_task(
                member, f"{sequence}:{int(step['step'])}", "winback",
                f"召回第{int(step['step'])}步 {step.get('title_zh', '')}：{_display_name(member)}",
                _fill(str(step.get("message_zh", "")), **values), as_of + timedelta(days=int(step.get("offset_days", 0)) + 1),
                step=int(step["step"]), sequence=sequence, started_at=as_of.isoformat(),
                message_en=_fill(str(step.get("message_en", "")), **values),
            ))  # fmt: skip
    return tasks


def _koc_rows(workspace: Workspace, mart: pd.DataFrame, as_of: datetime) -> pd.DataFrame:
    """Buyers with a follower tier, plus network influencers/spreaders who buy (tier may be null)."""
    buyers = mart[(mart["orders"] > 0) & mart["follower_tier"].notna()].assign(network_role=None)
    try:
        from groupops.analytics.network_warehouse import brand_graph_from_warehouse, koc_candidates

        graph = brand_graph_from_warehouse(
            workspace, end=as_of, influencer_share=workspace.settings.influencer_share,
            spreader_share=workspace.settings.spreader_share,
        )  # fmt: skip
        network = pd.DataFrame(koc_candidates(workspace, graph))
    except (GroupOpsError, ValueError, KeyError):
        network = pd.DataFrame()
    if network.empty:
        return buyers
    roles = network.set_index("member_id")["role"]
    extra = mart[mart["member_id"].isin(roles.index)].assign(network_role=lambda f: f["member_id"].map(roles))
    merged = pd.concat([extra, buyers[~buyers["member_id"].isin(extra["member_id"])]])
    return merged.drop_duplicates("member_id")


def _koc_tasks(
    workspace: Workspace, mart: pd.DataFrame, rules: MemberClassRules, as_of: datetime
) -> list[Task]:
    tasks = []
    for _, member in _koc_rows(workspace, mart, as_of).iterrows():
        tier = member.get("follower_tier") if isinstance(member.get("follower_tier"), str) else None
        text = rules.koc_tiers.get(tier or "network", {})
        role = member.get("network_role") if isinstance(member.get("network_role"), str) else None
        tasks.append(_task(
            member, f"koc_invite:{member['member_id']}", "koc_invite",
            f"KOC邀请 {_display_name(member)}：{text.get('role_zh', tier or role or '')}",
            _fill(text.get("message_zh", ""), name=_display_name(member)), as_of + timedelta(days=7),
            tier=tier, network_role=role, followers=None if pd.isna(member["followers"]) else int(member["followers"]),
            orders=int(member["orders"]),
        ))  # fmt: skip
    return tasks


def _vip_tasks(mart: pd.DataFrame, rules: MemberClassRules, as_of: datetime, month: str) -> list[Task]:
    vips = mart[mart["is_vip"].fillna(False).astype(bool)]
    message = rules.vip_care.get("message_zh", "")
    return [
        _task(member, f"vip_care:{member['member_id']}:{month}", "vip_care", f"VIP关怀 {_display_name(member)}",
              _fill(message, name=_display_name(member)), as_of + timedelta(days=3),
              net_spend=float(member["net_spend"]), member_class=str(member["member_class"]))
        for _, member in vips.iterrows()
    ]  # fmt: skip


# --- outcomes -------------------------------------------------------------------------------


def _first_activity_after(
    workspace: Workspace, starts: dict[str, datetime], until: datetime
) -> dict[str, datetime]:
    """Per member: the first message, purchase or shop event after their start and up to ``until``."""
    if not starts:
        return {}
    pairs = pa.table(
        {
            "member_id": list(starts),
            "started_at": pa.array(list(starts.values()), pa.timestamp("us", tz="UTC")),
        }
    )
    purchase = ", ".join(f"'{status}'" for status in PURCHASE_STATUSES)
    sql = f"""
SELECT p.member_id, min(a.t) AS first_at FROM pairs p JOIN (
  SELECT sender_id AS member_id, sent_at AS t FROM messages WHERE action = 'send' AND NOT revoked AND NOT sender_is_staff
  UNION ALL SELECT member_id, placed_at FROM orders WHERE status IN ({purchase})
  UNION ALL SELECT member_id, occurred_at FROM shop_events
) a ON a.member_id = p.member_id AND a.t > p.started_at AND a.t <= $until::TIMESTAMPTZ
GROUP BY p.member_id"""
    with workspace.warehouse.connect() as connection:
        connection.register("pairs", pairs)
        rows = connection.sql(sql, params={"until": until}).fetchall()
    return {member: first_at.astimezone(UTC) for member, first_at in rows}


def _settle_winbacks(workspace: Workspace, rules: MemberClassRules, as_of: datetime) -> dict[str, int]:
    """Give undecided win-back sequences their outcome once decidable; open steps become skipped."""
    window = timedelta(days=int(rules.win_back.get("outcome_window_days", 14)))
    counts: dict[str, int] = defaultdict(int)
    with workspace.database.session() as session:
        pending = list(session.scalars(select(Task).where(Task.kind == "winback", Task.outcome.is_(None))))
        sequences: dict[str, list[Task]] = defaultdict(list)
        for task in pending:
            sequences[str(task.detail.get("sequence", task.id))].append(task)
        starts = {
            s[0].member_id or "": datetime.fromisoformat(s[0].detail["started_at"])
            for s in sequences.values()
        }
        first = _first_activity_after(workspace, starts, as_of)
        for steps in sequences.values():
            started = datetime.fromisoformat(steps[0].detail["started_at"])
            came_back_at = first.get(steps[0].member_id or "")
            if came_back_at is not None and came_back_at <= started + window:
                outcome = "came_back"
            elif as_of >= started + window:
                outcome = "no_response"
            else:
                continue
            counts[outcome] += 1
            for task in steps:
                task.outcome = outcome
                task.status = "skipped" if task.status == "open" else task.status
                task.detail = {
                    **task.detail,
                    "came_back_at": came_back_at.isoformat() if came_back_at else None,
                }
    return dict(counts)


def _winback_blocked(workspace: Workspace, as_of: datetime) -> set[str]:
    """Members with an undecided sequence, or one started within the cool-down."""
    recent = as_of - timedelta(days=_WINBACK_COOLDOWN_DAYS)
    with workspace.database.session() as session:
        rows = session.execute(
            select(Task.member_id, Task.outcome, Task.created_at, Task.detail).where(Task.kind == "winback")
        )
        return {
            str(member) for member, outcome, created, detail in rows
            if outcome is None or datetime.fromisoformat(str(detail.get("started_at", created.isoformat()))) > recent
        }  # fmt: skip


def _skip_tasks_of_non_members(workspace: Workspace, members: set[str]) -> int:
    """Open generated tasks whose person is not in the member mart any more: ``skipped``, with why."""
    skipped = 0
    with workspace.database.session() as session:
        open_tasks = session.scalars(select(Task).where(Task.kind.in_(TASK_KINDS), Task.status == "open"))
        for task in open_tasks:
            if task.member_id is None or task.member_id in members:
                continue
            task.status = "skipped"
            task.detail = {**task.detail, "skipped_because": "not a member"}
            skipped += 1
        if skipped:
            record_audit(session, "system", "tasks.skip_not_members", "tasks", "", skipped=skipped)
    return skipped


# --- generation -----------------------------------------------------------------------------


def _existing_ids(workspace: Workspace, ids: list[str]) -> set[str]:
    found: set[str] = set()
    with workspace.database.session() as session:
        for start in range(0, len(ids), _ID_CHUNK):
            found.update(session.scalars(select(Task.id).where(Task.id.in_(ids[start : start + _ID_CHUNK]))))
    return found


def _group_owners(workspace: Workspace) -> dict[str, str]:
    with workspace.database.session() as session:
        return {gid: owner for gid, owner in session.execute(select(Group.id, Group.owner)) if owner}


def _mart_as_of(mart: pd.DataFrame) -> datetime:
    stamp = pd.Timestamp(mart["as_of"].iloc[0])
    return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")).to_pydatetime()


def generate_tasks(workspace: Workspace, as_of: datetime | None = None) -> TaskRun:
    """Create today's tasks from the member mart and settle win-back outcomes; never duplicates."""
    mart = read_member_mart(workspace)
    if mart.empty:
        return TaskRun(as_of or datetime.now(UTC))
    as_of = _mart_as_of(mart) if as_of is None else as_of.astimezone(UTC)
    rules, care_days = class_rules_for(workspace), workspace.settings.inactivity_care_days
    local = as_of.astimezone(ZoneInfo(workspace.settings.timezone)).date()
    year, week, _ = local.isocalendar()
    run = TaskRun(as_of)
    run.outcomes = _settle_winbacks(workspace, rules, as_of)
    run.skipped_not_members = _skip_tasks_of_non_members(workspace, set(mart["member_id"].astype(str)))
    candidates = [
        *_care_tasks(mart, rules, as_of, f"{year}-W{week:02d}", care_days),
        *_winback_tasks(mart, rules, as_of, local.isoformat(), _winback_blocked(workspace, as_of), care_days),
        *_koc_tasks(workspace, mart, rules, as_of),
        *_vip_tasks(mart, rules, as_of, local.strftime("%Y-%m")),
    ]
    existing, owners = _existing_ids(workspace, [task.id for task in candidates]), _group_owners(workspace)
    with workspace.database.session() as session:
        for task in candidates:
            if task.id in existing:
                continue
            task.assignee = owners.get(task.group_id or "")
            session.add(task)
            existing.add(task.id)
            run.created[task.kind] += 1
        record_audit(session, "system", "tasks.generate", "tasks", local.isoformat(), **run.as_dict())
    return run


# --- reading and completing -----------------------------------------------------------------


def _task_dict(task: Task) -> dict[str, Any]:
    row = {column: getattr(task, column) for column in _EXPORT_COLUMNS}
    row["detail"] = task.detail
    return row


def _check_choice(value: str | None, allowed: tuple[str, ...], what: str) -> None:
    if value is not None and value not in allowed:
        raise InputFormatError(f"{what} must be one of {', '.join(allowed)} (got {value[:40]!r})")


def list_tasks(
    workspace: Workspace, *, kind: str | None = None, status: str | None = None,
    member_id: str | None = None, assignee: str | None = None, limit: int | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Tasks matching the filters, by due time then id (``detail`` included)."""
    _check_choice(kind, LISTED_TASK_KINDS, "kind")
    _check_choice(status, TASK_STATUSES, "status")
    if limit is not None and limit < 1:
        raise InputFormatError("limit must be at least 1")
    query = select(Task).order_by(Task.due_at, Task.id)
    filters = (
        (Task.kind, kind),
        (Task.status, status),
        (Task.member_id, member_id),
        (Task.assignee, assignee),
    )
    for column, value in filters:
        if value is not None:
            query = query.where(column == value)
    with workspace.database.session() as session:
        return [_task_dict(task) for task in session.scalars(query.limit(limit))]


def complete_task(
    workspace: Workspace, task_id: str, outcome: str | None = None, actor: str = "cli"
) -> dict[str, Any]:
    """Mark a task done (with an optional outcome, up to 32 characters) and audit it."""
    if outcome is not None and not (0 < len(outcome.strip()) <= 32):
        raise InputFormatError("outcome must be 1 to 32 characters")
    with workspace.database.session() as session:
        task = session.get(Task, task_id)
        if task is None:
            raise NotFoundError(f"task {task_id[:160]!r} not found")
        task.status, task.completed_at, task.completed_by = "done", datetime.now(UTC), actor
        if outcome is not None:
            task.outcome = outcome.strip()
        record_audit(session, actor, "task.done", "task", task.id, outcome=task.outcome)
        return _task_dict(task)


def export_tasks(
    workspace: Workspace, path: Path, *, kind: str | None = None, status: str | None = None
) -> int:
    """Write the matching tasks to ``path`` (.csv or .xlsx; formula-like cells made inert); returns rows."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise InputFormatError(f"export file must end in .csv or .xlsx (got {Path(path).name!r})")
    rows = [
        {column: row[column] for column in _EXPORT_COLUMNS}
        for row in list_tasks(workspace, kind=kind, status=status)
    ]
    table: list[Any] = [list(_EXPORT_COLUMNS), *([row[c] for c in _EXPORT_COLUMNS] for row in rows)]
    try:
        if suffix == ".csv":
            write_csv(table, Path(path))
        else:
            write_xlsx(table, Path(path), sheet="tasks", timezone=workspace.settings.timezone)
    except OSError as error:
        raise InputFormatError(f"cannot write {path}: {error}") from error
    return len(rows)
