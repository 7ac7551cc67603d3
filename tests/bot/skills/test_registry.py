"""The skill registry (``groupops.bot.skills``)."""

from __future__ import annotations

from typing import Any

import pytest

import groupops.bot as bot_package
from groupops.bot.core import (
    Action,
    Event,
    GroupBotState,
    GroupProfile,
    SkillContext,
    SkillResult,
    handle_event,
)
from groupops.bot.skills import BUILTIN_SKILL_MODULES, Skill, SkillRegistry, default_registry, register_skill
from groupops.errors import ConfigurationError, NotFoundError

from ..conftest import GROUP, at


class EchoSkill(Skill):
    name = "echo"
    order = 5
    description = "Repeats messages that start with 'echo'."

    def handle(self, event: Event, state: Any, context: SkillContext) -> SkillResult:
        if event.kind == "message" and event.text.startswith("echo "):
            count = (state or 0) + 1
            return SkillResult(
                count, (Action("send_text", event.group_id, text=event.text[5:], prompted=True),), True
            )
        return SkillResult(state)


def test_builtins_are_registered_through_the_registry() -> None:
    assert set(default_registry.names()) == {
        "group_rules",
        "checkin",
        "outfit_poll",
        "draws",
        "welcome",
        "care",
        "faq",
        "quiet_hours",
    }
    assert len(default_registry) == len(BUILTIN_SKILL_MODULES)
    assert default_registry.names()[0] == "group_rules" and default_registry.names()[-1] == "quiet_hours"


def test_public_api_of_the_bot_package() -> None:
    assert set(bot_package.__all__) >= {"handle_event", "register_skill", "Skill", "Event", "Action"}
    for name in bot_package.__all__:
        assert hasattr(bot_package, name)


def test_a_third_party_skill_runs_in_order_and_keeps_state() -> None:
    registry = SkillRegistry()
    register_skill(EchoSkill(), registry=registry)
    register_skill(default_registry.get("faq"), registry=registry)
    profile = GroupProfile(GROUP)
    event = Event("e1", "message", GROUP, at(3), member_id="wmA", text="echo 尺码怎么选？")
    outcome = handle_event(GroupBotState(GROUP), event, profile, registry)
    assert [action.text for action in outcome.actions] == ["尺码怎么选？"]
    assert outcome.actions[0].skill == "echo" and outcome.state.skill_states["echo"] == 1


def test_duplicate_names_are_refused_unless_replacing() -> None:
    registry = SkillRegistry()
    registry.register(EchoSkill())
    with pytest.raises(ConfigurationError, match="already registered"):
        registry.register(EchoSkill())
    assert registry.register(EchoSkill(), replace=True).name == "echo"


def test_nameless_and_unknown_skills() -> None:
    registry = SkillRegistry()
    with pytest.raises(ConfigurationError):
        registry.register(Skill())
    with pytest.raises(NotFoundError, match="nope"):
        registry.get("nope")
    with pytest.raises(NotFoundError):
        registry.enabled(("nope",))
    assert "echo" not in registry
