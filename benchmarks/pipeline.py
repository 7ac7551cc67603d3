"""Benchmark: the GroupOps analytics pipeline vs hand-written DuckDB SQL vs pandas.

Targets (issue 4): for ``--members 20000 --days 365`` (about 7M messages), the full
``groupops run`` within 1.5x of a hand-written DuckDB SQL computing the 7 KPIs and the shop
funnel, at least 10x faster than a pandas implementation of the same, under 20 s, with a
peak memory under 3 GB. The Spark-local time of the same run is printed (no target).

    python benchmarks/pipeline.py                      # quick size
    python benchmarks/pipeline.py --members 20000 --days 365 --spark
    python benchmarks/pipeline.py --data /tmp/perf20k --repeat 3 --profile

Data: the demo brand (``groupops.simulate.generate_demo_brand`` + ``ingest_files``) in a
temporary data directory (or ``--data DIR`` to reuse one). Each contender runs in a fresh
process on the same Parquet files, starting from a ``Workspace``: its imports, the staff ids
from the store and every read are timed; its peak resident memory is read from the OS. With
``--repeat N`` each contender runs N times and its fastest run is kept (a shared machine is
noisy). The 7 KPIs and the funnel of the three contenders are compared (they must agree).
``--profile`` prints the run's time per stage; ``--cli`` also times the ``groupops run --full
--marts-only`` command as a whole process (interpreter start and every CLI import included).
Spark is off by default (``--spark``): its session start dominates a small run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Measurement, measure_in_subprocess

INGEST_KINDS = ("wecom-groups", "members", "memotrace", "wecom-archive", "orders", "events")

_SETUP = """
import json
from pathlib import Path
from groupops.config import Settings
from groupops.store.workspace import Workspace
workspace = Workspace(Settings(data=Path({data!r}), _env_file=None))
values_path = Path({values!r})
"""

# The run writes its KPIs and funnels to the marts (read back afterwards); the body keeps its
# import time and stage timings (a few hundred bytes written after the work).
GROUPOPS_RUN = """
cpu_started = time.process_time()
imports_started = time.perf_counter()
from groupops.analytics.pipeline import run_pipeline
imported = time.perf_counter() - imports_started
result = run_pipeline(workspace, {engine!r}, full=True)
values_path.write_text(json.dumps({{"import": imported, "wall": getattr(result, "stage_seconds", {{}}),
                                    "cpu": getattr(result, "stage_cpu_seconds", {{}}),
                                    "cpu_seconds": time.process_time() - cpu_started}}))
"""

# The 7 KPIs (brand, the 30 days ending on the last day with data) and the ordered shop
# funnel (14-day window), written directly in SQL: the same definitions as the run's.
HAND_SQL = """
cpu_started = time.process_time()
import duckdb
from sqlalchemy import select
from groupops.store.models import Staff
warehouse, tz = workspace.warehouse, workspace.settings.timezone
with workspace.database.session() as session:
    staff_ids = list(session.execute(select(Staff.id)).scalars())
def files(table):
    return "[" + ", ".join("'" + str(p) + "'" for p in warehouse.files(table)) + "]"
con = duckdb.connect()
con.execute("SET TimeZone='UTC'")
con.execute("CREATE TABLE staff_table(id VARCHAR)")
con.executemany("INSERT INTO staff_table VALUES (?)", [[s] for s in staff_ids])
day = lambda col: f"(CAST(timezone('{tz}', {col}) AS DATE) - DATE '1970-01-01')"
con.execute(f'''CREATE TEMP TABLE activity AS
WITH msg AS (SELECT * FROM read_parquet({files('messages')})),
recalled AS (SELECT recalled_msgid AS id FROM msg WHERE action = 'recall' AND recalled_msgid IS NOT NULL),
staff AS (SELECT id FROM staff_table UNION SELECT sender_id FROM msg WHERE sender_is_staff)
SELECT DISTINCT sender_id AS member_id, {day('sent_at')} AS dn FROM msg
WHERE group_id IS NOT NULL AND coalesce(action, 'send') = 'send'
  AND coalesce(msgtype, 'unknown') NOT IN ('revoke', 'switch', 'agree', 'disagree')
  AND NOT coalesce(revoked, false) AND msgid NOT IN (SELECT id FROM recalled)
  AND NOT coalesce(sender_is_staff, false) AND sender_id NOT IN (SELECT id FROM staff)''')
con.execute(f'''CREATE TEMP TABLE orders AS SELECT member_id, {day('placed_at')} AS dn,
  status IN ('paid', 'partially_refunded') AS valid, status IN ('paid', 'partially_refunded', 'refunded') AS paid,
  coalesce(amount, 0) AS amount, coalesce(amount, 0) - coalesce(refund_amount, 0) AS net
  FROM read_parquet({files('orders')}) WHERE order_id IS NOT NULL''')
con.execute(f'''CREATE TEMP TABLE presence AS
WITH c AS (SELECT group_id, member_id, {day('occurred_at')} AS dn, change IN ('join', 'snapshot') AS present,
   lag(change IN ('join', 'snapshot'), 1, false) OVER (PARTITION BY group_id, member_id
     ORDER BY epoch_us(occurred_at), event_id) AS was
   FROM read_parquet({files('membership_changes')})
   WHERE member_id IS NOT NULL AND group_id IS NOT NULL
     AND member_id NOT IN (SELECT id FROM staff_table UNION SELECT sender_id FROM
       read_parquet({files('messages')}) WHERE sender_is_staff))
SELECT group_id, member_id, dn, CASE WHEN present THEN 1 ELSE -1 END AS delta FROM c WHERE present <> was''')
# the period ends on the last local day with any message, order, membership change or shop event
period_end = con.execute(f'''SELECT max(dn) FROM (
  SELECT {day('max(sent_at)')} AS dn FROM read_parquet({files('messages')})
  UNION ALL SELECT {day('max(placed_at)')} FROM read_parquet({files('orders')})
  UNION ALL SELECT {day('max(occurred_at)')} FROM read_parquet({files('membership_changes')})
  UNION ALL SELECT {day('max(occurred_at)')} FROM read_parquet({files('shop_events')}))''').fetchone()[0]
period_start, prev_end = period_end - 29, period_end - 30
prev_start = prev_end - 29
kpi_query = con.execute(f'''
WITH present AS (SELECT member_id, max(CASE WHEN s_end > 0 THEN 1 ELSE 0 END) AS p_end,
   max(CASE WHEN s_prev > 0 THEN 1 ELSE 0 END) AS p_prev FROM (
   SELECT group_id, member_id, sum(CASE WHEN dn <= {period_end} THEN delta ELSE 0 END) AS s_end,
     sum(CASE WHEN dn <= {prev_end} THEN delta ELSE 0 END) AS s_prev FROM presence GROUP BY ALL) GROUP BY 1),
spoke AS (SELECT member_id, count(DISTINCT CASE WHEN dn BETWEEN {period_start} AND {period_end} THEN dn END) AS sd,
   max(CASE WHEN dn BETWEEN {prev_start} AND {prev_end} THEN 1 ELSE 0 END) AS sb,
   max(CASE WHEN dn BETWEEN {prev_end + 1} AND {period_end} THEN 1 ELSE 0 END) AS sn FROM activity GROUP BY 1),
bought AS (SELECT member_id,
   sum(CASE WHEN valid AND dn BETWEEN {period_start} AND {period_end} THEN 1 ELSE 0 END) AS po,
   sum(CASE WHEN valid AND dn BETWEEN {period_start} AND {period_end} THEN amount ELSE 0 END) AS pr,
   sum(CASE WHEN valid THEN 1 ELSE 0 END) AS vo, sum(net) AS nr,
   max(CASE WHEN valid AND dn BETWEEN {prev_start} AND {prev_end} THEN 1 ELSE 0 END) AS bb,
   max(CASE WHEN valid AND dn BETWEEN {prev_end + 1} AND {period_end} THEN 1 ELSE 0 END) AS bn
   FROM orders WHERE paid AND dn <= {period_end} GROUP BY 1),
m AS (SELECT member_id, coalesce(p_end, 0) p_end, coalesce(p_prev, 0) p_prev, coalesce(sd, 0) sd,
   coalesce(sb, 0) sb, coalesce(sn, 0) sn, coalesce(po, 0) po, coalesce(pr, 0) pr, coalesce(vo, 0) vo,
   coalesce(nr, 0) nr, coalesce(bb, 0) bb, coalesce(bn, 0) bn
   FROM present FULL JOIN spoke USING (member_id) FULL JOIN bought USING (member_id)),
f AS (SELECT *, (p_end > 0 OR sd > 0) AS pop, ((sb > 0 OR bb > 0) AND (p_prev > 0 OR sb > 0)) AS base,
   (sn > 0 OR bn > 0) AS now FROM m)
SELECT count(*) FILTER (pop AND (sd > 0 OR po > 0)) AS active_users,
  sum(sd) FILTER (pop) / (count(*) FILTER (pop) * 30.0) AS interaction_rate,
  count(*) FILTER (pop AND po > 0) / count(*) FILTER (pop) AS conversion_rate,
  sum(pr) FILTER (pop) / sum(po) FILTER (pop) AS aov,
  count(*) FILTER (pop AND vo >= 2) / count(*) FILTER (pop AND vo >= 1) AS repurchase_rate,
  count(*) FILTER (base AND NOT (now AND pop)) / count(*) FILTER (base) AS churn_rate,
  sum(nr) FILTER (pop) / count(*) FILTER (pop AND vo >= 1) AS ltv FROM f''')
kpis = dict(zip([column[0] for column in kpi_query.description], kpi_query.fetchone()))
steps = ['view', 'favorite', 'add_to_cart', 'pay']
window = 14 * 86400 * 1000000
con.execute(f'''CREATE TEMP TABLE ev AS SELECT member_id, event, epoch_us(occurred_at) AS t,
  CASE WHEN event = 'view' THEN epoch_us(occurred_at) END AS s1
  FROM read_parquet({files('shop_events')}) WHERE member_id IS NOT NULL AND event IN ('view','favorite','add_to_cart','pay')''')
for k in range(1, 4):
    con.execute(f'''CREATE OR REPLACE TEMP TABLE ev AS SELECT *, CASE WHEN event = '{steps[k]}' THEN
      max(CASE WHEN t - s{k} <= {window} THEN s{k} END) OVER (PARTITION BY member_id ORDER BY t
      RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) END AS s{k + 1} FROM ev''')
funnel = con.execute('SELECT ' + ', '.join(
    f'count(DISTINCT CASE WHEN t - s{k} <= {window} THEN member_id END)' for k in range(1, 5)) + ' FROM ev').fetchone()
values_path.write_text(json.dumps({"as_of": int(period_end), "kpis": kpis, "funnel": list(funnel),
                                   "cpu_seconds": time.process_time() - cpu_started}, default=float))
"""

# The same 7 KPIs and funnel as an analyst would write them in pandas: read the columns needed,
# filter, merge and group; the funnel is the SQL's window (a running max per member) with
# groupby().cummax().
PANDAS = """
cpu_started = time.process_time()
import numpy as np
import pandas as pd
from sqlalchemy import select
from groupops.store.models import Staff
warehouse, tz = workspace.warehouse, workspace.settings.timezone
with workspace.database.session() as session:
    staff_ids = list(session.execute(select(Staff.id)).scalars())
def read(table, columns):
    parts = [pd.read_parquet(p, columns=columns) for p in warehouse.files(table)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
def day(series):
    local = series.dt.tz_convert(tz).dt.tz_localize(None).dt.normalize()
    return (local - pd.Timestamp('1970-01-01')).dt.days
def last_day(series):
    return int(day(pd.Series([series.max()])).iloc[0])
msg = read('messages', ['msgid', 'action', 'group_id', 'sender_id', 'sender_is_staff', 'sent_at', 'msgtype',
                        'recalled_msgid', 'revoked'])
recalled = set(msg.loc[(msg.action == 'recall') & msg.recalled_msgid.notna(), 'recalled_msgid'])
staff = set(staff_ids) | set(msg.loc[msg.sender_is_staff.fillna(False).astype(bool), 'sender_id'])
keep = (msg.group_id.notna() & (msg.action.fillna('send') == 'send')
        & ~msg.msgtype.fillna('unknown').isin(['revoke', 'switch', 'agree', 'disagree'])
        & ~msg.revoked.fillna(False).astype(bool) & ~msg.msgid.isin(recalled)
        & ~msg.sender_is_staff.fillna(False).astype(bool) & ~msg.sender_id.isin(staff))
activity = pd.DataFrame({'member_id': msg.sender_id[keep], 'dn': day(msg.sent_at[keep])}).drop_duplicates()
orders = read('orders', ['order_id', 'member_id', 'placed_at', 'status', 'amount', 'refund_amount'])
orders = orders[orders.order_id.notna()].assign(dn=lambda o: day(o.placed_at))
orders['valid'] = orders.status.isin(['paid', 'partially_refunded'])
orders['paid'] = orders.status.isin(['paid', 'partially_refunded', 'refunded'])
orders['net'] = orders.amount.fillna(0) - orders.refund_amount.fillna(0)
changes = read('membership_changes', ['event_id', 'group_id', 'member_id', 'change', 'occurred_at'])
ev = read('shop_events', ['member_id', 'event', 'occurred_at'])
# the period ends on the last local day with any message, order, membership change or shop event
period_end = max(last_day(msg.sent_at), last_day(orders.placed_at), last_day(changes.occurred_at),
                 last_day(ev.occurred_at))
changes = changes[changes.member_id.notna() & changes.group_id.notna() & ~changes.member_id.isin(staff)]
changes = changes.sort_values(['group_id', 'member_id', 'occurred_at', 'event_id'])
changes['present'] = changes.change.isin(['join', 'snapshot'])
changes['was'] = changes.groupby(['group_id', 'member_id']).present.shift(1, fill_value=False)
moves = changes[changes.present != changes.was].assign(dn=lambda c: day(c.occurred_at),
                                                       delta=lambda c: np.where(c.present, 1, -1))
period_start, prev_end = period_end - 29, period_end - 30
prev_start = prev_end - 29
stays = moves.assign(s_end=np.where(moves.dn <= period_end, moves.delta, 0), s_prev=np.where(moves.dn <= prev_end, moves.delta, 0)
                     ).groupby(['group_id', 'member_id'])[['s_end', 's_prev']].sum()
present = (stays > 0).groupby('member_id').max().rename(columns={'s_end': 'p_end', 's_prev': 'p_prev'})
a = activity.assign(sd=activity.dn.between(period_start, period_end), sb=activity.dn.between(prev_start, prev_end),
                    sn=activity.dn.between(prev_end + 1, period_end))
spoke = a.groupby('member_id').agg(sd=('sd', 'sum'), sb=('sb', 'max'), sn=('sn', 'max'))
o = orders[orders.paid & (orders.dn <= period_end)]
in_period = o.valid & o.dn.between(period_start, period_end)
o = o.assign(po=in_period, pr=np.where(in_period, o.amount.fillna(0), 0.0), vo=o.valid,
             bb=o.valid & o.dn.between(prev_start, prev_end), bn=o.valid & o.dn.between(prev_end + 1, period_end))
bought = o.groupby('member_id').agg(po=('po', 'sum'), pr=('pr', 'sum'), vo=('vo', 'sum'), nr=('net', 'sum'),
                                    bb=('bb', 'max'), bn=('bn', 'max'))
m = present.join(spoke, how='outer').join(bought, how='outer').fillna(0)
pop = (m.p_end > 0) | (m.sd > 0)
base = ((m.sb > 0) | (m.bb > 0)) & ((m.p_prev > 0) | (m.sb > 0))
now = (m.sn > 0) | (m.bn > 0)
kpis = dict(active_users=(pop & ((m.sd > 0) | (m.po > 0))).sum(),
            interaction_rate=m.sd[pop].sum() / (pop.sum() * 30), conversion_rate=(pop & (m.po > 0)).sum() / pop.sum(),
            aov=m.pr[pop].sum() / m.po[pop].sum(), repurchase_rate=(pop & (m.vo >= 2)).sum() / (pop & (m.vo >= 1)).sum(),
            churn_rate=(base & ~(now & pop)).sum() / base.sum(), ltv=m.nr[pop].sum() / (pop & (m.vo >= 1)).sum())
steps = ['view', 'favorite', 'add_to_cart', 'pay']
window = 14 * 86400 * 1000000
ev = ev[ev.member_id.notna() & ev.event.isin(steps)]
ev = ev.assign(t=ev.occurred_at.dt.as_unit('us').astype('int64')).sort_values(['member_id', 't'])
ev['s1'] = ev.t.where(ev.event == 'view').astype('float64')
for k in range(1, 4):
    # latest chain start up to each event (a running max per member; same-instant events included)
    valid = ev[f's{k}'].where(ev.t - ev[f's{k}'] <= window)
    latest = valid.groupby(ev.member_id).cummax().groupby(ev.member_id).ffill()
    latest = latest.groupby([ev.member_id, ev.t]).transform('max')
    ev[f's{k + 1}'] = latest.where(ev.event == steps[k])
funnel = [ev.member_id[ev.t - ev[f's{k}'] <= window].nunique() for k in range(1, 5)]
values_path.write_text(json.dumps({"as_of": period_end, "kpis": kpis, "funnel": funnel,
                                   "cpu_seconds": time.process_time() - cpu_started}, default=float))
"""


def _prepare(members: int, days: int, data: Path) -> int:
    from groupops.config import Settings
    from groupops.ingest import ingest_files
    from groupops.simulate import generate_demo_brand
    from groupops.store.workspace import Workspace

    manifest = generate_demo_brand(data / "raw", members=members, days=days)
    workspace = Workspace(Settings(data=data, _env_file=None))  # type: ignore[call-arg]
    try:
        for kind, paths in manifest.entries():
            if paths and kind in INGEST_KINDS:
                ingest_files(kind, paths, workspace)
        return workspace.warehouse.row_count("messages")
    finally:
        workspace.close()


@dataclass
class Contender:
    """A timed contender: its fastest run and the values (or stage timings) that run wrote."""

    measurement: Measurement
    values: dict[str, Any]


def _best_of(repeat: int, name: str, body: str, data: Path, scratch: Path) -> Contender:
    """The fastest of ``repeat`` runs (with the highest peak memory seen) and what it wrote."""
    runs = []
    for index in range(max(1, repeat)):
        values = scratch / f"{name.split()[0].lower()}-{index}.json"
        setup = _SETUP.format(data=str(data), values=str(values))
        runs.append((measure_in_subprocess(name, 1, body, setup), values))
    fastest, values = min(runs, key=lambda run: run[0].seconds)
    peak = max(run.peak_mb for run, _ in runs)
    return Contender(Measurement(name, fastest.seconds, peak, 1), json.loads(values.read_text()))


def _cli_run(data: Path) -> Contender:
    """``groupops run --full --marts-only`` as a whole process: start-up and CLI imports included."""
    command = [sys.executable, "-c", "from groupops.cli import main; main()", "run", "--full", "--marts-only"]
    started = time.perf_counter()
    process = subprocess.Popen(
        [*command, "--json", "--data", str(data)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _pid, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"groupops run failed: {process.stderr.read().decode() if process.stderr else ''}")
    measurement = Measurement("groupops run CLI (whole process)", elapsed, usage.ru_maxrss / 1024, 1)
    return Contender(measurement, {"cpu_seconds": usage.ru_utime + usage.ru_stime})


def _row(contender: Contender, reference: Contender) -> str:
    measurement, cpu = contender.measurement, contender.values.get("cpu_seconds", float("nan"))
    ratio = measurement.seconds / reference.measurement.seconds
    cpu_ratio = cpu / reference.values.get("cpu_seconds", float("nan"))
    return (
        f"{measurement.name:<36}{measurement.seconds:>10.2f}{measurement.peak_mb:>10.0f}{ratio:>14.2f}x"
        f"{cpu:>10.2f}{cpu_ratio:>14.2f}x"
    )


def _groupops_values(data: Path) -> dict[str, Any]:
    """The run's 7 KPIs (summary.json) and ordered shop funnel (funnel_steps mart)."""
    from groupops.analytics.kpis import EPOCH
    from groupops.analytics.pipeline import read_mart

    marts = data / "marts"
    summary = json.loads((marts / "summary.json").read_text(encoding="utf-8"))
    steps = [
        row
        for row in read_mart(marts, "funnel_steps").to_pylist()
        if row["funnel"] == "shop" and row["mode"] == "ordered"
    ]
    as_of = (date.fromisoformat(summary["as_of"]) - EPOCH).days
    funnel = [row["members"] for row in sorted(steps, key=lambda row: row["step"])]
    return {"as_of": as_of, "kpis": summary["kpis"]["kpis"], "funnel": funnel}


def _same(left: Any, right: Any) -> bool:
    if left is None or right is None:
        return left is right
    return math.isclose(float(left), float(right), rel_tol=1e-9, abs_tol=1e-9)


def _check_values(named: dict[str, dict[str, Any]]) -> bool:
    """Print the KPIs and funnel of every contender; true when they all agree."""
    reference = next(iter(named.values()))
    from groupops.analytics.kpis import KPI_NAMES

    keys = [("as_of", None), *[("kpis", name) for name in KPI_NAMES], ("funnel", None)]
    print(f"\n{'value':<20}" + "".join(f"{name:>22}" for name in named))
    agree = True
    for section, name in keys:
        label = name or section
        cells = [values[section] if name is None else values[section].get(name) for values in named.values()]
        expected = reference[section] if name is None else reference[section].get(name)
        if section == "funnel":
            same = all(cell == expected for cell in cells)
        else:
            same = all(_same(cell, expected) for cell in cells)
        agree &= same
        shown = "".join(f"{_shown(cell):>22}" for cell in cells)
        print(f"{label:<20}{shown}{'' if same else '   <- differ'}")
    print("values agree" if agree else "VALUES DIFFER")
    return agree


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def _print_profile(values: dict[str, Any], total: float) -> None:
    print(f"\nGroupOps run per stage (fastest run){'wall s':>24}{'CPU s':>10}")
    print(f"{'import groupops.analytics.pipeline':<60}{values['import']:>10.2f}{'':>10}")
    for stage, seconds in values["wall"].items():
        print(f"{stage:<60}{seconds:>10.2f}{values['cpu'][stage]:>10.2f}")
    rest = total - values["import"] - sum(values["wall"].values())
    print(f"{'other (engine start, facts, fingerprints, state)':<60}{rest:>10.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--data", type=Path, help="reuse (or create) this data directory")
    parser.add_argument("--spark", action="store_true", help="also time the Spark-local run")
    parser.add_argument("--skip-pandas", action="store_true", help="skip the (slow) pandas baseline")
    parser.add_argument("--repeat", type=int, default=1, help="runs per contender; the fastest is kept")
    parser.add_argument("--profile", action="store_true", help="print the run's time per stage")
    parser.add_argument("--cli", action="store_true", help="also time the groupops run command process")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="groupops-bench-") as scratch:
        data = arguments.data or Path(scratch) / "data"
        if not (data / "warehouse" / "messages" / "_manifest.json").exists():
            print(
                f"generating and ingesting {arguments.members} members x {arguments.days} days …", flush=True
            )
            _prepare(arguments.members, arguments.days, data)
        _compare(data, arguments, Path(scratch))


def _compare(data: Path, arguments: argparse.Namespace, scratch: Path) -> None:
    from groupops.store.warehouse import Warehouse

    warehouse = Warehouse(data / "warehouse")
    print(
        f"messages {warehouse.row_count('messages'):,}  orders {warehouse.row_count('orders'):,}  "
        f"shop events {warehouse.row_count('shop_events'):,}"
    )
    repeat = arguments.repeat

    def run(name: str, body: str) -> Contender:
        return _best_of(repeat, name, body, data, scratch)

    hand = run("hand-written DuckDB SQL", HAND_SQL)
    ours = run("GroupOps run (duckdb, full)", GROUPOPS_RUN.format(engine="duckdb"))
    values = {"GroupOps": _groupops_values(data), "hand SQL": hand.values}
    rows = [ours, hand]
    pandas = None
    if not arguments.skip_pandas:
        pandas = run("pandas", PANDAS)
        values["pandas"] = pandas.values
        rows.append(pandas)
    if arguments.cli:
        rows.append(
            min((_cli_run(data) for _ in range(max(1, repeat))), key=lambda row: row.measurement.seconds)
        )
    if arguments.spark:
        rows.append(run("GroupOps run (spark local)", GROUPOPS_RUN.format(engine="spark")))
    print(f"\n{'':<36}{'seconds':>10}{'peak MB':>10}{'vs hand SQL':>15}{'CPU s':>10}{'CPU vs hand':>15}")
    for contender in rows:
        print(_row(contender, hand))
    _check_values(values)
    if arguments.profile:
        _print_profile(ours.values, ours.measurement.seconds)
    print("\ntargets: GroupOps <= 1.5x hand SQL, >= 10x faster than pandas, < 20 s, peak < 3072 MB")
    print(f"GroupOps / hand SQL = {ours.measurement.seconds / hand.measurement.seconds:.2f}x")
    if pandas is not None:
        print(f"pandas / GroupOps = {pandas.measurement.seconds / ours.measurement.seconds:.2f}x")
    print(
        "(CPU seconds count every thread of the contender's process: steadier than wall time on a busy machine)"
    )


if __name__ == "__main__":
    main()
