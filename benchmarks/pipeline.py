"""Benchmark: the GroupOps analytics pipeline vs hand-written DuckDB SQL vs pandas.

Targets (issue 4): for ``--members 20000 --days 365`` (about 7M messages, 200k orders), the
full ``groupops run`` within 1.5x of a hand-written DuckDB SQL computing the 7 KPIs and the
shop funnel, at least 10x faster than a pandas implementation of the same, under 20 s, with
a peak memory under 3 GB. The Spark-local time of the same run is printed (no target).

    python benchmarks/pipeline.py                      # quick size
    python benchmarks/pipeline.py --members 20000 --days 365 --spark
    python benchmarks/pipeline.py --data /tmp/perf20k --repeat 3 --skip-pandas

Data: the demo brand (``groupops.simulate.generate_demo_brand`` + ``ingest_files``) in a
temporary data directory (or ``--data DIR`` to reuse one). Each contender runs in a fresh
process, on the same Parquet files, and its peak resident memory is read from the OS. With
``--repeat N`` each contender runs N times and its fastest run is kept (a shared machine is
noisy). Spark is off by default (``--spark``): its session start dominates a small run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Measurement, measure_in_subprocess

INGEST_KINDS = ("wecom-groups", "members", "memotrace", "wecom-archive", "orders", "events")

_SETUP = """
from pathlib import Path
from groupops.config import Settings
from groupops.store.workspace import Workspace
workspace = Workspace(Settings(data=Path({data!r}), _env_file=None))
"""

GROUPOPS_RUN = """
from groupops.analytics.pipeline import run_pipeline
run_pipeline(workspace, {engine!r}, full=True)
"""

HAND_SQL_SETUP = (
    _SETUP
    + """
import duckdb
from sqlalchemy import select
from groupops.store.models import Staff
warehouse = workspace.warehouse
tz = workspace.settings.timezone
def files(table):
    return "[" + ", ".join("'" + str(p) + "'" for p in warehouse.files(table)) + "]"
with workspace.database.session() as session:
    staff_ids = list(session.execute(select(Staff.id)).scalars())
"""
)

# The 7 KPIs (brand, last 30 days) and the ordered shop funnel, written directly in SQL.
HAND_SQL = """
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
period_end = con.execute("SELECT max(dn) FROM (SELECT dn FROM activity UNION ALL SELECT dn FROM orders "
                  "UNION ALL SELECT dn FROM presence)").fetchone()[0]
period_start, prev_end = period_end - 29, period_end - 30
prev_start = prev_end - 29
kpis = con.execute(f'''
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
SELECT count(*) FILTER (pop) AS members, count(*) FILTER (pop AND (sd > 0 OR po > 0)) AS active_users,
  sum(sd) FILTER (pop) / (count(*) FILTER (pop) * 30.0) AS interaction_rate,
  count(*) FILTER (pop AND po > 0) / count(*) FILTER (pop) AS conversion_rate,
  sum(pr) FILTER (pop) / sum(po) FILTER (pop) AS aov,
  count(*) FILTER (pop AND vo >= 2) / count(*) FILTER (pop AND vo >= 1) AS repurchase_rate,
  count(*) FILTER (base AND NOT (now AND pop)) / count(*) FILTER (base) AS churn_rate,
  sum(nr) FILTER (pop) / count(*) FILTER (pop AND vo >= 1) AS ltv FROM f''').fetchall()
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
    f'count(DISTINCT CASE WHEN t - s{k} <= {window} THEN member_id END)' for k in range(1, 5)) + ' FROM ev').fetchall()
"""

PANDAS_SETUP = HAND_SQL_SETUP + "\nimport numpy as np\nimport pandas as pd\n"

PANDAS = """
def read(table, columns):
    parts = [pd.read_parquet(p, columns=columns) for p in warehouse.files(table)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
def day(series):
    local = series.dt.tz_convert(tz).dt.tz_localize(None).dt.normalize()
    return (local - pd.Timestamp('1970-01-01')).dt.days
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
changes = changes[changes.member_id.notna() & changes.group_id.notna() & ~changes.member_id.isin(staff)]
changes = changes.sort_values(['group_id', 'member_id', 'occurred_at', 'event_id'])
changes['present'] = changes.change.isin(['join', 'snapshot'])
changes['was'] = changes.groupby(['group_id', 'member_id']).present.shift(1, fill_value=False)
moves = changes[changes.present != changes.was].assign(dn=lambda c: day(c.occurred_at),
                                                       delta=lambda c: np.where(c.present, 1, -1))
period_end = int(max(activity.dn.max(), orders.dn.max(), moves.dn.max()))
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
o = o.assign(po=in_period, pr=np.where(in_period, o.amount, 0.0), vo=o.valid,
             bb=o.valid & o.dn.between(prev_start, prev_end), bn=o.valid & o.dn.between(prev_end + 1, period_end))
bought = o.groupby('member_id').agg(po=('po', 'sum'), pr=('pr', 'sum'), vo=('vo', 'sum'), nr=('net', 'sum'),
                                    bb=('bb', 'max'), bn=('bn', 'max'))
m = present.join(spoke, how='outer').join(bought, how='outer').fillna(0)
pop = (m.p_end > 0) | (m.sd > 0)
base = ((m.sb > 0) | (m.bb > 0)) & ((m.p_prev > 0) | (m.sb > 0))
now = (m.sn > 0) | (m.bn > 0)
kpis = dict(members=pop.sum(), active_users=(pop & ((m.sd > 0) | (m.po > 0))).sum(),
            interaction_rate=m.sd[pop].sum() / (pop.sum() * 30), conversion_rate=(pop & (m.po > 0)).sum() / pop.sum(),
            aov=m.pr[pop].sum() / m.po[pop].sum(), repurchase_rate=(pop & (m.vo >= 2)).sum() / (pop & (m.vo >= 1)).sum(),
            churn_rate=(base & ~(now & pop)).sum() / base.sum(), ltv=m.nr[pop].sum() / (pop & (m.vo >= 1)).sum())
ev = read('shop_events', ['member_id', 'event', 'occurred_at'])
ev = ev[ev.member_id.notna() & ev.event.isin(['view', 'favorite', 'add_to_cart', 'pay'])]
ev = ev.assign(t=ev.occurred_at.astype('int64') // 1000).sort_values(['member_id', 't'])
window = 14 * 86400 * 1000000
reached = [0, 0, 0, 0]
for member, rows in ev.groupby('member_id', sort=False):
    starts = {}
    best = 0
    for event, t in zip(rows.event, rows.t):
        step = ['view', 'favorite', 'add_to_cart', 'pay'].index(event)
        if step == 0:
            starts[0] = t
        elif starts.get(step - 1) is not None and t - starts[step - 1] <= window:
            starts[step] = max(starts.get(step, -1), starts[step - 1])
        if starts.get(step) is not None and t - starts[step] <= window:
            best = max(best, step + 1)
    for k in range(best):
        reached[k] += 1
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


def _best_of(repeat: int, name: str, body: str, setup: str) -> Measurement:
    """The fastest of ``repeat`` runs (with the highest peak memory seen)."""
    runs = [measure_in_subprocess(name, 1, body, setup) for _ in range(max(1, repeat))]
    fastest = min(runs, key=lambda run: run.seconds)
    return Measurement(name, fastest.seconds, max(run.peak_mb for run in runs), 1)


def _row(measurement: Measurement, reference: Measurement) -> str:
    ratio = measurement.seconds / reference.seconds if reference.seconds else float("nan")
    return f"{measurement.name:<36}{measurement.seconds:>10.2f}{measurement.peak_mb:>10.0f}{ratio:>14.2f}x"


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
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="groupops-bench-") as scratch:
        data = arguments.data or Path(scratch) / "data"
        if not (data / "warehouse" / "messages" / "_manifest.json").exists():
            print(
                f"generating and ingesting {arguments.members} members x {arguments.days} days …", flush=True
            )
            _prepare(arguments.members, arguments.days, data)
        _compare(data, arguments)


def _compare(data: Path, arguments: argparse.Namespace) -> None:
    from groupops.store.warehouse import Warehouse

    warehouse = Warehouse(data / "warehouse")
    print(
        f"messages {warehouse.row_count('messages'):,}  orders {warehouse.row_count('orders'):,}  "
        f"shop events {warehouse.row_count('shop_events'):,}"
    )
    setup = _SETUP.format(data=str(data))
    repeat = arguments.repeat
    hand = _best_of(repeat, "hand-written DuckDB SQL", HAND_SQL, HAND_SQL_SETUP.format(data=str(data)))
    ours = _best_of(repeat, "GroupOps run (duckdb, full)", GROUPOPS_RUN.format(engine="duckdb"), setup)
    rows = [ours, hand]
    if not arguments.skip_pandas:
        rows.append(_best_of(repeat, "pandas", PANDAS, PANDAS_SETUP.format(data=str(data))))
    if arguments.spark:
        rows.append(_best_of(1, "GroupOps run (spark local)", GROUPOPS_RUN.format(engine="spark"), setup))
    print(f"\n{'':<36}{'seconds':>10}{'peak MB':>10}{'vs hand SQL':>15}")
    for measurement in rows:
        print(_row(measurement, hand))
    print("\ntargets: GroupOps <= 1.5x hand SQL, >= 10x faster than pandas, < 20 s, peak < 3072 MB")
    print(f"GroupOps / hand SQL = {ours.seconds / hand.seconds:.2f}x")
    if not arguments.skip_pandas:
        print(f"pandas / GroupOps = {rows[2].seconds / ours.seconds:.2f}x")


if __name__ == "__main__":
    main()
