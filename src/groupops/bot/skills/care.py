"""Care pushes: a friendly one-to-one message to members gone quiet (plan: 7 days inactive).

Input is the scheduled job ``care_push`` whose payload lists the members to care for
(``members: [{member_id, member_name, days_inactive}]``), as produced by the member-intelligence
task lists. A member gets at most one care push per ``CARE_COOLDOWN_DAYS``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from types import MappingProxyType
from typing import Any

from groupops.bot.core import Action, Event, SkillContext, SkillResult
from groupops.bot.skills import Skill, register_skill
from groupops.bot.skills._text import display_name

__all__ = [
    "CARE_COOLDOWN_DAYS",
    "CARE_TEMPLATES",
    "MAX_CARE_PUSHES_PER_JOB",
    "CareSkill",
    "CareState",
    "care_text",
]

CARE_COOLDOWN_DAYS = 7
MAX_CARE_PUSHES_PER_JOB = 200
CARE_TEMPLATES = (
    "{name}，好久没在群里见到你啦～ 本周的穿搭小投票和签到积分都在等你，回复“签到”就能继续 7 天计划。",
    "{name}，最近降温了，记得添衣～ 群里这周分享了几套保暖又显瘦的搭配，有空来看看，有尺码问题也可以直接问我们。",
    "{name}，想你啦！这周群里有会员专属福利和抽奖，满足条件自动参与，回来看看吧～",
)


@dataclass(frozen=True)
class CareState:
    """The day each member last got a care push."""

    last_cared: MappingProxyType[str, date] | dict[str, date] = field(default_factory=dict)


def care_text(member_id: str, member_name: str, day: date) -> str:
    """The care message for a member (template chosen deterministically by member and day)."""
    digest = hashlib.sha256(f"{member_id}|{day.isoformat()}".encode()).digest()
    template = CARE_TEMPLATES[digest[0] % len(CARE_TEMPLATES)]
    return template.format(name=display_name(member_name, member_id))


def _members(payload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    members = payload.get("members") or []
    return [member for member in members if isinstance(member, Mapping) and member.get("member_id")]


class CareSkill(Skill):
    """Scheduled job ``care_push``: one private message per listed member (unprompted)."""

    name = "care"
    order = 60
    description = "Care pushes to members inactive for a while (input: the list of members to care for)."

    def initial_state(self) -> CareState:
        return CareState()

    def handle(self, event: Event, state: Any, context: SkillContext) -> SkillResult:
        if event.kind != "scheduled" or event.job != "care_push":
            return SkillResult(state)
        today = context.local_date()
        last_cared = dict(state.last_cared)
        actions: list[Action] = []
        for member in _members(event.payload)[:MAX_CARE_PUSHES_PER_JOB]:
            member_id = str(member["member_id"])
            previous = last_cared.get(member_id)
            if previous is not None and today - previous < timedelta(days=CARE_COOLDOWN_DAYS):
                continue
            last_cared[member_id] = today
            text = care_text(member_id, str(member.get("member_name", "")), today)
            data = {"days_inactive": member.get("days_inactive")}
            actions.append(
                Action("send_private_text", event.group_id, text=text, member_id=member_id, data=data)
            )
        return SkillResult(CareState(MappingProxyType(last_cared)), tuple(actions), handled=True)


register_skill(CareSkill())
