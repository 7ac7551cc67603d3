"""Column maps: which source column feeds which GroupOps field.

Presets (``generic.yaml``, ``shopify.yaml`` in this folder) and user mapping files
(``groupops ingest … --mapping FILE``) share one YAML format::

    base: generic            # optional: start from a preset (mapping files only)
    columns:                 # target field → source column name, or a list of candidates
      order_id: 单号
      placed_at: [下单时间, 创建时间]
    time_format: "%Y/%m/%d %H:%M"   # optional strptime format for every time column
    status_map: {已发货: paid}       # optional: source status → GroupOps status
    channel_map: {抖音: live}        # optional: source channel → GroupOps channel
    member_id_from_tags: [Tags]      # optional: columns searched for a "member:<id>" token
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from groupops.errors import ConfigurationError

__all__ = ["ColumnMap", "column_map_from_options", "load_mapping", "load_preset", "preset_names"]

_PRESET_DIR = Path(__file__).parent
_MAX_MAPPING_BYTES = 1_000_000
_KEYS = {
    "base",
    "description",
    "columns",
    "time_format",
    "status_map",
    "channel_map",
    "member_id_from_tags",
}


@dataclass(frozen=True)
class ColumnMap:
    """A parsed preset or mapping file."""

    name: str
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    time_format: str | None = None
    status_map: dict[str, str] = field(default_factory=dict)
    channel_map: dict[str, str] = field(default_factory=dict)
    member_id_from_tags: tuple[str, ...] = ()

    def aliases(self, defaults: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
        """``defaults`` (field → accepted column names) with this map's columns taking precedence."""
        unknown = sorted(set(self.columns) - set(defaults))
        if unknown:
            raise ConfigurationError(
                f"column map {self.name!r}: unknown target field(s) {', '.join(unknown)}; "
                f"known: {', '.join(defaults)}"
            )
        merged = {name: tuple(names) for name, names in defaults.items()}
        for target, sources in self.columns.items():
            merged[target] = sources
        return merged


def preset_names() -> list[str]:
    """The presets shipped with GroupOps."""
    return sorted(path.stem for path in _PRESET_DIR.glob("*.yaml"))


def _string_list(value: Any, where: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str | int) for i in items):
        raise ConfigurationError(f"{where}: expected a column name or a list of column names")
    return tuple(str(item) for item in items)


def _string_dict(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigurationError(f"{where}: expected a mapping of source value → GroupOps value")
    return {str(key).strip().lower(): str(item) for key, item in value.items()}


def _parse(document: Any, name: str, base: ColumnMap | None) -> ColumnMap:
    if not isinstance(document, dict):
        raise ConfigurationError(f"column map {name!r}: expected a YAML mapping at the top level")
    unknown = sorted(set(document) - _KEYS)
    if unknown:
        raise ConfigurationError(f"column map {name!r}: unknown key(s) {', '.join(map(str, unknown))}")
    columns = document.get("columns") or {}
    if not isinstance(columns, dict):
        raise ConfigurationError(f"column map {name!r}: 'columns' must map target field → column name")
    start = base or ColumnMap(name)
    time_format = document.get("time_format", start.time_format)
    if time_format is not None and not isinstance(time_format, str):
        raise ConfigurationError(f"column map {name!r}: 'time_format' must be a strptime format string")
    tags = document.get("member_id_from_tags")
    return replace(
        start,
        name=name,
        columns={
            **start.columns,
            **{str(k): _string_list(v, f"{name}: columns.{k}") for k, v in columns.items()},
        },
        time_format=time_format,
        status_map={**start.status_map, **_string_dict(document.get("status_map"), f"{name}: status_map")},
        channel_map={
            **start.channel_map,
            **_string_dict(document.get("channel_map"), f"{name}: channel_map"),
        },
        member_id_from_tags=_string_list(tags, f"{name}: member_id_from_tags")
        if tags
        else start.member_id_from_tags,
    )


def load_preset(name: str) -> ColumnMap:
    """A shipped preset by name (``generic``, ``shopify``)."""
    if name not in preset_names():
        raise ConfigurationError(f"unknown preset {name!r}; choose one of: {', '.join(preset_names())}")
    text = (_PRESET_DIR / f"{name}.yaml").read_text(encoding="utf-8")
    return _parse(yaml.safe_load(text), name, None)


def load_mapping(path: Path, default_base: str | None = None) -> ColumnMap:
    """A user mapping file; it extends its ``base`` preset (or ``default_base``) when one is named."""
    try:
        if path.stat().st_size > _MAX_MAPPING_BYTES:
            raise ConfigurationError(f"mapping file {path} is larger than {_MAX_MAPPING_BYTES} bytes")
        document = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except OSError as error:
        raise ConfigurationError(f"cannot read mapping file {path}: {error}") from error
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConfigurationError(f"mapping file {path} is not valid UTF-8 YAML: {error}") from error
    base_name = document.get("base", default_base) if isinstance(document, dict) else default_base
    base = load_preset(str(base_name)) if base_name else None
    return _parse(document, str(path), base)


def column_map_from_options(
    options: Mapping[str, Any], default_preset: str | None = None, *, presets: bool = True
) -> ColumnMap:
    """The column map an import asked for: ``options["mapping"]`` over ``options["preset"]``.

    Kinds without presets pass ``presets=False``: only a mapping file applies to them.
    """
    preset = (options.get("preset") or default_preset) if presets else None
    mapping = options.get("mapping")
    if mapping:
        return load_mapping(Path(mapping), preset)
    if preset:
        return load_preset(str(preset))
    return ColumnMap("default")
