"""Draws: commitment, frozen list, deterministic and verifiable winners, legal limits."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupops.bot.skills.draws import (
    DrawRulesError,
    DrawSpec,
    draw_rules_text,
    eligible_list_hash,
    new_draw_seed,
    seed_commitment,
    select_winners,
    verify_draw,
)

from ..conftest import BotRun, at, texts

SEED = "a" * 64


def _spec(**changes: Any) -> DrawSpec:
    fields: dict[str, Any] = {
        "draw_id": "m6",
        "title": "六月会员抽奖",
        "prize_name": "羊毛大衣",
        "prize_kind": "实物",
        "prize_value_yuan": Decimal("1299"),
        "quantity": 2,
        "draw_at": at(30, 20),
        "entry_conditions": "本月签到满 3 天",
        "organizer": "轻衣服饰旗舰店",
    }
    return DrawSpec(**{**fields, **changes})


def _payload(**changes: Any) -> dict[str, Any]:
    payload = {
        "draw_id": "w1",
        "title": "周抽奖",
        "prize_name": "20 元代金券",
        "prize_kind": "代金券",
        "prize_value_yuan": "20",
        "quantity": 2,
        "draw_at": at(9, 20).isoformat(),
        "entry_conditions": "本周签到满 2 天",
        "organizer": "轻衣",
        "seed": SEED,
        "min_checkin_days": 2,
        "period_start": "2024-06-03",
        "period_end": "2024-06-09",
    }
    return {**payload, **changes}


def test_rules_text_is_complete() -> None:
    text = draw_rules_text(_spec(), seed_commitment(SEED))
    for part in (
        "主办方",
        "羊毛大衣",
        "实物",
        "1299",
        "共 2 份",
        "参与条件",
        "参与方式",
        "开奖时间",
        "2024-06-30 20:00",
        "开奖方式",
        "兑奖",
        "逾期视为自动放弃",
        seed_commitment(SEED),
    ):
        assert part in text


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"prize_value_yuan": Decimal("50000.01")}, "50,000"),
        ({"organizer": " "}, "organizer"),
        ({"quantity": 0}, "positive"),
        ({"prize_value_yuan": Decimal("0")}, "positive"),
    ],
)
def test_invalid_rules_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(DrawRulesError, match=message):
        draw_rules_text(_spec(**changes), "c")


def test_exactly_fifty_thousand_is_allowed() -> None:
    assert "50000" in draw_rules_text(_spec(prize_value_yuan=Decimal("50000")), "c")


def test_selection_is_deterministic_and_order_independent() -> None:
    members = [f"wm{number:03d}" for number in range(50)]
    first = select_winners(SEED, "w1", members, 3)
    assert first == select_winners(SEED, "w1", list(reversed(members)) + members[:5], 3)
    assert len(set(first)) == 3 and set(first) <= set(members)
    assert select_winners(SEED, "w2", members, 3) != first
    assert select_winners(SEED, "w1", members, 100) == tuple(select_winners(SEED, "w1", members, 100))
    assert len(select_winners(SEED, "w1", members, 100)) == 50 and select_winners(SEED, "w1", [], 3) == ()


def test_selection_is_roughly_uniform() -> None:
    members = ["a", "b", "c", "d"]
    counts = Counter(select_winners(f"seed-{number}", "d", members, 1)[0] for number in range(4_000))
    assert all(850 <= count <= 1_150 for count in counts.values())


@settings(max_examples=40, deadline=None)
@given(
    members=st.lists(st.text(alphabet="abcdefwm0123456789", min_size=1, max_size=8), max_size=30),
    quantity=st.integers(min_value=1, max_value=5),
)
def test_verify_accepts_honest_draws_and_rejects_tampering(members: list[str], quantity: int) -> None:
    seed = new_draw_seed()
    winners = select_winners(seed, "d", members, quantity)
    published = {
        "draw_id": "d",
        "commitment": seed_commitment(seed),
        "seed": seed,
        "eligible_member_ids": members,
        "eligible_hash": eligible_list_hash(members),
        "quantity": quantity,
        "winners": winners,
    }
    assert verify_draw(**published).valid
    assert not verify_draw(**{**published, "seed": new_draw_seed()}).valid
    assert not verify_draw(**{**published, "eligible_member_ids": [*members, "zz-extra"]}).valid
    if winners:
        assert not verify_draw(**{**published, "winners": winners[::-1] + ("zz",)}).valid


def test_commit_freeze_reveal_in_the_group(run: BotRun) -> None:
    for day in (3, 4, 5):
        run.say("wmA", "签到", at(day), "安娜")
    for day in (3, 6):
        run.say("wmB", "签到", at(day), "小波")
    run.say("wmC", "签到", at(4), "小菜")
    announce = texts(run.job("draw_announce", at(3, 21), _payload()))[0]
    assert seed_commitment(SEED) in announce and SEED not in announce
    frozen = texts(run.job("draw_freeze", at(9, 19), {"draw_id": "w1"}))[0]
    assert "共 2 人" in frozen and eligible_list_hash(["wmA", "wmB"]) in frozen
    reveal = run.job("draw_reveal", at(9, 20), {"draw_id": "w1"})
    record = next(action.data for action in reveal if action.kind == "publish_draw_record")
    assert sorted(record["winners"]) == ["wmA", "wmB"]
    assert verify_draw(
        **{
            key: record[key]
            for key in (
                "draw_id",
                "commitment",
                "seed",
                "eligible_member_ids",
                "eligible_hash",
                "quantity",
                "winners",
            )
        }
    ).valid
    assert "安娜" in texts(reveal)[0] and SEED in texts(reveal)[0]
    again = run.job("draw_reveal", at(9, 21), {"draw_id": "w1"})
    assert [action.kind for action in again] == ["notify_admins"]


def test_reveal_without_freeze_freezes_first_and_accepts_a_given_list(run: BotRun) -> None:
    run.job("draw_announce", at(3, 21), _payload(quantity=1))
    actions = run.job("draw_reveal", at(9, 20), {"draw_id": "w1", "eligible_member_ids": ["x", "y", "x"]})
    assert "参与名单已锁定" in texts(actions)[0]
    record = next(action.data for action in actions if action.kind == "publish_draw_record")
    assert record["eligible_member_ids"] == ["x", "y"] and len(record["winners"]) == 1


def test_nobody_eligible(run: BotRun) -> None:
    run.job("draw_announce", at(3, 21), _payload())
    actions = run.job("draw_reveal", at(9, 20), {"draw_id": "w1"})
    assert "无人符合" in texts(actions)[-1]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"prize_value_yuan": "88888"}, "50,000"),
        ({"seed": "short"}, "seed"),
        ({"draw_at": at(1).isoformat()}, "after the announcement"),
        ({"prize_value_yuan": "lots"}, "not a number"),
        ({"draw_at": "not a date"}, "malformed"),
    ],
)
def test_bad_announcements_notify_admins_and_publish_nothing(
    run: BotRun, changes: dict[str, Any], reason: str
) -> None:
    actions = run.job("draw_announce", at(3, 21), _payload(**changes))
    assert [action.kind for action in actions] == ["notify_admins"] and reason in actions[0].text
    assert run.skill_state("draws").draws == {}


def test_unknown_draw_and_repeated_announcement(run: BotRun) -> None:
    assert run.job("draw_reveal", at(3), {"draw_id": "nope"})[0].kind == "notify_admins"
    run.job("draw_announce", at(3, 21), _payload())
    assert run.job("draw_announce", at(3, 22), _payload())[0].kind == "notify_admins"
