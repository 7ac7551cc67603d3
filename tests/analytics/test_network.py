"""Tests of the interaction graph builder and the network metrics."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy.stats import spearmanr

from groupops.analytics._network_stats import gini_coefficient, share_count, top_share
from groupops.analytics.network import (
    GraphRules,
    NetworkOptions,
    brand_network,
    build_name_index,
    compute_network,
    group_bridges,
    interaction_edges,
    messages_in_window,
    read_edge_list_csv,
    staff_members,
)
from groupops.errors import ConfigurationError, InputFormatError
from groupops.store.schemas import FACT_SCHEMAS

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def karate_edges(weighted: bool = True) -> tuple[nx.Graph, pd.DataFrame]:
    graph = nx.karate_club_graph()
    if not weighted:
        for _, _, data in graph.edges(data=True):
            data["weight"] = 1.0
    rows = [(str(u), str(v), float(data["weight"])) for u, v, data in graph.edges(data=True)]
    return graph, pd.DataFrame(rows, columns=["source", "target", "weight"])


def message_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Warehouse-shaped messages; each row gives group, sender, seconds after T0 and extras."""
    schema = FACT_SCHEMAS["messages"]
    full = []
    for index, row in enumerate(rows):
        full.append(
            {
                "msgid": f"m{index}",
                "source": "wecom-archive",
                "action": row.get("action", "send"),
                "group_id": row.get("group", "g1"),
                "sender_id": row["sender"],
                "sender_is_staff": row.get("staff", False),
                "sent_at": T0 + timedelta(seconds=row["at"]),
                "msgtype": row.get("msgtype", "text"),
                "text": row.get("text", "hi"),
                "mention_names": row.get("mentions"),
                "quote_name": row.get("quote"),
                "quote_text": None,
                "recalled_msgid": None,
                "revoked": row.get("revoked", False),
                "raw": None,
                "month": "2024-03",
            }
        )
    return pa.Table.from_pylist(full, schema=schema)


NAMES = {
    ("g1", "Alice"): "a",
    ("g1", "Bob"): "b",
    ("g1", "Carol"): "c",
    ("g2", "Alice"): "a",
    ("g2", "Dan"): "d",
}


def edge_weights(edges: pd.DataFrame) -> dict[tuple[str, str, str, str], float]:
    return {
        (row.group_id, row.source, row.target, row.kind): row.weight for row in edges.itertuples(index=False)
    }


# --- karate club: metrics equal networkx ----------------------------------------------------


@pytest.mark.parametrize("weighted", [True, False])
def test_karate_degree_centrality_and_pagerank_equal_networkx(weighted: bool) -> None:
    graph, edges = karate_edges(weighted)
    result = compute_network(edges)
    nodes = result.nodes.set_index("id")
    assert result.summary["nodes"] == 34 and result.summary["edges"] == 78
    for node, centrality in nx.degree_centrality(graph).items():
        assert nodes.loc[str(node), "degree_centrality"] == pytest.approx(centrality, abs=1e-9)
        assert nodes.loc[str(node), "degree"] == graph.degree(node)
    for node, rank in nx.pagerank(graph, alpha=0.85, weight="weight", tol=1e-13).items():
        assert nodes.loc[str(node), "pagerank"] == pytest.approx(rank, abs=1e-6)
    for node, strength in graph.degree(weight="weight"):
        assert nodes.loc[str(node), "weighted_degree"] == pytest.approx(strength)


def test_karate_betweenness_modularity_and_bridges_match_networkx() -> None:
    graph, edges = karate_edges()
    result = compute_network(edges)
    nodes = result.nodes.set_index("id")
    for node, value in nx.betweenness_centrality(graph).items():
        assert nodes.loc[str(node), "betweenness"] == pytest.approx(value, abs=1e-9)
    communities = [set(group) for _, group in nodes.groupby("community").groups.items()]
    expected = nx.community.modularity(
        nx.relabel_nodes(graph, str), [set(map(str, c)) for c in communities], weight="weight"
    )
    assert result.summary["modularity"] == pytest.approx(expected, abs=1e-9)
    assert result.summary["modularity"] > 0.4
    cut = {frozenset(pair) for pair in result.cut_edges.itertuples(index=False)}
    assert cut == {frozenset((str(u), str(v))) for u, v in nx.bridges(graph)}
    assert result.summary["betweenness"] == "exact"


def test_karate_roles_follow_default_and_configured_thresholds() -> None:
    _, edges = karate_edges()
    result = compute_network(edges)
    assert result.summary["roles"] == {"influencer": 5, "spreader": 12, "ordinary": 17}
    roles = result.nodes["role"].tolist()
    assert roles == ["influencer"] * 5 + ["spreader"] * 12 + ["ordinary"] * 17
    assert set(result.nodes["id"].head(5)) == {"33", "0", "32", "2", "1"}
    custom = compute_network(edges, influencer_share=0.1, spreader_share=0.2)
    assert custom.summary["roles"] == {"influencer": 3, "spreader": 7, "ordinary": 24}


@pytest.mark.parametrize("size", [1, 2, 3, 7, 10, 20, 33, 101])
def test_role_counts_follow_shares_for_any_size(size: int) -> None:
    edges = pd.DataFrame({"source": ["hub"] * size, "target": [f"m{i}" for i in range(size)]})
    result = compute_network(edges, influencer_share=0.15, spreader_share=0.35)
    nodes = size + 1
    assert result.summary["roles"]["influencer"] == share_count(0.15, nodes)
    assert result.summary["roles"]["influencer"] + result.summary["roles"]["spreader"] == share_count(
        0.5, nodes
    )
    assert sum(result.summary["roles"].values()) == nodes


def test_ties_are_broken_by_pagerank_then_id() -> None:
    # "zz" and "aa" both have degree 2; zz's neighbours are leaves that pass all their rank to
    # zz, aa's neighbours are hubs that spread theirs: zz has the larger PageRank and ranks
    # first although its id sorts last.
    edges = pd.DataFrame(
        [("zz", "l1"), ("zz", "l2"), ("aa", "h1"), ("aa", "h2")]
        + [("h1", f"p{i}") for i in range(6)]
        + [("h2", f"q{i}") for i in range(6)],
        columns=["source", "target"],
    )
    nodes = compute_network(edges).nodes
    order = nodes["id"].tolist()
    assert order.index("zz") < order.index("aa")
    pagerank = nodes.set_index("id")["pagerank"]
    assert pagerank["zz"] > pagerank["aa"] + 1e-3
    # A cycle: every member has the same degree and PageRank, so the id decides.
    ring = pd.DataFrame({"source": list("dbeac"), "target": list("beacd")})
    ring_nodes = compute_network(ring, influencer_share=0.2, spreader_share=0.4).nodes
    assert ring_nodes["id"].tolist() == ["a", "b", "c", "d", "e"]
    assert ring_nodes["role"].tolist() == ["influencer", "spreader", "spreader", "ordinary", "ordinary"]


# --- edge list hygiene ---------------------------------------------------------------------


def test_empty_edge_list_is_a_clear_error() -> None:
    with pytest.raises(InputFormatError, match="empty"):
        compute_network(pd.DataFrame({"source": [], "target": []}))
    with pytest.raises(InputFormatError, match="self-loops"):
        compute_network(pd.DataFrame({"source": ["a", "b"], "target": ["a", "b"]}))
    with pytest.raises(InputFormatError, match="target"):
        compute_network(pd.DataFrame({"source": ["a"]}))


@pytest.mark.parametrize("weight", [-1.0, 0.0, float("nan"), float("inf")])
def test_bad_weights_are_rejected(weight: float) -> None:
    with pytest.raises(InputFormatError, match="weights"):
        compute_network(pd.DataFrame({"source": ["a", "b"], "target": ["b", "c"], "weight": [1.0, weight]}))


def test_self_loops_dropped_and_duplicates_summed() -> None:
    edges = pd.DataFrame(
        {
            "source": ["a", "b", "a", "a", "c"],
            "target": ["b", "a", "b", "a", "b"],
            "weight": [1.0, 2.0, 0.5, 9.0, 1.0],
        }
    )
    result = compute_network(edges)
    pairs = {frozenset((row.source, row.target)): row.weight for row in result.edges.itertuples(index=False)}
    assert pairs == {frozenset(("a", "b")): 3.5, frozenset(("b", "c")): 1.0}
    nodes = result.nodes.set_index("id")
    assert nodes.loc["a", "degree"] == 1 and nodes.loc["a", "weighted_degree"] == 3.5
    assert nodes.loc["b", "degree"] == 2 and nodes.loc["b", "degree_centrality"] == 1.0
    assert result.summary["edges"] == 2


def test_extra_nodes_are_isolated_members() -> None:
    result = compute_network(pd.DataFrame({"source": ["a"], "target": ["b"]}), extra_nodes=["newcomer"])
    nodes = result.nodes.set_index("id")
    assert nodes.loc["newcomer", "degree"] == 0 and nodes.loc["newcomer", "role"] == "ordinary"
    assert result.summary["components"] == 2


def test_excluded_members_keep_metrics_but_get_no_rank() -> None:
    _, edges = karate_edges()
    result = compute_network(edges, exclude_from_ranking={"33", "0"})
    nodes = result.nodes.set_index("id")
    assert not nodes.loc["33", "ranked"] and nodes.loc["33", "role"] == "ordinary"
    assert nodes.loc["33", "degree"] == 17
    assert result.summary["ranked_nodes"] == 32 and result.summary["excluded_from_ranking"] == 2
    assert result.summary["roles"]["influencer"] == share_count(0.15, 32)
    assert nodes.loc["32", "role"] == "influencer"


@pytest.mark.parametrize(("influencer", "spreader"), [(-0.1, 0.3), (0.6, 0.6), (1.5, 0.0)])
def test_invalid_shares_are_configuration_errors(influencer: float, spreader: float) -> None:
    _, edges = karate_edges()
    with pytest.raises(ConfigurationError):
        compute_network(edges, influencer_share=influencer, spreader_share=spreader)


def test_same_input_gives_same_communities() -> None:
    _, edges = karate_edges()
    first, second = compute_network(edges), compute_network(edges.copy())
    assert first.to_json() == second.to_json()
    sizes = first.nodes["community"].value_counts().sort_index().tolist()
    assert sizes == sorted(sizes, reverse=True)


def test_sampled_betweenness_tracks_exact_values() -> None:
    graph = nx.barabasi_albert_graph(600, 3, seed=5)
    edges = pd.DataFrame([(f"n{u}", f"n{v}") for u, v in graph.edges()], columns=["source", "target"])
    exact = compute_network(edges).nodes.set_index("id")["betweenness"]
    sampled_result = compute_network(edges, options=NetworkOptions(betweenness_work_budget=100_000))
    sampled = sampled_result.nodes.set_index("id")["betweenness"].reindex(exact.index)
    assert sampled_result.summary["betweenness"].startswith("sampled")
    assert spearmanr(exact, sampled).statistic > 0.8
    assert sampled.sum() == pytest.approx(exact.sum(), rel=0.25)


def test_contract_json_has_exactly_the_public_keys() -> None:
    _, edges = karate_edges()
    document = json.loads(json.dumps(compute_network(edges).to_json()))
    assert set(document) == {"nodes", "summary"}
    for node in document["nodes"]:
        assert set(node) == {"id", "degree", "degree_centrality", "pagerank", "role", "community"}
        assert node["role"] in {"influencer", "spreader", "ordinary"}
    summary = document["summary"]
    for key in ("nodes", "edges", "density", "communities", "modularity", "degree_gini", "roles"):
        assert key in summary
    assert 0.0 < summary["top_weighted_degree_share"] <= 1.0


# --- CSV reading and hostile ids --------------------------------------------------------


HOSTILE_IDS = [
    "<script>alert(1)</script>",
    "a&b",
    "Robert'); DROP TABLE members;--",
    "../../etc/passwd",
    'quote"d',
    "NA",
    "null",
    "  spaced  ",
    "微信用户🙂",
]


def test_hostile_ids_survive_csv_to_json() -> None:
    frame = pd.DataFrame({"source": HOSTILE_IDS, "target": HOSTILE_IDS[1:] + HOSTILE_IDS[:1]})
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    edges = read_edge_list_csv(io.StringIO(buffer.getvalue()))
    document = json.loads(json.dumps(compute_network(edges).to_json(), ensure_ascii=False))
    assert sorted(node["id"] for node in document["nodes"]) == sorted(HOSTILE_IDS)


def test_read_edge_list_csv_errors() -> None:
    with pytest.raises(InputFormatError, match="empty"):
        read_edge_list_csv(io.StringIO(""))
    with pytest.raises(InputFormatError, match="source"):
        read_edge_list_csv(io.StringIO("from,to\na,b\n"))
    with pytest.raises(InputFormatError, match="line 3"):
        read_edge_list_csv(io.StringIO("source,target,weight\na,b,1\nb,c,heavy\n"))
    edges = read_edge_list_csv(io.StringIO("Source, Target ,weight\na,b,\n"))
    assert edges["weight"].tolist() == [1.0]


# --- building edges from messages ---------------------------------------------------------


def test_quotes_mentions_and_turns_become_weighted_edges() -> None:
    table = message_table(
        [
            {"sender": "a", "at": 0},
            {"sender": "b", "at": 60},  # turn b → a
            {"sender": "b", "at": 90},  # same speaker: no turn
            {"sender": "c", "at": 500, "quote": "Bob"},  # quote c → b; 410 s later: no turn
            {
                "sender": "a",
                "at": 560,
                "mentions": ["@Carol\u2005", "@Nobody", "@Alice"],
            },  # turn a → c, mention
            {"sender": "d", "at": 565, "group": "g2"},  # other group: no turn with a
        ]
    )
    edges = interaction_edges(table, NAMES)
    assert edge_weights(edges) == {
        ("g1", "b", "a", "turn"): pytest.approx(0.2),
        ("g1", "c", "b", "quote"): 1.0,
        ("g1", "a", "c", "turn"): pytest.approx(0.2),
        ("g1", "a", "c", "mention"): 1.0,
    }
    assert list(edges.columns[:4]) == ["source", "target", "weight", "kind"]


def test_rules_are_configurable() -> None:
    table = message_table(
        [
            {"sender": "a", "at": 0},
            {"sender": "b", "at": 200, "quote": "Alice"},
            {"sender": "a", "at": 210, "mentions": ["Bob"]},
        ]
    )
    rules = GraphRules(quote_weight=3.0, mention_weight=0.5, turn_weight=0.0, turn_window_seconds=300)
    assert edge_weights(interaction_edges(table, NAMES, rules)) == {
        ("g1", "b", "a", "quote"): 3.0,
        ("g1", "a", "b", "mention"): 0.5,
    }
    wide = edge_weights(interaction_edges(table, NAMES, GraphRules(turn_window_seconds=300)))
    assert wide[("g1", "b", "a", "turn")] == pytest.approx(0.2)
    assert wide[("g1", "a", "b", "turn")] == pytest.approx(0.2)
    with pytest.raises(ConfigurationError):
        GraphRules(turn_weight=-1.0)


def test_recalled_and_system_messages_are_ignored() -> None:
    table = message_table(
        [
            {"sender": "a", "at": 0},
            {"sender": "b", "at": 10, "revoked": True, "quote": "Alice"},
            {"sender": "c", "at": 20, "action": "recall"},
            {"sender": "c", "at": 30, "msgtype": "revoke"},
            {"sender": "c", "at": 40, "mentions": ["Carol"]},  # self-mention is dropped
        ]
    )
    edges = interaction_edges(table, NAMES)
    assert edge_weights(edges) == {("g1", "c", "a", "turn"): pytest.approx(0.2)}
    kept = edge_weights(interaction_edges(table, NAMES, GraphRules(include_revoked=True)))
    assert ("g1", "b", "a", "quote") in kept


def test_repeated_interactions_are_counted() -> None:
    rows = [{"sender": "ab"[i % 2], "at": i * 30} for i in range(10)]
    edges = interaction_edges(message_table(rows), NAMES)
    weights = edge_weights(edges)
    assert weights[("g1", "b", "a", "turn")] == pytest.approx(5 * 0.2)
    assert weights[("g1", "a", "b", "turn")] == pytest.approx(4 * 0.2)
    assert edges["interactions"].sum() == 9


def test_empty_and_malformed_message_tables() -> None:
    empty = interaction_edges(message_table([]), NAMES)
    assert len(empty) == 0 and {"source", "target", "weight", "kind"} <= set(empty.columns)
    with pytest.raises(InputFormatError, match="sender_id"):
        interaction_edges(pd.DataFrame({"group_id": ["g"], "sent_at": [T0]}), NAMES)
    frame = pd.DataFrame({"group_id": ["g1", "g1"], "sender_id": ["a", "b"], "sent_at": [T0, T0]})
    assert edge_weights(interaction_edges(frame, NAMES)) == {("g1", "b", "a", "turn"): pytest.approx(0.2)}


def test_hostile_names_and_ids_in_messages() -> None:
    hostile = "<script>x</script>&"
    names = {("g1", hostile): "'; DROP TABLE x;--"}
    table = message_table([{"sender": "../../etc", "at": 0, "mentions": ["@" + hostile]}])
    assert edge_weights(interaction_edges(table, names)) == {
        ("g1", "../../etc", "'; DROP TABLE x;--", "mention"): 1.0
    }


def test_name_index_drops_ambiguous_names() -> None:
    index = build_name_index(
        [("g1", "Amy", "m1"), ("g1", "Amy", "m2"), ("g1", "Bo", "m3"), ("g2", "Amy", "m1")]
    )
    assert index == {("g1", "Bo"): "m3", ("g2", "Amy"): "m1"}


def test_group_bridges_and_staff() -> None:
    table = message_table(
        [
            {"sender": "a", "at": 0},
            {"sender": "b", "at": 10},
            {"sender": "a", "at": 20, "group": "g2"},
            {"sender": "d", "at": 30, "group": "g2"},
            {"sender": "s", "at": 40, "group": "g2", "staff": True},
        ]
    )
    edges = interaction_edges(table, NAMES)
    bridges = group_bridges(edges)
    assert bridges["member_id"].tolist() == ["a"] and bridges["group_ids"].tolist() == [["g1", "g2"]]
    assert staff_members(table) == frozenset({"s"})
    result = brand_network(table, NAMES)
    nodes = result.nodes.set_index("id")
    assert nodes.loc["a", "groups"] == 2 and result.summary["group_bridges"] == 1
    assert not nodes.loc["s", "ranked"]
    assert result.summary["excluded_from_ranking"] == 1


def test_messages_in_window_filters_group_and_time() -> None:
    table = message_table(
        [{"sender": "a", "at": 0}, {"sender": "b", "at": 3600}, {"sender": "c", "at": 7200, "group": "g2"}]
    )
    window = messages_in_window(table, start=T0 + timedelta(minutes=30), end=T0 + timedelta(hours=3))
    assert window["sender_id"].to_pylist() == ["b", "c"]
    assert messages_in_window(table, group_id="g2")["sender_id"].to_pylist() == ["c"]


# --- a simulated brand: the planted influencers are found ------------------------------------


def simulated_brand(seed: int, members: int = 300, messages: int = 20_000) -> tuple[pa.Table, dict, set[str]]:
    """Messages where a planted 5% of members talk most and are mentioned and quoted most."""
    rng = np.random.default_rng(seed)
    ids = [f"wm{i:04d}" for i in range(members)]
    planted = set(rng.choice(members, size=members // 20, replace=False).tolist())
    activity = np.where(np.isin(np.arange(members), list(planted)), 12.0, 1.0) * rng.uniform(
        0.5, 1.5, members
    )
    attraction = np.where(np.isin(np.arange(members), list(planted)), 15.0, 1.0)
    groups = rng.integers(0, 3, members)
    senders = rng.choice(members, size=messages, p=activity / activity.sum())
    mentioned = rng.choice(members, size=messages, p=attraction / attraction.sum())
    times = np.sort(rng.uniform(0, 30 * 86_400, messages))
    rows = []
    for sender, target, at in zip(senders, mentioned, times, strict=True):
        group = f"g{groups[sender]}"
        same_group = groups[target] == groups[sender]
        rows.append(
            {
                "sender": ids[sender],
                "at": float(at),
                "group": group,
                "mentions": [f"@n{target}"] if same_group and rng.random() < 0.3 else None,
                "staff": sender == 0,
            }
        )
    names = {(f"g{groups[i]}", f"n{i}"): ids[i] for i in range(members)}
    return message_table(rows), names, {ids[i] for i in planted if i != 0}


def test_simulated_influential_members_are_influencers() -> None:
    table, names, planted = simulated_brand(seed=11)
    result = brand_network(table, names)
    roles = result.nodes.set_index("id")["role"]
    assert all(roles[member] == "influencer" for member in planted)
    assert result.summary["roles"]["influencer"] == share_count(0.15, result.summary["ranked_nodes"])


# --- distribution statistics -----------------------------------------------------------


def test_gini_and_top_share_on_known_values() -> None:
    assert gini_coefficient([1, 1, 1, 1]) == pytest.approx(0.0)
    assert gini_coefficient([0, 0, 0, 10]) == pytest.approx(0.75)
    assert gini_coefficient([]) == 0.0
    assert top_share([10, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0.1) == pytest.approx(1.0)
    assert top_share(np.ones(20), 0.15) == pytest.approx(3 / 20)
