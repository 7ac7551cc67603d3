"""Check-in skill: daily 签到 with a points ledger, streaks and the 7-day habit plan (plan §5.1)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import date, timedelta
from types import MappingProxyType
from typing import Any

from groupops.bot.core import Action, Event, SkillContext, SkillResult
from groupops.bot.skills import Skill, register_skill
from groupops.bot.skills._text import command_text, display_name

__all__ = [
    "CHECKIN_COMMANDS",
    "HABIT_PLAN",
    "POINTS_QUERY_COMMANDS",
    "CheckInSkill",
    "CheckInState",
    "MemberCheckIn",
    "PointsLedgerEntry",
    "checkin_days_between",
]

CHECKIN_COMMANDS = frozenset({"签到", "打卡", "每日签到", "今日签到", "签到打卡", "checkin"})
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
    return {item.name: getattr(entry, item.name) for item in fields(entry)}


@dataclass(frozen=True)
class MemberCheckIn:
    """A member's check-in record."""

    display_name: str
    last_day: date
    streak: int
    longest_streak: int
    total_days: int
    points_balance: int


@dataclass(frozen=True)
class CheckInState:
    """Check-in records by member and the points ledger."""

    members: MappingProxyType[str, MemberCheckIn] | dict[str, MemberCheckIn] = field(default_factory=dict)
    ledger: tuple[PointsLedgerEntry, ...] = ()


def checkin_days_between(state: CheckInState | None, member_id: str, first_day: date, last_day: date) -> int:
    """How many days ``member_id`` checked in between ``first_day`` and ``last_day`` (inclusive)."""
    if state is None:
        return 0
    return sum(
        1
        for entry in state.ledger
        if entry.member_id == member_id and entry.reason == "checkin" and first_day <= entry.day <= last_day
    )


def _next_record(previous: MemberCheckIn | None, name: str, today: date, points: int) -> MemberCheckIn:
    streak = previous.streak + 1 if previous and previous.last_day == today - timedelta(days=1) else 1
    longest = max(streak, previous.longest_streak if previous else 0)
    total = (previous.total_days if previous else 0) + 1
    balance = (previous.points_balance if previous else 0) + points
    return MemberCheckIn(name, today, streak, longest, total, balance)


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
        members = dict(state.members)
        members[event.member_id] = record
        new_state = replace(state, members=MappingProxyType(members), ledger=(*state.ledger, *new_entries))
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
