"""Care pushes to inactive members."""

from __future__ import annotations

from groupops.bot.skills.care import CARE_TEMPLATES, care_text

from ..conftest import BotRun, at

MEMBERS = {"members": [{"member_id": "wmA", "member_name": "安娜", "days_inactive": 8}, {"member_id": "wmB"}]}


def test_one_private_message_per_member(run: BotRun) -> None:
    actions = run.job("care_push", at(3, 10), MEMBERS)
    assert [(action.kind, action.member_id) for action in actions] == [
        ("send_private_text", "wmA"),
        ("send_private_text", "wmB"),
    ]
    assert "安娜" in actions[0].text and actions[0].data["days_inactive"] == 8 and not actions[0].prompted


def test_cooldown_of_seven_days(run: BotRun) -> None:
    run.job("care_push", at(3, 10), MEMBERS)
    assert run.job("care_push", at(9, 10), MEMBERS) == ()
    assert len(run.job("care_push", at(10, 10), MEMBERS)) == 2


def test_night_care_waits_for_the_morning(run: BotRun) -> None:
    actions = run.job("care_push", at(3, 23), MEMBERS)
    assert all(action.not_before is not None and action.not_before.hour == 8 for action in actions)


def test_malformed_member_lists_are_skipped(run: BotRun) -> None:
    assert run.job("care_push", at(3), {"members": ["wmA", {"name": "x"}, None]}) == ()
    assert run.job("care_push", at(3), {}) == ()


def test_text_is_deterministic() -> None:
    assert care_text("wmA", "安娜", at(3).date()) == care_text("wmA", "安娜", at(3).date())
    assert any(
        care_text("wmA", "", at(3).date()) == template.format(name="群友wmA") for template in CARE_TEMPLATES
    )
