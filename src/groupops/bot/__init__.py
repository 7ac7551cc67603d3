"""The group bot: a pure core (event → actions) and its skills."""

from groupops.bot.core import Action, BotOutcome, Event, GroupBotState, GroupProfile, handle_event
from groupops.bot.skills import Skill, SkillRegistry, default_registry, register_skill

__all__ = [
    "Action",
    "BotOutcome",
    "Event",
    "GroupBotState",
    "GroupProfile",
    "Skill",
    "SkillRegistry",
    "default_registry",
    "handle_event",
    "register_skill",
]
