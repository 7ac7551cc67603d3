"""Jinja filters: numbers, percentages, money, times and compliance highlighting."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from markupsafe import Markup, escape

__all__ = ["FILTERS", "highlight_findings"]


def _number(value: Any, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{float(value):,.{digits}f}"


def _percent(value: Any, digits: int = 1) -> str:
    return "—" if value is None else f"{float(value) * 100:.{digits}f}%"


def _money(value: Any) -> str:
    return "—" if value is None else f"¥{float(value):,.2f}"


def _time(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def _duration(seconds: Any) -> str:
    """A length of time, sign dropped: ``2d 03h``, ``3h 05m``, ``12m``."""
    if seconds is None:
        return "—"
    minutes = int(abs(float(seconds)) // 60)
    days, hours, rest = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if days:
        return f"{days}d {hours:02d}h"
    return f"{hours}h {rest:02d}m" if hours else f"{rest}m"


def highlight_findings(text: str, findings: Iterable[dict[str, Any]]) -> Markup:
    """``text`` escaped, with each finding's ``[start, end)`` wrapped in a ``<mark>`` (overlaps skipped)."""
    parts: list[str] = []
    position = 0
    for index, finding in enumerate(sorted(findings, key=lambda item: (item["start"], -item["end"]))):
        start, end = int(finding["start"]), int(finding["end"])
        if start < position or end > len(text) or start >= end:
            continue
        parts.append(str(escape(text[position:start])))
        severity = "violation" if finding["severity"] == "violation" else "review"
        parts.append(
            f'<mark class="finding {severity}" data-finding="{index}" title="{escape(finding["reason"])}">'
            f"{escape(text[start:end])}</mark>"
        )
        position = end
    parts.append(str(escape(text[position:])))
    return Markup("".join(parts))


FILTERS: dict[str, Callable[..., Any]] = {
    "number": _number,
    "percent": _percent,
    "money": _money,
    "time": _time,
    "duration": _duration,
    "highlight": highlight_findings,
}
