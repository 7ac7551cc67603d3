"""Deterministic identifiers in the shapes WeCom and WeChat use."""

from __future__ import annotations

import numpy as np

__all__ = ["hex_strings", "mix64", "random_tokens", "url_safe_ids"]

_URL_SAFE = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", dtype=np.uint8)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def mix64(keys: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: a bijection on uint64, so distinct keys give distinct values."""
    z = keys.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def random_tokens(
    rng: np.random.Generator, count: int, length: int, alphabet: np.ndarray = _URL_SAFE
) -> list[str]:
    """``count`` random strings of ``length`` characters from ``alphabet``."""
    if count == 0:
        return []
    codes = alphabet[rng.integers(0, alphabet.size, size=(count, length))]
    return [token.decode("ascii") for token in codes.view(f"S{length}").ravel()]


def url_safe_ids(rng: np.random.Generator, prefix: str, count: int, length: int) -> list[str]:
    """Distinct ids like ``wm`` + 26 url-safe characters (WeCom external_userid)."""
    seen: set[str] = set()
    result: list[str] = []
    while len(result) < count:
        for token in random_tokens(rng, count - len(result), length):
            if token not in seen:
                seen.add(token)
                result.append(prefix + token)
    return result


def hex_strings(values: np.ndarray, width: int = 16) -> list[str]:
    """Lower-case hex of uint64 values, zero-padded to ``width`` (≤ 16) digits."""
    return [format(int(value), "016x")[-width:] for value in values.astype(np.uint64)]
