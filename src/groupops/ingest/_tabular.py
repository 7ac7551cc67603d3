"""Shared reading of CSV and XLSX sources: encodings, headers, numbered rows and typed fields.

CSV files may be UTF-8, UTF-8 with BOM or GB18030 (tried strictly in that order). Headers are
matched case-, space- and underscore-insensitively against each field's aliases. Rows come
out one at a time with their 1-based line number (the CSV line where the record starts, or
the sheet row of an XLSX file); a record longer than ``max_line_bytes`` is reported, never
held whole. The typed parsers raise :class:`RecordError` whose message names the column and
what is wrong with the value: that message is the quarantine reason.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from functools import lru_cache
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import pyarrow as pa

from groupops.errors import InputFormatError
from groupops.store.schemas import FACT_SCHEMAS
from groupops.store.warehouse import LINE_COLUMN, StagedImport

__all__ = [
    "Cell",
    "FactBatcher",
    "HeaderMap",
    "RecordError",
    "TabularRow",
    "UpsertCounts",
    "cell_text",
    "check_store_values",
    "check_header",
    "detect_encoding",
    "month_in_zone",
    "normalise_header",
    "parse_count",
    "parse_integer",
    "parse_money",
    "parse_time",
    "read_header",
    "read_rows",
    "resolve_header",
    "run_line_number",
    "split_tags",
    "upsert_records",
]

Cell = str | int | float | bool | datetime | date | time | None

_CHUNK_BYTES = 1024 * 1024
_XLSX_SUFFIXES = (".xlsx", ".xlsm")
_MIN_TIME = datetime(2000, 1, 1, tzinfo=UTC)
_MAX_TIME = datetime(2100, 1, 1, tzinfo=UTC)
_UNIX_MS_THRESHOLD = 100_000_000_000  # larger numbers are milliseconds (1e11 s is year 5138)
_UNIX_TEXT = re.compile(r"-?\d{1,16}(\.\d+)?")
_MONEY_TEXT = re.compile(r"\d+(\.\d+)?|\.\d+")
_INTEGER_TEXT = re.compile(r"[+-]?\d{1,18}")
_COUNT_TEXT = re.compile(r"(\d+(?:\.\d+)?)(万|w|k|千|亿|m)?")


class RecordError(ValueError):
    """One record cannot be imported; the message is the quarantine reason."""


# -- encodings -------------------------------------------------------------------------------
def _decodes_strictly(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK_BYTES):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(path: Path) -> str:
    """``utf-8-sig`` (UTF-8 with or without BOM) or ``gb18030``; anything else is an InputFormatError."""
    for encoding in ("utf-8-sig", "gb18030"):
        if _decodes_strictly(path, encoding):
            return encoding
    raise InputFormatError(f"{path}: text is neither UTF-8 nor GB18030; save it as UTF-8 and retry")


# -- headers ---------------------------------------------------------------------------------
_HEADER_SEPARATORS = re.compile(r"[\s_\-./]+")


def normalise_header(name: object) -> str:
    """``' Lineitem  Quantity '`` → ``'lineitem_quantity'``; BOMs and surrounding blanks dropped."""
    text = str(name or "").replace("\ufeff", "").strip().lower()
    return _HEADER_SEPARATORS.sub("_", text).strip("_")


@dataclass(frozen=True)
class HeaderMap:
    """Where each known field sits in a file's header (``None`` when the file lacks it)."""

    positions: dict[str, int]
    header: list[str]

    def has(self, field_name: str) -> bool:
        return field_name in self.positions


def resolve_header(
    header: Sequence[object],
    aliases: Mapping[str, Sequence[str]],
    required: Iterable[str | Sequence[str]],
    path: Path,
) -> HeaderMap:
    """Match ``header`` against each field's aliases (then its own name); a missing required column
    raises InputFormatError.

    An entry of ``required`` that is a sequence means "at least one of these fields".
    """
    normalised = [normalise_header(name) for name in header]
    positions: dict[str, int] = {}
    for field_name, names in aliases.items():
        for alias in (*names, field_name):
            key = normalise_header(alias)
            if key in normalised:
                positions[field_name] = normalised.index(key)
                break
    missing = []
    for need in required:
        options = [need] if isinstance(need, str) else list(need)
        if not any(option in positions for option in options):
            missing.append(" or ".join(options))
    if missing:
        found = ", ".join(str(name) for name in header if str(name or "").strip()) or "nothing"
        raise InputFormatError(
            f"{path}: missing required column(s): {', '.join(missing)} (header has: {found[:500]})"
        )
    return HeaderMap(positions, [str(name or "") for name in header])


# -- rows ------------------------------------------------------------------------------------
@dataclass
class TabularRow:
    """One record: its 1-based line number, its cells and, if it could not be read, why."""

    line: int
    cells: list[Cell]
    error: str | None = None
    header: HeaderMap | None = field(default=None, repr=False)

    def get(self, field_name: str) -> Cell:
        """The cell of ``field_name`` (``None`` when the file has no such column)."""
        if self.header is None:
            return None
        position = self.header.positions.get(field_name)
        if position is None or position >= len(self.cells):
            return None
        return self.cells[position]

    def text(self, field_name: str) -> str:
        """The cell as stripped text (``''`` when empty or absent)."""
        value = self.get(field_name)
        return value.strip() if type(value) is str else cell_text(value)

    def raw(self) -> str:
        """The record as one CSV line, for the quarantine file."""
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="").writerow(["" if c is None else c for c in self.cells])
        return buffer.getvalue()


class _CountingReader(io.RawIOBase):
    """A raw binary reader that counts the bytes it hands out (for progress bars)."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._handle.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


class _BoundedLines:
    """Physical lines of a text stream; a line over the limit is skipped and its number remembered."""

    def __init__(self, stream: IO[str], limit: int) -> None:
        self._stream = stream
        self._limit = limit
        self.number = 0
        self.oversize: list[tuple[int, int, str]] = []  # (line, characters, first 1000 characters)

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self._stream.readline(self._limit + 1)
        if not line:
            raise StopIteration
        self.number += 1
        if len(line) > self._limit and line[-1] not in "\r\n":
            return self._skip_rest(line)
        return line

    def _skip_rest(self, head: str) -> str:
        length = len(head)
        while True:
            part = self._stream.readline(_CHUNK_BYTES)
            length += len(part)
            if not part or part[-1] in "\r\n":
                break
        self.oversize.append((self.number, length, head[:1000]))
        return "\n"


def _csv_rows(
    path: Path, encoding: str, max_line_bytes: int, progress: Callable[[int], None]
) -> Iterator[TabularRow]:
    if csv.field_size_limit() < max_line_bytes:
        csv.field_size_limit(max_line_bytes)
    with path.open("rb") as binary:
        counter = _CountingReader(binary)
        stream = io.TextIOWrapper(io.BufferedReader(counter, _CHUNK_BYTES), encoding=encoding, newline="")
        lines = _BoundedLines(stream, max_line_bytes)
        reader = csv.reader(lines)
        reported = 0
        while True:
            start = lines.number + 1
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                yield TabularRow(start, [], f"unreadable CSV record: {error}")
                continue
            if lines.oversize:
                for number, length, head in lines.oversize:
                    reason = f"record longer than {max_line_bytes} characters ({length}; first 1000 kept)"
                    yield TabularRow(number, [head], reason)
                lines.oversize.clear()
                continue
            if record and any(cell.strip() for cell in record):
                yield TabularRow(start, list(record))
            if counter.count - reported >= _CHUNK_BYTES:
                progress(counter.count - reported)
                reported = counter.count
        progress(counter.count - reported)


def _xlsx_rows(path: Path, progress: Callable[[int], None]) -> Iterator[TabularRow]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=False)
    except (InvalidFileException, BadZipFile, OSError, KeyError, ValueError) as error:
        raise InputFormatError(f"{path}: not a readable XLSX workbook ({error})") from error
    try:
        sheet = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells: list[Cell] = list(values)
            if any(cell_text(cell) for cell in cells):
                yield TabularRow(number, cells)
    finally:
        workbook.close()
    progress(path.stat().st_size)


def _all_rows(path: Path, max_line_bytes: int, progress: Callable[[int], None]) -> Iterator[TabularRow]:
    if path.suffix.lower() in _XLSX_SUFFIXES:
        return _xlsx_rows(path, progress)
    return _csv_rows(path, detect_encoding(path), max_line_bytes, progress)


def read_header(path: Path, max_line_bytes: int) -> list[Cell] | None:
    """The first non-empty record of ``path`` (``None`` for an empty file)."""
    for row in _all_rows(path, max_line_bytes, lambda advance: None):
        if row.error is None:
            return row.cells
        raise InputFormatError(f"{path}: header line {row.line} is unreadable: {row.error}")
    return None


def check_header(
    path: Path,
    aliases: Mapping[str, Sequence[str]],
    required: Iterable[str | Sequence[str]],
    max_line_bytes: int,
) -> HeaderMap | None:
    """Resolve the header of ``path`` before anything is written (``None`` for an empty file)."""
    header = read_header(path, max_line_bytes)
    return None if header is None else resolve_header(header, aliases, list(required), path)


def read_rows(
    path: Path,
    aliases: Mapping[str, Sequence[str]],
    required: Iterable[str | Sequence[str]],
    max_line_bytes: int,
    progress: Callable[[int], None] = lambda advance: None,
) -> Iterator[TabularRow]:
    """The data rows of ``path`` (header resolved first); nothing for an empty file."""
    rows = _all_rows(path, max_line_bytes, progress)
    header: HeaderMap | None = None
    for row in rows:
        if header is None:
            if row.error is not None:
                raise InputFormatError(f"{path}: header line {row.line} is unreadable: {row.error}")
            header = resolve_header(row.cells, aliases, required, path)
            continue
        row.header = header
        yield row


# -- typed fields ----------------------------------------------------------------------------
def cell_text(value: Cell) -> str:
    """A cell as stripped text: integral floats lose their ``.0``, datetimes become ISO 8601."""
    if type(value) is str:
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value).strip()


def _show(value: Cell) -> str:
    text = cell_text(value)
    return repr(text if len(text) <= 60 else text[:60] + "…")


def _check_range(moment: datetime, column: str, value: Cell) -> datetime:
    if not _MIN_TIME <= moment < _MAX_TIME:
        raise RecordError(f"column {column!r}: time {_show(value)} is outside 2000–2099")
    return moment


def _from_unix(number: float, column: str, value: Cell) -> datetime:
    seconds = number / 1000 if abs(number) >= _UNIX_MS_THRESHOLD else number
    try:
        moment = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise RecordError(f"column {column!r}: unix time {_show(value)} is out of range") from error
    return _check_range(moment, column, value)


_SPACED_OFFSET = re.compile(r"^(.*\d)\s+([+-]\d{2}):?(\d{2})$")
_FALLBACK_FORMATS = (
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y-%m-%d %H:%M",
    "%Y年%m月%d日 %H:%M:%S",
)


def _parse_time_text(text: str, time_format: str | None) -> datetime | None:
    if time_format:
        try:
            return datetime.strptime(text, time_format)
        except ValueError:
            return None
    spaced = _SPACED_OFFSET.match(text)
    candidate = f"{spaced[1]}{spaced[2]}:{spaced[3]}" if spaced else text.replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(candidate)
    except ValueError:
        pass
    for pattern in _FALLBACK_FORMATS:
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    return None


def parse_time(value: Cell, column: str, zone: ZoneInfo, time_format: str | None = None) -> datetime | None:
    """A UTC time from ISO 8601 (with or without offset), ``YYYY-MM-DD HH:MM:SS``, unix s or ms.

    Times without an offset are in ``zone`` (the brand time zone). Empty gives ``None``.
    """
    if isinstance(value, bool):
        raise RecordError(f"column {column!r}: {_show(value)} is not a time")
    if isinstance(value, int | float):
        return _from_unix(float(value), column, value)
    if isinstance(value, datetime):
        local = value if value.tzinfo else value.replace(tzinfo=zone)
        return _check_range(local.astimezone(UTC), column, value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return _check_range(datetime.combine(value, time(), zone).astimezone(UTC), column, value)
    text = cell_text(value)
    if not text:
        return None
    if time_format is None and _UNIX_TEXT.fullmatch(text):
        return _from_unix(float(text), column, value)
    parsed = _parse_time_text(text, time_format)
    if parsed is None:
        expected = f"format {time_format!r}" if time_format else "ISO 8601, YYYY-MM-DD HH:MM:SS or unix time"
        raise RecordError(f"column {column!r}: {_show(value)} is not a time ({expected} expected)")
    local = parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)
    return _check_range(local.astimezone(UTC), column, value)


_CURRENCY = re.compile(r"(?i)^(?:cny|rmb|usd|[¥￥$])|(?:元|cny|rmb)$")


def parse_money(value: Cell, column: str, *, allow_negative: bool = False) -> float | None:
    """Yuan from ``'¥1,299.00'``, ``'1299'``, ``'1,299.5'`` or a number; empty gives ``None``."""
    if type(value) is str and _MONEY_TEXT.fullmatch(value):  # the common case: a plain number
        return float(value)
    if isinstance(value, bool):
        raise RecordError(f"column {column!r}: {_show(value)} is not an amount of money")
    if isinstance(value, int | float):
        amount = float(value)
    else:
        text = cell_text(value).replace(",", "").replace("\u00a0", "").replace(" ", "")
        if not text:
            return None
        negative = text.startswith("-")
        text = _CURRENCY.sub("", text.lstrip("-")).strip()
        if not _MONEY_TEXT.fullmatch(text):
            raise RecordError(f"column {column!r}: {_show(value)} is not an amount of money")
        amount = -float(text) if negative else float(text)
    if not math.isfinite(amount):
        raise RecordError(f"column {column!r}: {_show(value)} is not a finite amount")
    if amount < 0 and not allow_negative:
        raise RecordError(f"column {column!r}: negative amount {_show(value)}")
    return amount


def parse_integer(value: Cell, column: str, *, allow_negative: bool = False) -> int | None:
    """A whole number (``'1,200'`` accepted); empty gives ``None``."""
    if isinstance(value, bool):
        raise RecordError(f"column {column!r}: {_show(value)} is not a whole number")
    text = cell_text(value).replace(",", "")
    if not text:
        return None
    if not _INTEGER_TEXT.fullmatch(text):
        raise RecordError(f"column {column!r}: {_show(value)} is not a whole number")
    number = int(text)
    if number < 0 and not allow_negative:
        raise RecordError(f"column {column!r}: negative number {_show(value)}")
    return number


_COUNT_UNITS = {"万": 10_000, "w": 10_000, "k": 1_000, "千": 1_000, "亿": 100_000_000, "m": 1_000_000}


def parse_count(value: Cell, column: str) -> int | None:
    """A non-negative count such as followers: ``12000``, ``'1.2万'``, ``'1.2w'``, ``'3k'``."""
    text = cell_text(value).replace(",", "").replace(" ", "").lower().removesuffix("+")
    if not text:
        return None
    match = _COUNT_TEXT.fullmatch(text)
    if match is None:
        raise RecordError(f"column {column!r}: {_show(value)} is not a count (e.g. 12000, 1.2万, 1.2w)")
    number = float(match[1]) * _COUNT_UNITS.get(match[2] or "", 1)
    if number >= 2**31:
        raise RecordError(f"column {column!r}: count {_show(value)} is implausibly large")
    return round(number)


_TAG_SEPARATORS = re.compile(r"[;,|；，、｜]")


def split_tags(value: Cell) -> list[str]:
    """Tags separated by ``;`` ``,`` ``|`` (ASCII or full-width) or ``、``; blanks and repeats dropped."""
    tags: list[str] = []
    for part in _TAG_SEPARATORS.split(cell_text(value)):
        tag = part.strip()
        if tag and tag not in tags:
            tags.append(tag)
    return tags


def month_in_zone(moment: datetime, zone: ZoneInfo) -> str:
    """The ``YYYY-MM`` partition of ``moment`` in the brand time zone."""
    return _month_of_quarter_hour(int(moment.timestamp()) // 900, zone)


@lru_cache(maxsize=65_536)
def _month_of_quarter_hour(quarter_hour: int, zone: ZoneInfo) -> str:
    # every time zone offset is a multiple of 15 minutes, so a quarter hour lies in one month
    return datetime.fromtimestamp(quarter_hour * 900, zone).strftime("%Y-%m")


def run_line_number(file_index: int, line: int) -> int:
    """A run-wide ordering key for first-wins dedupe: earlier files, then earlier lines, win."""
    return (file_index << 32) + line


# -- staging ---------------------------------------------------------------------------------
class FactBatcher:
    """Buffers fact rows (dicts) and stages them in batches of ``batch_rows`` as Arrow tables."""

    def __init__(self, staged: StagedImport, batch_rows: int) -> None:
        self.staged = staged
        self.schema = FACT_SCHEMAS[staged.table].append(pa.field(LINE_COLUMN, pa.int64()))
        self.batch_rows = max(1, batch_rows)
        self._rows: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any], order: int) -> None:
        row[LINE_COLUMN] = order
        self._rows.append(row)
        if len(self._rows) >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        if self._rows:
            self.staged.add(pa.Table.from_pylist(self._rows, schema=self.schema))
            self._rows = []


# -- operational-store upserts -----------------------------------------------------------------
def check_store_values(
    model: type[Any], values: Mapping[str, Any], source_names: Mapping[str, str] | None = None
) -> None:
    """Raise RecordError when a text value does not fit its column (length, NUL characters).

    ``source_names`` maps a store column to the input column named in the reason.
    """
    lengths = _column_lengths(model)
    for name, value in values.items():
        if not isinstance(value, str):
            continue
        length = lengths[name]
        if "\x00" in value:
            label = (source_names or {}).get(name, name)
            raise RecordError(f"column {label!r}: contains a NUL character")
        if length is not None and len(value) > length:
            label = (source_names or {}).get(name, name)
            raise RecordError(f"column {label!r}: longer than {length} characters ({len(value)})")


_COLUMN_LENGTHS: dict[str, dict[str, int | None]] = {}


def _column_lengths(model: type[Any]) -> dict[str, int | None]:
    table = model.__table__
    if table.name not in _COLUMN_LENGTHS:
        _COLUMN_LENGTHS[table.name] = {c.name: getattr(c.type, "length", None) for c in table.columns}
    return _COLUMN_LENGTHS[table.name]


@dataclass
class UpsertCounts:
    """Rows new or changed (ingested) and rows already stored unchanged (duplicates)."""

    ingested: int = 0
    duplicates: int = 0


def upsert_records(
    session: Any,
    model: type[Any],
    key: str,
    records: Sequence[tuple[str, dict[str, Any]]],
    source: str | None,
) -> UpsertCounts:
    """Insert or update ``records`` (key value, column values) of ``model`` in one round trip.

    Only the given columns are written; a record equal to what is stored counts as a duplicate.
    """
    from sqlalchemy import select

    counts = UpsertCounts()
    keys = list({record_key for record_key, _ in records})
    column = getattr(model, key)
    stored = {getattr(row, key): row for row in session.scalars(select(model).where(column.in_(keys)))}
    for record_key, values in records:
        row = stored.get(record_key)
        if row is None:
            row = model(**{key: record_key}, **({"source": source} if source else {}))
            session.add(row)
            stored[record_key] = row
        elif all(getattr(row, name) == value for name, value in values.items()):
            counts.duplicates += 1
            continue
        for name, value in values.items():
            setattr(row, name, value)
        counts.ingested += 1
    session.flush()
    return counts
