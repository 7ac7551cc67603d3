"""Quiet hours: unprompted sends (polls, draws, care pushes) wait until the quiet window ends.

Answers to a member (``prompted`` actions) still go out. The window comes from the group
profile (``"22:00-08:00"`` by default, local time; it may cross midnight; empty = no window).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, time, timedelta

from groupops.bot.core import SEND_ACTION_KINDS, Action, SkillContext
from groupops.bot.skills import Skill, register_skill
from groupops.errors import ConfigurationError

__all__ = ["QuietHoursSkill", "parse_quiet_hours", "quiet_window_end"]

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_quiet_hours(window: str) -> tuple[time, time] | None:
    """``"22:00-08:00"`` → (22:00, 08:00); empty → None; anything else is a configuration error."""
    if not window.strip():
        return None
    match = _WINDOW.match(window)
    if match is None:
        raise ConfigurationError(f"quiet hours must look like 22:00-08:00, got {window!r}")
    start_hour, start_minute, end_hour, end_minute = (int(part) for part in match.groups())
    try:
        return time(start_hour, start_minute), time(end_hour, end_minute)
    except ValueError as error:
        raise ConfigurationError(f"quiet hours {window!r}: {error}") from error


def quiet_window_end(local: datetime, window: tuple[time, time]) -> datetime | None:
    """When the quiet window around ``local`` ends (same time zone), or None outside the window."""
    start, end = window
    clock = local.timetz().replace(tzinfo=None)
    if start == end:
        return None
    inside = start <= clock < end if start < end else (clock >= start or clock < end)
    if not inside:
        return None
    end_day = local.date() if clock < end else local.date() + timedelta(days=1)
    return datetime.combine(end_day, end, tzinfo=local.tzinfo)


class QuietHoursSkill(Skill):
    """Review hook only: sets ``not_before`` on unprompted sends made in the quiet window."""

    name = "quiet_hours"
    order = 1000
    description = "Holds unprompted sends back during quiet hours (default 22:00-08:00 local)."

    def review(self, actions: tuple[Action, ...], context: SkillContext) -> tuple[Action, ...]:
        window = parse_quiet_hours(context.profile.quiet_hours)
        if window is None:
            return actions
        release = quiet_window_end(context.local_time(), window)
        if release is None:
            return actions
        return tuple(
            replace(action, not_before=release)
            if action.kind in SEND_ACTION_KINDS and not action.prompted and action.not_before is None
            else action
            for action in actions
        )


register_skill(QuietHoursSkill())
