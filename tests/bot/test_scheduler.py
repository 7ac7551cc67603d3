"""Scheduled jobs: polls, draws, care pushes from warehouse inactivity, quiet hours, idempotent reruns."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from groupops.bot.core import Event
from groupops.bot.scheduler import BotSchedule, BotScheduler, members_inactive_for
from groupops.bot.service import BotService
from groupops.errors import ConfigurationError
from groupops.ingest import ingest_files
from groupops.store.models import Group, GroupMembership, Member
from groupops.store.models.bot import BotDraw, OutboxItem
from groupops.store.workspace import Workspace

SHANGHAI = ZoneInfo("Asia/Shanghai")
GROUP = "wrSchedGroup"
AS_OF = datetime(2024, 6, 20, 10, 30, tzinfo=SHANGHAI)


def _seed_group(workspace: Workspace, tmp_path: Path) -> None:
    """wmQuiet spoke 10 days ago, wmChatty yesterday, wmSilent joined 12 days ago and never spoke, wmGone left."""
    with workspace.database.session() as session:
        session.add(Group(id=GROUP, name="轻衣会员群", kind="core_user", admins=[]))
        session.add(
            Group(
                id="wrDismissed",
                name="旧群",
                kind="core_user",
                admins=[],
                dismissed_at=AS_OF - timedelta(days=30),
            )
        )
        joined = AS_OF - timedelta(days=12)
        for member, left in (
            ("wmQuiet", None),
            ("wmChatty", None),
            ("wmSilent", None),
            ("wmGone", AS_OF - timedelta(days=1)),
        ):
            session.add(Member(id=member, name=f"{member}名", tags=[]))
            session.add(
                GroupMembership(
                    group_id=GROUP, member_id=member, member_type="external", joined_at=joined, left_at=left
                )
            )
        session.add(
            GroupMembership(group_id=GROUP, member_id="zhangsan", member_type="staff", joined_at=joined)
        )
    lines = [
        _archive("a1", "wmQuiet", AS_OF - timedelta(days=10)),
        _archive("a2", "wmChatty", AS_OF - timedelta(days=1)),
        _archive("a3", "wmChatty", AS_OF - timedelta(days=9)),
        _archive("a4", "zhangsan", AS_OF - timedelta(days=20)),
    ]
    archive = tmp_path / "archive.jsonl"
    archive.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ingest_files("wecom-archive", [archive], workspace)


def _archive(msgid: str, sender: str, when: datetime) -> str:
    record = {
        "msgid": msgid,
        "action": "send",
        "from": sender,
        "tolist": [],
        "roomid": GROUP,
        "msgtime": int(when.timestamp() * 1000),
        "msgtype": "text",
        "text": {"content": "今天穿什么"},
    }
    return json.dumps(record, ensure_ascii=False)


def _outbox(workspace: Workspace) -> list[OutboxItem]:
    with workspace.database.session() as session:
        return list(session.scalars(select(OutboxItem).order_by(OutboxItem.id)))


def _scheduler(workspace: Workspace, now: datetime = AS_OF) -> BotScheduler:
    service = BotService(workspace.database, workspace.settings, clock=lambda: now.astimezone(UTC))
    return BotScheduler(workspace, service, clock=lambda: now)


def test_inactivity_comes_from_the_warehouse_messages(workspace: Workspace, tmp_path: Path) -> None:
    _seed_group(workspace, tmp_path)
    inactive = members_inactive_for(workspace, 7, AS_OF)
    found = {member.member_id: member.days_inactive for member in inactive[GROUP]}
    assert found == {"wmSilent": 12, "wmQuiet": 10}
    assert list(inactive) == [GROUP]
    assert members_inactive_for(workspace, 11, AS_OF)[GROUP][0].member_id == "wmSilent"
    with pytest.raises(ConfigurationError):
        members_inactive_for(workspace, 0, AS_OF)
    with pytest.raises(ConfigurationError):
        members_inactive_for(workspace, 7, AS_OF.replace(tzinfo=None))


def test_care_push_in_quiet_hours_waits_for_the_morning_and_runs_once(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    _seed_group(sqlite_workspace, tmp_path)
    late = datetime(2024, 6, 20, 23, 0, tzinfo=SHANGHAI)
    scheduler = _scheduler(sqlite_workspace, late)
    results = scheduler.run_job("care_push", late)
    assert [result.enqueued for result in results] == [2]
    scheduler.run_job("care_push", late + timedelta(minutes=30))  # a second run the same day
    items = _outbox(sqlite_workspace)
    assert sorted(item.payload["member_id"] for item in items) == ["wmQuiet", "wmSilent"]
    morning = datetime(2024, 6, 21, 8, 0, tzinfo=SHANGHAI).astimezone(UTC)
    assert all(item.next_attempt_at == morning for item in items)
    assert all(item.channel == "console" and item.payload["kind"] == "send_private_text" for item in items)


def test_daily_poll_runs_once_per_group_and_day(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    _seed_group(sqlite_workspace, tmp_path)
    noon = datetime(2024, 6, 20, 12, 0, tzinfo=SHANGHAI)
    scheduler = _scheduler(sqlite_workspace, noon)
    assert scheduler.active_groups() == [GROUP]
    scheduler.run_job("poll_open", noon)
    scheduler.run_job("poll_open", noon + timedelta(minutes=1))
    assert len(_outbox(sqlite_workspace)) == 1
    assert "穿搭小投票" in _outbox(sqlite_workspace)[0].payload["text"]
    assert _outbox(sqlite_workspace)[0].next_attempt_at == noon.astimezone(UTC)


def test_weekly_draw_is_announced_then_revealed_from_checkins(workspace: Workspace, tmp_path: Path) -> None:
    _seed_group(workspace, tmp_path)
    scheduler = _scheduler(workspace)
    monday = datetime(2024, 6, 17, 10, 0, tzinfo=SHANGHAI)
    scheduler.run_job("weekly_draw_announce", monday)
    for day in range(3):
        for member in ("wmQuiet", "wmChatty"):
            when = monday + timedelta(days=day, hours=1)
            scheduler.service.handle(
                Event(f"ck-{member}-{day}", "message", GROUP, when, member_id=member, text="签到")
            )
    scheduler.service.handle(Event("ck-once", "message", GROUP, monday, member_id="wmSilent", text="签到"))
    sunday = datetime(2024, 6, 23, 20, 0, tzinfo=SHANGHAI)
    scheduler.run_job("weekly_draw_reveal", sunday)
    with workspace.database.session() as session:
        draw = session.scalars(select(BotDraw)).one()
    assert draw.draw_id == "weekly-2024-W25" and draw.status == "revealed"
    assert draw.eligible_count == 2  # at least 3 check-in days in the week
    assert sorted(draw.winners) == ["wmChatty", "wmQuiet"]  # 3 prizes, 2 eligible
    assert draw.draw_at == sunday.astimezone(UTC)


def test_switched_off_draws_and_unknown_jobs(sqlite_workspace: Workspace) -> None:
    with sqlite_workspace.database.session() as session:
        session.add(Group(id=GROUP, name="", kind="core_user", admins=[]))
    scheduler = BotScheduler(
        sqlite_workspace,
        BotService(sqlite_workspace.database, sqlite_workspace.settings),
        BotSchedule(monthly_draw=None),
    )
    assert scheduler.run_job("monthly_draw_announce", AS_OF) == []
    with pytest.raises(ConfigurationError):
        scheduler.run_job("'; DROP TABLE groups;--", AS_OF)


def test_triggers_use_the_brand_time_zone_and_flag_quiet_hours(sqlite_workspace: Workspace) -> None:
    scheduler = BotScheduler(
        sqlite_workspace,
        BotService(sqlite_workspace.database, sqlite_workspace.settings),
        BotSchedule(care_at=time(23, 15)),
    )
    triggers = scheduler.triggers()
    first_poll = triggers["poll_open"].get_next_fire_time(None, AS_OF)
    assert first_poll == datetime(2024, 6, 20, 12, 0, tzinfo=SHANGHAI)
    reveal = triggers["monthly_draw_reveal"].get_next_fire_time(None, AS_OF)
    assert reveal is not None and reveal.date().isoformat() == "2024-06-30" and reveal.hour == 20
    assert scheduler.jobs_in_quiet_hours() == ["care_push"]
