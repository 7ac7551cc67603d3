"""Small text helpers the built-in skills share."""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from importlib import resources
from typing import Any

import yaml

from groupops.errors import ConfigurationError

__all__ = ["command_text", "display_name", "load_bot_data"]

_CONTROL_OR_SPACE = re.compile(r"[\s\u200b-\u200f\u2028-\u202e\ufeff]+")
_PUNCTUATION = re.compile(r"[\W_]+", re.UNICODE)
_MAX_NAME_CHARS = 24


def display_name(name: str, member_id: str | None) -> str:
    """A member name safe to put in a message: one line, no controls, at most 24 characters."""
    cleaned = _CONTROL_OR_SPACE.sub(" ", unicodedata.normalize("NFKC", name or "")).strip()
    cleaned = "".join(char for char in cleaned if unicodedata.category(char)[0] != "C")
    if not cleaned:
        return f"群友{(member_id or '')[-4:]}"
    return cleaned[:_MAX_NAME_CHARS]


def command_text(text: str) -> str:
    """A message reduced to a command word: NFKC, lower case, without spaces or punctuation."""
    return _PUNCTUATION.sub("", unicodedata.normalize("NFKC", text or "")).lower()


@cache
def load_bot_data(file_name: str) -> Any:
    """A YAML file from ``groupops/bot/data`` (parsed once)."""
    try:
        text = resources.files("groupops.bot").joinpath("data", file_name).read_text(encoding="utf-8")
        return yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as error:
        raise ConfigurationError(f"bot data file {file_name} cannot be read: {error}") from error
