"""``wecom-archive``: decrypted WeCom 会话存档 (chat archive) messages, one JSON object per line.

The official shape is ``{"msgid", "action", "from", "tolist", "roomid", "msgtime" (ms),
"msgtype", <msgtype>: {...}}``; ``action`` is ``send``, ``recall`` (``msgtype: revoke`` with
``revoke.pre_msgid``) or ``switch`` (``time`` and ``user`` instead of ``msgtime``/``from``).
Parsing, validation and field extraction run inside DuckDB on blocks of lines, so the
Python side only splits bytes into numbered lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from groupops.ingest._lines import read_line_blocks
from groupops.ingest.registry import IngestContext, register_source
from groupops.store.warehouse import LINE_COLUMN, StagedImport, new_duckdb_connection

__all__ = ["EXTERNAL_ID_PREFIXES", "import_wecom_archive"]

EXTERNAL_ID_PREFIXES = ("wm", "wo", "wb")  # WeCom external_userid prefixes; anything else is staff

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


def _extraction_sql(timezone: str, external_prefixes: Sequence[str]) -> tuple[str, str]:
    """Two statements: the validated block (with ``reason``) and the output rows selected from it."""
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
    external = " OR ".join(f"starts_with(sender, '{prefix}')" for prefix in external_prefixes)
    tz = timezone.replace("'", "''")
    checked = f"""
WITH fields AS MATERIALIZED (
  SELECT {LINE_COLUMN}, j, try(json_extract_string(j, {_PATHS!r})) AS f FROM lines WHERE j <> ''
), bodies AS MATERIALIZED (
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
) SELECT * FROM checked"""
    output = f"""
WITH quoted AS MATERIALIZED (
  SELECT *, CASE WHEN starts_with(body, '「')
                 THEN regexp_extract(body, '{_QUOTE_PATTERN}', ['name', 'quoted', 'reply']) END AS q
  FROM checked_block WHERE reason IS NULL
)
SELECT
  msgid,
  'wecom-archive' AS source,
  action,
  nullif({_f("$.roomid")}, '') AS group_id,
  sender AS sender_id,
  NOT ({external}) AS sender_is_staff,
  make_timestamp(time_ms * 1000)::TIMESTAMPTZ AS sent_at,
  msgtype,
  CASE WHEN q.name <> '' THEN q.reply ELSE body END AS text,
  CASE WHEN contains(body, '@')
       THEN regexp_extract_all(CASE WHEN q.name <> '' THEN q.reply ELSE body END, '{_MENTION_PATTERN}', 1)
       ELSE []::VARCHAR[] END AS mention_names,
  nullif(q.name, '') AS quote_name,
  CASE WHEN q.name <> '' THEN q.quoted END AS quote_text,
  {_f("$.revoke.pre_msgid")} AS recalled_msgid,
  false AS revoked,
  CASE WHEN msgtype = 'text' THEN NULL ELSE j END AS raw,
  strftime(timezone('{tz}', make_timestamp(time_ms * 1000)::TIMESTAMPTZ), '%Y-%m') AS month,
  {LINE_COLUMN}
FROM quoted
"""
    return checked, output


def _stage_block(
    connection: duckdb.DuckDBPyConnection,
    lines: pa.Table,
    statements: tuple[str, str],
    staged: StagedImport,
    context: IngestContext,
    path: Path,
) -> None:
    checked_sql, output_sql = statements
    connection.register("lines", lines)
    try:
        connection.execute(f"CREATE OR REPLACE TEMP TABLE checked_block AS {checked_sql}")
    finally:
        connection.unregister("lines")
    target = staged.next_chunk_path()
    connection.execute(f"COPY ({output_sql}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
    valid = connection.execute("SELECT count(*) FROM checked_block WHERE reason IS NULL").fetchone()
    staged.add_file(target, int(valid[0]) if valid else 0)
    invalid = connection.execute(
        f"SELECT {LINE_COLUMN}, reason, j FROM checked_block WHERE reason IS NOT NULL ORDER BY 1"
    ).fetchall()
    for line, reason, raw in invalid:
        context.quarantine.add(path, int(line), str(reason), raw)


@register_source("wecom-archive", "Decrypted WeCom chat-archive messages (JSON lines, official format).")
def import_wecom_archive(paths: Sequence[Path], context: IngestContext) -> None:
    """Validate and stage every message line of ``paths``, then commit them to ``messages``."""
    statements = _extraction_sql(context.settings.timezone, EXTERNAL_ID_PREFIXES)
    connection = new_duckdb_connection(memory_limit="512MB")
    try:
        with context.warehouse.staged_import("messages", context.run_id) as staged:
            for path in paths:
                _stage_file(connection, path, statements, staged, context)
            result = context.warehouse.commit(staged)
        context.counts.ingested += result.written
        context.counts.duplicates += result.duplicates
    finally:
        connection.close()


def _stage_file(
    connection: duckdb.DuckDBPyConnection,
    path: Path,
    statements: tuple[str, str],
    staged: StagedImport,
    context: IngestContext,
) -> None:
    for block in read_line_blocks(path, context.settings.max_line_bytes):
        for number, reason, raw in block.bad_lines:
            context.quarantine.add(path, number, reason, raw)
        context.counts.read += len(block.lines) - block.lines.count("")
        context.counts.read += len(block.bad_lines)
        if len(block.lines) > block.lines.count(""):
            numbers = pa.array(range(block.first_line, block.first_line + len(block.lines)), pa.int64())
            table = pa.table({LINE_COLUMN: numbers, "j": pa.array(block.lines, pa.large_string())})
            _stage_block(connection, table, statements, staged, context, path)
        context.progress(block.bytes_read)
