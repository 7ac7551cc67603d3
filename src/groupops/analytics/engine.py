"""The analytics engine: where the Ibis expressions of the marts run (DuckDB or Spark).

An engine loads the warehouse fact tables as Ibis tables and adds the time columns every
metric uses, computed in the brand time zone the same way on both back ends:

``local_time``  wall-clock time in the brand time zone (timestamp without zone)
``day``         its calendar date; ``local_month`` its ``YYYY-MM``
``day_number``  days since 1970-01-01 of ``day`` (integer day arithmetic)
``epoch_us``    microseconds since the epoch of the UTC instant (ordering, windows)

Everything after loading is portable Ibis, so the same mart runs on both engines. The
engine is passed in (``open_engine(workspace, "spark")``), never chosen inside a metric.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select

from groupops.errors import ConfigurationError
from groupops.store.schemas import FACT_SCHEMAS, PARTITION_TIME_COLUMN
from groupops.store.warehouse import SPILL_DIRECTORY, sql_string
from groupops.store.workspace import Workspace

__all__ = [
    "ENGINE_NAMES",
    "AnalyticsEngine",
    "DuckDBEngine",
    "Facts",
    "SparkEngine",
    "new_spark_session",
    "open_engine",
]

ENGINE_NAMES = ("duckdb", "spark")
ANALYSED_TABLES = ("messages", "membership_changes", "orders", "shop_events")


@dataclass(frozen=True)
class Facts:
    """The fact tables as Ibis tables (with the time columns) plus group kinds and staff ids."""

    messages: ir.Table
    membership_changes: ir.Table
    orders: ir.Table
    shop_events: ir.Table
    group_kinds: ir.Table  # group_id, kind
    staff_ids: ir.Table  # staff_id
    all_staff: ir.Table | None = None  # staff_id of staff and flagged senders, when kept
    # the loaded message rows before recalls are applied: cheaper to scan when ``revoked``
    # does not matter (the recall check is a semi join over every message)
    unrecalled_messages: ir.Table | None = None


def _apply_recalls(messages: ir.Table, every_message: ir.Table) -> ir.Table:
    """``revoked`` is true for a message that a recall (in any loaded month) revokes."""
    recalls = every_message.filter(
        every_message.action == "recall", every_message.recalled_msgid.notnull()
    ).select(recalled=every_message.recalled_msgid)
    return messages.mutate(revoked=messages.revoked.fill_null(False) | messages.msgid.isin(recalls.recalled))


_MICROSECONDS_PER_DAY = 86_400_000_000
_SPAN_MARGIN_DAYS = 40
_SPAN_MAX_DAYS = 30 * 366  # beyond that (odd partition months) every row is converted by ICU


def _month_span(months: list[Any]) -> tuple[int, int] | None:
    """Epoch microseconds around the ``YYYY-MM`` partition months (None: none, or implausible)."""
    starts = []
    for month in months:
        try:
            starts.append(date(int(str(month)[:4]), int(str(month)[5:7]), 1))
        except (TypeError, ValueError):
            continue
    if not starts:
        return None
    first = (min(starts) - date(1970, 1, 1)).days - _SPAN_MARGIN_DAYS
    end = (max(starts) - date(1970, 1, 1)).days + 31 + _SPAN_MARGIN_DAYS
    if first < 1 or end - first > _SPAN_MAX_DAYS:
        return None
    return first * _MICROSECONDS_PER_DAY, end * _MICROSECONDS_PER_DAY


def _checked_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ConfigurationError(f"unknown time zone {name!r} (GROUPOPS_TIMEZONE)") from error
    return name


def _sql_string(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


class AnalyticsEngine(ABC):
    """Runs Ibis expressions over one workspace's warehouse on one back end."""

    name: str = ""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.timezone = _checked_timezone(workspace.settings.timezone)
        self._scratch = Path(tempfile.mkdtemp(prefix="groupops-engine-"))
        self._counter = 0

    # -- back-end specific --------------------------------------------------------------
    @property
    @abstractmethod
    def connection(self) -> Any:
        """The Ibis backend."""

    @abstractmethod
    def _register_parquet(self, table: str, paths: list[Path], time_column: str | None) -> ir.Table:
        """Register ``paths`` as a table with the time columns derived from ``time_column``."""

    def _load_parquet(self, table: str, paths: list[Path], time_column: str | None) -> ir.Table:
        with _quiet_engine_warnings():
            return self._register_parquet(table, paths, time_column)

    # -- shared ---------------------------------------------------------------------------
    def facts(self, months: dict[str, set[str] | None] | None = None) -> Facts:
        """The fact tables; ``months`` restricts a table to the files of some partitions."""
        wanted = months or {}
        tables = {table: self._load_fact(table, wanted.get(table)) for table in ANALYSED_TABLES}
        if wanted.get("messages") is not None:
            every_message = self._load_fact("messages", None)
        else:
            every_message = tables["messages"]
        loaded = tables["messages"]
        tables["messages"] = _apply_recalls(loaded, every_message)
        return Facts(
            **tables,
            group_kinds=self._group_kinds(),
            staff_ids=self._staff_ids(),
            unrecalled_messages=loaded,
        )

    def _load_fact(self, table: str, months: set[str] | None) -> ir.Table:
        files = self.workspace.warehouse.files(table, months)
        paths = files or [self._empty_file(table)]
        return self._load_parquet(table, paths, PARTITION_TIME_COLUMN[table])

    def _empty_file(self, table: str) -> Path:
        path = self._scratch / f"empty-{table}.parquet"
        if not path.exists():
            pq.write_table(FACT_SCHEMAS[table].empty_table(), path)
        return path

    def read_parquet(self, paths: list[Path], schema: pa.Schema) -> ir.Table:
        """Mart files as a table (an empty table of ``schema`` when there are none)."""
        if not paths:
            path = self._scratch / f"empty-{self._next_name('mart')}.parquet"
            pq.write_table(schema.empty_table(), path)
            paths = [path]
        return self._load_parquet("mart", paths, None)

    def table_from_arrow(self, table: pa.Table) -> ir.Table:
        """A small in-memory table (calendars, group kinds) usable in joins on this engine."""
        path = self._scratch / f"{self._next_name('memory')}.parquet"
        pq.write_table(table, path)
        return self._load_parquet("memory", [path], None)

    @abstractmethod
    def materialize(self, expression: ir.Table) -> ir.Table:
        """Compute ``expression`` once and keep it (a temp table / cached frame) for reuse."""

    def to_arrow(self, expression: ir.Table) -> pa.Table:
        """Run ``expression`` and return its rows as Arrow."""
        with _quiet_engine_warnings():
            return self.connection.to_pyarrow(expression)

    def _next_name(self, prefix: str) -> str:
        self._counter += 1
        return f"groupops_{prefix}_{self._counter}"

    def _group_kinds(self) -> ir.Table:
        from groupops.store.models import Group

        with self.workspace.database.session() as session:
            rows = session.execute(select(Group.id, Group.kind)).all()
        table = pa.table(
            {"group_id": [row[0] for row in rows], "kind": [row[1] for row in rows]},
            schema=pa.schema([("group_id", pa.string()), ("kind", pa.string())]),
        )
        return self.table_from_arrow(table)

    def _staff_ids(self) -> ir.Table:
        from groupops.store.models import Staff

        with self.workspace.database.session() as session:
            rows = session.execute(select(Staff.id)).scalars().all()
        schema = pa.schema([("staff_id", pa.string())])
        return self.table_from_arrow(pa.table({"staff_id": list(rows)}, schema=schema))

    def close(self) -> None:
        """Release the scratch directory (and the back end when the engine owns it)."""
        shutil.rmtree(self._scratch, ignore_errors=True)

    def __enter__(self) -> AnalyticsEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@contextmanager
def _quiet_engine_warnings() -> Iterator[None]:
    """Back-end chatter that is not actionable here.

    PySpark warns about pandas versions on every conversion; Ibis still calls DuckDB's
    deprecated ``fetch_arrow_table``.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*fetch_arrow_table.*", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*future.infer_string.*")
        warnings.filterwarnings("ignore", message=".*copy keyword is deprecated.*")
        warnings.filterwarnings("ignore", message=".*PySpark.*", category=FutureWarning)
        warnings.filterwarnings("ignore", category=FutureWarning, module="pyspark.*")
        yield


class DuckDBEngine(AnalyticsEngine):
    """The embedded default: DuckDB reading the manifest's Parquet files directly."""

    name = "duckdb"

    def __init__(self, workspace: Workspace, *, threads: int | None = None) -> None:
        super().__init__(workspace)
        self._connection = ibis.duckdb.connect()
        self._connection.raw_sql("SET TimeZone = 'UTC'")
        self._connection.raw_sql("SET autoinstall_known_extensions = false")
        self._connection.raw_sql("SET enable_progress_bar = false")
        self._connection.raw_sql("SET enable_progress_bar = false")
        self._connection.raw_sql(f"SET temp_directory = {sql_string(SPILL_DIRECTORY)}")
        if threads:
            self._connection.raw_sql(f"SET threads = {int(threads)}")

    @property
    def connection(self) -> Any:
        return self._connection

    def _register_parquet(self, table: str, paths: list[Path], time_column: str | None) -> ir.Table:
        name = self._next_name(table)
        files = "[" + ", ".join(_sql_string(path) for path in paths) + "]"
        source = f"read_parquet({files})"
        if time_column:
            # the brand-zone time is computed once per row; the other columns derive from it
            local = self._local_microseconds_sql(table, time_column)
            source = (
                f"(SELECT *, make_timestamp({local}) AS local_time, "
                f"epoch_us({time_column}) AS epoch_us FROM {source})"
            )
            source = (
                f"(SELECT *, CAST(local_time AS DATE) AS day, strftime(local_time, '%Y-%m') AS local_month, "
                f"CAST(CAST(local_time AS DATE) - DATE '1970-01-01' AS BIGINT) AS day_number FROM {source})"
            )
        self._connection.raw_sql(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {source}")
        return self._connection.table(name)

    def _local_microseconds_sql(self, table: str, column: str) -> str:
        """SQL for the brand-zone wall-clock time of ``column`` as microseconds since 1970.

        ICU's ``timezone()`` per row is the costly part of a scan. Within the months of the
        table's files (with a margin) the zone's UTC offsets are looked up once, by ICU
        itself, and applied as a CASE on the instant; rows outside use ``timezone()``.
        """
        instant = f"epoch_us({column})"
        exact = f"epoch_us(timezone({_sql_string(self.timezone)}, {column}))"
        span = _month_span(
            [entry.get("month") for entry in self.workspace.warehouse.manifest(table)["files"]]
        )
        if span is None:
            return exact
        first, end = span
        steps = self._offset_steps(first, end)
        offset = str(steps[-1][1])
        if len(steps) > 1:
            branches = " ".join(
                f"WHEN {instant} < {start} THEN {steps[index][1]}"
                for index, (start, _) in enumerate(steps[1:])
            )
            offset = f"CASE {branches} ELSE {offset} END"
        return (
            f"CASE WHEN {instant} >= {first} AND {instant} < {end} THEN {instant} + {offset} ELSE {exact} END"
        )

    def _offset_steps(self, first: int, end: int) -> list[tuple[int, int]]:
        """(start, UTC offset) in microseconds of each stretch of one offset within [first, end).

        The offset is sampled every 15 minutes; each change is located to the second (zone
        transitions fall on whole seconds, never two within 15 minutes).
        """
        zone = _sql_string(self.timezone)
        offset_at = f"epoch_us(timezone({zone}, t)) - epoch_us(t)"
        samples = self._connection.con.execute(
            f"SELECT epoch_us(t), {offset_at} FROM generate_series(make_timestamptz({first}), "
            f"make_timestamptz({end}), INTERVAL 15 MINUTE) AS s(t) ORDER BY 1"
        ).fetchall()
        steps = [(first, int(samples[0][1]))]
        for (before, old_offset), (after, new_offset) in zip(samples, samples[1:], strict=False):
            if new_offset == old_offset:
                continue
            change = self._connection.con.execute(
                f"SELECT min(epoch_us(t)) FROM generate_series(make_timestamptz({before}), "
                f"make_timestamptz({after}), INTERVAL 1 SECOND) AS s(t) WHERE {offset_at} <> {old_offset}"
            ).fetchone()
            steps.append((int(change[0]) if change and change[0] is not None else after, int(new_offset)))
        return steps

    def materialize(self, expression: ir.Table) -> ir.Table:
        name = self._next_name("kept")
        with _quiet_engine_warnings():
            self._connection.create_table(name, expression, temp=True)
            return self._connection.table(name)

    def close(self) -> None:
        try:
            self._connection.disconnect()
        finally:
            super().close()


def new_spark_session(timezone: str = "UTC", app_name: str = "groupops") -> Any:
    """A local-mode Spark session sized for one machine (2 cores, few shuffle partitions, no UI)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as error:  # pragma: no cover - depends on the installation
        raise ConfigurationError(
            "the spark engine needs PySpark: pip install 'groupops[spark]' (and Java 17)"
        ) from error
    with _quiet_engine_warnings():
        session = (
            SparkSession.builder.master("local[2]")
            .appName(app_name)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.ansi.enabled", "false")
            .config("spark.driver.memory", "2g")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
    return session


class SparkEngine(AnalyticsEngine):
    """PySpark (local mode here; a cluster when the session is given): the scale-out path."""

    name = "spark"

    def __init__(self, workspace: Workspace, *, session: Any | None = None) -> None:
        super().__init__(workspace)
        self._owns_session = session is None
        self._cached: list[Any] = []
        self._session = session if session is not None else new_spark_session(self.timezone)
        with _quiet_engine_warnings():
            self._connection = ibis.pyspark.connect(self._session)
        # Ibis pins the session time zone to UTC; the brand zone is applied explicitly below.
        self._session.conf.set("spark.sql.session.timeZone", "UTC")

    @property
    def connection(self) -> Any:
        return self._connection

    def _register_parquet(self, table: str, paths: list[Path], time_column: str | None) -> ir.Table:
        from pyspark.sql import functions as spark_functions

        frame = self._session.read.parquet(*[str(path) for path in paths])
        if time_column:
            local = spark_functions.from_utc_timestamp(spark_functions.col(time_column), self.timezone)
            day = spark_functions.to_date(local)
            frame = (
                frame.withColumn("local_time", local)
                .withColumn("day", day)
                .withColumn("local_month", spark_functions.date_format(local, "yyyy-MM"))
                .withColumn(
                    "day_number",
                    spark_functions.datediff(day, spark_functions.lit("1970-01-01").cast("date")).cast(
                        "long"
                    ),
                )
                .withColumn("epoch_us", spark_functions.unix_micros(spark_functions.col(time_column)))
            )
        name = self._next_name(table)
        frame.createOrReplaceTempView(name)
        return self._connection.table(name)

    def _frame(self, expression: ir.Table) -> Any:
        """The Spark DataFrame of an Ibis expression (in-memory tables registered first)."""
        self._connection._run_pre_execute_hooks(expression)
        return self._session.sql(str(self._connection.compile(expression)))

    def to_arrow(self, expression: ir.Table) -> pa.Table:
        """Straight to Arrow (``DataFrame.toArrow``), without the pandas round trip."""
        with _quiet_engine_warnings():
            return self._frame(expression).toArrow()

    def materialize(self, expression: ir.Table) -> ir.Table:
        name = self._next_name("kept")
        with _quiet_engine_warnings():
            frame = self._frame(expression)
            frame.cache().createOrReplaceTempView(name)
            self._cached.append(frame)
            return self._connection.table(name)

    def close(self) -> None:
        for frame in self._cached:
            frame.unpersist()
        self._cached.clear()
        try:
            if self._owns_session:
                self._session.stop()
        finally:
            super().close()


def open_engine(workspace: Workspace, name: str | None = None, **options: Any) -> AnalyticsEngine:
    """The engine called ``name`` (default: the ``engine`` setting) over ``workspace``."""
    chosen = (name or workspace.settings.engine).lower()
    if chosen == "duckdb":
        return DuckDBEngine(workspace, **options)
    if chosen == "spark":
        return SparkEngine(workspace, **options)
    raise ConfigurationError(f"unknown analytics engine {chosen!r}; choose one of {', '.join(ENGINE_NAMES)}")
