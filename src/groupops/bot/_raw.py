"""Hot-path statements run on the DBAPI cursor: one ``executemany`` per kind of row for a batch.

SQLAlchemy Core processes every parameter of every row (type adapters, JSON serialisation,
statement cache look-ups); for the few statements a callback batch repeats per event, the SQL
text is built once per dialect and the values are given in the form the store keeps them:

- timestamps: an aware datetime (PostgreSQL) or SQLAlchemy's SQLite text
  ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC, as :class:`~groupops.store.models.base.UTCDateTime`
  writes it; dates as ``YYYY-MM-DD`` on SQLite;
- JSON columns: the JSON text (cast to ``json`` on PostgreSQL).

SQL is written with ``?`` markers and turned into ``%s`` for psycopg. The statements run on
the session's connection, so they are part of the batch's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Table
from sqlalchemy.engine import Connection

from groupops.store.models.base import UTCDateTime

__all__ = ["RawDialect", "insert_rows", "json_text", "raw_dialect", "update_rows"]


class RawDialect:
    """SQL text and values for one dialect (``sqlite`` or ``postgresql``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.postgresql = name == "postgresql"
        self.json_marker = "CAST(? AS JSON)" if self.postgresql else "?"  # for a JSON column's value
        self._texts: dict[str, str] = {}
        self._columns: dict[tuple[str, str], tuple[str, Callable[[Any], Any]]] = {}

    def sql(self, text: str) -> str:
        """``text`` with its ``?`` markers in the driver's style (cached)."""
        known = self._texts.get(text)
        if known is None:
            known = self._texts[text] = text.replace("?", "%s") if self.postgresql else text
        return known

    def time(self, value: datetime | None) -> Any:
        """A timestamp as the store keeps it (UTC)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a time zone first")
        utc = value.astimezone(UTC)
        return utc if self.postgresql else utc.replace(tzinfo=None).isoformat(" ", "microseconds")

    def day(self, value: date | None) -> Any:
        """A date as the store keeps it."""
        if value is None or self.postgresql:
            return value
        return value.isoformat()

    def values_rows(self, rows: int, columns: int, json_columns: Sequence[int] = ()) -> str:
        """``(?, ?, …), (…)`` for a multi-row ``VALUES`` (JSON columns cast on PostgreSQL)."""
        cast = set(json_columns)
        one = "(" + ", ".join(self.json_marker if index in cast else "?" for index in range(columns)) + ")"
        return ", ".join([one] * rows)

    def execute_many(self, connection: Connection, text: str, rows: Sequence[Sequence[Any]]) -> Any:
        """``text`` for every row in one ``executemany`` on the DBAPI cursor; the cursor result."""
        return connection.exec_driver_sql(self.sql(text), list(rows) if len(rows) > 1 else tuple(rows[0]))

    def column(self, table: Table, name: str) -> tuple[str, Callable[[Any], Any]]:
        """A column's value marker and the function that gives a Python value its stored form."""
        key = (table.name, name)
        known = self._columns.get(key)
        if known is None:
            kind = table.c[name].type
            if isinstance(kind, UTCDateTime):
                known = ("?", self.time)
            elif isinstance(kind, JSON):
                known = (self.json_marker, json_text)
            elif isinstance(kind, Date):
                known = ("?", self.day)
            else:
                known = ("?", _same)
            self._columns[key] = known
        return known

    def execute(self, connection: Connection, text: str, values: Sequence[Any]) -> Any:
        """``text`` once on the DBAPI cursor."""
        return connection.exec_driver_sql(self.sql(text), tuple(values))


def json_text(value: Any) -> str:
    """Compact JSON text (non-ASCII kept)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_DIALECTS: dict[str, RawDialect] = {}


def raw_dialect(connection: Connection) -> RawDialect:
    """The shared :class:`RawDialect` of ``connection``'s dialect."""
    name = connection.dialect.name
    known = _DIALECTS.get(name)
    if known is None:
        known = _DIALECTS[name] = RawDialect(name)
    return known


def _same(value: Any) -> Any:
    return value


def insert_rows(
    connection: Connection, table: Table, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert ``rows`` (mappings with every name in ``columns``) in one ``executemany``."""
    if not rows:
        return
    dialect = raw_dialect(connection)
    described = [dialect.column(table, name) for name in columns]
    markers = ", ".join(marker for marker, _ in described)
    text = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({markers})"
    stored = [
        tuple(convert(row[name]) for name, (_, convert) in zip(columns, described, strict=True))
        for row in rows
    ]
    dialect.execute_many(connection, text, stored)


def update_rows(
    connection: Connection, table: Table, key: str, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> int:
    """Set ``columns`` of the rows whose ``key`` column equals each row's ``key`` value; rows changed."""
    if not rows:
        return 0
    dialect = raw_dialect(connection)
    described = [dialect.column(table, name) for name in columns]
    assignments = ", ".join(
        f"{name} = {marker}" for name, (marker, _) in zip(columns, described, strict=True)
    )
    text = f"UPDATE {table.name} SET {assignments} WHERE {key} = ?"
    stored = [
        (*(convert(row[name]) for name, (_, convert) in zip(columns, described, strict=True)), row[key])
        for row in rows
    ]
    return int(dialect.execute_many(connection, text, stored).rowcount)
