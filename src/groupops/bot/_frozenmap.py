"""A read-only mapping whose one-key updates cost what changed, not the size of the mapping.

Skill states hold per-member mappings (check-in records, recent messages) and replace one
member per event. Copying the whole ``dict`` each time costs the size of the group;
:class:`FrozenMap` instead shares a base ``dict`` between versions and keeps the recent changes
in a small overlay, merged into a new base when the overlay reaches about √n keys. The state
encoder reads the overlay to find what changed (see :mod:`groupops.bot._codec`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

__all__ = ["FrozenMap", "with_item"]

K = TypeVar("K")
V = TypeVar("V")
_MIN_OVERLAY = 32
_MISSING: Any = object()


class FrozenMap(Mapping[K, V]):
    """An immutable mapping: a shared base ``dict`` plus an overlay of newer values (never mutated)."""

    __slots__ = ("_base", "_merged", "_overlay")

    def __init__(self, base: dict[K, V], overlay: dict[K, V] | None = None) -> None:
        self._base = base
        self._overlay: dict[K, V] = overlay or {}
        self._merged: dict[K, V] | None = None if self._overlay else base

    @property
    def base(self) -> dict[K, V]:
        """The shared base (do not change it)."""
        return self._base

    @property
    def overlay(self) -> dict[K, V]:
        """The values set since the base was made (do not change it)."""
        return self._overlay

    def set(self, key: K, value: V) -> FrozenMap[K, V]:
        """A new mapping with ``key`` set to ``value``; this one is unchanged."""
        overlay = self._overlay
        if len(overlay) < max(_MIN_OVERLAY, math.isqrt(len(self._base))):
            return FrozenMap(self._base, {**overlay, key: value})
        merged = dict(self._dict())
        merged[key] = value
        return FrozenMap(merged)

    def _dict(self) -> dict[K, V]:
        merged = self._merged
        if merged is None:
            merged = self._merged = {**self._base, **self._overlay}
        return merged

    def __getitem__(self, key: K) -> V:
        value = self._overlay.get(key, _MISSING)
        return self._base[key] if value is _MISSING else value

    def get(self, key: K, default: Any = None) -> Any:
        value = self._overlay.get(key, _MISSING)
        return self._base.get(key, default) if value is _MISSING else value

    def __contains__(self, key: object) -> bool:
        return key in self._overlay or key in self._base

    def __iter__(self) -> Iterator[K]:
        return iter(self._dict())

    def __len__(self) -> int:
        base = self._base
        return len(base) + sum(1 for key in self._overlay if key not in base)

    def items(self) -> Any:
        return self._dict().items()

    def keys(self) -> Any:
        return self._dict().keys()

    def values(self) -> Any:
        return self._dict().values()

    def __repr__(self) -> str:
        return f"FrozenMap({self._dict()!r})"


def with_item(mapping: Mapping[K, V], key: K, value: V) -> FrozenMap[K, V]:
    """``mapping`` with ``key`` set to ``value``, as a :class:`FrozenMap` (the first call copies)."""
    if isinstance(mapping, FrozenMap):
        return mapping.set(key, value)
    return FrozenMap(dict(mapping)).set(key, value)
