"""Fixtures for the WeCom tests: the fake WeCom server and a fake clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .fake_wecom_server import FakeWeComServer


class FakeClock:
    """A clock that only moves when something sleeps on it."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_wecom() -> Iterator[FakeWeComServer]:
    with FakeWeComServer() as server:
        yield server


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()
