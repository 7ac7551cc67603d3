"""Check-in skill: daily 签到 with points, streaks and the 7-day habit plan (plan §5.1).

The group state keeps one bounded record per member (balance, streaks, lifetime counters and a
bit per day of the last :data:`CHECKIN_DAYS_KEPT` days); the ledger entries of a check-in go
out with its ``award_points`` action to the member projection, which keeps each member's last
entries. So a check-in costs the same however long the group has been checking in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from groupops.bot._frozenmap import with_item
from groupops.bot.core import Action, Event, SkillContext, SkillResult
from groupops.bot.skills import Skill, register_skill
from groupops.bot.skills._text import command_text, display_name

__all__ = [
    "CHECKIN_COMMANDS",
    "CHECKIN_DAYS_KEPT",
    "HABIT_PLAN",
    "POINTS_QUERY_COMMANDS",
    "CheckInSkill",
    "CheckInState",
    "MemberCheckIn",
    "PointsLedgerEntry",
    "checkin_days_between",
]

CHECKIN_COMMANDS = frozenset({"签到", "打卡", "每日签到", "今日签到", "签到打卡", "checkin"})
CHECKIN_DAYS_KEPT = 400  # days of check-in history per member (draw periods up to a year and more)
_DAYS_MASK = (1 << CHECKIN_DAYS_KEPT) - 1
POINTS_QUERY_COMMANDS = frozenset({"积分", "我的积分", "查积分", "积分查询"})
HABIT_PLAN = (
    "第 1 天：做个自我介绍（身高/常穿尺码/喜欢的风格）",
    "第 2 天：参加今天的穿搭小投票",
    "第 3 天：晒一张你最近的穿搭",
    "第 4 天：参与本周话题讨论",
    "第 5 天：把一个穿搭/尺码问题问出来，群助手和客服来解答",
    "第 6 天：给喜欢的群友穿搭点个赞或留言",
    "第 7 天：完成 7 天计划，获得额外积分和本月抽奖资格",
)


@dataclass(frozen=True)
class PointsLedgerEntry:
    """One change of a member's points."""

    entry_id: str
    member_id: str
    day: date
    points: int
    reason: str
    balance_after: int


def _entry_fields(entry: PointsLedgerEntry) -> dict[str, Any]:
    """The entry's fields (its values are immutable, so no deep copy is needed)."""
    return {
        "entry_id": entry.entry_id,
        "member_id": entry.member_id,
        "day": entry.day,
        "points": entry.points,
        "reason": entry.reason,
        "balance_after": entry.balance_after,
    }


@dataclass(frozen=True)
class MemberCheckIn:
    """A member's check-in record: lifetime counters and the recent check-in days.

    Bit ``i`` of ``recent_days`` is set when the member checked in on ``last_day - i`` days
    (at most :data:`CHECKIN_DAYS_KEPT` bits). Records stored before it existed hold 0 there,
    read as "``last_day`` only".
    """

    display_name: str
    last_day: date
    streak: int
    longest_streak: int
    total_days: int
    points_balance: int
    recent_days: int = 0
    first_day: date | None = None


@dataclass(frozen=True)
class CheckInState:
    """Check-in records by member (the points ledger lives in the member projection)."""

    members: Mapping[str, MemberCheckIn] = field(default_factory=dict)


def _recent_days(record: MemberCheckIn) -> int:
    return record.recent_days or 1


def checkin_days_between(state: CheckInState | None, member_id: str, first_day: date, last_day: date) -> int:
    """How many days ``member_id`` checked in between ``first_day`` and ``last_day`` (inclusive).

    Exact within the last :data:`CHECKIN_DAYS_KEPT` days of the member's record; days before
    that count when ``first_day`` is on or before the member's first check-in (or unknown).
    """
    record = state.members.get(member_id) if state is not None else None
    if record is None or last_day < first_day:
        return 0
    mask = _recent_days(record)
    newest = max(0, (record.last_day - last_day).days)
    window_start = record.last_day - timedelta(days=CHECKIN_DAYS_KEPT - 1)
    oldest = min(CHECKIN_DAYS_KEPT - 1, (record.last_day - first_day).days)
    counted = (mask >> newest) & ((1 << max(0, oldest - newest + 1)) - 1) if oldest >= newest else 0
    days = counted.bit_count()
    if first_day < window_start and last_day >= window_start and _before_window_counted(record, first_day):
        days += max(0, record.total_days - mask.bit_count())
    return days


def _before_window_counted(record: MemberCheckIn, first_day: date) -> bool:
    return record.first_day is None or first_day <= record.first_day


def _next_record(previous: MemberCheckIn | None, name: str, today: date, points: int) -> MemberCheckIn:
    if previous is None:
        return MemberCheckIn(name, today, 1, 1, 1, points, 1, today)
    streak = previous.streak + 1 if previous.last_day == today - timedelta(days=1) else 1
    shift = (today - previous.last_day).days
    recent = ((_recent_days(previous) << shift) | 1) & _DAYS_MASK if shift < CHECKIN_DAYS_KEPT else 1
    return MemberCheckIn(
        name,
        today,
        streak,
        max(streak, previous.longest_streak),
        previous.total_days + 1,
        previous.points_balance + points,
        recent,
        previous.first_day,
    )


class CheckInSkill(Skill):
    """Daily check-in: base points every day, a bonus on every 7th day of a streak."""

    name = "checkin"
    order = 20
    description = "Daily check-in (签到) with points, streaks and the 7-day habit plan."

    def initial_state(self) -> CheckInState:
        return CheckInState()

    def handle(self, event: Event, state: Any, context: SkillContext) -> SkillResult:
        if event.kind != "message" or event.sender_is_staff or not event.member_id:
            return SkillResult(state)
        command = command_text(event.text)
        if command in CHECKIN_COMMANDS:
            return self._check_in(event, state, context)
        if command in POINTS_QUERY_COMMANDS:
            return SkillResult(state, (self._balance_reply(event, state),), handled=True)
        return SkillResult(state)

    def _check_in(self, event: Event, state: CheckInState, context: SkillContext) -> SkillResult:
        assert event.member_id is not None
        today = context.local_date()
        name = display_name(event.member_name, event.member_id)
        previous = state.members.get(event.member_id)
        if previous is not None and previous.last_day == today:
            reply = f"@{name} 今天已经签到过啦，明天再来～ 已连续 {previous.streak} 天，当前积分 {previous.points_balance}。"
            return SkillResult(state, (self._reply(event, reply),), handled=True)
        streak_preview = _next_record(previous, name, today, 0).streak
        bonus = context.profile.streak_bonus_points if streak_preview % 7 == 0 else 0
        record = _next_record(previous, name, today, context.profile.checkin_points + bonus)
        new_entries = self._ledger_entries(event, record, context.profile.checkin_points, bonus, today)
        new_state = replace(state, members=with_item(state.members, event.member_id, record))
        award = Action(
            "award_points",
            event.group_id,
            member_id=event.member_id,
            data={
                "entries": [_entry_fields(entry) for entry in new_entries],
                "balance": record.points_balance,
            },
        )
        return SkillResult(
            new_state,
            (
                award,
                self._reply(event, self._success_text(name, record, context.profile.checkin_points, bonus)),
            ),
            True,
        )

    def _ledger_entries(
        self, event: Event, record: MemberCheckIn, base: int, bonus: int, today: date
    ) -> tuple[PointsLedgerEntry, ...]:
        assert event.member_id is not None
        balance_after_base = record.points_balance - bonus
        entries = [
            PointsLedgerEntry(
                f"{event.event_id}:checkin", event.member_id, today, base, "checkin", balance_after_base
            )
        ]
        if bonus:
            entries.append(
                PointsLedgerEntry(
                    f"{event.event_id}:streak7",
                    event.member_id,
                    today,
                    bonus,
                    "streak_bonus",
                    record.points_balance,
                )
            )
        return tuple(entries)

    def _success_text(self, name: str, record: MemberCheckIn, base: int, bonus: int) -> str:
        plan_day = (record.streak - 1) % 7 + 1
        bonus_text = f"，连续 7 天奖励 +{bonus}" if bonus else ""
        return (
            f"@{name} 签到成功 +{base} 积分{bonus_text}！已连续 {record.streak} 天（7 天计划第 {plan_day}/7 天），"
            f"当前积分 {record.points_balance}。今日小任务：{HABIT_PLAN[plan_day - 1]}"
        )

    def _balance_reply(self, event: Event, state: CheckInState) -> Action:
        assert event.member_id is not None
        name = display_name(event.member_name, event.member_id)
        record = state.members.get(event.member_id)
        if record is None:
            return self._reply(event, f"@{name} 还没有积分哦，回复“签到”开始 7 天养成计划～")
        return self._reply(
            event, f"@{name} 当前积分 {record.points_balance}，已连续签到 {record.streak} 天。"
        )

    def _reply(self, event: Event, text: str) -> Action:
        mentioned = (event.member_id,) if event.member_id else ()
        return Action("send_text", event.group_id, text=text, mentioned_member_ids=mentioned, prompted=True)


register_skill(CheckInSkill())
