"""Checks shared by the models that take plain tables (CLV, churn, recommendations)."""

from __future__ import annotations

import pandas as pd

from groupops.errors import InputFormatError

__all__ = ["parse_times"]


def parse_times(values: pd.Series, where: str) -> pd.Series:
    """Datetimes from a datetime column or from date strings in any ISO-like format."""
    try:
        times = (
            values if pd.api.types.is_datetime64_any_dtype(values) else pd.to_datetime(values, format="mixed")
        )
    except (ValueError, TypeError, OverflowError) as error:
        raise InputFormatError(f"{where}: column {values.name!r} holds values that are not dates") from error
    if not pd.api.types.is_datetime64_any_dtype(times):
        raise InputFormatError(f"{where}: column {values.name!r} mixes time zones; use one zone or UTC")
    if times.isna().any():
        raise InputFormatError(f"{where}: column {values.name!r} has empty dates")
    return times
