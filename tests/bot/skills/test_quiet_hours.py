"""Quiet hours: unprompted sends wait for the end of the window; answers do not."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time

import pytest

from groupops.bot.core import GroupProfile
from groupops.bot.skills.quiet_hours import parse_quiet_hours, quiet_window_end
from groupops.errors import ConfigurationError

from ..conftest import SHANGHAI, BotRun, at


def test_scheduled_push_at_night_waits_until_eight(run: BotRun) -> None:
    [poll] = run.job("poll_open", at(3, 23, 30))
    assert poll.not_before == datetime(2024, 6, 4, 8, 0, tzinfo=SHANGHAI)
    [early] = BotRun(run.profile).job("poll_open", at(3, 6))
    assert early.not_before == datetime(2024, 6, 3, 8, 0, tzinfo=SHANGHAI)


def test_daytime_push_and_night_answers_go_out(run: BotRun) -> None:
    assert run.job("poll_open", at(3, 12))[0].not_before is None
    assert run.say("wmA", "签到", at(3, 23, 30))[1].not_before is None


def test_events_in_utc_are_judged_in_local_time(run: BotRun) -> None:
    [poll] = run.job("poll_open", datetime(2024, 6, 3, 15, 30, tzinfo=UTC))  # 23:30 in Shanghai
    assert poll.not_before == datetime(2024, 6, 4, 8, 0, tzinfo=SHANGHAI)


def test_window_can_be_disabled_or_changed(profile: GroupProfile) -> None:
    assert BotRun(replace(profile, quiet_hours="")).job("poll_open", at(3, 23))[0].not_before is None
    [poll] = BotRun(replace(profile, quiet_hours="12:00-14:00")).job("poll_open", at(3, 13))
    assert poll.not_before == datetime(2024, 6, 3, 14, 0, tzinfo=SHANGHAI)


@pytest.mark.parametrize("window", ["22-08", "25:00-08:00", "22:00", "夜里"])
def test_bad_windows_are_configuration_errors(window: str) -> None:
    with pytest.raises(ConfigurationError):
        parse_quiet_hours(window)


def test_window_edges() -> None:
    window = (time(22), time(8))
    assert quiet_window_end(at(3, 22), window) is not None
    assert quiet_window_end(at(3, 8), window) is None
    assert quiet_window_end(at(3, 21, 59), window) is None
    assert quiet_window_end(at(3, 12), (time(9), time(9))) is None
