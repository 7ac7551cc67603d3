"""Group-rule enforcement: spam and hard ads get a warning first, then the admins are told.

Members are never removed unless the group's profile sets ``remove_after_violations``;
even then the bot only emits a ``remove_member`` action for the outbox / a person to carry out.
Staff messages are exempt. Violations older than 30 days are forgotten.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from groupops.bot._frozenmap import with_item
from groupops.bot.core import Action, Event, SkillContext, SkillResult
from groupops.bot.skills import Skill, register_skill
from groupops.bot.skills._text import display_name

__all__ = [
    "HARD_AD_PATTERNS",
    "GroupRulesSkill",
    "GroupRulesState",
    "detect_rule_breaks",
]

VIOLATION_MEMORY = timedelta(days=30)
FLOOD_WINDOW = timedelta(minutes=10)
FLOOD_REPEATS = 3
_URL = re.compile(r"(?:https?://|www\.)([^\s/?#，。]+)", re.IGNORECASE)

HARD_AD_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "contact_handle",
        re.compile(r"(?:加|\+|➕)\s*(?:微信|薇信|威信|v信|vx|wx|v|q|qq)|微信号|(?:vx|wx|v信)\s*[:：]", re.I),
    ),
    ("phone_number", re.compile(r"(?<!\d)1[3-9]\d(?:[\s-]?\d){8}(?!\d)")),
    ("side_hustle", re.compile(r"兼职|刷单|日结|躺赚|宝妈在家|招代理|轻松月入|返利群|网赚")),
    ("counterfeit", re.compile(r"高仿|a货|原单|复刻|莆田|一比一", re.I)),
    ("recruit_to_group", re.compile(r"(?:扫码|二维码|拉你|加我).{0,6}(?:进群|入群|加群|领取)|进群领")),
)


@dataclass(frozen=True)
class GroupRulesState:
    """Violation times per member and each member's recent message fingerprints (flood check)."""

    violations: Mapping[str, tuple[datetime, ...]] = field(default_factory=dict)
    recent_messages: Mapping[str, tuple[tuple[str, datetime], ...]] = field(default_factory=dict)


def _allowed_link(text: str, allowed_domains: tuple[str, ...]) -> bool:
    hosts = [match.group(1).lower() for match in _URL.finditer(text)]
    return all(
        any(host == domain or host.endswith("." + domain) for domain in allowed_domains) for host in hosts
    )


def detect_rule_breaks(text: str, allowed_link_domains: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Names of the hard-ad rules ``text`` breaks (empty when it is fine)."""
    normalised = unicodedata.normalize("NFKC", text)
    found = [name for name, pattern in HARD_AD_PATTERNS if pattern.search(normalised)]
    if not _allowed_link(normalised, allowed_link_domains):
        found.append("external_link")
    return tuple(found)


def _fingerprint(text: str) -> str:
    compact = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    return hashlib.sha1(compact.encode("utf-8")).hexdigest()[:16]


def _recent_after(
    state: GroupRulesState, member_id: str, text: str, now: datetime
) -> tuple[tuple[str, datetime], ...]:
    kept = tuple(item for item in state.recent_messages.get(member_id, ()) if now - item[1] <= FLOOD_WINDOW)
    return (*kept, (_fingerprint(text), now))[-FLOOD_REPEATS:]


class GroupRulesSkill(Skill):
    """Runs first: a rule-breaking message is answered here and no other skill sees it."""

    name = "group_rules"
    order = 10
    description = "Warns on spam and hard ads, then notifies admins; never removes without a policy."

    def initial_state(self) -> GroupRulesState:
        return GroupRulesState()

    def handle(self, event: Event, state: Any, context: SkillContext) -> SkillResult:
        if event.kind != "message" or event.sender_is_staff or not event.member_id or not event.text.strip():
            return SkillResult(state)
        now = event.occurred_at
        recent = _recent_after(state, event.member_id, event.text, now)
        recent_messages = with_item(state.recent_messages, event.member_id, recent)
        reasons = list(detect_rule_breaks(event.text, context.profile.allowed_link_domains))
        if len(recent) == FLOOD_REPEATS and len({fingerprint for fingerprint, _ in recent}) == 1:
            reasons.append("flood")
        if not reasons:
            return SkillResult(GroupRulesState(state.violations, recent_messages))
        earlier = tuple(
            moment for moment in state.violations.get(event.member_id, ()) if now - moment <= VIOLATION_MEMORY
        )
        violations = {**state.violations, event.member_id: (*earlier, now)}
        new_state = GroupRulesState(MappingProxyType(violations), recent_messages)
        actions = self._actions(event, context, tuple(reasons), len(earlier) + 1)
        return SkillResult(new_state, actions, handled=True)

    def _actions(
        self, event: Event, context: SkillContext, reasons: tuple[str, ...], count: int
    ) -> tuple[Action, ...]:
        assert event.member_id is not None
        name = display_name(event.member_name, event.member_id)
        if count == 1:
            warning = (
                f"@{name} 温馨提醒：本群禁止发布广告、联系方式、外链和刷屏内容，请遵守群规。"
                "再次发布将通知管理员处理，谢谢理解～"
            )
            return (
                Action(
                    "send_text",
                    event.group_id,
                    text=warning,
                    mentioned_member_ids=(event.member_id,),
                    prompted=True,
                ),
            )
        details = {
            "member_id": event.member_id,
            "member_name": name,
            "reasons": list(reasons),
            "violations": count,
        }
        notice = Action(
            "notify_admins",
            event.group_id,
            member_id=event.member_id,
            text=f"群成员 {name} 第 {count} 次违反群规（{', '.join(reasons)}）：{event.text[:200]}",
            mentioned_member_ids=context.profile.admin_ids,
            data=details,
        )
        limit = context.profile.remove_after_violations
        if limit is not None and count >= limit:
            removal = Action(
                "remove_member",
                event.group_id,
                member_id=event.member_id,
                data={**details, "policy_limit": limit},
            )
            return notice, removal
        return (notice,)


register_skill(GroupRulesSkill())
