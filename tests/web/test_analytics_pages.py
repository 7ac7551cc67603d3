"""The group page's sentiment, repeated promotions and network; goals and retention from the analytics."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from groupops.accounts import create_user
from groupops.analytics.pipeline import goals_report
from groupops.analytics.retention import compute_retention
from groupops.config import Settings
from groupops.ops.group_health import sentiment_index
from groupops.store.workspace import Workspace
from groupops.web import create_app

from .conftest import API_TOKENS, PASSWORD, TestClient, login, seed_brand


@pytest.fixture(scope="module")
def labelled_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small brand whose messages are labelled (sentiment), with one manager."""
    from groupops.ops.labels import label_new_messages

    data = tmp_path_factory.mktemp("labelled") / "data"
    workspace = Workspace(Settings(data=data))
    seed_brand(workspace, members=16, days=21)
    label_new_messages(workspace.warehouse)
    with workspace.database.session() as session:
        create_user(session, "boss", "manager", PASSWORD, actor="test")
    workspace.close()
    return data


def _json_block(page: str, block_id: str) -> Any:
    match = re.search(rf'<script type="application/json" id="{block_id}">(.*?)</script>', page, re.S)
    assert match, block_id
    return json.loads(match.group(1))


def test_group_page_charts_daily_sentiment_and_embeds_the_network(labelled_dir: Path) -> None:
    workspace = Workspace(Settings(data=labelled_dir))
    expected = [row for row in sentiment_index(workspace) if row.group_id == "g-core"]
    workspace.close()
    with TestClient(create_app(Settings(data=labelled_dir))) as client:
        login(client, "boss")
        page = client.get("/groups/g-core").text
    sentiment = _json_block(page, "sentiment-data")
    assert sentiment["labels"] == [row.day.isoformat() for row in expected]
    assert sentiment["series"][0]["data"] == pytest.approx([row.mean_score for row in expected])
    assert sentiment["series"][1]["data"] == pytest.approx([row.trend_7d for row in expected])
    graph = _json_block(page, "group-graph-data")
    assert graph["nodes"] and all(node["id"].startswith("m") for node in graph["nodes"])
    assert "<script>alert" not in page and 'id="promotion-share"' in page


def test_group_page_without_labels_says_not_computed(client_for: Any) -> None:
    page = client_for("manager").get("/groups/g-core").text
    assert 'data-chart="graph"' in page and "尚未计算" in page
    assert 'data-chart="graph"' not in client_for("cs").get("/groups/g-core").text  # cs lacks network.view


def test_overview_goal_scorecard_matches_the_goals_report(client_for: Any, brand_dir: Path) -> None:
    workspace = Workspace(Settings(data=brand_dir))
    expected = goals_report(workspace)["goals"]
    workspace.close()
    page = client_for("viewer").get("/").text
    shown = dict(re.findall(r'<tr data-goal="([^"]+)">.*?class="dot (\w+)"', page, re.S))
    assert shown == {goal["id"]: goal["status"] for goal in expected}
    api = client_for(None).get("/api/v1/goals", headers={"Authorization": f"Bearer {API_TOKENS['viewer']}"})
    assert [goal["status"] for goal in api.json()["goals"]] == [goal["status"] for goal in expected]


def test_retention_api_is_the_retention_library(client_for: Any, brand_dir: Path) -> None:
    workspace = Workspace(Settings(data=brand_dir))
    expected = compute_retention(workspace).to_json()
    workspace.close()
    body = client_for(None).get("/api/v1/retention", headers={"Authorization": f"Bearer {API_TOKENS['cs']}"})
    assert body.status_code == 200 and body.json()["cohorts"] == expected["cohorts"]


def test_member_value_comes_from_the_member_mart_when_refreshed(labelled_dir: Path, tmp_path: Path) -> None:
    settings = Settings(data=labelled_dir)
    mart = settings.marts_dir / "members.parquet"
    mart.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.table({"member_id": ["m003"], "clv_365d": [4321.5], "probability_alive": [0.8], "churn_risk": [0.25],
                  "expected_purchases_90d": [1.5], "member_class_zh": ["<b>高价值</b>"], "member_tag": ["VIP"]}),
        mart,
    )  # fmt: skip
    try:
        with TestClient(create_app(settings)) as client:
            login(client, "boss")
            page = client.get("/members/m003").text
        assert 'class="value-clv">¥4,321.50<' in page and "25.0%" in page
        assert "&lt;b&gt;高价值&lt;/b&gt;" in page and "<b>高价值</b>" not in page
    finally:
        mart.unlink()
