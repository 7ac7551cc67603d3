"""Check-in skill: ledger, streaks, the 7-day plan."""

from __future__ import annotations

from datetime import date

from groupops.bot.skills.checkin import CheckInState, checkin_days_between

from ..conftest import BotRun, at, texts


def test_streak_and_seven_day_bonus(run: BotRun) -> None:
    for day in range(1, 8):
        actions = run.say("wmA", "签到", at(day, 8, 30), "安娜")
    state: CheckInState = run.skill_state("checkin")
    record = state.members["wmA"]
    assert record.streak == 7 and record.total_days == 7 and record.points_balance == 7 * 5 + 20
    assert [entry.reason for entry in state.ledger].count("streak_bonus") == 1
    assert state.ledger[-1].balance_after == 55 and sum(entry.points for entry in state.ledger) == 55
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
