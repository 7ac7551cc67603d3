"""Benchmark: demo brand generation (raw exports in the real formats) vs a json.dumps baseline.

Target (issue 3 §6): ``--members 20000 --days 365`` (about 7 million archive messages) in
under 2 minutes on 2 cores: ``python benchmarks/demo_generation.py --members 20000 --days 365``.
The default is a quicker size.

Measured in the same run:
1. GroupOps: ``generate_demo_brand`` end to end (wall time, messages/s).
2. Rendering only, one month, one process: archive lines assembled from pre-escaped pieces.
3. Baseline, same month, one process: the same planned messages turned into dicts and
   ``json.dumps``-ed one by one, timed on a 1% sample and scaled to the month (labelled
   "scaled"); its projected end-to-end time swaps our rendering cost for the baseline's.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from groupops.simulate import generate_demo_brand
from groupops.simulate._archive import ArchiveWriter, write_month
from groupops.simulate._calendar import Period
from groupops.simulate._catalogue import build_catalogue
from groupops.simulate._chat import MENTION, QUOTE, TYPES, ChatContext, plan_month
from groupops.simulate._commerce import build_commerce
from groupops.simulate._phrases import build_phrase_pools
from groupops.simulate._population import build_population

SAMPLE_EVERY = 100  # 1% sample for the baseline


def _context(members: int, days: int, seed: int) -> tuple[ArchiveWriter, Period]:
    from groupops.simulate import default_start

    root = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))
    population_rng, catalogue_rng, commerce_rng, phrase_rng, _ = root.spawn(5)
    period = Period(default_start(days), days)
    population = build_population(population_rng, period, members)
    catalogue = build_catalogue(catalogue_rng, members)
    commerce = build_commerce(commerce_rng, population, catalogue)
    pools = build_phrase_pools(phrase_rng, catalogue.product_names())
    return ArchiveWriter(ChatContext(population, pools, commerce.scheduled, seed)), period


def _baseline_record(writer: ArchiveWriter, plan: Any, index: int, number: int, ms: int) -> dict[str, Any]:
    batch, context = plan.messages, writer.context
    raw = context.pools.raw + [context.scheduled.text or [""]]
    sender, group = int(batch.sender[index]), int(batch.group[index])
    content = raw[int(batch.pool[index])][int(batch.pick[index])]
    if batch.style[index] == QUOTE:
        target = int(batch.ref[index])
        quoted = raw[int(batch.pool[target])][int(batch.pick[target])]
        name = json.loads('"' + writer.display(int(batch.sender[target]), group) + '"')
        content = f"「{name}：{quoted}」\n- - - - - - - - - - - - - - -\n{content}"
    elif batch.style[index] == MENTION:
        content = (
            "@"
            + json.loads('"' + writer.display(int(batch.mention[index]), group) + '"')
            + "\u2005"
            + content
        )
    msgtype = TYPES[int(batch.mtype[index])]
    body: dict[str, Any] = (
        {"content": content} if msgtype == "text" else {"md5sum": f"{number:032x}", "sdkfileid": str(number)}
    )
    return {
        "msgid": f"{number}_{ms}", "action": "send", "from": writer.sender_ids[sender],
        "tolist": [writer.owner_ids[group]], "roomid": writer.rooms[group], "msgtime": ms,
        "msgtype": msgtype, msgtype: body,
    }  # fmt: skip


def _one_month(writer: ArchiveWriter, period: Period, directory: Path) -> tuple[int, float, float]:
    """(messages, our seconds to plan+render+write, baseline seconds to plan+json.dumps, scaled)."""
    month = max(period.months(), key=lambda month: month.end_ts - month.start_ts)
    started = time.perf_counter()
    result = write_month(writer, month, directory)
    ours = time.perf_counter() - started
    started = time.perf_counter()
    plan = plan_month(writer.context, month)
    planning = time.perf_counter() - started
    numbers = writer.msgid_numbers(month, plan.messages.size)
    ms = plan.messages.time * 1000 + (numbers % np.uint64(1000)).astype(np.int64)
    sample = range(0, plan.messages.size, SAMPLE_EVERY)
    started = time.perf_counter()
    lines = [
        json.dumps(_baseline_record(writer, plan, i, int(numbers[i]), int(ms[i])), ensure_ascii=False)
        for i in sample
    ]
    (directory / "baseline-sample.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    dumping = (time.perf_counter() - started) * plan.messages.size / max(len(lines), 1)
    return result.messages, ours, planning + dumping


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=3000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path, help="directory to write into (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = args.out or Path(scratch)
        started = time.perf_counter()
        manifest = generate_demo_brand(root / "raw", members=args.members, days=args.days, seed=args.seed)
        total = time.perf_counter() - started
        writer, period = _context(args.members, args.days, args.seed)
        month_messages, ours, baseline = _one_month(writer, period, Path(scratch))
    print(f"demo brand: {args.members} members × {args.days} days → {manifest.messages:,} archive messages")
    print(
        f"GroupOps generate_demo_brand (2 processes): {total:.1f} s, {manifest.messages / total:,.0f} messages/s (target < 120 s at 20k×365)"
    )
    print(f"one month, one process, {month_messages:,} messages:")
    print(f"  GroupOps pre-escaped pieces : {ours:.2f} s, {month_messages / ours:,.0f} messages/s")
    print(
        f"  baseline json.dumps/message : {baseline:.2f} s, {month_messages / baseline:,.0f} messages/s (1% sample, scaled)"
    )
    print(f"  ratio                       : {baseline / ours:.2f}× faster than the baseline")
    projected = total + (baseline - ours) / month_messages * manifest.messages / 2
    print(f"projected end-to-end with the baseline renderer: {projected:.1f} s (scaled from the sample)")


if __name__ == "__main__":
    main()
