"""igraph-backed metrics on an undirected weighted graph given as integer edge arrays."""

from __future__ import annotations

import random
from dataclasses import dataclass

import igraph as ig
import numpy as np
import numpy.typing as npt

__all__ = ["GraphMetrics", "NetworkOptions", "collapse_undirected", "graph_metrics"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class NetworkOptions:
    """Tuning of the metric computations (defaults suit a brand of a few 100k members)."""

    pagerank_damping: float = 0.85
    seed: int = 20240615  # Leiden and betweenness sampling are seeded: same input, same output
    betweenness_work_budget: int = 100_000_000  # exact betweenness while nodes × edges stays below this
    betweenness_min_sources: int = 32  # sampled betweenness uses at least this many source nodes


@dataclass(frozen=True)
class GraphMetrics:
    """Per-node metrics (arrays indexed by node code) and whole-graph figures."""

    degree: IntArray
    weighted_degree: FloatArray
    pagerank: FloatArray
    betweenness: FloatArray
    community: IntArray
    modularity: float
    components: int
    cut_edges: IntArray  # (k, 2) node codes of the edges whose removal disconnects the graph
    betweenness_sources: int  # 0 when exact


def collapse_undirected(
    source: IntArray, target: IntArray, weight: FloatArray, node_count: int
) -> tuple[IntArray, IntArray, FloatArray]:
    """Drop self-loops and sum the weights of each unordered pair (both directions, duplicates)."""
    keep = source != target
    low = np.minimum(source[keep], target[keep])
    high = np.maximum(source[keep], target[keep])
    pair_keys, inverse = np.unique(low * np.int64(node_count) + high, return_inverse=True)
    summed = np.bincount(inverse.ravel(), weights=weight[keep], minlength=pair_keys.size)
    return pair_keys // node_count, pair_keys % node_count, summed.astype(np.float64)


def graph_metrics(
    node_count: int, low: IntArray, high: IntArray, weight: FloatArray, options: NetworkOptions
) -> GraphMetrics:
    """Degree, strength, PageRank, betweenness, Leiden communities and cut edges of the graph."""
    graph = ig.Graph(n=node_count, edges=np.column_stack((low, high)).tolist(), directed=False)
    weights = weight.tolist()
    betweenness, sources = _betweenness(graph, options)
    membership, modularity = _communities(graph, weights, options.seed)
    return GraphMetrics(
        degree=np.asarray(graph.degree(), dtype=np.int64),
        weighted_degree=np.asarray(graph.strength(weights=weights), dtype=np.float64),
        pagerank=np.asarray(
            graph.pagerank(directed=False, damping=options.pagerank_damping, weights=weights),
            dtype=np.float64,
        ),
        betweenness=betweenness,
        community=membership,
        modularity=modularity,
        components=len(graph.connected_components()),
        cut_edges=_cut_edges(graph),
        betweenness_sources=sources,
    )


def _betweenness(graph: ig.Graph, options: NetworkOptions) -> tuple[FloatArray, int]:
    """Normalised betweenness (as networkx), exact or estimated from sampled source nodes."""
    nodes, edges = graph.vcount(), max(graph.ecount(), 1)
    if nodes < 3:
        return np.zeros(nodes, dtype=np.float64), 0
    scale = 2.0 / ((nodes - 1) * (nodes - 2))
    if nodes * edges <= options.betweenness_work_budget:
        return np.asarray(graph.betweenness(directed=False), dtype=np.float64) * scale, 0
    source_count = min(nodes, max(options.betweenness_min_sources, options.betweenness_work_budget // edges))
    sources = np.random.default_rng(options.seed).choice(nodes, size=source_count, replace=False)
    raw = np.asarray(graph.betweenness(directed=False, sources=sources.tolist()), dtype=np.float64)
    return raw * (nodes / source_count) * scale, source_count


def _communities(graph: ig.Graph, weights: list[float], seed: int) -> tuple[IntArray, float]:
    """Leiden (modularity objective, run to convergence) with a private seeded generator."""
    if graph.ecount() == 0:
        return np.arange(graph.vcount(), dtype=np.int64), 0.0
    ig.set_random_number_generator(random.Random(seed))
    try:
        partition = graph.community_leiden(objective_function="modularity", weights=weights, n_iterations=-1)
    finally:
        ig.set_random_number_generator(random)
    membership = np.asarray(partition.membership, dtype=np.int64)
    return membership, float(graph.modularity(partition.membership, weights=weights))


def _cut_edges(graph: ig.Graph) -> IntArray:
    edge_ids = graph.bridges()
    if not edge_ids:
        return np.empty((0, 2), dtype=np.int64)
    return np.asarray([graph.es[edge_id].tuple for edge_id in edge_ids], dtype=np.int64)
