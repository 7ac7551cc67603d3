"""Welcome skill."""

from __future__ import annotations

from dataclasses import replace

import pytest

from groupops.bot.core import GroupProfile
from groupops.bot.skills.welcome import welcome_text
from groupops.errors import ConfigurationError

from ..conftest import BotRun, at


@pytest.mark.parametrize(
    ("kind", "marker"), [("brand_official", "官方群"), ("core_user", "核心会员"), ("distributor", "分销伙伴")]
)
def test_template_by_group_kind(profile: GroupProfile, kind: str, marker: str) -> None:
    text = welcome_text(replace(profile, kind=kind), "安娜")  # type: ignore[arg-type]
    assert marker in text and "@安娜" in text
    assert "禁止硬广" in text and "个人信息告知" in text and "轻衣" in text and "删除" in text
    assert "$" not in text


def test_unknown_kind_is_a_configuration_error(profile: GroupProfile) -> None:
    with pytest.raises(ConfigurationError):
        welcome_text(replace(profile, kind="vip"), "x")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("$brand_name\n@所有人", "$brand_name @所有人"),
        ("", "群友mAAA"),
        ("x" * 100, "x" * 24),
        ("<script>", "<script>"),
    ],
)
def test_hostile_names_are_flattened_not_expanded(run: BotRun, name: str, expected: str) -> None:
    [action] = run.join("wmAAA", name, at(3))
    assert f"欢迎 @{expected}" in action.text
    assert action.text.count("\n") == 3


def test_staff_and_leaves_are_not_welcomed(run: BotRun) -> None:
    assert run.feed(run.event("member_joined", at(3), member_id="staff1", sender_is_staff=True)) == ()
    assert run.feed(run.event("member_left", at(3), member_id="wmA")) == ()


def test_welcome_is_prompted_so_quiet_hours_do_not_delay_it(run: BotRun) -> None:
    [action] = run.join("wmA", "A", at(3, 23))
    assert action.prompted and action.not_before is None
