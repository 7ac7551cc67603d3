"""The bot core: purity, idempotency keys, replays, and a scripted group session."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from groupops.bot.core import Event, GroupBotState, GroupProfile, handle_event, idempotency_key_for
from groupops.bot.skills.draws import new_draw_seed, seed_commitment, verify_draw
from groupops.errors import InputFormatError

from .conftest import GROUP, BotRun, at, texts


def test_scripted_session(run: BotRun) -> None:
    # welcome
    welcome = run.join("wmAnna", "安娜", at(3, 9))
    assert len(welcome) == 1 and welcome[0].mentioned_member_ids == ("wmAnna",)
    assert "欢迎 @安娜" in welcome[0].text and "群规" in welcome[0].text and "个人信息" in welcome[0].text
    # check-in on two days: points and streak
    first = run.say("wmAnna", "签到", at(3, 9, 5), "安娜")
    second = run.say("wmAnna", "签到！", at(4, 9, 5), "安娜")
    assert [action.kind for action in first] == ["award_points", "send_text"]
    assert "已连续 2 天" in texts(second)[0] and "当前积分 10" in texts(second)[0]
    run.say("wmBo", "打卡", at(4, 12), "小波")
    # poll: open, votes, results
    opened = run.job("poll_open", at(4, 12, 30))
    assert "穿搭小投票" in texts(opened)[0]
    assert run.say("wmAnna", "A", at(4, 13), "安娜") == ()
    assert run.say("wmBo", "选b", at(4, 13, 1), "小波") == ()
    results = texts(run.job("poll_close", at(4, 20)))[0]
    assert "1 票（50%）" in results and "共 2 人参与" in results
    # draw: commitment before, verifiable reveal after
    seed = new_draw_seed()
    payload = {
        "draw_id": "week-23",
        "title": "本周代金券抽奖",
        "prize_name": "50 元无门槛代金券",
        "prize_kind": "代金券",
        "prize_value_yuan": 50,
        "quantity": 1,
        "draw_at": at(7, 20).isoformat(),
        "entry_conditions": "本周签到至少 1 天",
        "organizer": "轻衣服饰旗舰店",
        "seed": seed,
    }
    announcement = texts(run.job("draw_announce", at(4, 20, 30), payload))[0]
    assert seed_commitment(seed) in announcement and seed not in announcement
    reveal = run.job("draw_reveal", at(7, 20), {"draw_id": "week-23"})
    record = next(action.data for action in reveal if action.kind == "publish_draw_record")
    assert record["eligible_member_ids"] == ["wmAnna", "wmBo"] and seed in texts(reveal)[-1]
    check = verify_draw(
        draw_id="week-23",
        commitment=seed_commitment(seed),
        seed=record["seed"],
        eligible_member_ids=record["eligible_member_ids"],
        eligible_hash=record["eligible_hash"],
        quantity=1,
        winners=record["winners"],
    )
    assert check.valid and len(record["winners"]) == 1
    # FAQ answer
    answer = run.say("wmBo", "羽绒服能机洗吗？", at(8, 10), "小波")
    assert answer[0].data["faq_id"] == "wash-down" and answer[0].prompted
    # spam warning
    warning = run.say("wmSpam", "加微信 vx123 低价代购", at(8, 11), "路人")
    assert "禁止发布广告" in texts(warning)[0]
    assert len({action.idempotency_key for action in run.history}) == len(run.history)


def test_replayed_event_changes_nothing(run: BotRun, profile: GroupProfile) -> None:
    event = run.event("message", at(3), member_id="wmA", member_name="A", text="签到", event_id="msg-1")
    first = handle_event(run.state, event, profile)
    replay = handle_event(first.state, event, profile)
    assert replay.duplicate and replay.actions == () and replay.state is first.state


def test_same_event_on_same_state_gives_same_keys(run: BotRun, profile: GroupProfile) -> None:
    event = run.event("member_joined", at(3), member_id="wmA", member_name="A", event_id="join-1")
    keys_a = [action.idempotency_key for action in handle_event(run.state, event, profile).actions]
    keys_b = [action.idempotency_key for action in handle_event(run.state, event, profile).actions]
    assert keys_a == keys_b and keys_a[0] == idempotency_key_for(event, "welcome", "send_text", 0)
    other = replace(event, event_id="join-2")
    assert handle_event(run.state, other, profile).actions[0].idempotency_key != keys_a[0]


def test_input_state_is_not_modified(run: BotRun, profile: GroupProfile) -> None:
    before = GroupBotState(GROUP)
    handle_event(before, run.event("message", at(3), member_id="wmA", text="签到"), profile)
    assert before.skill_states == {} and before.recent_event_ids == ()


def test_recent_event_ids_are_bounded(run: BotRun) -> None:
    for number in range(1_050):
        run.feed(run.event("message", at(3), member_id="wmA", text=f"闲聊 {number}"))
    assert len(run.state.recent_event_ids) == 1_000


@pytest.mark.parametrize(
    "event",
    [
        Event("", "message", GROUP, at(3)),
        Event("e1", "message", GROUP, datetime(2024, 6, 3, 10)),
        Event("e1", "message", "wrOtherGroup", at(3)),
    ],
)
def test_malformed_events_are_refused(event: Event, profile: GroupProfile) -> None:
    with pytest.raises(InputFormatError):
        handle_event(GroupBotState(GROUP), event, profile)


def test_enabled_skills_limit_what_runs(profile: GroupProfile) -> None:
    only_faq = replace(profile, enabled_skills=("faq",))
    run = BotRun(only_faq)
    assert run.join("wmA", "A", at(3)) == ()
    assert run.say("wmA", "签到", at(3)) == ()
