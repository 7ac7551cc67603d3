from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from member_fixture import AS_OF, build_small_brand

from groupops.errors import NotFoundError
from groupops.ops.labels import label_new_messages
from groupops.ops.member_intelligence import (
    MART_FILE,
    MODELS_FILE,
    member_card,
    member_class_report,
    read_member_mart,
    read_member_models,
    refresh_member_intelligence,
)
from groupops.simulate.demo import build_demo_brand
from groupops.store.workspace import Workspace


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    from groupops.config import Settings

    workspace = Workspace(Settings(data=tmp_path_factory.mktemp("demo") / "data"))
    build_demo_brand(workspace, members=150, days=80, seed=5)
    label_new_messages(workspace.warehouse)
    refresh_member_intelligence(workspace)
    return workspace


def test_small_brand_mart_has_every_member_and_reports_what_cannot_be_fitted(
    sqlite_workspace: Workspace,
) -> None:
    workspace = build_small_brand(sqlite_workspace)
    run = refresh_member_intelligence(workspace, AS_OF)
    mart = read_member_mart(workspace).set_index("member_id")
    assert sorted(mart.index) == ["mA", "mB", "mC", "mD"] and run.members == 4
    assert mart.loc["mA", "net_spend"] == 450 and mart.loc["mA", "member_class"] == "seed"
    assert mart.loc["mA", "member_tag"] == "VIP" and mart.loc["mA", "rfm_score"] == "555"
    assert mart.loc["mC", "member_class"] == "churn_risk" and bool(mart.loc["mC", "inactive_for_care"])
    assert list(mart.loc["mB", "next_best_products"])  # popular products for a member without purchases
    models = read_member_models(workspace)
    assert (
        models["members"] == 4
        and "too few" in models["churn"]["error"]
        and "too few" in models["clv"]["error"]
    )
    assert [c["members"] for c in models["classes"]["classes"]] == [1, 0, 0, 3]  # mB: 1 day < median 1.5


def test_refresh_replaces_files_atomically_and_leaves_no_temporaries(sqlite_workspace: Workspace) -> None:
    workspace = build_small_brand(sqlite_workspace)
    refresh_member_intelligence(workspace, AS_OF)
    refresh_member_intelligence(workspace, AS_OF)
    assert sorted(p.name for p in workspace.settings.marts_dir.iterdir()) == sorted([MART_FILE, MODELS_FILE])


def test_before_any_refresh_the_mart_is_not_found(sqlite_workspace: Workspace) -> None:
    with pytest.raises(NotFoundError):
        read_member_mart(sqlite_workspace)
    with pytest.raises(NotFoundError):
        read_member_models(sqlite_workspace)
    assert refresh_member_intelligence(sqlite_workspace).members == 0  # an empty brand is not an error


def test_member_card_joins_profile_and_mart(sqlite_workspace: Workspace) -> None:
    workspace = build_small_brand(sqlite_workspace)
    assert member_card(workspace, "mA")["intelligence"] is None
    refresh_member_intelligence(workspace, AS_OF)
    card = member_card(workspace, "mA")
    assert card["consumption"]["net_spend"] == 450
    assert card["intelligence"]["member_class"] == "seed" and card["intelligence"]["is_vip"] is True
    json.dumps(card)  # plain JSON


def test_class_report_counts_and_movement(sqlite_workspace: Workspace) -> None:
    workspace = build_small_brand(sqlite_workspace)
    report = member_class_report(workspace, AS_OF)
    assert report["members"] == 4 and report["thresholds"]["spend"]["threshold"] == 450
    moved = {(m["from_class"], m["to_class"]): m["members"] for m in report["movement"]}
    assert sum(moved.values()) == 4


@pytest.mark.slow
def test_demo_brand_models_are_measured_against_their_baselines(demo: Workspace) -> None:
    models = read_member_models(demo)
    churn, holdout, hits = models["churn"], models["clv"]["holdout"], models["recommendations"]
    assert 0.5 < churn["auc"] <= 1 and set(churn["baselines"]) == {"rule_7_day", "p_alive"}
    assert churn["auc"] > churn["baselines"]["rule_7_day"]["auc"]
    assert len(churn["calibration"]) == 10 and churn["monthly"]
    assert holdout["customers"] > 0 and holdout["mae"] >= 0
    assert models["clv"]["fit"]["bgnbd"]["r"] > 0
    assert 0 <= hits["hit_rate"] <= 1 and 0 <= hits["popularity_hit_rate"] <= 1 and hits["k"] == 10


@pytest.mark.slow
def test_demo_brand_mart_covers_every_member(demo: Workspace) -> None:
    table = pq.read_table(demo.settings.marts_dir / MART_FILE)
    mart = table.to_pandas()
    assert mart["member_id"].is_unique and len(mart) >= 150
    assert set(mart["member_class"]) <= {"seed", "potential", "nurture", "churn_risk"}
    buyers = mart[mart["orders"] > 0]
    assert buyers["clv_365d"].notna().all() and (buyers["clv_365d"] >= 0).all()
    assert buyers["probability_alive"].between(0, 1).all()
    active = mart[~mart["never_active"]]
    assert active["churn_risk"].notna().mean() > 0.95
    assert mart["next_best_products"].map(len).gt(0).all()
    assert Path(demo.settings.marts_dir / MODELS_FILE).is_file()
