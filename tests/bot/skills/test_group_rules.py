"""Group-rule enforcement: warn first, then notify admins; remove only with a policy."""

from __future__ import annotations

from dataclasses import replace

import pytest

from groupops.bot.core import GroupProfile
from groupops.bot.skills.group_rules import detect_rule_breaks

from ..conftest import BotRun, at, later


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("加微信 abc123 领福利", "contact_handle"),
        ("有需要的+V：xyz", "contact_handle"),
        ("电话 138 1234 5678", "phone_number"),
        ("宝妈在家兼职日结", "side_hustle"),
        ("高仿大牌一比一", "counterfeit"),
        ("扫码进群领红包", "recruit_to_group"),
        ("快来 http://cheap.example.net/buy", "external_link"),
        ("ｖｘ：ｈｅｌｌｏ", "contact_handle"),
    ],
)
def test_hard_ads_are_detected(text: str, rule: str) -> None:
    assert rule in detect_rule_breaks(text)


@pytest.mark.parametrize(
    "text", ["这件大衣好好看！", "订单号 2024060312345678901 什么时候发", "尺码 170/88A", ""]
)
def test_normal_messages_pass(text: str) -> None:
    assert detect_rule_breaks(text) == ()


def test_brand_links_can_be_allowed() -> None:
    assert detect_rule_breaks("新品 https://shop.qingyi.com/item/1", ("qingyi.com",)) == ()
    assert detect_rule_breaks("https://qingyi.com.evil.cn", ("qingyi.com",)) == ("external_link",)


def test_warning_then_admin_notice_never_removal(run: BotRun) -> None:
    [warning] = run.say("wmS", "加微信领优惠", at(3), "小广告")
    assert (
        warning.kind == "send_text"
        and "禁止发布广告" in warning.text
        and warning.mentioned_member_ids == ("wmS",)
    )
    for hour in (11, 12, 13):
        actions = run.say("wmS", "加微信领优惠", at(3, hour), "小广告")
        assert [action.kind for action in actions] == ["notify_admins"]
    assert actions[0].data["violations"] == 4 and actions[0].mentioned_member_ids == ("admin-li",)


def test_removal_only_with_a_configured_policy(profile: GroupProfile) -> None:
    run = BotRun(replace(profile, remove_after_violations=2))
    run.say("wmS", "兼职刷单日结", at(3))
    actions = run.say("wmS", "兼职刷单日结", at(4))
    assert [action.kind for action in actions] == ["notify_admins", "remove_member"]
    assert actions[1].data["policy_limit"] == 2


def test_old_violations_are_forgotten(run: BotRun) -> None:
    run.say("wmS", "加微信", at(1))
    [again] = run.say("wmS", "加微信", later(at(1), days=31))
    assert again.kind == "send_text"


def test_flooding_the_same_text_is_spam(run: BotRun) -> None:
    assert run.say("wmF", "求回复", at(3, 10, 0)) == ()
    run.say("wmF", "求 回复", at(3, 10, 1))
    [warning] = run.say("wmF", "求回复", at(3, 10, 2))
    assert "刷屏" in warning.text
    assert run.say("wmG", "好看", at(3, 10)) == () and run.say("wmG", "好看", at(3, 10, 30)) == ()
    assert run.say("wmG", "好看", at(3, 10, 50)) == ()


def test_rule_breaks_stop_other_skills(run: BotRun) -> None:
    actions = run.say("wmS", "签到 加vx：abc", at(3))
    assert [action.skill for action in actions] == ["group_rules"]


def test_staff_are_exempt(run: BotRun) -> None:
    event = run.event(
        "message", at(3), member_id="staff", text="加微信 kefu01 办理售后", sender_is_staff=True
    )
    assert run.feed(event) == ()
