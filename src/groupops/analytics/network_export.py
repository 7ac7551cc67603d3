"""Export of a computed network: GEXF 1.3 and GraphML (Gephi), Pajek ``.net``, ECharts graph JSON.

Every node carries its metrics (role, community, pagerank, degree_centrality, degree,
weighted_degree, betweenness); every edge its summed weight. XML is written with ElementTree
(which escapes ``<``, ``&`` and quotes) after replacing characters XML 1.0 cannot hold with
U+FFFD. Pajek has no escape for ``"`` in labels: it becomes ``'`` and line breaks become spaces.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from groupops.analytics.network import ROLES, NetworkResult
from groupops.errors import ConfigurationError

__all__ = [
    "EXPORT_FORMATS",
    "echarts_graph_json",
    "export_network",
    "to_gexf",
    "to_graphml",
    "to_pajek",
]

GEXF_NAMESPACE = "http://gexf.net/1.3"
GRAPHML_NAMESPACE = "http://graphml.graphdrawing.org/xmlns"
_XML_INVALID = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# (column, GEXF type, GraphML type)
NODE_ATTRIBUTES: tuple[tuple[str, str, str], ...] = (
    ("role", "string", "string"),
    ("community", "integer", "int"),
    ("pagerank", "double", "double"),
    ("degree_centrality", "double", "double"),
    ("degree", "integer", "int"),
    ("weighted_degree", "double", "double"),
    ("betweenness", "double", "double"),
)


def _xml_text(value: object) -> str:
    """Text XML 1.0 can hold: characters it forbids become U+FFFD."""
    return _XML_INVALID.sub("\ufffd", str(value))


def _number(value: object) -> str:
    return repr(float(value)) if isinstance(value, float | np.floating) else str(value)


def _serialise(root: ET.Element) -> str:
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# --- GEXF ---------------------------------------------------------------------------------


def to_gexf(result: NetworkResult) -> str:
    """GEXF 1.3 document of the undirected weighted graph with node metrics as attributes."""
    ns = f"{{{GEXF_NAMESPACE}}}"
    ET.register_namespace("", GEXF_NAMESPACE)
    root = ET.Element(f"{ns}gexf", {"version": "1.3"})
    meta = ET.SubElement(root, f"{ns}meta")
    ET.SubElement(meta, f"{ns}creator").text = "GroupOps"
    ET.SubElement(meta, f"{ns}description").text = "Member interaction network"
    graph = ET.SubElement(root, f"{ns}graph", {"defaultedgetype": "undirected", "mode": "static"})
    declared = ET.SubElement(graph, f"{ns}attributes", {"class": "node"})
    for index, (name, gexf_type, _) in enumerate(NODE_ATTRIBUTES):
        ET.SubElement(declared, f"{ns}attribute", {"id": str(index), "title": name, "type": gexf_type})
    nodes = ET.SubElement(graph, f"{ns}nodes")
    for row in result.nodes.itertuples(index=False):
        node = ET.SubElement(nodes, f"{ns}node", {"id": _xml_text(row.id), "label": _xml_text(row.id)})
        values = ET.SubElement(node, f"{ns}attvalues")
        for index, (name, _, _) in enumerate(NODE_ATTRIBUTES):
            ET.SubElement(values, f"{ns}attvalue", {"for": str(index), "value": _number(getattr(row, name))})
    edges = ET.SubElement(graph, f"{ns}edges")
    for index, edge in enumerate(result.edges.itertuples(index=False)):
        attributes = {"id": str(index), "source": _xml_text(edge.source), "target": _xml_text(edge.target)}
        ET.SubElement(edges, f"{ns}edge", {**attributes, "weight": _number(float(edge.weight))})
    return _serialise(root)


# --- GraphML ------------------------------------------------------------------------------


def to_graphml(result: NetworkResult) -> str:
    """GraphML document (undirected) with node metrics and edge weight as typed data keys."""
    ns = f"{{{GRAPHML_NAMESPACE}}}"
    ET.register_namespace("", GRAPHML_NAMESPACE)
    root = ET.Element(f"{ns}graphml")
    for name, _, graphml_type in NODE_ATTRIBUTES:
        ET.SubElement(
            root, f"{ns}key", {"id": name, "for": "node", "attr.name": name, "attr.type": graphml_type}
        )
    ET.SubElement(
        root, f"{ns}key", {"id": "weight", "for": "edge", "attr.name": "weight", "attr.type": "double"}
    )
    graph = ET.SubElement(root, f"{ns}graph", {"id": "interactions", "edgedefault": "undirected"})
    for row in result.nodes.itertuples(index=False):
        node = ET.SubElement(graph, f"{ns}node", {"id": _xml_text(row.id)})
        for name, _, _ in NODE_ATTRIBUTES:
            ET.SubElement(node, f"{ns}data", {"key": name}).text = _number(getattr(row, name))
    for edge in result.edges.itertuples(index=False):
        element = ET.SubElement(
            graph, f"{ns}edge", {"source": _xml_text(edge.source), "target": _xml_text(edge.target)}
        )
        ET.SubElement(element, f"{ns}data", {"key": "weight"}).text = _number(float(edge.weight))
    return _serialise(root)


# --- Pajek --------------------------------------------------------------------------------


def _pajek_label(identifier: object) -> str:
    text = re.sub(r"[\r\n\t]+", " ", str(identifier)).replace('"', "'")
    return f'"{text}"'


def to_pajek(result: NetworkResult) -> str:
    """Pajek ``.net``: ``*Vertices n`` with quoted labels, then ``*Edges`` ``i j weight`` (1-based)."""
    ids = result.nodes["id"].tolist()
    number = {identifier: index + 1 for index, identifier in enumerate(ids)}
    lines = [f"*Vertices {len(ids)}"]
    lines.extend(f"{index + 1} {_pajek_label(identifier)}" for index, identifier in enumerate(ids))
    lines.append("*Edges")
    lines.extend(
        f"{number[edge.source]} {number[edge.target]} {_number(float(edge.weight))}"
        for edge in result.edges.itertuples(index=False)
    )
    return "\r\n".join(lines) + "\r\n"


EXPORT_FORMATS: dict[str, Callable[[NetworkResult], str]] = {
    ".gexf": to_gexf,
    ".graphml": to_graphml,
    ".net": to_pajek,
}


def export_network(result: NetworkResult, path: Path) -> Path:
    """Write ``result`` to ``path`` in the format its suffix names (atomic: temp file + rename)."""
    writer = EXPORT_FORMATS.get(path.suffix.lower())
    if writer is None:
        known = ", ".join(sorted(EXPORT_FORMATS))
        raise ConfigurationError(f"cannot export to {path.name!r}: the file name must end in one of {known}")
    document = writer(result)
    directory = path.parent if str(path.parent) else Path(".")
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as output:
            output.write(document)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


# --- ECharts -------------------------------------------------------------------------------


def echarts_graph_json(result: NetworkResult, max_nodes: int = 500) -> dict[str, Any]:
    """Data for an ECharts force graph: the top ``max_nodes`` members by PageRank and their edges.

    Nodes: id, name, value (PageRank), symbolSize (grows with degree centrality), category
    (index into ``categories``: influencer, spreader, ordinary), community, degree_centrality.
    """
    if max_nodes < 1:
        raise ConfigurationError("max_nodes must be at least 1")
    top = result.nodes.sort_values(["pagerank", "id"], ascending=[False, True], kind="stable").head(max_nodes)
    kept = set(top["id"].tolist())
    edges = result.edges[result.edges["source"].isin(kept) & result.edges["target"].isin(kept)]
    largest = max(float(top["degree_centrality"].max()), 1e-12)
    return {
        "categories": [{"name": role} for role in ROLES],
        "nodes": [_echarts_node(row, largest) for row in top.itertuples(index=False)],
        "links": [
            {"source": str(edge.source), "target": str(edge.target), "value": float(edge.weight)}
            for edge in edges.itertuples(index=False)
        ],
        "total_nodes": len(result.nodes),
        "total_edges": len(result.edges),
        "truncated": len(result.nodes) > len(top),
    }


def _echarts_node(row: Any, largest_centrality: float) -> dict[str, Any]:
    size = 6.0 + 34.0 * math.sqrt(max(float(row.degree_centrality), 0.0) / largest_centrality)
    return {
        "id": str(row.id),
        "name": str(row.id),
        "value": float(row.pagerank),
        "symbolSize": round(size, 2),
        "category": ROLES.index(str(row.role)),
        "community": int(row.community),
        "degree_centrality": float(row.degree_centrality),
    }
