"""Welcome skill: greets a new member with the template of the group's kind, the rules and the PIPL notice."""

from __future__ import annotations

from string import Template
from typing import Any

from groupops.bot.core import Action, Event, GroupProfile, SkillContext, SkillResult
from groupops.bot.skills import Skill, register_skill
from groupops.bot.skills._text import display_name, load_bot_data
from groupops.errors import ConfigurationError

__all__ = ["WelcomeSkill", "welcome_text"]


def welcome_text(profile: GroupProfile, member_name: str) -> str:
    """The welcome message for ``member_name`` in a group of ``profile.kind``."""
    data = load_bot_data("welcome.yaml")
    template = data["templates"].get(profile.kind)
    if template is None:
        raise ConfigurationError(f"no welcome template for group kind {profile.kind!r}")
    fields = {
        "member_name": member_name,
        "brand_name": profile.brand_name,
        "group_name": profile.name or f"{profile.brand_name}会员群",
        "privacy_contact": profile.privacy_contact,
    }
    fields["group_rules"] = Template(data["group_rules"]).safe_substitute(fields)
    fields["consent_notice"] = Template(data["consent_notice"]).safe_substitute(fields)
    return Template(template).safe_substitute(fields)


class WelcomeSkill(Skill):
    """Welcome new members (a reply to their joining, so quiet hours do not hold it back)."""

    name = "welcome"
    order = 50
    description = "Greets new members with group rules and the personal-information notice."

    def handle(self, event: Event, state: Any, context: SkillContext) -> SkillResult:
        if event.kind != "member_joined" or event.sender_is_staff or not event.member_id:
            return SkillResult(state)
        text = welcome_text(context.profile, display_name(event.member_name, event.member_id))
        action = Action(
            "send_text", event.group_id, text=text, mentioned_member_ids=(event.member_id,), prompted=True
        )
        return SkillResult(state, (action,), handled=True)


register_skill(WelcomeSkill())
