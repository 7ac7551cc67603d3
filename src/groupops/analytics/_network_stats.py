"""Small distribution statistics shared by the network metrics and the drift monitor."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["gini_coefficient", "share_count", "top_share"]

FloatArray = npt.NDArray[np.float64]


def share_count(share: float, population: int) -> int:
    """How many of ``population`` make up ``share`` of it (rounded half up)."""
    return min(population, max(0, math.floor(share * population + 0.5 + 1e-9)))


def gini_coefficient(values: npt.ArrayLike) -> float:
    """Gini coefficient of non-negative values (0 = equal, → 1 = one holds everything)."""
    sorted_values = np.sort(np.asarray(values, dtype=np.float64))
    total = float(sorted_values.sum())
    count = sorted_values.size
    if count == 0 or total <= 0.0:
        return 0.0
    ranks = np.arange(1, count + 1, dtype=np.float64)
    return float(2.0 * np.dot(ranks, sorted_values) / (count * total) - (count + 1.0) / count)


def top_share(values: npt.ArrayLike, share: float) -> float:
    """Fraction of the total held by the top ``share`` of the values."""
    array = np.asarray(values, dtype=np.float64)
    total = float(array.sum())
    if array.size == 0 or total <= 0.0:
        return 0.0
    count = share_count(share, array.size)
    if count == 0:
        return 0.0
    largest = np.partition(array, array.size - count)[array.size - count :]
    return float(largest.sum() / total)
