"""Interface strings: one JSON catalogue per language (zh-CN default, en), looked up by key."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from groupops.errors import ConfigurationError

__all__ = ["DEFAULT_LOCALE", "LOCALES", "catalogue", "normalise_locale", "translate"]

LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"
_LOCALE_DIR = Path(__file__).parent / "locales"


@lru_cache(maxsize=len(LOCALES))
def catalogue(locale: str) -> dict[str, str]:
    """The key → text catalogue of ``locale``."""
    if locale not in LOCALES:
        raise ConfigurationError(f"unknown locale {locale!r}; choose one of {', '.join(LOCALES)}")
    loaded = json.loads((_LOCALE_DIR / f"{locale}.json").read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):
        raise ConfigurationError(f"catalogue {locale} must be a JSON object")
    return {str(key): str(value) for key, value in loaded.items()}


def normalise_locale(value: Any, default: str = DEFAULT_LOCALE) -> str:
    """``value`` when it names a supported locale, else ``default``."""
    return value if isinstance(value, str) and value in LOCALES else default


def translate(locale: str, key: str, **params: Any) -> str:
    """The text of ``key`` in ``locale`` (the key itself when missing), formatted with ``params``."""
    text = catalogue(normalise_locale(locale)).get(key, key)
    return text.format(**params) if params else text
