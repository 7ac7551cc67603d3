"""Next-best product: hit-rate@10 of popularity, category popularity, co-purchase and the hybrid.

Runs the time-split evaluation on synthetic shops (with and without co-purchase structure) and,
with ``--demo-members``, on a simulated demo brand; prints hit-rates, evaluated members and the
time the hybrid takes (weight tuning included) against the popularity baseline in the same run.

    python benchmarks/recommend.py                      # synthetic shops only (seconds)
    python benchmarks/recommend.py --demo-members 1500 --demo-days 90
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "analytics"))

from test_recommend import START, structure_free_purchases, synthetic_purchases

from groupops.analytics import recommend


def demo_purchases(members: int, days: int, seed: int) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Order lines of a simulated brand (local time) and the 30-day holdout cut-off."""
    from groupops.config import Settings
    from groupops.ops.profiles import PURCHASE_STATUSES
    from groupops.simulate.demo import build_demo_brand
    from groupops.store.workspace import Workspace

    with tempfile.TemporaryDirectory() as folder:
        workspace = Workspace(Settings(data=Path(folder)))
        build_demo_brand(workspace, members=members, days=days, seed=seed)
        orders = workspace.warehouse.read_table("orders").to_pandas()
        items = workspace.warehouse.read_table("order_items").to_pandas()
        timezone = workspace.settings.timezone
    orders = orders[orders["status"].isin(PURCHASE_STATUSES) & orders["member_id"].notna()]
    lines = items.drop(columns="placed_at").merge(
        orders[["order_id", "member_id", "placed_at"]], on="order_id"
    )
    lines = lines[lines["sku"].notna()]
    purchases = pd.DataFrame(
        {
            "member_id": lines["member_id"],
            "item_id": lines["sku"],
            "timestamp": lines["placed_at"].dt.tz_convert(timezone).dt.tz_localize(None),
            "category": lines["category"].replace("", np.nan).fillna("other"),
        }
    )
    return purchases, purchases["timestamp"].max().normalize() - pd.Timedelta(days=30)


def report_line(name: str, purchases: pd.DataFrame, cutoff: pd.Timestamp) -> None:
    """Evaluate every method once and print the row."""
    started = time.perf_counter()
    popular = purchases[purchases["timestamp"] <= cutoff]
    recommend.popular_products(popular)
    baseline_seconds = time.perf_counter() - started
    started = time.perf_counter()
    recommend.recommend_products(popular, category_col="category" if "category" in popular else None)
    hybrid_seconds = time.perf_counter() - started
    report = recommend.evaluate_hit_rate(
        purchases, cutoff, category_col="category" if "category" in purchases else None
    )
    rates = {"hybrid": report.hit_rate, **report.baselines}
    print(
        f"{name:<34} members {report.members_evaluated:>5}  popularity {rates['popularity']:.3f}  "
        f"category {rates['category_popularity']:.3f}  co-purchase {rates['co_purchase']:.3f}  "
        f"hybrid {rates['hybrid']:.3f}  weights {report.weights}"
    )
    print(
        f"{'':<34} hybrid fit+recommend {hybrid_seconds:.2f} s vs popularity {baseline_seconds:.3f} s "
        f"({hybrid_seconds / max(baseline_seconds, 1e-9):.0f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--demo-members", type=int, default=0, help="simulate a demo brand of this size (0: skip)"
    )
    parser.add_argument("--demo-days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=11)
    arguments = parser.parse_args()
    report_line("synthetic pairs (1,500 members)", synthetic_purchases(), START + pd.Timedelta(days=100))
    report_line("structure-free (800 members)", structure_free_purchases(), START + pd.Timedelta(days=70))
    if arguments.demo_members:
        purchases, cutoff = demo_purchases(arguments.demo_members, arguments.demo_days, arguments.seed)
        label = f"demo {arguments.demo_members} members/{arguments.demo_days} d"
        report_line(label, purchases, cutoff)


if __name__ == "__main__":
    main()
