"""Bot state ↔ JSON: frozen dataclasses, dates, decimals, tuples and read-only mappings, tagged.

Only dataclasses defined in ``groupops.bot`` modules (or modules named in ``extra_modules``,
for plugin skills) are rebuilt; anything else in stored JSON is refused, so a tampered row
cannot make the loader import or construct arbitrary objects.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import operator
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from groupops.bot.core import GroupBotState
from groupops.errors import StoreError

__all__ = ["GroupStateEncoder", "decode_group_state", "decode_value", "encode_group_state", "encode_value"]

_TAG = "__t"
_ALLOWED_MODULE_PREFIXES = ("groupops.bot.",)


def encode_value(value: Any) -> Any:
    """A JSON-ready form of ``value`` (tagged where JSON alone would lose the type)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return {_TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {_TAG: "date", "v": value.isoformat()}
    if isinstance(value, Decimal):
        return {_TAG: "decimal", "v": str(value)}
    if isinstance(value, tuple):
        return {_TAG: "tuple", "v": [encode_value(item) for item in value]}
    if isinstance(value, list):
        return [encode_value(item) for item in value]
    if isinstance(value, Mapping):
        return {_TAG: "map", "v": [[encode_value(k), encode_value(v)] for k, v in value.items()]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _encode_dataclass(value)
    raise StoreError(f"bot state holds a value that cannot be stored: {type(value).__name__}")


def _encode_dataclass(value: Any) -> dict[str, Any]:
    kind = type(value)
    fields = {field.name: encode_value(getattr(value, field.name)) for field in dataclasses.fields(value)}
    return {_TAG: "dc", "c": f"{kind.__module__}:{kind.__qualname__}", "v": fields}


def decode_value(value: Any, extra_modules: tuple[str, ...] = ()) -> Any:
    """The inverse of :func:`encode_value`."""
    if isinstance(value, list):
        return [decode_value(item, extra_modules) for item in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(_TAG)
    inner = value.get("v")
    if tag == "datetime":
        return datetime.fromisoformat(str(inner))
    if tag == "date":
        return date.fromisoformat(str(inner))
    if tag == "decimal":
        return Decimal(str(inner))
    if tag == "tuple":
        return tuple(decode_value(item, extra_modules) for item in _list(inner))
    if tag == "map":
        pairs = (
            (decode_value(pair[0], extra_modules), decode_value(pair[1], extra_modules))
            for pair in _list(inner)
        )
        return MappingProxyType(dict(pairs))
    if tag == "dc":
        return _decode_dataclass(str(value.get("c", "")), inner, extra_modules)
    return {key: decode_value(item, extra_modules) for key, item in value.items()}


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise StoreError("stored bot state is malformed (a list was expected)")
    return value


def _decode_dataclass(qualified: str, fields: Any, extra_modules: tuple[str, ...]) -> Any:
    module_name, _, class_name = qualified.partition(":")
    allowed = module_name.startswith(_ALLOWED_MODULE_PREFIXES) or module_name in extra_modules
    if not allowed or not class_name.isidentifier():
        raise StoreError(f"stored bot state names a class that may not be loaded: {qualified!r}")
    try:
        kind = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        raise StoreError(f"stored bot state names an unknown class {qualified!r}") from error
    if not (dataclasses.is_dataclass(kind) and isinstance(kind, type)) or not isinstance(fields, dict):
        raise StoreError(f"stored bot state for {qualified!r} is malformed")
    known = {field.name for field in dataclasses.fields(kind) if field.init}
    values = {name: decode_value(item, extra_modules) for name, item in fields.items() if name in known}
    try:
        return kind(**values)
    except TypeError as error:
        raise StoreError(f"stored bot state for {qualified!r} does not fit the class: {error}") from error


def encode_group_state(state: GroupBotState) -> dict[str, Any]:
    """A group's bot state as a JSON object."""
    return {
        "group_id": state.group_id,
        "skill_states": {name: encode_value(value) for name, value in state.skill_states.items()},
        "recent_event_ids": list(state.recent_event_ids),
    }


def decode_group_state(
    group_id: str, stored: Mapping[str, Any] | None, extra_modules: tuple[str, ...] = ()
) -> GroupBotState:
    """A group's bot state from its JSON object (a fresh state for None or an empty object)."""
    if not stored:
        return GroupBotState(group_id)
    skills = stored.get("skill_states") or {}
    if not isinstance(skills, dict):
        raise StoreError(f"stored bot state of group {group_id} is malformed")
    decoded = {str(name): decode_value(value, extra_modules) for name, value in skills.items()}
    recent = tuple(str(item) for item in stored.get("recent_event_ids") or ())
    return GroupBotState(group_id, MappingProxyType(decoded), recent)


class GroupStateEncoder:
    """Encodes successive states of one group to JSON text, reusing the text of unchanged parts.

    Bot states are immutable: a skill that changes one member's record keeps every other record
    (and every older ledger entry) as the very same object. The encoder remembers, per place in
    the state, the last tuple and mapping it wrote with the text of each element, and per frozen
    dataclass (by identity, holding the object so the identity cannot be reused) its text; the
    next state then costs an identity comparison per unchanged element and real encoding only
    for what is new. The text equals ``json.dumps(encode_group_state(state))`` when parsed.
    """

    def __init__(self) -> None:
        self._objects: dict[int, tuple[Any, str]] = {}
        self._seen: dict[int, tuple[Any, str]] = {}
        self._sequences: dict[str, tuple[tuple[Any, ...], list[str]]] = {}
        self._mappings: dict[str, dict[Any, tuple[Any, str]]] = {}

    def encode(self, state: GroupBotState) -> str:
        """The JSON text of ``state``."""
        self._seen = {}
        skills = ",".join(
            f"{_dumps(str(name))}:{self._text(value, str(name))}"
            for name, value in state.skill_states.items()
        )
        self._objects, self._seen = self._seen, {}
        recent = _dumps(list(state.recent_event_ids))
        return (
            f'{{"group_id":{_dumps(state.group_id)},"skill_states":{{{skills}}},"recent_event_ids":{recent}}}'
        )

    def _text(self, value: Any, path: str) -> str:
        if value is None or isinstance(value, bool | int | float | str):
            return _dumps(value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return self._dataclass(value, path) if _is_frozen(value) else _dumps(encode_value(value))
        if isinstance(value, tuple):
            return f'{{"{_TAG}":"tuple","v":[{",".join(self._sequence(value, path))}]}}'
        if isinstance(value, list):
            return f"[{','.join(self._text(item, path + '[]') for item in value)}]"
        if isinstance(value, Mapping):
            return f'{{"{_TAG}":"map","v":[{",".join(self._mapping(value, path))}]}}'
        return _dumps(encode_value(value))

    def _dataclass(self, value: Any, path: str) -> str:
        key = id(value)
        known = self._objects.get(key) or self._seen.get(key)
        if known is None or known[0] is not value:
            kind = type(value)
            fields = ",".join(
                f"{_dumps(field.name)}:{self._text(getattr(value, field.name), f'{path}.{field.name}')}"
                for field in dataclasses.fields(value)
            )
            text = (
                f'{{"{_TAG}":"dc","c":{_dumps(f"{kind.__module__}:{kind.__qualname__}")},"v":{{{fields}}}}}'
            )
            known = (value, text)
        self._seen[key] = known
        return known[1]

    def _sequence(self, value: tuple[Any, ...], path: str) -> list[str]:
        previous, texts = self._sequences.get(path, ((), []))
        kept = len(previous) if len(previous) <= len(value) and all(map(operator.is_, previous, value)) else 0
        texts = texts[:kept] + [self._text(item, path + "[]") for item in value[kept:]]
        self._sequences[path] = (value, texts)
        return texts

    def _mapping(self, value: Mapping[Any, Any], path: str) -> list[str]:
        previous = self._mappings.get(path, {})
        current: dict[Any, tuple[Any, str]] = {}
        for key, item in value.items():
            known = previous.get(key)
            if known is None or known[0] is not item:
                known = (item, f"[{self._text(key, path + '{}')},{self._text(item, path + '[]')}]")
            current[key] = known
        self._mappings[path] = current
        return [text for _, text in current.values()]


def _is_frozen(value: Any) -> bool:
    return bool(type(value).__dataclass_params__.frozen)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
