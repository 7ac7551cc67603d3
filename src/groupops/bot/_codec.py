"""Bot state ↔ JSON: frozen dataclasses, dates, decimals, tuples and read-only mappings, tagged.

Only dataclasses defined in ``groupops.bot`` modules (or modules named in ``extra_modules``,
for plugin skills) are rebuilt; anything else in stored JSON is refused, so a tampered row
cannot make the loader import or construct arbitrary objects.

Stored in parts: the collections that grow with the group — every mapping or tuple held
directly by a skill's state (check-in records by member, flood-check fingerprints, violations
…) and the recent event ids — are kept as one row per element
(``bot_group_state_entries``); the state row holds a marker ``{"__t": "entries", "p": path,
"k": "map" | "tuple"}`` in their place. :class:`GroupStateEncoder` reports which elements
changed since its last write, so a write costs what changed, not the size of the group.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import json.encoder
import operator
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from groupops.bot._frozenmap import FrozenMap
from groupops.bot.core import GroupBotState
from groupops.errors import StoreError

__all__ = [
    "EncodedState",
    "GroupStateEncoder",
    "StoredEntry",
    "decode_group_state",
    "decode_value",
    "encode_group_state",
    "encode_value",
]

_TAG = "__t"
_encode_string: Any = json.encoder.encode_basestring  # C speed-up: "…" with JSON escapes, non-ASCII kept
_ENTRIES = "entries"
RECENT_IDS_PATH = "recent_event_ids"
_MISSING = object()
StoredEntry = tuple[str, str, str]  # (path, entry key text, value text), in stored order
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
    group_id: str,
    stored: Mapping[str, Any] | None,
    extra_modules: tuple[str, ...] = (),
    entries: Iterable[StoredEntry] = (),
) -> GroupBotState:
    """A group's bot state from its JSON object and its stored parts (a fresh state for None or ``{}``)."""
    if not stored:
        return GroupBotState(group_id)
    parts: dict[str, list[tuple[str, str]]] = {}
    for path, key_text, value_text in entries:
        parts.setdefault(path, []).append((key_text, value_text))
    skills = stored.get("skill_states") or {}
    if not isinstance(skills, dict):
        raise StoreError(f"stored bot state of group {group_id} is malformed")
    decoded = {
        str(name): decode_value(_joined(value, parts), extra_modules) for name, value in skills.items()
    }
    recent_ids = _joined(stored.get("recent_event_ids") or (), parts)
    if isinstance(recent_ids, dict):  # a tuple marker
        recent_ids = recent_ids.get("v") or []
    recent = tuple(str(item) for item in recent_ids)
    return GroupBotState(group_id, MappingProxyType(decoded), recent)


def _joined(value: Any, parts: dict[str, list[tuple[str, str]]]) -> Any:
    """``value`` with entry markers (at the top or in its dataclass fields) replaced by the parts."""
    if isinstance(value, dict) and value.get(_TAG) == _ENTRIES:
        stored = parts.get(str(value.get("p")), [])
        if value.get("k") == "map":
            return {_TAG: "map", "v": [[json.loads(key), json.loads(item)] for key, item in stored]}
        return {_TAG: "tuple", "v": [json.loads(item) for _, item in stored]}
    if isinstance(value, dict) and value.get(_TAG) == "dc" and isinstance(value.get("v"), dict):
        fields = {name: _joined(item, parts) for name, item in value["v"].items()}
        return {**value, "v": fields}
    return value


@dataclasses.dataclass
class EncodedState:
    """One write of a group's state: the state row's text and the changes to its stored parts."""

    text: str
    upserts: list[StoredEntry] = dataclasses.field(default_factory=list)
    deletes: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (path, entry key text)
    resets: list[str] = dataclasses.field(default_factory=list)  # paths whose stored entries go first


@dataclasses.dataclass
class _SplitMapping:
    value: Mapping[Any, Any]  # the mapping last written (its elements are what the store holds)
    key_texts: dict[Any, str]  # key → its JSON text, for every key of ``value``


@dataclasses.dataclass
class _SplitSequence:
    value: tuple[Any, ...]
    base: int  # the stored index of value[0]


class GroupStateEncoder:
    """Encodes successive states of one group, reusing the text of unchanged parts.

    Bot states are immutable: a skill that changes one member's record keeps every other record
    as the very same object (a :class:`~groupops.bot._frozenmap.FrozenMap` says which keys it
    set since its shared base, so then only those are compared). The encoder remembers, per place in
    the state, the last tuple and mapping it wrote with the text of each element, and per frozen
    dataclass (by identity, holding the object so the identity cannot be reused) its text; the
    next state then costs an identity comparison per unchanged element and real encoding only
    for what is new. :meth:`encode` gives the whole text (equal to
    ``json.dumps(encode_group_state(state))`` when parsed); :meth:`encode_parts` gives the state
    row and the changed stored parts, relative to the last :meth:`encode_parts` of this encoder
    (a new encoder starts by replacing every part).
    """

    def __init__(self) -> None:
        self._objects: dict[int, tuple[Any, str]] = {}
        self._seen: dict[int, tuple[Any, str]] = {}
        self._sequences: dict[str, tuple[tuple[Any, ...], list[str]]] = {}
        self._mappings: dict[str, dict[Any, tuple[Any, str]]] = {}
        self._split: dict[str, _SplitMapping | _SplitSequence] = {}
        self._skill_texts: dict[str, tuple[Any, str]] = {}

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

    def encode_parts(self, state: GroupBotState) -> EncodedState:
        """The state row's text (growing collections as markers) and the changes to the stored parts."""
        encoded = EncodedState("")
        self._seen = {}
        skills = ",".join(
            f"{_dumps(str(name))}:{self._skill_text(value, str(name), encoded)}"
            for name, value in state.skill_states.items()
        )
        self._objects, self._seen = self._seen, {}
        recent = self._split_sequence(state.recent_event_ids, RECENT_IDS_PATH, encoded)
        encoded.text = (
            f'{{"group_id":{_dumps(state.group_id)},"skill_states":{{{skills}}},"recent_event_ids":{recent}}}'
        )
        return encoded

    def _skill_text(self, value: Any, name: str, encoded: EncodedState) -> str:
        """A skill state whose mapping and tuple fields are stored as parts."""
        if not (dataclasses.is_dataclass(value) and not isinstance(value, type) and _is_frozen(value)):
            return self._text(value, name)
        known = self._skill_texts.get(name)
        if known is not None and known[0] is value:
            return known[1]
        fields = []
        for field in dataclasses.fields(value):
            item, path = getattr(value, field.name), f"{name}.{field.name}"
            if isinstance(item, Mapping):
                text = self._split_mapping(item, path, encoded)
            elif isinstance(item, tuple):
                text = self._split_sequence(item, path, encoded)
            else:
                text = self._text(item, path)
            fields.append(f"{_dumps(field.name)}:{text}")
        kind = type(value)
        qualified = _dumps(f"{kind.__module__}:{kind.__qualname__}")
        text = f'{{"{_TAG}":"dc","c":{qualified},"v":{{{",".join(fields)}}}}}'
        self._skill_texts[name] = (value, text)
        return text

    def _split_mapping(self, value: Mapping[Any, Any], path: str, encoded: EncodedState) -> str:
        marker = f'{{"{_TAG}":"{_ENTRIES}","p":{_dumps(path)},"k":"map"}}'
        previous = self._split.get(path)
        if isinstance(previous, _SplitMapping) and previous.value is value:
            return marker
        if not isinstance(previous, _SplitMapping):
            encoded.resets.append(path)
            previous = _SplitMapping({}, {})
        earlier, key_texts = previous.value, previous.key_texts
        look_up = earlier.get
        shared = _shares_base(earlier, value)  # then only the overlay can differ, and no key is gone
        items = value.overlay.items() if isinstance(value, FrozenMap) and shared else value.items()
        changed = [key for key, item in items if look_up(key, _MISSING) is not item]
        for key in changed:
            key_text = key_texts.get(key)
            if key_text is None:
                key_text = key_texts[key] = self._text(key, path + "{}")
            encoded.upserts.append((path, key_text, self._text(value[key], path + "[]")))
        added = sum(1 for key in changed if key not in earlier)
        if not shared and len(value) - added != len(earlier):  # some keys are gone
            for key in earlier.keys() - value.keys():
                encoded.deletes.append((path, key_texts.pop(key)))
        self._split[path] = _SplitMapping(value, key_texts)
        return marker

    def _split_sequence(self, value: tuple[Any, ...], path: str, encoded: EncodedState) -> str:
        marker = f'{{"{_TAG}":"{_ENTRIES}","p":{_dumps(path)},"k":"tuple"}}'
        previous = self._split.get(path)
        if isinstance(previous, _SplitSequence) and previous.value is value:
            return marker
        dropped = _dropped_from_front(previous.value, value) if isinstance(previous, _SplitSequence) else None
        if dropped is None or not isinstance(previous, _SplitSequence):
            encoded.resets.append(path)
            base, kept = 0, 0
        else:
            base, kept = previous.base + dropped, len(previous.value) - dropped
            encoded.deletes.extend((path, str(previous.base + index)) for index in range(dropped))
        for index in range(kept, len(value)):
            encoded.upserts.append((path, str(base + index), self._text(value[index], path + "[]")))
        self._split[path] = _SplitSequence(value, base)
        return marker

    def _text(self, value: Any, path: str) -> str:
        if value is None or isinstance(value, bool | int | float | str):
            return _dumps(value)
        kind = type(value)
        if kind is datetime or kind is date:  # ISO text needs no JSON escapes
            return f'{{"{_TAG}":"{kind.__name__}","v":"{value.isoformat()}"}}'
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
            opening, names = _class_texts(type(value))
            fields = ",".join(
                f"{name_text}:{self._text(getattr(value, name), f'{path}.{name}')}"
                for name, name_text in names
            )
            known = (value, f"{opening}{fields}}}}}")
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


def _shares_base(earlier: Mapping[Any, Any], value: Mapping[Any, Any]) -> bool:
    """Every key where ``value`` and ``earlier`` may differ is in ``value``'s overlay (same base, and
    ``earlier``'s overlay keys are all in it), and no key is gone."""
    return (
        isinstance(value, FrozenMap)
        and isinstance(earlier, FrozenMap)
        and value.base is earlier.base
        and earlier.overlay.keys() <= value.overlay.keys()
    )


def _dropped_from_front(previous: tuple[Any, ...], value: tuple[Any, ...]) -> int | None:
    """How many leading elements ``value`` dropped from ``previous`` before appending (None: not so)."""
    if not previous:
        return 0
    for dropped in _drop_candidates(previous, value):
        kept = len(previous) - dropped
        if kept <= len(value) and all(map(operator.is_, previous[dropped:], value[:kept])):
            return dropped
    return None


def _drop_candidates(previous: tuple[Any, ...], value: tuple[Any, ...]) -> list[int]:
    if not value:
        return [len(previous)]
    candidates = [0]
    try:
        candidates.append(previous.index(value[0]))
    except ValueError:
        candidates.append(len(previous))
    return candidates


def _is_frozen(value: Any) -> bool:
    return bool(type(value).__dataclass_params__.frozen)


_CLASS_TEXTS: dict[type, tuple[str, tuple[tuple[str, str], ...]]] = {}


def _class_texts(kind: type) -> tuple[str, tuple[tuple[str, str], ...]]:
    """A frozen dataclass's opening text up to its fields, and each field's name with its JSON text."""
    known = _CLASS_TEXTS.get(kind)
    if known is None:
        opening = f'{{"{_TAG}":"dc","c":{_dumps(f"{kind.__module__}:{kind.__qualname__}")},"v":{{'
        names = tuple((field.name, _dumps(field.name)) for field in dataclasses.fields(kind))
        known = _CLASS_TEXTS[kind] = (opening, names)
    return known


def _dumps(value: Any) -> str:
    """Compact JSON text, non-ASCII kept; strings, integers and constants without ``json.dumps``."""
    kind = type(value)
    if kind is str:
        return _encode_string(value)
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
