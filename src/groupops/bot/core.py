"""The bot core: one event and the group's state in, the new state and actions out.

Nothing here does I/O or reads the clock: time comes with the event, state comes in and goes
out as plain frozen dataclasses, and every action carries an idempotency key derived from
the event id, the skill and the action's position, so replaying an event yields the same keys.
Skills (welcome, check-in, polls, draws, FAQ, rules, quiet hours, care) live in
:mod:`groupops.bot.skills` and are found through its registry.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from groupops.errors import ConfigurationError, InputFormatError

if TYPE_CHECKING:
    from groupops.bot.skills import SkillRegistry

__all__ = [
    "RECENT_EVENT_IDS_KEPT",
    "SEND_ACTION_KINDS",
    "Action",
    "ActionKind",
    "BotOutcome",
    "Event",
    "EventKind",
    "GroupBotState",
    "GroupKind",
    "GroupProfile",
    "SkillContext",
    "SkillResult",
    "handle_event",
    "idempotency_key_for",
]

EventKind = Literal["member_joined", "member_left", "message", "scheduled"]
ActionKind = Literal[
    "send_text",
    "send_markdown",
    "send_private_text",
    "notify_admins",
    "open_ticket",
    "award_points",
    "remove_member",
    "publish_draw_record",
]
GroupKind = Literal["brand_official", "core_user", "distributor"]
SEND_ACTION_KINDS: frozenset[str] = frozenset({"send_text", "send_markdown", "send_private_text"})
RECENT_EVENT_IDS_KEPT = 1000

_EMPTY: MappingProxyType[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class Event:
    """Something that happened in a group: a join, a leave, a member's message, or a scheduled job.

    ``event_id`` must be stable across retries (the WeCom message id, or ``job:group:date`` for
    scheduled jobs); ``occurred_at`` must carry a time zone.
    """

    event_id: str
    kind: EventKind
    group_id: str
    occurred_at: datetime
    member_id: str | None = None
    member_name: str = ""
    text: str = ""
    sender_is_staff: bool = False
    job: str = ""
    payload: MappingProxyType[str, Any] | dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Action:
    """Something the bot wants done; ``prompted`` actions answer a member and ignore quiet hours."""

    kind: ActionKind
    group_id: str
    skill: str = ""
    idempotency_key: str = ""
    text: str = ""
    member_id: str | None = None
    mentioned_member_ids: tuple[str, ...] = ()
    data: MappingProxyType[str, Any] | dict[str, Any] = field(default_factory=dict)
    prompted: bool = False
    not_before: datetime | None = None


@dataclass(frozen=True)
class GroupProfile:
    """How the bot behaves in one group (kind, brand, time zone, admins, thresholds)."""

    group_id: str
    name: str = ""
    kind: GroupKind = "core_user"
    brand_name: str = "本品牌"
    timezone: str = "Asia/Shanghai"
    quiet_hours: str = "22:00-08:00"
    admin_ids: tuple[str, ...] = ()
    enabled_skills: tuple[str, ...] | None = None
    checkin_points: int = 5
    streak_bonus_points: int = 20
    faq_confidence_threshold: float = 0.5
    remove_after_violations: int | None = None
    allowed_link_domains: tuple[str, ...] = ()
    privacy_contact: str = "群管理员"

    def zone(self) -> ZoneInfo:
        """The group's time zone."""
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ConfigurationError(
                f"unknown time zone {self.timezone!r} for group {self.group_id}"
            ) from error


@dataclass(frozen=True)
class GroupBotState:
    """Everything the bot remembers about one group: one state object per skill."""

    group_id: str
    skill_states: MappingProxyType[str, Any] | dict[str, Any] = field(default_factory=dict)
    recent_event_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class SkillResult:
    """A skill's answer: its new state, its actions, and whether later skills should stand aside."""

    state: Any
    actions: tuple[Action, ...] = ()
    handled: bool = False


@dataclass(frozen=True)
class SkillContext:
    """What a skill may read besides its own state: the group profile and other skills' states."""

    profile: GroupProfile
    event: Event
    group_state: GroupBotState

    def local_time(self) -> datetime:
        """The event time in the group's time zone."""
        return self.event.occurred_at.astimezone(self.profile.zone())

    def local_date(self) -> date:
        """The event's calendar day in the group's time zone."""
        return self.local_time().date()

    def state_of(self, skill_name: str) -> Any:
        """Another skill's current state (None when it has none yet)."""
        return self.group_state.skill_states.get(skill_name)


@dataclass(frozen=True)
class BotOutcome:
    """The result of one event: new state, actions in order, and whether it was a replay."""

    state: GroupBotState
    actions: tuple[Action, ...]
    duplicate: bool = False


def idempotency_key_for(event: Event, skill_name: str, kind: str, position: int) -> str:
    """The deterministic key of the ``position``-th action of ``kind`` a skill made for ``event``."""
    material = "\x1f".join([event.group_id, event.event_id, skill_name, kind, str(position)])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:40]


def _check_event(event: Event, state: GroupBotState) -> None:
    if not event.event_id:
        raise InputFormatError("bot event has no event_id")
    if event.occurred_at.tzinfo is None:
        raise InputFormatError(f"bot event {event.event_id} has a time without a time zone")
    if event.group_id != state.group_id:
        raise InputFormatError(f"event for group {event.group_id} given the state of group {state.group_id}")


def _keyed(event: Event, skill_name: str, actions: tuple[Action, ...]) -> tuple[Action, ...]:
    keyed: list[Action] = []
    for position, action in enumerate(actions):
        key = idempotency_key_for(event, skill_name, action.kind, position)
        keyed.append(replace(action, skill=skill_name, group_id=event.group_id, idempotency_key=key))
    return tuple(keyed)


def handle_event(
    state: GroupBotState,
    event: Event,
    profile: GroupProfile,
    registry: SkillRegistry | None = None,
) -> BotOutcome:
    """Run the group's skills on ``event``; a replayed ``event_id`` changes nothing and acts on nothing."""
    _check_event(event, state)
    if event.event_id in state.recent_event_ids:
        return BotOutcome(state, (), duplicate=True)
    if registry is None:
        from groupops.bot.skills import default_registry

        registry = default_registry
    skills = registry.enabled(profile.enabled_skills)
    skill_states = dict(state.skill_states)
    actions: list[Action] = []
    # one live read-only view: each skill sees the states the skills before it left
    context = SkillContext(
        profile, event, GroupBotState(state.group_id, MappingProxyType(skill_states), state.recent_event_ids)
    )
    for skill in skills:
        current = skill_states.get(skill.name)
        result = skill.handle(event, current if current is not None else skill.initial_state(), context)
        skill_states[skill.name] = result.state
        actions.extend(_keyed(event, skill.name, result.actions))
        if result.handled:
            break
    reviewed = tuple(actions)
    for skill in skills:
        reviewed = skill.review(reviewed, context)
    recent = (*state.recent_event_ids, event.event_id)[-RECENT_EVENT_IDS_KEPT:]
    new_state = GroupBotState(state.group_id, MappingProxyType(skill_states), recent)
    return BotOutcome(new_state, reviewed)
