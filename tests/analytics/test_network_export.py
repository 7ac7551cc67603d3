"""Tests of GEXF / GraphML / Pajek export and the ECharts graph JSON."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import networkx as nx
import pandas as pd
import pytest

from groupops.analytics.network import NetworkResult, compute_network, read_edge_list_csv
from groupops.analytics.network_export import (
    echarts_graph_json,
    export_network,
    to_gexf,
    to_graphml,
    to_pajek,
)
from groupops.errors import ConfigurationError

HOSTILE = ["<script>alert(1)</script>", "a&b", 'say "hi"', "it's", "../../etc/passwd", "]]>", "微信🙂"]


def karate_result() -> NetworkResult:
    graph = nx.karate_club_graph()
    rows = [(f"m{u}", f"m{v}", float(data["weight"])) for u, v, data in graph.edges(data=True)]
    return compute_network(pd.DataFrame(rows, columns=["source", "target", "weight"]))


def hostile_result() -> NetworkResult:
    """Hostile ids through the CSV reader, as the CLI receives them."""
    frame = pd.DataFrame({"source": HOSTILE, "target": HOSTILE[1:] + HOSTILE[:1], "weight": range(1, 8)})
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return compute_network(read_edge_list_csv(io.StringIO(buffer.getvalue())))


@pytest.mark.parametrize("suffix", [".gexf", ".graphml"])
def test_xml_exports_round_trip_through_networkx(tmp_path: Path, suffix: str) -> None:
    result = karate_result()
    path = export_network(result, tmp_path / f"karate{suffix}")
    graph = nx.read_gexf(path, version="1.3") if suffix == ".gexf" else nx.read_graphml(path)
    assert graph.number_of_nodes() == 34 and graph.number_of_edges() == 78
    nodes = result.nodes.set_index("id")
    for node, data in graph.nodes(data=True):
        assert data["role"] == nodes.loc[node, "role"]
        assert data["community"] == nodes.loc[node, "community"]
        assert data["pagerank"] == pytest.approx(nodes.loc[node, "pagerank"], rel=1e-12)
        assert data["degree_centrality"] == pytest.approx(nodes.loc[node, "degree_centrality"], rel=1e-12)
    weights = {frozenset((u, v)): data["weight"] for u, v, data in graph.edges(data=True)}
    for edge in result.edges.itertuples(index=False):
        assert weights[frozenset((edge.source, edge.target))] == pytest.approx(edge.weight)


def test_gexf_is_version_1_3() -> None:
    root = ET.fromstring(to_gexf(karate_result()))
    assert root.tag == "{http://gexf.net/1.3}gexf" and root.attrib["version"] == "1.3"
    titles = [element.attrib["title"] for element in root.iter("{http://gexf.net/1.3}attribute")]
    assert {"role", "community", "pagerank", "degree_centrality"} <= set(titles)


@pytest.mark.parametrize("writer", [to_gexf, to_graphml])
def test_hostile_ids_are_escaped_and_survive(writer) -> None:  # type: ignore[no-untyped-def]
    document = writer(hostile_result())
    assert "<script>" not in document and "&lt;script&gt;" in document
    root = ET.fromstring(document.encode("utf-8"))
    node_ids = {element.attrib["id"] for element in root.iter() if element.tag.endswith("}node")}
    assert node_ids == set(HOSTILE)


def test_control_characters_cannot_break_the_xml() -> None:
    result = compute_network(pd.DataFrame({"source": ["bell\x07", "nul\x00x"], "target": ["ok", "ok"]}))
    for document in (to_gexf(result), to_graphml(result)):
        root = ET.fromstring(document.encode("utf-8"))
        ids = {element.attrib["id"] for element in root.iter() if element.tag.endswith("}node")}
        assert ids == {"bell\ufffd", "nul\ufffdx", "ok"}


def test_pajek_lists_quoted_vertices_and_weighted_edges(tmp_path: Path) -> None:
    result = karate_result()
    text = export_network(result, tmp_path / "karate.net").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == "*Vertices 34"
    assert lines[1] == f'1 "{result.nodes["id"].iloc[0]}"'
    assert lines[35] == "*Edges" and len(lines) == 36 + 78
    graph = nx.read_pajek(tmp_path / "karate.net")
    assert graph.number_of_nodes() == 34
    simple = nx.Graph(graph)
    assert simple.number_of_edges() == 78
    assert sum(float(data["weight"]) for _, _, data in simple.edges(data=True)) == pytest.approx(
        result.edges["weight"].sum()
    )


def test_pajek_labels_cannot_escape_their_quotes() -> None:
    text = to_pajek(hostile_result())
    vertex_lines = text.split("\r\n")[1:8]
    for line in vertex_lines:
        label = line.split(" ", 1)[1]
        assert label.startswith('"') and label.endswith('"') and label.count('"') == 2
    assert "\"say 'hi'\"" in text and '"<script>alert(1)</script>"' in text


def test_unknown_suffix_and_atomic_write(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=".gexf"):
        export_network(karate_result(), tmp_path / "graph.csv")
    assert list(tmp_path.iterdir()) == []
    target = export_network(karate_result(), tmp_path / "GRAPH.GEXF")
    assert [path.name for path in tmp_path.iterdir()] == [target.name]


def test_echarts_graph_is_capped_by_pagerank() -> None:
    result = karate_result()
    chart = echarts_graph_json(result, max_nodes=10)
    assert chart["truncated"] and chart["total_nodes"] == 34 and len(chart["nodes"]) == 10
    top_ids = set(result.nodes.nlargest(10, "pagerank")["id"])
    assert {node["id"] for node in chart["nodes"]} == top_ids
    assert all(link["source"] in top_ids and link["target"] in top_ids for link in chart["links"])
    assert [category["name"] for category in chart["categories"]] == ["influencer", "spreader", "ordinary"]
    sizes = {node["id"]: node["symbolSize"] for node in chart["nodes"]}
    centrality = result.nodes.set_index("id")["degree_centrality"]
    biggest = max(sizes, key=lambda node_id: sizes[node_id])
    assert centrality[biggest] == max(centrality[node_id] for node_id in sizes)
    full = echarts_graph_json(result)
    assert not full["truncated"] and len(full["links"]) == 78
    json.dumps(full)
    with pytest.raises(ConfigurationError):
        echarts_graph_json(result, max_nodes=0)


def test_echarts_keeps_hostile_ids_as_data() -> None:
    chart = echarts_graph_json(hostile_result())
    assert {node["id"] for node in chart["nodes"]} == set(HOSTILE)
    roles = {node["category"] for node in chart["nodes"]}
    assert roles <= {0, 1, 2}
