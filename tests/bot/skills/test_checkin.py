"""Check-in skill: points, streaks, the 7-day plan, a bounded state."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, date, datetime, timedelta
from typing import Any

from groupops.bot._codec import GroupStateEncoder, encode_value
from groupops.bot.skills.checkin import (
    CHECKIN_DAYS_KEPT,
    CheckInState,
    MemberCheckIn,
    PointsLedgerEntry,
    checkin_days_between,
)

from ..conftest import BotRun, at, texts


def test_streak_and_seven_day_bonus(run: BotRun) -> None:
    entries: list[dict[str, Any]] = []
    for day in range(1, 8):
        actions = run.say("wmA", "签到", at(day, 8, 30), "安娜")
        entries.extend(actions[0].data["entries"])
    state: CheckInState = run.skill_state("checkin")
    record = state.members["wmA"]
    assert record.streak == 7 and record.total_days == 7 and record.points_balance == 7 * 5 + 20
    assert [entry["reason"] for entry in entries].count("streak_bonus") == 1
    assert entries[-1]["balance_after"] == 55 and sum(entry["points"] for entry in entries) == 55
    assert "连续 7 天奖励 +20" in texts(actions)[0] and "第 7/7 天" in texts(actions)[0]


def test_missed_day_resets_the_streak(run: BotRun) -> None:
    run.say("wmA", "签到", at(1))
    run.say("wmA", "签到", at(2))
    actions = run.say("wmA", "打卡", at(4))
    record = run.skill_state("checkin").members["wmA"]
    assert record.streak == 1 and record.longest_streak == 2 and record.total_days == 3
    assert "第 1/7 天" in texts(actions)[0]


def test_second_checkin_the_same_day_gives_no_points(run: BotRun) -> None:
    run.say("wmA", "签到", at(1, 8))
    again = run.say("wmA", "签到", at(1, 23, 59))
    assert [action.kind for action in again] == ["send_text"] and "已经签到过" in texts(again)[0]
    assert run.skill_state("checkin").members["wmA"].points_balance == 5


def test_day_boundary_is_the_groups_local_midnight(run: BotRun) -> None:
    run.say("wmA", "签到", at(1, 23, 50))
    actions = run.say("wmA", "签到", at(2, 0, 10))
    assert "已连续 2 天" in texts(actions)[0]


def test_points_query_and_non_commands(run: BotRun) -> None:
    assert "还没有积分" in texts(run.say("wmA", "我的积分", at(1)))[0]
    run.say("wmA", "签到", at(1))
    assert "当前积分 5" in texts(run.say("wmA", "积分", at(1)))[0]
    assert all(
        action.kind != "award_points" for action in run.say("wmA", "我今天签到了吗 哈哈 不想签到", at(1))
    )
    assert run.skill_state("checkin").members["wmA"].total_days == 1


def test_award_points_action_carries_ledger_entries(run: BotRun) -> None:
    [award, _reply] = run.say("wmA", "签到", at(1))
    assert award.kind == "award_points" and award.member_id == "wmA"
    assert award.data["balance"] == 5 and award.data["entries"][0]["reason"] == "checkin"


def test_checkin_days_between(run: BotRun) -> None:
    for day in (1, 2, 5, 9):
        run.say("wmA", "签到", at(day))
    state = run.skill_state("checkin")
    assert checkin_days_between(state, "wmA", date(2024, 6, 1), date(2024, 6, 7)) == 3
    assert checkin_days_between(state, "wmB", date(2024, 6, 1), date(2024, 6, 30)) == 0
    assert checkin_days_between(None, "wmA", date(2024, 6, 1), date(2024, 6, 30)) == 0


def test_staff_do_not_collect_points(run: BotRun) -> None:
    assert run.feed(run.event("message", at(1), member_id="staff", text="签到", sender_is_staff=True)) == ()


def test_a_year_of_daily_checkins_keeps_the_state_bounded(run: BotRun) -> None:
    start = datetime(2024, 1, 1, 1, 0, tzinfo=UTC)
    encoder, sizes, upserts = GroupStateEncoder(), [], []
    for offset in range(366):
        when = start + timedelta(days=offset)
        run.say("wmA", "签到", when)
        if offset % 2 == 0:
            run.say("wmB", "签到", when)
        encoded = encoder.encode_parts(run.state)
        sizes.append(len(json.dumps(encode_value(run.skill_state("checkin")))))
        upserts.append(len(encoded.upserts))
    record = run.skill_state("checkin").members["wmA"]
    assert record.total_days == 366 and record.streak == 366 and record.longest_streak == 366
    assert record.points_balance == 366 * 5 + (366 // 7) * 20
    assert record.recent_days.bit_length() <= CHECKIN_DAYS_KEPT
    assert run.skill_state("checkin").members["wmB"].streak == 1
    assert max(sizes) < 2_000  # two members' records with their day bits, not a year of ledger
    assert max(upserts[1:]) <= 6  # a check-in writes its records and event ids, not a history
    last = date(2024, 12, 31)
    assert checkin_days_between(run.skill_state("checkin"), "wmA", date(2024, 12, 1), last) == 31
    assert checkin_days_between(run.skill_state("checkin"), "wmA", date.min, last) == 366
    assert checkin_days_between(run.skill_state("checkin"), "wmB", date(2024, 12, 1), last) == 15


def test_days_between_after_a_long_absence_and_before_the_window() -> None:
    record = MemberCheckIn("A", date(2026, 3, 1), 1, 5, 500, 2500, 0b101, date(2024, 1, 1))
    state = CheckInState({"wmA": record})
    assert checkin_days_between(state, "wmA", date(2026, 2, 27), date(2026, 3, 1)) == 2
    assert checkin_days_between(state, "wmA", date(2026, 3, 2), date(2026, 3, 31)) == 0
    assert checkin_days_between(state, "wmA", date(2026, 3, 1), date(2026, 2, 1)) == 0
    assert checkin_days_between(state, "wmA", date(2023, 1, 1), date(2026, 3, 1)) == 500
    assert checkin_days_between(state, "wmA", date(2024, 6, 1), date(2026, 2, 28)) == 1


def test_records_stored_before_the_day_bits_read_as_their_last_day(run: BotRun) -> None:
    old = MemberCheckIn("A", date(2024, 6, 1), 3, 3, 3, 15)
    state = CheckInState({"wmA": old})
    assert checkin_days_between(state, "wmA", date(2024, 6, 1), date(2024, 6, 1)) == 1
    run.state = run.state.__class__(run.state.group_id, {"checkin": state})
    run.say("wmA", "签到", at(2))
    record = run.skill_state("checkin").members["wmA"]
    assert record.streak == 4 and record.recent_days == 0b11 and record.points_balance == 20


def test_award_entries_carry_every_ledger_field(run: BotRun) -> None:
    [award, _reply] = run.say("wmA", "签到", at(1))
    assert set(award.data["entries"][0]) == {item.name for item in fields(PointsLedgerEntry)}
