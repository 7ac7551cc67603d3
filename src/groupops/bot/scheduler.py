"""Scheduled bot jobs: the daily outfit poll, weekly and monthly draws, and care pushes.

Each job turns into one ``scheduled`` bot event per active group, with an event id that names
the job, the group and the period (``poll_open:wrChat:2024-06-03``), so a job that runs twice
(a restart, two schedulers) acts once. Unprompted sends made inside the quiet hours wait in
the outbox until the window ends (the core's ``quiet_hours`` skill sets ``not_before``).

Care pushes go to members present in a group whose last message there (from the warehouse
``messages`` table, read with DuckDB) — or their joining, if they never spoke — is at least
``inactivity_care_days`` (7) days old.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select

from groupops.bot.core import Event
from groupops.bot.service import BotService, ServiceResult
from groupops.bot.skills.draws import new_draw_seed
from groupops.bot.skills.quiet_hours import parse_quiet_hours, quiet_window_end
from groupops.errors import ConfigurationError
from groupops.store.models import Group, GroupMembership, Member
from groupops.store.models.base import utc_now
from groupops.store.workspace import Workspace

__all__ = [
    "JOBS",
    "BotSchedule",
    "BotScheduler",
    "DrawPlan",
    "InactiveMember",
    "draw_payload",
    "members_inactive_for",
]

log = logging.getLogger(__name__)

JOBS = (
    "poll_open",
    "poll_close",
    "weekly_draw_announce",
    "weekly_draw_reveal",
    "monthly_draw_announce",
    "monthly_draw_reveal",
    "care_push",
)


@dataclass(frozen=True)
class DrawPlan:
    """What a recurring draw offers."""

    title: str
    prize_name: str
    prize_kind: str
    prize_value_yuan: Decimal
    quantity: int
    min_checkin_days: int
    claim_days: int = 7


@dataclass(frozen=True)
class BotSchedule:
    """When the jobs run (brand local time) and what the draws offer; None switches a draw off."""

    poll_open_at: time = time(12, 0)
    poll_close_at: time = time(20, 0)
    draw_announce_at: time = time(10, 0)
    draw_reveal_at: time = time(20, 0)
    care_at: time = time(10, 30)
    weekly_draw: DrawPlan | None = field(
        default_factory=lambda: DrawPlan(
            "每周签到代金券抽奖", "20 元无门槛代金券", "代金券", Decimal("20"), 3, 3
        )
    )
    monthly_draw: DrawPlan | None = field(
        default_factory=lambda: DrawPlan(
            "月度会员抽奖", "当季新品卫衣一件", "实物商品", Decimal("299"), 1, 10
        )
    )
    organizer: str = "本品牌社群运营团队"


@dataclass(frozen=True)
class InactiveMember:
    """A member present in a group who has been silent there for ``days_inactive`` days."""

    group_id: str
    member_id: str
    member_name: str
    last_active_at: datetime
    days_inactive: int


def _period(job: str, local_day: date) -> tuple[str, date, date]:
    """(draw id, first day, last day) of the week or month containing ``local_day``."""
    if job.startswith("weekly"):
        year, week, _ = local_day.isocalendar()
        first = local_day - timedelta(days=local_day.weekday())
        return f"weekly-{year}-W{week:02d}", first, first + timedelta(days=6)
    last_day = calendar.monthrange(local_day.year, local_day.month)[1]
    first = local_day.replace(day=1)
    return f"monthly-{local_day:%Y-%m}", first, first.replace(day=last_day)


def draw_payload(
    job: str, plan: DrawPlan, local_day: date, zone: ZoneInfo, reveal_at: time, organizer: str
) -> dict[str, Any]:
    """The ``draw_announce`` payload of the period containing ``local_day`` (with a fresh secret seed)."""
    draw_id, first, last = _period(job, local_day)
    conditions = f"统计期内在群内签到满 {plan.min_checkin_days} 天的群成员（工作人员除外）"
    return {
        "draw_id": draw_id,
        "title": plan.title,
        "prize_name": plan.prize_name,
        "prize_kind": plan.prize_kind,
        "prize_value_yuan": str(plan.prize_value_yuan),
        "quantity": plan.quantity,
        "draw_at": datetime.combine(last, reveal_at, tzinfo=zone).isoformat(),
        "entry_conditions": conditions,
        "organizer": organizer,
        "period_start": first.isoformat(),
        "period_end": last.isoformat(),
        "min_checkin_days": plan.min_checkin_days,
        "claim_days": plan.claim_days,
        "seed": new_draw_seed(),
    }


def _present_members(workspace: Workspace) -> pa.Table:
    with workspace.database.session() as session:
        rows = session.execute(
            select(
                GroupMembership.group_id, GroupMembership.member_id, GroupMembership.joined_at, Member.name
            )
            .join(Group, Group.id == GroupMembership.group_id)
            .outerjoin(Member, Member.id == GroupMembership.member_id)
            .where(
                GroupMembership.left_at.is_(None),
                GroupMembership.member_type == "external",
                Group.dismissed_at.is_(None),
            )
        ).all()
    schema = pa.schema(
        [
            ("group_id", pa.string()),
            ("member_id", pa.string()),
            ("joined_at", pa.timestamp("us", tz="UTC")),
            ("member_name", pa.string()),
        ]
    )
    records = [
        {"group_id": g, "member_id": m, "joined_at": joined, "member_name": name}
        for g, m, joined, name in rows
    ]
    return pa.Table.from_pylist(records, schema=schema)


_INACTIVE_SQL = """
WITH spoke AS (
    SELECT group_id, sender_id AS member_id, max(sent_at) AS last_spoke
    FROM messages
    WHERE group_id IS NOT NULL AND NOT coalesce(sender_is_staff, false) AND coalesce(action, 'send') = 'send'
    GROUP BY group_id, sender_id
)
SELECT p.group_id, p.member_id, coalesce(p.member_name, '') AS member_name,
       coalesce(s.last_spoke, p.joined_at) AS last_active_at
FROM present p LEFT JOIN spoke s ON s.group_id = p.group_id AND s.member_id = p.member_id
WHERE coalesce(s.last_spoke, p.joined_at) <= ?
ORDER BY p.group_id, last_active_at, p.member_id
"""


def members_inactive_for(workspace: Workspace, days: int, as_of: datetime) -> dict[str, list[InactiveMember]]:
    """Members present in each group and silent there for at least ``days`` days at ``as_of``."""
    if days < 1:
        raise ConfigurationError("inactivity must be at least one day")
    if as_of.tzinfo is None:
        raise ConfigurationError("as_of needs a time zone")
    with workspace.warehouse.connect() as connection:
        connection.register("present", _present_members(workspace))
        rows = connection.execute(_INACTIVE_SQL, [as_of - timedelta(days=days)]).fetchall()
    inactive: dict[str, list[InactiveMember]] = {}
    for group_id, member_id, name, last_active in rows:
        silent_days = int((as_of - last_active).total_seconds() // 86400)
        inactive.setdefault(group_id, []).append(
            InactiveMember(group_id, member_id, name, last_active, silent_days)
        )
    return inactive


class BotScheduler:
    """Runs the jobs for every active group, on demand (``run_job``) or on a clock (``start``)."""

    def __init__(
        self,
        workspace: Workspace,
        service: BotService,
        schedule: BotSchedule | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.workspace = workspace
        self.service = service
        self.schedule = schedule or BotSchedule()
        self.zone = ZoneInfo(workspace.settings.timezone)
        self._clock = clock
        self._scheduler: BackgroundScheduler | None = None

    def active_groups(self) -> list[str]:
        """Groups not dismissed, by id."""
        with self.workspace.database.session() as session:
            return list(
                session.scalars(select(Group.id).where(Group.dismissed_at.is_(None)).order_by(Group.id))
            )

    def run_job(
        self, job: str, now: datetime | None = None, groups: list[str] | None = None
    ) -> list[ServiceResult]:
        """Run ``job`` (one of :data:`JOBS`) for ``groups`` (default: all active groups) at ``now``."""
        if job not in JOBS:
            raise ConfigurationError(f"unknown bot job {job!r}; choose one of {', '.join(JOBS)}")
        moment = now or self._clock()
        local_day = moment.astimezone(self.zone).date()
        targets = groups if groups is not None else self.active_groups()
        if job == "care_push":
            return self._care_push(moment, local_day, targets)
        results = []
        for group_id in targets:
            event = self._event(job, group_id, moment, local_day)
            if event is not None:
                results.append(self.service.handle(event))
        return results

    def _event(self, job: str, group_id: str, moment: datetime, local_day: date) -> Event | None:
        if job in ("poll_open", "poll_close"):
            return Event(f"{job}:{group_id}:{local_day}", "scheduled", group_id, moment, job=job)
        plan = self.schedule.weekly_draw if job.startswith("weekly") else self.schedule.monthly_draw
        if plan is None:
            return None
        draw_id = _period(job, local_day)[0]
        if job.endswith("announce"):
            payload = draw_payload(
                job, plan, local_day, self.zone, self.schedule.draw_reveal_at, self.schedule.organizer
            )
            return Event(
                f"draw_announce:{group_id}:{draw_id}",
                "scheduled",
                group_id,
                moment,
                job="draw_announce",
                payload=payload,
            )
        payload = {"draw_id": draw_id}
        return Event(
            f"draw_reveal:{group_id}:{draw_id}",
            "scheduled",
            group_id,
            moment,
            job="draw_reveal",
            payload=payload,
        )

    def _care_push(self, moment: datetime, local_day: date, targets: list[str]) -> list[ServiceResult]:
        inactive = members_inactive_for(self.workspace, self.workspace.settings.inactivity_care_days, moment)
        results = []
        for group_id in targets:
            members = [
                {"member_id": m.member_id, "member_name": m.member_name, "days_inactive": m.days_inactive}
                for m in inactive.get(group_id, [])
            ]
            if members:
                event = Event(
                    f"care_push:{group_id}:{local_day}",
                    "scheduled",
                    group_id,
                    moment,
                    job="care_push",
                    payload={"members": members},
                )
                results.append(self.service.handle(event))
        return results

    # -- the clock ------------------------------------------------------------------------------
    def triggers(self) -> dict[str, CronTrigger]:
        """The cron trigger of each job in the brand time zone."""
        s, zone = self.schedule, self.zone

        def at(moment: time, **fields: Any) -> CronTrigger:
            return CronTrigger(hour=moment.hour, minute=moment.minute, timezone=zone, **fields)

        return {
            "poll_open": at(s.poll_open_at),
            "poll_close": at(s.poll_close_at),
            "weekly_draw_announce": at(s.draw_announce_at, day_of_week="mon"),
            "weekly_draw_reveal": at(s.draw_reveal_at, day_of_week="sun"),
            "monthly_draw_announce": at(s.draw_announce_at, day=1),
            "monthly_draw_reveal": at(s.draw_reveal_at, day="last"),
            "care_push": at(s.care_at),
        }

    def jobs_in_quiet_hours(self) -> list[str]:
        """Jobs whose time falls inside the quiet hours (their sends will wait for the window's end)."""
        window = parse_quiet_hours(self.workspace.settings.quiet_hours)
        if window is None:
            return []
        s = self.schedule
        times = {
            "poll_open": s.poll_open_at,
            "poll_close": s.poll_close_at,
            "draw_announce": s.draw_announce_at,
            "draw_reveal": s.draw_reveal_at,
            "care_push": s.care_at,
        }
        today = self._clock().astimezone(self.zone).date()
        return [
            job
            for job, moment in times.items()
            if quiet_window_end(datetime.combine(today, moment, tzinfo=self.zone), window)
        ]

    def start(self) -> BackgroundScheduler:
        """Start the jobs on a background thread."""
        for job in self.jobs_in_quiet_hours():
            log.warning("bot job %s is scheduled inside the quiet hours; its messages will wait", job)
        scheduler = BackgroundScheduler(timezone=self.zone)
        for job, trigger in self.triggers().items():
            scheduler.add_job(
                self._run_logged,
                trigger,
                args=[job],
                id=job,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=3600,
            )
        scheduler.start()
        self._scheduler = scheduler
        return scheduler

    def shutdown(self) -> None:
        """Stop the background jobs."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None

    def _run_logged(self, job: str) -> None:
        try:
            results = self.run_job(job)
        except Exception:  # a failing job must not stop the scheduler
            log.exception("bot job %s failed", job)
            return
        log.info(
            "bot job %s: %d groups, %d messages queued", job, len(results), sum(r.enqueued for r in results)
        )
