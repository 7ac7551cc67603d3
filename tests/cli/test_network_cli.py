"""``groupops network``: the ARCHITECTURE.md §4 contract on edge lists, exports and bad input."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import networkx as nx
import pytest
from typer.testing import CliRunner

from groupops.analytics import network as network_library
from groupops.analytics.network import NetworkResult, compute_network
from groupops.cli import app

runner = CliRunner()


def words(text: str) -> str:
    """Output with Rich's box drawing and line wrapping removed."""
    return " ".join(text.replace("│", " ").split())


HOSTILE = [
    "<script>alert(1)</script>",
    "a&b",
    "[/bold]",
    "'; DROP TABLE members;--",
    "../../etc/passwd",
    "NA",
]


@pytest.fixture
def karate_csv(tmp_path: Path) -> Path:
    path = tmp_path / "karate.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["source", "target", "weight"])
        for u, v, data in nx.karate_club_graph().edges(data=True):
            writer.writerow([u, v, data["weight"]])
    return path


@pytest.fixture
def hostile_csv(tmp_path: Path) -> Path:
    path = tmp_path / "hostile.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["source", "target"])
        for index, identifier in enumerate(HOSTILE):
            writer.writerow([identifier, HOSTILE[(index + 1) % len(HOSTILE)]])
    return path


def test_json_contract_on_the_karate_club(karate_csv: Path) -> None:
    result = runner.invoke(app, ["network", "--edges", str(karate_csv), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {"nodes", "summary"}
    assert len(document["nodes"]) == 34
    expected_pagerank = nx.pagerank(nx.karate_club_graph(), tol=1e-13)
    for node in document["nodes"]:
        assert set(node) == {"id", "degree", "degree_centrality", "pagerank", "role", "community"}
        assert node["degree_centrality"] == pytest.approx(node["degree"] / 33)
        assert node["pagerank"] == pytest.approx(expected_pagerank[int(node["id"])], abs=1e-6)
    summary = document["summary"]
    assert summary["nodes"] == 34 and summary["edges"] == 78
    assert summary["roles"] == {"influencer": 5, "spreader": 12, "ordinary": 17}
    assert summary["communities"] >= 2 and 0 < summary["modularity"] < 1


def test_shares_are_configurable_and_validated(karate_csv: Path) -> None:
    result = runner.invoke(
        app,
        [
            "network",
            "--edges",
            str(karate_csv),
            "--json",
            "--influencer-share",
            "0.1",
            "--spreader-share",
            "0.2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"]["roles"] == {"influencer": 3, "spreader": 7, "ordinary": 24}
    bad = runner.invoke(
        app, ["network", "--edges", str(karate_csv), "--influencer-share", "0.8", "--spreader-share", "0.5"]
    )
    assert bad.exit_code == 2
    assert "exceed" in words(bad.output)


def test_human_output_is_tables(karate_csv: Path) -> None:
    result = runner.invoke(app, ["network", "--edges", str(karate_csv), "--top", "5"])
    assert result.exit_code == 0, result.output
    assert "Interaction network" in result.stdout and "influencer" in result.stdout
    assert "Top 5 members" in result.stdout


def test_hostile_ids_round_trip_through_json_and_exports(hostile_csv: Path, tmp_path: Path) -> None:
    human = runner.invoke(app, ["network", "--edges", str(hostile_csv)])
    assert human.exit_code == 0, human.output
    assert "[/bold]" in human.stdout
    for suffix in (".gexf", ".graphml", ".net"):
        target = tmp_path / f"graph{suffix}"
        result = runner.invoke(
            app, ["network", "--edges", str(hostile_csv), "--json", "--export", str(target)]
        )
        assert result.exit_code == 0, result.output
        document = json.loads(result.stdout)
        assert sorted(node["id"] for node in document["nodes"]) == sorted(HOSTILE)
        if suffix == ".net":
            text = target.read_text(encoding="utf-8")
            assert text.startswith(f"*Vertices {len(HOSTILE)}") and '"<script>alert(1)</script>"' in text
            continue
        root = ET.parse(target).getroot()
        ids = {element.attrib["id"] for element in root.iter() if element.tag.endswith("}node")}
        assert ids == set(HOSTILE)


def test_stdin_is_read_with_a_dash() -> None:
    result = runner.invoke(app, ["network", "--edges", "-", "--json"], input="source,target\na,b\nb,c\nc,a\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"]["edges"] == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("source,target\n", "empty"),
        ("from,to\na,b\n", "source"),
        ("source,target,weight\na,b,-2\n", "weights"),
        ("source,target,weight\na,b,lots\n", "not a number"),
        ("source,target\na,a\n", "self-loops"),
    ],
)
def test_bad_edge_lists_fail_with_exit_1(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    result = runner.invoke(app, ["network", "--edges", str(path), "--json"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert message in words(result.stderr)


def test_usage_errors_exit_2(karate_csv: Path, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["network", "--edges", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2
    combined = runner.invoke(app, ["network", "--edges", str(karate_csv), "--group", "g1"])
    assert combined.exit_code == 2
    suffix = runner.invoke(app, ["network", "--edges", str(karate_csv), "--export", str(tmp_path / "x.csv")])
    assert suffix.exit_code == 2 and not (tmp_path / "x.csv").exists()
    bad_date = runner.invoke(app, ["network", "--data", str(tmp_path), "--from", "yesterday"])
    assert bad_date.exit_code == 2


@pytest.fixture
def no_warehouse_loader(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delattr(network_library, "brand_graph_from_warehouse", raising=False)
    yield


def test_data_option_is_not_available_without_a_loader(no_warehouse_loader: None, tmp_path: Path) -> None:
    result = runner.invoke(app, ["network", "--data", str(tmp_path), "--json"])
    assert result.exit_code == 2
    assert "not available yet" in words(result.output)
    assert result.stdout == ""


def test_data_option_calls_the_warehouse_loader(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[dict[str, object]] = []

    def fake_loader(data: Path, **window: object) -> NetworkResult:
        calls.append({"data": data, **window})
        import pandas as pd

        return compute_network(pd.DataFrame({"source": ["a", "b"], "target": ["b", "c"]}))

    monkeypatch.setattr(network_library, "brand_graph_from_warehouse", fake_loader, raising=False)
    result = runner.invoke(
        app,
        [
            "network",
            "--data",
            str(tmp_path),
            "--group",
            "g7",
            "--from",
            "2024-03-01",
            "--to",
            "2024-03-31",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"]["nodes"] == 3
    (call,) = calls
    assert call["data"] == tmp_path and call["group_id"] == "g7"
    assert (
        str(call["start"]) == "2024-03-01 00:00:00+08:00" and str(call["end"]) == "2024-04-01 00:00:00+08:00"
    )
    assert call["influencer_share"] == 0.15 and call["spreader_share"] == 0.35
