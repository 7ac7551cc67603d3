"""``groupops network``: the ARCHITECTURE.md §4 contract on edge lists, exports and bad input."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import networkx as nx
import pytest
from typer.testing import CliRunner

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


def _brand_archive(tmp_path: Path) -> Path:
    """A small archive: wm1 is quoted and @-mentioned by everyone; wm9 speaks in March only."""
    records = []
    t = 1_709_222_400_000  # 2024-03-01T00:00:00+08:00 is 2024-02-29T16:00Z
    names = {f"wm{i}": f"会员{i}" for i in range(1, 10)}
    for i in range(2, 9):
        records.append(
            {
                "msgid": f"q{i}",
                "action": "send",
                "from": f"wm{i}",
                "roomid": "g7",
                "msgtime": t + i * 600_000,
                "msgtype": "text",
                "text": {"content": f"@{names['wm1']} 这件怎么样"},
            }
        )
    records.append(
        {
            "msgid": "late",
            "action": "send",
            "from": "wm9",
            "roomid": "g7",
            "msgtime": t + 40 * 86_400_000,
            "msgtype": "text",
            "text": {"content": f"@{names['wm1']} 四月见"},
        }
    )
    path = tmp_path / "archive.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    groups = {
        "errcode": 0,
        "errmsg": "ok",
        "group_chat": {
            "chat_id": "g7",
            "name": "核心会员群",
            "owner": "CS01",
            "create_time": 1_700_000_000,
            "member_list": [
                {"userid": m, "type": 2, "join_time": 1_700_000_000, "join_scene": 3, "name": n}
                for m, n in names.items()
            ],
            "admin_list": [],
        },
    }
    (tmp_path / "groups.json").write_text(json.dumps(groups, ensure_ascii=False), encoding="utf-8")
    return path


def test_data_option_reads_the_brand_from_the_warehouse_in_the_brand_time_zone(tmp_path: Path) -> None:
    data = tmp_path / "data"
    archive = _brand_archive(tmp_path)
    assert (
        runner.invoke(
            app, ["ingest", "wecom-groups", str(tmp_path / "groups.json"), "--data", str(data)]
        ).exit_code
        == 0
    )
    assert runner.invoke(app, ["ingest", "wecom-archive", str(archive), "--data", str(data)]).exit_code == 0
    march = [
        "network",
        "--data",
        str(data),
        "--group",
        "g7",
        "--from",
        "2024-03-01",
        "--to",
        "2024-03-31",
        "--json",
    ]
    result = runner.invoke(app, march)
    assert result.exit_code == 0, result.output
    nodes = {node["id"]: node for node in json.loads(result.stdout)["nodes"]}
    assert set(nodes) == {f"wm{i}" for i in range(1, 9)}  # wm9 spoke in April
    assert nodes["wm1"]["role"] == "influencer" and nodes["wm1"]["degree"] == 7
    everything = json.loads(runner.invoke(app, ["network", "--data", str(data), "--json"]).stdout)
    assert {node["id"] for node in everything["nodes"]} == {f"wm{i}" for i in range(1, 10)}
