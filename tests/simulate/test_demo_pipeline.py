"""The demo brand through the real importers and analyses (small sizes, real files and databases)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from groupops.analytics.network_warehouse import brand_graph_from_warehouse
from groupops.config import Settings
from groupops.ingest import ingest_files
from groupops.ops.incidents import detect_incidents
from groupops.ops.labels import label_new_messages
from groupops.simulate.demo import DemoBuild, build_demo_brand
from groupops.store.models import Group, GroupMembership, Member, Product
from groupops.store.schemas import FACT_SCHEMAS, NATURAL_KEYS
from groupops.store.workspace import Workspace

MEMBERS, DAYS, SEED = 400, 45, 5


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, DemoBuild]:
    workspace = Workspace(Settings(data=tmp_path_factory.mktemp("demo") / "data"))
    return workspace, build_demo_brand(workspace, members=MEMBERS, days=DAYS, seed=SEED)


def _truth(workspace: Workspace) -> dict:
    return json.loads((workspace.settings.data / "simulation" / "truth.json").read_text(encoding="utf-8"))


def _snapshot(workspace: Workspace) -> dict[str, list]:
    tables = {
        name: sorted(workspace.warehouse.read_table(name).to_pylist(), key=lambda row, k=key: row[k])
        for name, key in NATURAL_KEYS.items()
        if name in FACT_SCHEMAS and name != "message_labels"
    }
    with workspace.database.session() as session:
        for model, key in ((Group, "id"), (Member, "id"), (Product, "sku"), (GroupMembership, "id")):
            rows = [
                {c: getattr(obj, c) for c in model.__table__.columns.keys()}  # noqa: SIM118
                for obj in session.scalars(select(model))
            ]
            tables[model.__tablename__] = sorted(rows, key=lambda row, k=key: str(row[k]))
    return tables


def test_everything_imports_cleanly(demo: tuple[Workspace, DemoBuild]) -> None:
    _, build = demo
    kinds = [report.kind for report in build.reports]
    assert kinds == ["products", "wecom-groups", "members", "memotrace", "wecom-archive", "orders", "events"]
    for report in build.reports:
        assert report.quarantined == 0, report
        assert report.ingested == report.read > 0, report


def test_reimporting_any_demo_file_reports_only_duplicates(demo: tuple[Workspace, DemoBuild]) -> None:
    workspace, build = demo
    before = _snapshot(workspace)
    for report in build.reports:
        again = ingest_files(report.kind, [Path(f) for f in report.files], workspace)
        assert (again.ingested, again.duplicates) == (0, report.read), again
    assert _snapshot(workspace) == before


def test_same_seed_gives_identical_data(demo: tuple[Workspace, DemoBuild], tmp_path: Path) -> None:
    workspace, _ = demo
    twin = Workspace(Settings(data=tmp_path / "twin"))
    build_demo_brand(twin, members=MEMBERS, days=DAYS, seed=SEED)
    assert _snapshot(twin) == _snapshot(workspace)


def test_the_members_the_simulator_made_influential_are_the_networks_influencers(
    demo: tuple[Workspace, DemoBuild],
) -> None:
    workspace, _ = demo
    hubs = set(_truth(workspace)["hubs"])
    nodes = brand_graph_from_warehouse(workspace).nodes
    hub_nodes, others = nodes[nodes["id"].isin(hubs)], nodes[~nodes["id"].isin(hubs)]
    assert len(hub_nodes) >= 0.9 * len(hubs)
    roles = hub_nodes["role"].value_counts()
    assert roles.get("influencer", 0) >= 0.6 * len(hub_nodes)
    assert roles.get("ordinary", 0) <= max(1, 0.05 * len(hub_nodes))
    assert hub_nodes["pagerank"].median() >= 3 * others["pagerank"].median()


def test_the_injected_product_defect_becomes_an_incident(demo: tuple[Workspace, DemoBuild]) -> None:
    workspace, _ = demo
    incident = _truth(workspace)["incident"]
    label_new_messages(workspace.warehouse)
    found = detect_incidents(workspace.warehouse)
    spike_day = date.fromisoformat(incident["date"])
    matching = [
        i
        for i in found
        if abs((i.first_message_at.date() - spike_day).days) <= 2 and i.members & set(incident["members"])
    ]
    assert matching, f"no incident near {spike_day}: {[(i.topic, i.first_message_at) for i in found]}"
    assert any(i.topic == "fading" for i in matching) or incident["cause"] != "掉色"
