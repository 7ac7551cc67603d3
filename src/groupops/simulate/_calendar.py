"""The simulated period in the brand's local time (UTC+8)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import numpy as np

__all__ = [
    "DAY",
    "HOUR",
    "LOCAL_OFFSET",
    "LOCAL_TZ",
    "Month",
    "Period",
    "iso_local",
    "iso_local_many",
    "local_date",
]

DAY = 86_400
HOUR = 3_600
LOCAL_OFFSET = 8 * HOUR
LOCAL_TZ = timezone(timedelta(hours=8))
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class Month:
    """One calendar month of the period (clipped to it): ``label`` is ``YYYY-MM``."""

    index: int
    label: str
    start_ts: int
    end_ts: int


@dataclass(frozen=True)
class Period:
    """``days`` days from local midnight of ``start``; times are unix seconds."""

    start: date
    days: int

    @property
    def start_ts(self) -> int:
        return (self.start - _EPOCH).days * DAY - LOCAL_OFFSET

    @property
    def end_ts(self) -> int:
        return self.start_ts + self.days * DAY

    def months(self) -> list[Month]:
        months: list[Month] = []
        day = self.start
        last = self.start + timedelta(days=self.days)
        while day < last:
            following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
            end = min(following, last)
            start_ts = (day - _EPOCH).days * DAY - LOCAL_OFFSET
            end_ts = (end - _EPOCH).days * DAY - LOCAL_OFFSET
            months.append(Month(len(months), f"{day.year:04d}-{day.month:02d}", start_ts, end_ts))
            day = end
        return months


def local_date(timestamp: int) -> date:
    """The local calendar date of a unix time."""
    return _EPOCH + timedelta(days=(int(timestamp) + LOCAL_OFFSET) // DAY)


def iso_local(timestamp: int) -> str:
    """ISO 8601 with the +08:00 offset, e.g. ``2026-10-01T20:15:00+08:00``."""
    return datetime.fromtimestamp(int(timestamp), LOCAL_TZ).isoformat()


def iso_local_many(timestamps: np.ndarray) -> list[str]:
    """:func:`iso_local` for an array of unix seconds, vectorised."""
    local = np.asarray(timestamps, dtype=np.int64) + LOCAL_OFFSET
    texts = np.datetime_as_string(local.astype("datetime64[s]"), unit="s")
    return [text + "+08:00" for text in texts.tolist()]
