"""The fact warehouse: Parquet files under ``<data>/warehouse/<table>/month=YYYY-MM/``.

Writes are atomic and idempotent. An import stages its rows under ``_staging/<run>/``;
``commit`` drops rows whose natural key is already stored (or repeated within the run),
moves the new part files into place and only then replaces ``_manifest.json`` (temp file,
fsync, rename). Readers see exactly the files the manifest lists, so a process killed at
any point leaves the previous state readable, and re-running the import completes it.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from groupops.errors import StoreError
from groupops.store.schemas import FACT_SCHEMAS, NATURAL_KEYS

__all__ = [
    "LINE_COLUMN",
    "REASON_COLUMN",
    "SPILL_DIRECTORY",
    "CommitResult",
    "StagedImport",
    "Warehouse",
    "new_duckdb_connection",
    "sql_string",
]

_MANIFEST = "_manifest.json"
_STAGING = "_staging"
_COMMIT_MEMORY_LIMIT = "1GB"
SPILL_DIRECTORY = Path(tempfile.gettempdir()) / "groupops-duckdb-spill"  # never the working directory
LINE_COLUMN = "_line"
REASON_COLUMN = "_reason"  # staged rows with a reason are rejected: never committed


def new_duckdb_connection(
    threads: int | None = None, memory_limit: str | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection in UTC that never downloads extensions.

    ``memory_limit`` (e.g. ``"1GB"``) bounds DuckDB's memory; larger work spills to a
    temporary directory instead of growing the process.
    """
    connection = duckdb.connect(config={"autoinstall_known_extensions": False})
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute("SET enable_progress_bar = false")
    connection.execute(f"SET temp_directory = {sql_string(SPILL_DIRECTORY)}")
    if memory_limit:
        connection.execute(f"SET memory_limit = '{memory_limit}'")
    if threads:
        connection.execute(f"SET threads={int(threads)}")
    return connection


def sql_string(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _sql_list(paths: list[Path]) -> str:
    return "[" + ", ".join(sql_string(p) for p in paths) + "]"


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@dataclass(frozen=True)
class CommitResult:
    """What a commit added: rows staged, rows new, rows already present (duplicates)."""

    staged: int
    written: int

    @property
    def duplicates(self) -> int:
        return self.staged - self.written


@dataclass
class StagedImport:
    """Rows of one table staged by one import run, not yet visible to readers."""

    warehouse: Warehouse
    table: str
    run_id: str
    directory: Path
    rows: int = 0
    _parts: list[Path] = field(default_factory=list)

    def add(self, batch: pa.Table) -> None:
        """Stage a batch (the table's schema plus an int64 ``_line`` column used for first-wins dedupe)."""
        if batch.num_rows == 0:
            return
        path = self.directory / f"chunk-{len(self._parts):06d}.parquet"
        temporary = path.with_suffix(".tmp")
        pq.write_table(batch, temporary, compression="zstd")
        os.replace(temporary, path)
        self._parts.append(path)
        self.rows += batch.num_rows

    def add_file(self, path: Path, rows: int) -> None:
        """Stage a Parquet file already written into this staging directory."""
        self._parts.append(path)
        self.rows += rows

    def next_chunk_path(self) -> Path:
        return self.directory / f"chunk-{len(self._parts):06d}.parquet"

    @property
    def parts(self) -> list[Path]:
        return list(self._parts)


class Warehouse:
    """Reads and writes the Parquet fact tables of one data directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # -- reading ---------------------------------------------------------------------
    def table_dir(self, table: str) -> Path:
        if table not in FACT_SCHEMAS:
            raise StoreError(f"unknown warehouse table {table!r}; known: {', '.join(FACT_SCHEMAS)}")
        return self.root / table

    def manifest(self, table: str) -> dict[str, Any]:
        """The committed manifest of ``table`` (an empty one before the first import)."""
        path = self.table_dir(table) / _MANIFEST
        if not path.exists():
            return {"table": table, "version": 0, "files": []}
        try:
            return dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as error:
            raise StoreError(f"warehouse manifest {path} is unreadable: {error}") from error

    def files(self, table: str, months: set[str] | None = None) -> list[Path]:
        """The committed Parquet files of ``table``, optionally only those of some months."""
        directory = self.table_dir(table)
        return [
            directory / entry["path"]
            for entry in self.manifest(table)["files"]
            if months is None or entry["month"] in months
        ]

    def row_count(self, table: str) -> int:
        return sum(int(entry["rows"]) for entry in self.manifest(table)["files"])

    def register_views(self, connection: duckdb.DuckDBPyConnection) -> None:
        """Create one view per fact table on ``connection`` (``messages`` with recalls applied)."""
        for table, schema in FACT_SCHEMAS.items():
            name = "_messages_stored" if table == "messages" else table
            files = self.files(table)
            if files:
                connection.execute(
                    f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet({_sql_list(files)})"
                )
            else:
                connection.register(f"_{table}_empty", schema.empty_table())
                connection.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM _{table}_empty")
        connection.execute(
            "CREATE OR REPLACE VIEW messages AS SELECT * REPLACE ("
            " revoked OR msgid IN (SELECT recalled_msgid FROM _messages_stored"
            " WHERE action = 'recall' AND recalled_msgid IS NOT NULL) AS revoked) FROM _messages_stored"
        )

    @contextmanager
    def connect(self, memory_limit: str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A DuckDB connection with one view per fact table (see ``register_views``), closed afterwards."""
        connection = new_duckdb_connection(memory_limit=memory_limit)
        try:
            self.register_views(connection)
            yield connection
        finally:
            connection.close()

    def read_table(self, table: str) -> pa.Table:
        """A whole table as Arrow (small tables and tests; analytics should query through DuckDB)."""
        with self.connect() as connection:
            return connection.sql(f"SELECT * FROM {table}").to_arrow_table()

    # -- writing ---------------------------------------------------------------------
    @contextmanager
    def staged_import(self, table: str, run_id: str | None = None) -> Iterator[StagedImport]:
        """A staging area for one import; removed afterwards whether or not it was committed."""
        run = run_id or uuid.uuid4().hex[:16]
        directory = self.table_dir(table) / _STAGING / run
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "pid").write_text(str(os.getpid()))
        try:
            yield StagedImport(self, table, run, directory)
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def commit(self, staged: StagedImport) -> CommitResult:
        """Publish the staged rows whose natural key is new; atomic for readers."""
        if not staged.parts:
            return CommitResult(staged=0, written=0)
        with self._table_lock(staged.table):
            self._remove_orphans(staged.table, keep=staged.directory)
            out_dir = staged.directory / "out"
            written_entries = self._write_deduplicated(staged, out_dir)
            self._publish(staged, written_entries)
        return CommitResult(staged=staged.rows, written=sum(e["rows"] for e in written_entries))

    def _write_deduplicated(self, staged: StagedImport, out_dir: Path) -> list[dict[str, Any]]:
        """The new rows of ``staged`` as month files: its own files when they are already final, else rewritten."""
        table, key = staged.table, NATURAL_KEYS[staged.table]
        connection = new_duckdb_connection(memory_limit=_COMMIT_MEMORY_LIMIT)
        try:
            part_columns = [pq.read_schema(part).names for part in staged.parts]
            final_form = all(columns == FACT_SCHEMAS[table].names for columns in part_columns)
            accepted = (
                f"WHERE {REASON_COLUMN} IS NULL" if any(REASON_COLUMN in c for c in part_columns) else ""
            )
            numbered = all(LINE_COLUMN in columns for columns in part_columns)
            connection.execute(
                f"CREATE VIEW staged AS SELECT * FROM read_parquet({_sql_list(staged.parts)}, union_by_name = true, "
                f"hive_partitioning = false, filename = '_file', file_row_number = true) {accepted}"
            )
            month_rows = self._rows_by_file_and_month(connection, "staged")
            existing = self.files(table, {str(row[1]) for row in month_rows})
            if existing:
                connection.execute(
                    f'CREATE VIEW existing AS SELECT "{key}" AS k FROM read_parquet({_sql_list(existing)})'
                )
            repeated = connection.execute(
                f'SELECT count(*) - count(DISTINCT "{key}") FROM staged'
            ).fetchall()[0][0]
            stored = (
                connection.execute(
                    f'SELECT count(*) FROM staged s SEMI JOIN existing e ON s."{key}" = e.k'
                ).fetchall()[0][0]
                if existing
                else 0
            )
            if final_form and not repeated and not stored:
                return self._month_files(connection, month_rows, out_dir)
            order = (
                f"s.{LINE_COLUMN}, s._file, s.file_row_number" if numbered else "s._file, s.file_row_number"
            )
            first_wins = f"ORDER BY {order}" if repeated else None
            rewritten = self._rewrite_new_rows(
                connection, staged, out_dir, first_wins=first_wins, anti_join=bool(existing)
            )
            rewritten_rows = f"read_parquet({sql_string(rewritten)}, filename = '_file')"
            return self._month_files(
                connection, self._rows_by_file_and_month(connection, rewritten_rows), out_dir
            )
        finally:
            connection.close()

    @staticmethod
    def _rows_by_file_and_month(
        connection: duckdb.DuckDBPyConnection, relation: str
    ) -> list[tuple[Any, ...]]:
        """(file, month, rows) of ``relation``, which has the columns ``_file`` and ``month``."""
        return connection.execute(
            f"SELECT _file, month, count(*) FROM {relation} GROUP BY ALL ORDER BY ALL"
        ).fetchall()

    def _month_files(
        self, connection: duckdb.DuckDBPyConnection, month_rows: list[tuple[Any, ...]], out_dir: Path
    ) -> list[dict[str, Any]]:
        """One output per file and month: a file of one month is published as it is, one spanning months is split."""
        months_by_file: dict[str, list[tuple[str, int]]] = {}
        for file, month, rows in month_rows:
            months_by_file.setdefault(str(file), []).append((str(month), int(rows)))
        entries: list[dict[str, Any]] = []
        for file, months in months_by_file.items():
            if len(months) == 1:
                entries.append({"source": Path(file), "month": months[0][0], "rows": months[0][1]})
                continue
            for month, rows in months:
                target = out_dir / f"month={month}" / f"part-{uuid.uuid4().hex}.parquet"
                target.parent.mkdir(parents=True, exist_ok=True)
                connection.execute(
                    f"COPY (SELECT * FROM read_parquet({sql_string(file)}) WHERE month = {sql_string(month)}) "
                    f"TO {sql_string(target)} (FORMAT parquet, COMPRESSION snappy)"
                ).fetchall()
                entries.append({"source": target, "month": month, "rows": rows})
        return entries

    def _rewrite_new_rows(
        self,
        connection: duckdb.DuckDBPyConnection,
        staged: StagedImport,
        out_dir: Path,
        *,
        first_wins: str | None,
        anti_join: bool,
    ) -> Path:
        """Write the staged rows whose key is new to one file (split by month afterwards: one flat
        write is much faster than DuckDB's partitioned one); of a repeated key, the first row in
        ``first_wins`` order."""
        key = NATURAL_KEYS[staged.table]
        columns = ", ".join(f's."{name}"' for name in FACT_SCHEMAS[staged.table].names)
        first = f'QUALIFY row_number() OVER (PARTITION BY s."{key}" {first_wins}) = 1' if first_wins else ""
        new_rows = f'ANTI JOIN existing e ON s."{key}" = e.k' if anti_join else ""
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / "new-rows.parquet"
        connection.execute(
            f"COPY (SELECT {columns} FROM staged s {new_rows} {first}) TO {sql_string(target)} "
            "(FORMAT parquet, COMPRESSION snappy)"
        ).fetchall()
        return target

    def _publish(self, staged: StagedImport, outputs: list[dict[str, Any]]) -> None:
        directory = self.table_dir(staged.table)
        manifest = self.manifest(staged.table)
        for output in outputs:
            relative = (
                Path(f"month={output['month']}") / f"part-{staged.run_id}-{uuid.uuid4().hex[:12]}.parquet"
            )
            (directory / relative).parent.mkdir(parents=True, exist_ok=True)
            os.replace(output["source"], directory / relative)
            manifest["files"].append(
                {"path": str(relative), "month": output["month"], "rows": output["rows"]}
            )
        manifest["version"] = int(manifest.get("version", 0)) + 1
        self._write_manifest(staged.table, manifest)

    def _write_manifest(self, table: str, manifest: dict[str, Any]) -> None:
        directory = self.table_dir(table)
        temporary = directory / f".{_MANIFEST}.{uuid.uuid4().hex}.tmp"
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump(manifest, handle, ensure_ascii=False, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, directory / _MANIFEST)
        _fsync_directory(directory)

    def _remove_orphans(self, table: str, keep: Path) -> None:
        """Delete part files and staging runs a killed import left behind (never listed files)."""
        directory = self.table_dir(table)
        listed = {directory / entry["path"] for entry in self.manifest(table)["files"]}
        for path in directory.glob("month=*/*.parquet"):
            if path not in listed:
                path.unlink(missing_ok=True)
        for stale in (directory / _STAGING).glob("*"):
            if stale != keep and not _run_is_alive(stale):
                shutil.rmtree(stale, ignore_errors=True)
        for temporary in directory.glob(f".{_MANIFEST}.*.tmp"):
            temporary.unlink(missing_ok=True)

    @contextmanager
    def _table_lock(self, table: str) -> Iterator[None]:
        directory = self.table_dir(table)
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / ".lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _run_is_alive(staging_run: Path) -> bool:
    """A staging run belongs to a live process when its ``pid`` file names one."""
    pid_file = staging_run / "pid"
    try:
        pid = int(pid_file.read_text())
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True
