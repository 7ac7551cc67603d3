"""Community network analytics: who interacts with whom, centrality, roles and communities (plan §4.2).

Two pure entry points:

* :func:`interaction_edges` turns warehouse ``messages`` rows into weighted interaction edges
  (quotes, @-mentions, conversational turns; see :class:`GraphRules`);
* :func:`compute_network` turns any edge list into per-member metrics, roles
  (influencer / spreader / ordinary by degree-centrality rank) and a summary.

:func:`brand_network` chains both for a brand, group and time window; this module stays free of
I/O (:mod:`groupops.analytics.network_warehouse` loads the warehouse).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from groupops.analytics._network_build import EDGE_KINDS, GraphRules, build_interaction_edges
from groupops.analytics._network_metrics import (
    GraphMetrics,
    NetworkOptions,
    collapse_undirected,
    graph_metrics,
)
from groupops.analytics._network_stats import gini_coefficient, share_count, top_share
from groupops.errors import ConfigurationError, InputFormatError

__all__ = [
    "EDGE_KINDS",
    "ROLES",
    "GraphRules",
    "NetworkOptions",
    "NetworkResult",
    "brand_network",
    "build_name_index",
    "compute_network",
    "group_bridges",
    "interaction_edges",
    "messages_in_window",
    "read_edge_list_csv",
    "staff_members",
]

ROLES: tuple[str, ...] = ("influencer", "spreader", "ordinary")
CONTRACT_NODE_KEYS: tuple[str, ...] = ("id", "degree", "degree_centrality", "pagerank", "role", "community")

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class NetworkResult:
    """Metrics of one interaction graph.

    ``nodes``: one row per member, best-ranked first: id, degree, degree_centrality,
    weighted_degree, pagerank, betweenness, community, role, ranked (False for members excluded
    from role ranking), groups (groups the member has edges in; 0 without group information).
    ``edges``: the undirected simple graph, each pair once, with summed weights.
    ``cut_edges``: edges whose removal disconnects the graph.
    """

    nodes: pd.DataFrame
    edges: pd.DataFrame
    cut_edges: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The public ``network --json`` document."""
        columns = {key: self.nodes[key].tolist() for key in CONTRACT_NODE_KEYS}
        nodes = [
            dict(zip(CONTRACT_NODE_KEYS, values, strict=True))
            for values in zip(*columns.values(), strict=True)
        ]
        return {"nodes": nodes, "summary": self.summary}


# --- building ---------------------------------------------------------------------------


def interaction_edges(
    messages: pa.Table | pd.DataFrame,
    name_to_member: Mapping[tuple[str, str], str],
    rules: GraphRules | None = None,
) -> pd.DataFrame:
    """Interaction edges from ``messages`` rows: columns source, target, weight, kind, group_id, interactions.

    ``name_to_member`` maps (group_id, display name) to a member id and resolves quotes and
    @-mentions; names it cannot resolve are skipped. Edges are directed (the speaker is the
    source) and summed per group and kind; self-interactions are dropped.
    """
    return build_interaction_edges(messages, name_to_member, rules or GraphRules())


def build_name_index(rows: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str], str]:
    """(group_id, display name) → member id from (group_id, display_name, member_id) rows.

    A name two different members use in the same group is ambiguous and left out.
    """
    index: dict[tuple[str, str], str] = {}
    ambiguous: set[tuple[str, str]] = set()
    for group_id, display_name, member_id in rows:
        if not display_name or not member_id:
            continue
        key = (str(group_id), str(display_name))
        if index.get(key, member_id) != member_id:
            ambiguous.add(key)
        index[key] = str(member_id)
    for key in ambiguous:
        del index[key]
    return index


def staff_members(messages: pa.Table | pd.DataFrame) -> frozenset[str]:
    """Sender ids flagged ``sender_is_staff`` (staff and robots)."""
    table = (
        messages if isinstance(messages, pa.Table) else pa.Table.from_pandas(messages, preserve_index=False)
    )
    if "sender_is_staff" not in table.column_names:
        return frozenset()
    flagged = table.filter(pc.fill_null(table["sender_is_staff"], False))["sender_id"]
    return frozenset(str(value) for value in pc.unique(flagged.drop_null()).to_pylist())


def messages_in_window(
    messages: pa.Table | pd.DataFrame,
    *,
    group_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> pa.Table:
    """The messages of one group (or all) sent in ``[start, end)`` (aware datetimes)."""
    table = (
        messages if isinstance(messages, pa.Table) else pa.Table.from_pandas(messages, preserve_index=False)
    )
    keep = pa.array(np.ones(table.num_rows, dtype=bool))
    if group_id is not None:
        keep = pc.and_(keep, pc.fill_null(pc.equal(table["group_id"], group_id), False))
    sent_type = table.schema.field("sent_at").type
    if start is not None:
        keep = pc.and_(
            keep, pc.fill_null(pc.greater_equal(table["sent_at"], pa.scalar(start, sent_type)), False)
        )
    if end is not None:
        keep = pc.and_(keep, pc.fill_null(pc.less(table["sent_at"], pa.scalar(end, sent_type)), False))
    return table.filter(keep)


def brand_network(
    messages: pa.Table | pd.DataFrame,
    name_to_member: Mapping[tuple[str, str], str],
    *,
    group_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    rules: GraphRules | None = None,
    influencer_share: float = 0.15,
    spreader_share: float = 0.35,
    rank_staff: bool = False,
    options: NetworkOptions | None = None,
) -> NetworkResult:
    """The interaction network of a brand (or one group) in a time window; staff are not ranked by default."""
    window = messages_in_window(messages, group_id=group_id, start=start, end=end)
    edges = interaction_edges(window, name_to_member, rules)
    return compute_network(
        edges,
        influencer_share=influencer_share,
        spreader_share=spreader_share,
        exclude_from_ranking=() if rank_staff else staff_members(window),
        options=options,
    )


def read_edge_list_csv(source: IO[str] | Path) -> pd.DataFrame:
    """An edge list CSV with header ``source,target[,weight]``; ids are kept verbatim as text."""
    try:
        frame = pd.read_csv(source, dtype=str, keep_default_na=False, na_filter=False, skipinitialspace=False)
    except pd.errors.EmptyDataError as error:
        raise InputFormatError("edge list is empty: expected a header source,target[,weight]") from error
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise InputFormatError(f"edge list is not valid CSV: {error}") from error
    frame.columns = [str(column).strip().lower() for column in frame.columns]
    missing = [column for column in ("source", "target") if column not in frame.columns]
    if missing:
        raise InputFormatError(
            f"edge list lacks column(s) {', '.join(missing)}; header must be source,target[,weight]"
        )
    if "weight" in frame.columns:
        frame["weight"] = _parse_weights(frame["weight"])
    return frame


def _parse_weights(column: pd.Series) -> pd.Series:
    blank = column.str.strip() == ""
    numbers = pd.to_numeric(column.where(~blank, "1"), errors="coerce")
    bad = numbers.isna()
    if bad.any():
        line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise InputFormatError(f"edge list line {line}: weight {column[bad].iloc[0]!r} is not a number")
    return numbers.astype(np.float64)


# --- metrics -----------------------------------------------------------------------------


def compute_network(
    edges: pd.DataFrame,
    *,
    influencer_share: float = 0.15,
    spreader_share: float = 0.35,
    exclude_from_ranking: Iterable[str] = (),
    extra_nodes: Iterable[str] = (),
    options: NetworkOptions | None = None,
) -> NetworkResult:
    """Metrics, roles and summary of the undirected graph behind an edge list.

    ``edges`` needs source and target (and may have weight, default 1, and group_id). Self-loops
    are dropped, both directions and duplicates of a pair are summed into one weighted edge.
    ``extra_nodes`` adds members without edges (e.g. silent newcomers).
    """
    _check_shares(influencer_share, spreader_share)
    options = options or NetworkOptions()
    source, target, weight = _validated_edges(edges)
    codes, node_ids = pd.factorize(pd.concat([source, target, pd.Series(list(extra_nodes), dtype="str")]))
    node_count = len(node_ids)
    source_codes = codes[: len(source)].astype(np.int64)
    target_codes = codes[len(source) : 2 * len(source)].astype(np.int64)
    low, high, summed = collapse_undirected(source_codes, target_codes, weight, node_count)
    if low.size == 0:
        raise InputFormatError("no edges between two different members (all rows were self-loops)")
    metrics = graph_metrics(node_count, low, high, summed, options)
    ids = np.asarray(node_ids, dtype=object)
    ranked = ~pd.Index(ids).isin(set(map(str, exclude_from_ranking)))
    groups = _groups_per_member(edges, source_codes, target_codes, node_count)
    nodes = _node_table(ids, metrics, ranked, groups, influencer_share, spreader_share)
    edge_table = pd.DataFrame({"source": ids[low], "target": ids[high], "weight": summed})
    cut = pd.DataFrame({"source": ids[metrics.cut_edges[:, 0]], "target": ids[metrics.cut_edges[:, 1]]})
    summary = _summary(nodes, metrics, int(low.size), influencer_share, spreader_share)
    return NetworkResult(nodes=nodes, edges=edge_table, cut_edges=cut, summary=summary)


def _check_shares(influencer_share: float, spreader_share: float) -> None:
    for name, share in (("influencer share", influencer_share), ("spreader share", spreader_share)):
        if not 0.0 <= share <= 1.0:
            raise ConfigurationError(f"{name} must be between 0 and 1, got {share}")
    if influencer_share + spreader_share > 1.0 + 1e-9:
        raise ConfigurationError("influencer share + spreader share must not exceed 1")


def _validated_edges(edges: pd.DataFrame) -> tuple[pd.Series, pd.Series, npt.NDArray[np.float64]]:
    missing = [column for column in ("source", "target") if column not in edges.columns]
    if missing:
        raise InputFormatError(f"edge list lacks column(s): {', '.join(missing)}")
    if len(edges) == 0:
        raise InputFormatError("edge list is empty: nothing to analyse")
    source, target = edges["source"].astype("str"), edges["target"].astype("str")
    if bool((source == "").any() or (target == "").any()):
        raise InputFormatError("edge list has an empty source or target id")
    weight = edges["weight"].to_numpy(dtype=np.float64) if "weight" in edges.columns else np.ones(len(edges))
    if not np.all(np.isfinite(weight)) or bool((weight <= 0).any()):
        raise InputFormatError("edge weights must be finite positive numbers")
    return source.reset_index(drop=True), target.reset_index(drop=True), weight


def _groups_per_member(
    edges: pd.DataFrame, source_codes: IntArray, target_codes: IntArray, node_count: int
) -> IntArray:
    """Number of distinct groups each node has an edge in (zeros without a group_id column)."""
    if "group_id" not in edges.columns:
        return np.zeros(node_count, dtype=np.int64)
    group_codes, group_names = pd.factorize(edges["group_id"].astype("str"))
    keep = source_codes != target_codes
    group_count = np.int64(max(len(group_names), 1))
    members = np.concatenate([source_codes[keep], target_codes[keep]])
    groups = np.concatenate([group_codes[keep], group_codes[keep]]).astype(np.int64)
    distinct = np.unique(members * group_count + groups)
    return np.bincount(distinct // group_count, minlength=node_count).astype(np.int64)


def _member_group_pairs(edges: pd.DataFrame) -> pd.DataFrame:
    kept = edges[edges["source"].astype("str") != edges["target"].astype("str")]
    return pd.DataFrame(
        {
            "member_id": pd.concat([kept["source"], kept["target"]], ignore_index=True).astype(object),
            "group_id": pd.concat([kept["group_id"], kept["group_id"]], ignore_index=True).astype(object),
        }
    ).drop_duplicates()


def group_bridges(edges: pd.DataFrame, minimum_groups: int = 2) -> pd.DataFrame:
    """Members with interactions in at least ``minimum_groups`` groups: member_id, groups, group_ids.

    ``edges`` is an :func:`interaction_edges` table (it needs group_id). Sorted by number of
    groups (most first), then member id.
    """
    if "group_id" not in edges.columns:
        raise InputFormatError("group bridges need a group_id column in the edge list")
    pairs = _member_group_pairs(edges)
    counts = pairs["member_id"].value_counts()
    selected = pairs[pairs["member_id"].isin(counts.index[counts >= minimum_groups])]
    grouped = selected.sort_values("group_id").groupby("member_id", sort=True)["group_id"]
    table = pd.DataFrame({"groups": grouped.size(), "group_ids": grouped.agg(list)}).reset_index()
    table["member_id"] = table["member_id"].astype(object)
    return table.sort_values(["groups", "member_id"], ascending=[False, True], ignore_index=True)


def _rank_order(
    ids: npt.NDArray[np.object_], degree: IntArray, pagerank: npt.NDArray[np.float64]
) -> IntArray:
    """Positions sorted by degree (desc), then PageRank (desc, to 12 decimals), then id (asc)."""
    id_rank = np.empty(ids.size, dtype=np.int64)
    id_rank[np.argsort(ids.astype(str), kind="stable")] = np.arange(ids.size)
    return np.lexsort((id_rank, -np.round(pagerank, 12), -degree)).astype(np.int64)


def _roles(
    order: IntArray, ranked: npt.NDArray[np.bool_], influencer_share: float, spreader_share: float
) -> list[str]:
    ranked_order = order[ranked[order]]
    influencers = share_count(influencer_share, ranked_order.size)
    top = max(influencers, share_count(influencer_share + spreader_share, ranked_order.size))
    roles = np.full(ranked.size, "ordinary", dtype=object)
    roles[ranked_order[top:]] = "ordinary"
    roles[ranked_order[influencers:top]] = "spreader"
    roles[ranked_order[:influencers]] = "influencer"
    return list(roles)


def _renumbered_communities(membership: IntArray, id_rank_order: IntArray) -> IntArray:
    """Community labels 0, 1, … by size (largest first), ties by their best-ranked member."""
    sizes = np.bincount(membership)
    first_seen = np.full(sizes.size, membership.size, dtype=np.int64)
    np.minimum.at(first_seen, membership[id_rank_order], np.arange(membership.size))
    present = np.flatnonzero(sizes)
    ordered = present[np.lexsort((first_seen[present], -sizes[present]))]
    relabel = np.empty(sizes.size, dtype=np.int64)
    relabel[ordered] = np.arange(ordered.size)
    return relabel[membership]


def _node_table(
    ids: npt.NDArray[np.object_],
    metrics: GraphMetrics,
    ranked: npt.NDArray[np.bool_],
    groups: IntArray,
    influencer_share: float,
    spreader_share: float,
) -> pd.DataFrame:
    order = _rank_order(ids, metrics.degree, metrics.pagerank)
    denominator = max(ids.size - 1, 1)
    table = pd.DataFrame(
        {
            "id": pd.Series(ids, dtype=object),
            "degree": metrics.degree,
            "degree_centrality": metrics.degree / denominator,
            "weighted_degree": metrics.weighted_degree,
            "pagerank": metrics.pagerank,
            "betweenness": metrics.betweenness,
            "community": _renumbered_communities(metrics.community, order),
            "role": _roles(order, ranked, influencer_share, spreader_share),
            "ranked": ranked,
            "groups": groups,
        }
    )
    return table.iloc[order].reset_index(drop=True)


def _summary(
    nodes: pd.DataFrame,
    metrics: GraphMetrics,
    edge_count: int,
    influencer_share: float,
    spreader_share: float,
) -> dict[str, Any]:
    node_count = len(nodes)
    ranked = nodes[nodes["ranked"]]
    role_counts = ranked["role"].value_counts()
    return {
        "nodes": node_count,
        "edges": edge_count,
        "density": 2.0 * edge_count / (node_count * (node_count - 1)) if node_count > 1 else 0.0,
        "total_weight": float(nodes["weighted_degree"].sum() / 2.0),
        "components": metrics.components,
        "communities": int(nodes["community"].nunique()),
        "modularity": metrics.modularity,
        "degree_gini": gini_coefficient(ranked["degree"].to_numpy()),
        "top_weighted_degree_share": top_share(ranked["weighted_degree"].to_numpy(), influencer_share),
        "roles": {role: int(role_counts.get(role, 0)) for role in ROLES},
        "ranked_nodes": len(ranked),
        "excluded_from_ranking": node_count - len(ranked),
        "influencer_share": influencer_share,
        "spreader_share": spreader_share,
        "cut_edges": int(metrics.cut_edges.shape[0]),
        "group_bridges": int((nodes["groups"] >= 2).sum()),
        "betweenness": "exact"
        if metrics.betweenness_sources == 0
        else f"sampled ({metrics.betweenness_sources} sources)",
    }
