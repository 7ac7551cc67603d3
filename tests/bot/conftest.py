"""Helpers for the bot tests: a group profile, an event factory and a runner that threads state."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from groupops.bot.core import Action, Event, GroupBotState, GroupProfile, handle_event

SHANGHAI = ZoneInfo("Asia/Shanghai")
GROUP = "wrGroupA"


def at(day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A Shanghai time in June 2024."""
    return datetime(2024, 6, day, hour, minute, tzinfo=SHANGHAI)


@dataclass
class BotRun:
    """Feeds events to the bot one after another, keeping the state, like the receiver will."""

    profile: GroupProfile
    state: GroupBotState = field(default_factory=lambda: GroupBotState(GROUP))
    counter: itertools.count[int] = field(default_factory=itertools.count)
    history: list[Action] = field(default_factory=list)

    def event(self, kind: str, when: datetime, **fields: Any) -> Event:
        event_id = fields.pop("event_id", f"evt-{next(self.counter)}")
        return Event(event_id=event_id, kind=kind, group_id=GROUP, occurred_at=when, **fields)  # type: ignore[arg-type]

    def feed(self, event: Event) -> tuple[Action, ...]:
        outcome = handle_event(self.state, event, self.profile)
        self.state = outcome.state
        self.history.extend(outcome.actions)
        return outcome.actions

    def say(self, member_id: str, text: str, when: datetime, name: str = "") -> tuple[Action, ...]:
        return self.feed(
            self.event("message", when, member_id=member_id, member_name=name or member_id, text=text)
        )

    def join(self, member_id: str, name: str, when: datetime) -> tuple[Action, ...]:
        return self.feed(self.event("member_joined", when, member_id=member_id, member_name=name))

    def job(
        self, job: str, when: datetime, payload: dict[str, Any] | None = None, event_id: str = ""
    ) -> tuple[Action, ...]:
        fields: dict[str, Any] = {"job": job, "payload": payload or {}}
        if event_id:
            fields["event_id"] = event_id
        return self.feed(self.event("scheduled", when, **fields))

    def skill_state(self, name: str) -> Any:
        return self.state.skill_states.get(name)


@pytest.fixture
def profile() -> GroupProfile:
    return GroupProfile(
        group_id=GROUP, name="轻衣会员群", kind="core_user", brand_name="轻衣", admin_ids=("admin-li",)
    )


@pytest.fixture
def run(profile: GroupProfile) -> BotRun:
    return BotRun(profile)


def texts(actions: tuple[Action, ...], kind: str = "send_text") -> list[str]:
    return [action.text for action in actions if action.kind == kind]


def later(when: datetime, **delta: float) -> datetime:
    return when + timedelta(**delta)
