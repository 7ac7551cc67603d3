"""``wecom-archive``: decrypted WeCom 会话存档 (chat archive) messages, one JSON object per line.

The official shape is ``{"msgid", "action", "from", "tolist", "roomid", "msgtime" (ms),
"msgtype", <msgtype>: {...}}``; ``action`` is ``send``, ``recall`` (``msgtype: revoke`` with
``revoke.pre_msgid``) or ``switch`` (``time`` and ``user`` instead of ``msgtime``/``from``).
Parsing, validation and field extraction run inside DuckDB on blocks of lines, so the
Python side only splits bytes into numbered lines.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from groupops.ingest._lines import read_line_blocks
from groupops.ingest.registry import IngestContext, register_source
from groupops.store.schemas import FACT_SCHEMAS
from groupops.store.warehouse import (
    LINE_COLUMN,
    REASON_COLUMN,
    StagedImport,
    new_duckdb_connection,
    sql_string,
)

__all__ = ["EXTERNAL_ID_PREFIXES", "import_wecom_archive"]

EXTERNAL_ID_PREFIXES = ("wm", "wo")  # WeCom external contacts; staff userids and robots (wb…) are the brand

_CORE_PATHS = [
    "$.msgid", "$.action", "$.from", "$.roomid", "$.msgtime", "$.msgtype", "$.time", "$.user",
    "$.revoke.pre_msgid", "$.text.content",
]  # fmt: skip
_BODY_PATHS = [
    "$.markdown.content", "$.info.content", "$.info.item[0].title", "$.info.title", "$.link.title",
    "$.file.filename", "$.weapp.title", "$.location.title", "$.card.corpname", "$.doc.title",
    "$.chatrecord.title", "$.vote.votetitle", "$.redpacket.wish", "$.calendar.title", "$.todo.title",
    "$.mixed.item[0].content",
]  # fmt: skip
_PATHS = _CORE_PATHS
_F = {path: index + 1 for index, path in enumerate(_PATHS)}

_QUOTE_PATTERN = r"^「([^：」\n]{1,64})：([\s\S]*?)」\n(?:- ?){4,}-?\n([\s\S]*)$"
_MENTION_PATTERN = r"@([^\s@\x{2005}]{1,32})"
_MIN_MS, _MAX_MS = 946_684_800_000, 4_102_444_800_000  # 2000-01-01 .. 2100-01-01


def _f(path: str) -> str:
    return f"f[{_F[path]}]"


def _extraction_sql(
    source: str, timezone: str, external_prefixes: Sequence[str], *, strict_json: bool = False
) -> str:
    """One SELECT over ``source`` (columns ``_line``, ``j``): the messages table's columns plus
    ``_reason`` (why a line is rejected, NULL when valid) and ``_rejected`` (the raw line then)."""
    time_ms = (
        f"CASE WHEN {_f('$.action')} = 'switch' THEN try_cast({_f('$.time')} AS BIGINT) "
        f"ELSE try_cast({_f('$.msgtime')} AS BIGINT) END"
    )
    other_bodies = ", ".join(f"b[{index + 1}]" for index in range(len(_BODY_PATHS) - 1))
    mixed = f"b[{len(_BODY_PATHS)}]"
    body_text = (
        f"CASE WHEN {_f('$.msgtype')} = 'text' THEN {_f('$.text.content')} "
        f"ELSE coalesce({_f('$.text.content')}, {other_bodies}, "
        f"CASE WHEN json_valid({mixed}) THEN json_extract_string({mixed}, '$.content') END) END"
    )
    extract = f"json_extract_string(j, {_PATHS!r})"
    extract = extract if strict_json else f"try({extract})"  # strict: invalid JSON raises instead
    external = " OR ".join(f"starts_with(sender, '{prefix}')" for prefix in external_prefixes)
    tz = timezone.replace("'", "''")
    return f"""
WITH fields AS (
  SELECT {LINE_COLUMN}, j, {extract} AS f FROM {source} WHERE j <> ''
), bodies AS (
  SELECT *, CASE WHEN f[{_F["$.msgtype"]}] <> 'text' THEN json_extract_string(j, {_BODY_PATHS!r}) END AS b
  FROM fields
), typed AS (
  SELECT {LINE_COLUMN}, j, f, b,
         {_f("$.msgid")} AS msgid,
         {_f("$.action")} AS action,
         CASE WHEN {_f("$.action")} = 'switch' THEN {_f("$.user")} ELSE {_f("$.from")} END AS sender,
         {time_ms} AS time_ms,
         CASE WHEN {_f("$.action")} = 'switch' THEN 'switch'
              WHEN {_f("$.action")} = 'recall' THEN coalesce({_f("$.msgtype")}, 'revoke')
              ELSE {_f("$.msgtype")} END AS msgtype,
         {body_text} AS body
  FROM bodies
), checked AS (
  SELECT *,
    CASE
      WHEN f IS NULL AND NOT json_valid(j) THEN 'invalid JSON'
      WHEN NOT starts_with(ltrim(j), '{{') THEN 'not a JSON object'
      WHEN msgid IS NULL OR msgid = '' THEN 'missing msgid'
      WHEN action IS NULL THEN 'missing action'
      WHEN action NOT IN ('send', 'recall', 'switch') THEN 'unknown action ' || action
      WHEN time_ms IS NULL THEN 'missing or non-integer msgtime'
      WHEN time_ms < {_MIN_MS} OR time_ms > {_MAX_MS} THEN 'msgtime out of range (milliseconds since 1970 expected)'
      WHEN action = 'send' AND (sender IS NULL OR sender = '') THEN 'missing from'
      WHEN action = 'send' AND (msgtype IS NULL OR msgtype = '') THEN 'missing msgtype'
      WHEN action = 'recall' AND {_f("$.revoke.pre_msgid")} IS NULL THEN 'recall without revoke.pre_msgid'
    END AS reason
  FROM typed
), quoted AS (
  SELECT *, CASE WHEN reason IS NULL AND starts_with(body, '「')
                 THEN regexp_extract(body, '{_QUOTE_PATTERN}', ['name', 'quoted', 'reply']) END AS q
  FROM checked
)
SELECT
  msgid,
  'wecom-archive' AS source,
  action,
  nullif({_f("$.roomid")}, '') AS group_id,
  sender AS sender_id,
  NOT ({external}) AS sender_is_staff,
  CASE WHEN reason IS NULL THEN make_timestamp(time_ms * 1000)::TIMESTAMPTZ END AS sent_at,
  msgtype,
  CASE WHEN q.name <> '' THEN q.reply ELSE body END AS text,
  CASE WHEN contains(body, '@')
       THEN regexp_extract_all(CASE WHEN q.name <> '' THEN q.reply ELSE body END, '{_MENTION_PATTERN}', 1)
       ELSE []::VARCHAR[] END AS mention_names,
  nullif(q.name, '') AS quote_name,
  CASE WHEN q.name <> '' THEN q.quoted END AS quote_text,
  {_f("$.revoke.pre_msgid")} AS recalled_msgid,
  false AS revoked,
  CASE WHEN msgtype = 'text' OR reason IS NOT NULL THEN NULL ELSE j END AS raw,
  CASE WHEN reason IS NULL
       THEN strftime(timezone('{tz}', make_timestamp(time_ms * 1000)::TIMESTAMPTZ), '%Y-%m') END AS month,
  {LINE_COLUMN},
  reason AS {REASON_COLUMN},
  CASE WHEN reason IS NOT NULL THEN j END AS _rejected
FROM quoted
"""


def _stage_relation(
    connection: duckdb.DuckDBPyConnection, sql: str, staged: StagedImport, context: IngestContext, path: Path
) -> int:
    """Write the extraction's rows to a staging chunk; quarantine its rejected lines; rows read."""
    target = staged.next_chunk_path()
    connection.execute(f"COPY ({sql}) TO {sql_string(target)} (FORMAT parquet, COMPRESSION zstd)").fetchall()
    chunk = f"read_parquet({sql_string(target)})"
    read = connection.execute(f"SELECT count(*), count({REASON_COLUMN}) FROM {chunk}").fetchall()[0]
    rows, rejected = (int(read[0]), int(read[1])) if read else (0, 0)
    staged.add_file(target, rows - rejected)
    if rejected:
        invalid = connection.execute(
            f"SELECT {LINE_COLUMN}, {REASON_COLUMN}, _rejected FROM {chunk} "
            f"WHERE {REASON_COLUMN} IS NOT NULL ORDER BY 1"
        ).fetchall()
        for line, reason, raw in invalid:
            context.quarantine.add(path, int(line), str(reason), raw)
    return rows


@register_source("wecom-archive", "Decrypted WeCom chat-archive messages (JSON lines, official format).")
def import_wecom_archive(paths: Sequence[Path], context: IngestContext) -> None:
    """Validate and stage every message line of ``paths``, then commit them to ``messages``."""
    connection = new_duckdb_connection(memory_limit="512MB")
    try:
        with context.warehouse.staged_import("messages", context.run_id) as staged:
            for path in paths:
                if not _stage_file_in_duckdb(connection, path, staged, context):
                    _stage_file_in_blocks(connection, path, staged, context)
            result = context.warehouse.commit(staged)
        context.counts.ingested += result.written
        context.counts.duplicates += result.duplicates
    finally:
        connection.close()


def _stage_file_in_duckdb(
    connection: duckdb.DuckDBPyConnection, path: Path, staged: StagedImport, context: IngestContext
) -> bool:
    """The fast path for clean files: DuckDB reads and parses the whole file in parallel.

    It writes the table's final columns in one pass (the commit can publish the file as it is
    when nothing in it is a duplicate) and does not number lines (numbering serialises the
    scan). A file with any line DuckDB rejects (bad UTF-8, an over-long line, a stray control
    character), any line that is not valid JSON, or any record that fails validation is staged
    again by the block reader, which numbers every line for the quarantine; so is a file name
    DuckDB would read as a glob. Returns whether the file was staged here.
    """
    if any(character in str(path) for character in "*?[]{}"):
        return False
    rejects = f"rejects_{uuid.uuid4().hex[:8]}"
    lines = (
        f"(SELECT NULL::BIGINT AS {LINE_COLUMN}, j FROM read_csv({sql_string(path)}, "
        "columns = {'j': 'VARCHAR'}, header = false, delim = '\x01', quote = '', escape = '', "
        "auto_detect = false, new_line = '\\n', strict_mode = false, null_padding = true, "
        f"ignore_errors = true, store_rejects = true, rejects_table = '{rejects}', "
        f"rejects_scan = '{rejects}_scan', max_line_size = {context.settings.max_line_bytes}))"
    )
    extraction = _extraction_sql(lines, context.settings.timezone, EXTERNAL_ID_PREFIXES, strict_json=True)
    final_rows = (  # the table's own columns; the first invalid record aborts the COPY
        f"SELECT {', '.join(FACT_SCHEMAS['messages'].names)} FROM ({extraction}) "
        f"WHERE {REASON_COLUMN} IS NULL OR error({REASON_COLUMN}) IS NULL"
    )
    target = staged.next_chunk_path()
    try:
        connection.execute(
            f"COPY ({final_rows}) TO {sql_string(target)} (FORMAT parquet, COMPRESSION snappy)"
        ).fetchall()
        rejected = connection.execute(f"SELECT count(*) FROM {rejects}").fetchall()[0][0]
    except duckdb.InvalidInputException:  # not JSON, or not a valid record: the block reader names the line
        rejected = 1
    if rejected:
        target.unlink(missing_ok=True)
        return False
    rows = pq.ParquetFile(target).metadata.num_rows
    staged.add_file(target, rows)
    context.counts.read += rows
    context.progress(path.stat().st_size)
    return True


def _stage_file_in_blocks(
    connection: duckdb.DuckDBPyConnection, path: Path, staged: StagedImport, context: IngestContext
) -> None:
    """The careful path: Python numbers the lines and sets aside undecodable or over-long ones."""
    for block in read_line_blocks(path, context.settings.max_line_bytes):
        for number, reason, raw in block.bad_lines:
            context.quarantine.add(path, number, reason, raw)
        context.counts.read += len(block.bad_lines)
        if len(block.lines) > block.lines.count(""):
            numbers = pa.array(range(block.first_line, block.first_line + len(block.lines)), pa.int64())
            connection.register(
                "lines", pa.table({LINE_COLUMN: numbers, "j": pa.array(block.lines, pa.large_string())})
            )
            try:
                sql = _extraction_sql("lines", context.settings.timezone, EXTERNAL_ID_PREFIXES)
                context.counts.read += _stage_relation(connection, sql, staged, context, path)
            finally:
                connection.unregister("lines")
        context.progress(block.bytes_read)
