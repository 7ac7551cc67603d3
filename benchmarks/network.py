"""Benchmark: the brand-wide interaction graph (build + all metrics) vs plain networkx.

Generates a synthetic brand-wide ``messages`` table shaped like the warehouse one (members in
~40 groups, heavy-tailed activity, bursty conversations, some @-mentions and quotes), then
times GroupOps' ``interaction_edges`` + ``compute_network`` and a plain networkx implementation
of the same metrics (degree centrality, weighted degree, PageRank, sampled betweenness,
Louvain communities + modularity, bridges). networkx runs on a subset of groups when the
graph is large and its time is extrapolated linearly in edges (a lower bound: betweenness and
community detection grow faster than linearly), and the output says so.

Target (plan §4.2 issue): 20k members, 365 days (~7M messages) in under 15 s on 2 cores:
``python benchmarks/network.py --members 20000 --days 365``. The default is a quicker size.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from groupops.analytics.network import NetworkResult, compute_network, interaction_edges

MESSAGES_PER_MEMBER_DAY = 0.96  # 20k members × 365 days ≈ 7M messages
MICROSECONDS_PER_DAY = 86_400 * 1_000_000


@dataclass
class SyntheticBrand:
    messages: pa.Table
    name_to_member: dict[tuple[str, str], str]
    member_ids: np.ndarray
    group_ids: np.ndarray


def _memberships(rng: np.random.Generator, members: int, groups: int) -> list[np.ndarray]:
    """Each member in one home group; 5% also in a second group."""
    home = rng.integers(0, groups, size=members)
    second = rng.random(members) < 0.05
    extra_group = (home + rng.integers(1, groups, size=members)) % groups
    return [
        np.concatenate([np.flatnonzero(home == group), np.flatnonzero(second & (extra_group == group))])
        for group in range(groups)
    ]


def _group_messages(
    rng: np.random.Generator, roster: np.ndarray, activity: np.ndarray, count: int, days: int
) -> tuple[np.ndarray, np.ndarray]:
    """Bursty conversations: burst starts uniform over the period, messages ~30 s apart."""
    burst_sizes = rng.geometric(1 / 8, size=max(1, count // 8 + 1))
    burst_sizes = burst_sizes[: np.searchsorted(np.cumsum(burst_sizes), count) + 1]
    starts = rng.integers(0, days * MICROSECONDS_PER_DAY, size=burst_sizes.size)
    offsets = rng.exponential(30e6, size=int(burst_sizes.sum()))
    burst_of = np.repeat(np.arange(burst_sizes.size), burst_sizes)
    first_in_burst = np.repeat(np.cumsum(burst_sizes) - burst_sizes, burst_sizes)
    cumulative = np.cumsum(offsets)
    within = cumulative - cumulative[first_in_burst]
    sent_at = (starts[burst_of] + within.astype(np.int64))[:count]
    weights = activity[roster] / activity[roster].sum()
    senders = roster[rng.choice(roster.size, size=sent_at.size, p=weights)]
    return sent_at, senders


def generate_brand(members: int, days: int, groups: int = 40, seed: int = 7) -> SyntheticBrand:
    """A brand-wide messages table (warehouse columns used by the graph) and its name index."""
    rng = np.random.default_rng(seed)
    member_ids = np.asarray([f"wm{index:07d}" for index in range(members)], dtype=object)
    group_ids = np.asarray([f"wr{index:04d}" for index in range(groups)], dtype=object)
    activity = rng.pareto(1.6, size=members) + 0.05
    attraction = activity**0.8
    rosters = _memberships(rng, members, groups)
    total = int(members * days * MESSAGES_PER_MEMBER_DAY)
    group_activity = np.asarray([activity[roster].sum() for roster in rosters])
    per_group = rng.multinomial(total, group_activity / group_activity.sum())
    group_codes, times, senders, mentions, quotes = [], [], [], [], []
    for group, roster in enumerate(rosters):
        sent_at, sender = _group_messages(rng, roster, activity, int(per_group[group]), days)
        group_codes.append(np.full(sent_at.size, group))
        times.append(sent_at)
        senders.append(sender)
        target_weights = attraction[roster] / attraction[roster].sum()
        mentions.append(
            np.where(
                rng.random(sent_at.size) < 0.03,
                roster[rng.choice(roster.size, sent_at.size, p=target_weights)],
                -1,
            )
        )
        quotes.append(
            np.where(
                rng.random(sent_at.size) < 0.02,
                roster[rng.choice(roster.size, sent_at.size, p=target_weights)],
                -1,
            )
        )
    return _assemble(
        np.concatenate(group_codes),
        np.concatenate(times),
        np.concatenate(senders),
        np.concatenate(mentions),
        np.concatenate(quotes),
        member_ids,
        group_ids,
        rosters,
    )


def _names(codes: np.ndarray) -> pa.Array:
    mask = codes < 0
    names = pa.DictionaryArray.from_arrays(
        pa.array(np.where(mask, 0, codes), mask=mask),
        pa.array([f"昵称{index}" for index in range(int(codes.max()) + 1)]),
    )
    return names.cast(pa.string())


def _assemble(group, sent_at, sender, mention, quote, member_ids, group_ids, rosters) -> SyntheticBrand:
    start = np.datetime64("2024-01-01T00:00:00", "us").astype(np.int64)
    has_mention = mention >= 0
    offsets = np.concatenate([[0], np.cumsum(has_mention)]).astype(np.int32)
    mention_values = _names(mention[has_mention])
    staff = sender % 500 == 0
    table = pa.table(
        {
            "msgid": pa.array(np.arange(group.size).astype(str)),
            "action": pa.array(np.full(group.size, "send")),
            "group_id": pa.DictionaryArray.from_arrays(pa.array(group), pa.array(list(group_ids))).cast(
                pa.string()
            ),
            "sender_id": pa.DictionaryArray.from_arrays(pa.array(sender), pa.array(list(member_ids))).cast(
                pa.string()
            ),
            "sender_is_staff": pa.array(staff),
            "sent_at": pa.array(start + sent_at, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
            "msgtype": pa.array(np.full(group.size, "text")),
            "mention_names": pa.ListArray.from_arrays(pa.array(offsets), mention_values),
            "quote_name": _names(quote),
            "revoked": pa.array(np.zeros(group.size, dtype=bool)),
        }
    )
    name_to_member = {
        (str(group_ids[g]), f"昵称{m}"): str(member_ids[m])
        for g, roster in enumerate(rosters)
        for m in roster
    }
    return SyntheticBrand(table, name_to_member, member_ids, group_ids)


# --- timing ---------------------------------------------------------------------------------


def networkx_metrics(edges: pd.DataFrame, betweenness_sources: int, seed: int = 7) -> float:
    """Seconds for the same metrics with plain networkx on an undirected weighted edge list."""
    import networkx as nx

    started = time.perf_counter()
    graph = nx.Graph()
    for source, target, weight in zip(edges["source"], edges["target"], edges["weight"], strict=True):
        if source == target:
            continue
        previous = graph.get_edge_data(source, target, default={"weight": 0.0})["weight"]
        graph.add_edge(source, target, weight=previous + weight)
    nx.degree_centrality(graph)
    dict(graph.degree(weight="weight"))
    nx.pagerank(graph, alpha=0.85, weight="weight")
    sources = None if betweenness_sources == 0 else min(betweenness_sources, graph.number_of_nodes())
    nx.betweenness_centrality(graph, k=sources, seed=seed)
    communities = nx.community.louvain_communities(graph, weight="weight", seed=seed)
    nx.community.modularity(graph, communities, weight="weight")
    list(nx.bridges(graph))
    return time.perf_counter() - started


def groupops_metrics(edges: pd.DataFrame) -> tuple[NetworkResult, float]:
    started = time.perf_counter()
    result = compute_network(edges)
    return result, time.perf_counter() - started


def subset_by_groups(edges: pd.DataFrame, max_edges: int) -> pd.DataFrame:
    """Edges of the first groups whose undirected edge count stays within ``max_edges``."""
    per_group = edges.groupby("group_id", sort=True).size()
    chosen = per_group.index[np.cumsum(per_group.to_numpy()) <= max_edges]
    if len(chosen) == 0:
        chosen = per_group.index[:1]
    return edges[edges["group_id"].isin(set(chosen))]


def _sources(result: NetworkResult) -> int:
    label = str(result.summary["betweenness"])
    return 0 if label == "exact" else int(label.split("(")[1].split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=5000, help="members in the brand (target: 20000)")
    parser.add_argument("--days", type=int, default=90, help="days of messages (target: 365)")
    parser.add_argument("--groups", type=int, default=40)
    parser.add_argument(
        "--networkx-max-edges", type=int, default=60_000, help="edge budget of the networkx run"
    )
    arguments = parser.parse_args()

    started = time.perf_counter()
    brand = generate_brand(arguments.members, arguments.days, arguments.groups)
    print(
        f"generated {brand.messages.num_rows:,} messages for {arguments.members:,} members in "
        f"{arguments.groups} groups over {arguments.days} days ({time.perf_counter() - started:.1f} s, not timed)"
    )

    started, cpu_started = time.perf_counter(), time.process_time()
    edges = interaction_edges(brand.messages, brand.name_to_member)
    build_seconds = time.perf_counter() - started
    result, metric_seconds = groupops_metrics(edges)
    total, cpu_total = build_seconds + metric_seconds, time.process_time() - cpu_started
    summary = result.summary
    print(
        f"graph: {summary['nodes']:,} nodes, {summary['edges']:,} undirected edges, "
        f"{summary['communities']} communities, betweenness {summary['betweenness']}"
    )
    print(
        f"GroupOps  build {build_seconds:6.2f} s + metrics {metric_seconds:6.2f} s = {total:6.2f} s wall "
        f"({cpu_total:.2f} s CPU; wall time grows when other work shares the 2 cores)"
    )
    if arguments.members >= 20_000 and arguments.days >= 365:
        print(f"target (20k members, 365 days, < 15 s): {'met' if total < 15 else 'MISSED'}")

    subset = subset_by_groups(edges, arguments.networkx_max_edges)
    subset_result, subset_groupops = groupops_metrics(subset)
    subset_networkx = networkx_metrics(subset, _sources(subset_result))
    scale = summary["edges"] / max(subset_result.summary["edges"], 1)
    print(
        f"same subset ({subset['group_id'].nunique()} groups, {subset_result.summary['nodes']:,} nodes, "
        f"{subset_result.summary['edges']:,} edges): GroupOps metrics {subset_groupops:.2f} s, "
        f"networkx {subset_networkx:.2f} s, ratio networkx/GroupOps {subset_networkx / subset_groupops:.1f}x"
    )
    if scale > 1.0:
        extrapolated = subset_networkx * scale
        print(
            f"networkx on the full graph, extrapolated linearly in edges (x{scale:.1f}; a lower bound): "
            f"{extrapolated:.1f} s vs GroupOps metrics {metric_seconds:.2f} s, "
            f"ratio {extrapolated / metric_seconds:.1f}x"
        )


if __name__ == "__main__":
    main()
