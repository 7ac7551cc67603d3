from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from member_fixture import message, stage
from openpyxl import load_workbook
from sqlalchemy import select

from groupops.errors import InputFormatError, NotFoundError
from groupops.ops.member_intelligence import MART_FILE
from groupops.ops.tasks import complete_task, export_tasks, generate_tasks, list_tasks
from groupops.store.models import AuditLog, Group, Task
from groupops.store.workspace import Workspace

AS_OF = datetime(2026, 3, 31, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai, ISO week 2026-W14
MART_ROWS = [
    # member, class, days silent, never active, orders, followers, tier, vip
    ("quiet_seed", "seed", 8, False, 3, 100, None, False),
    ("lurker", "churn_risk", 30, True, 0, None, None, False),
    ("faded", "churn_risk", 10, False, 1, None, None, False),
    ("gone", "churn_risk", 12, False, 0, None, None, False),
    ("active", "nurture", 2, False, 0, None, None, False),
    ("koc", "seed", 0, False, 2, 60_000, "head", False),
    ("koc_nobuy", "nurture", 0, False, 0, 5_000, "tail", False),
    ("vip", "potential", 1, False, 9, None, None, True),
]


def _write_mart(
    workspace: Workspace, as_of: datetime = AS_OF, members: list[tuple[object, ...]] | None = None
) -> None:
    rows = [
        {"member_id": m, "as_of": as_of, "name": "=HYPERLINK(\"x\")" if m == "vip" else f"名{m}",
         "primary_group_id": "g1", "member_class": c, "days_since_last_active": d, "never_active": n, "orders": o,
         "followers": f, "follower_tier": t, "is_vip": v, "net_spend": 100.0 * o, "top_category": "卫衣"}
        for m, c, d, n, o, f, t, v in (MART_ROWS if members is None else members)
    ]  # fmt: skip
    path = workspace.settings.marts_dir / MART_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(path)


@pytest.fixture
def mart_workspace(workspace: Workspace) -> Workspace:
    with workspace.database.session() as session:
        session.add(Group(id="g1", name="核心会员群", owner="op1"))
    _write_mart(workspace)
    return workspace


def _ids(workspace: Workspace, kind: str) -> list[str]:
    return [task["id"] for task in list_tasks(workspace, kind=kind)]


def test_tasks_follow_the_rules_with_deterministic_ids(mart_workspace: Workspace) -> None:
    run = generate_tasks(mart_workspace)
    assert run.created == {"care": 2, "winback": 6, "koc_invite": 1, "vip_care": 1}
    assert _ids(mart_workspace, "care") == ["care:lurker:2026-W14", "care:quiet_seed:2026-W14"]
    assert _ids(mart_workspace, "winback") == [
        f"winback:{member}:2026-03-31:{step}" for step in (1, 2, 3) for member in ("faded", "gone")
    ]  # 流失风险, silent 7+ days and active before (the never-active lurker gets care instead)
    assert _ids(mart_workspace, "koc_invite") == ["koc_invite:koc"]
    assert _ids(mart_workspace, "vip_care") == ["vip_care:vip:2026-03"]
    care = {t["member_id"]: t for t in list_tasks(mart_workspace, kind="care")}
    assert "新品" in care["quiet_seed"]["suggestion"] and care["quiet_seed"]["assignee"] == "op1"
    assert "老朋友" in care["lurker"]["suggestion"]  # the 流失风险 care message
    steps = list_tasks(mart_workspace, member_id="faded")
    assert [t["due_at"] - AS_OF for t in steps] == [timedelta(days=1), timedelta(days=4), timedelta(days=8)]
    assert [t["step"] for t in steps] == [1, 2, 3] and "专属优惠券" in steps[0]["title"]
    koc = list_tasks(mart_workspace, kind="koc_invite")[0]
    assert koc["detail"]["tier"] == "head" and "品牌形象" in koc["title"]


def test_generating_again_never_duplicates(mart_workspace: Workspace) -> None:
    generate_tasks(mart_workspace)
    again = generate_tasks(mart_workspace)
    assert sum(again.created.values()) == 0
    later = generate_tasks(
        mart_workspace, AS_OF + timedelta(days=7)
    )  # new week and month; win-back is pending
    assert later.created == {"care": 2, "winback": 0, "koc_invite": 0, "vip_care": 1}
    with mart_workspace.database.session() as session:
        assert len(session.scalars(select(Task)).all()) == 10 + 3
        assert (
            session.scalars(select(AuditLog).where(AuditLog.action == "tasks.generate")).first() is not None
        )


def test_open_tasks_of_people_no_longer_in_the_member_mart_are_skipped(mart_workspace: Workspace) -> None:
    generate_tasks(mart_workspace)
    complete_task(mart_workspace, "vip_care:vip:2026-03", actor="op1", outcome="called")
    remaining = [row for row in MART_ROWS if row[0] not in ("quiet_seed", "vip")]  # off the member list
    _write_mart(mart_workspace, members=remaining)
    run = generate_tasks(mart_workspace)
    assert run.skipped_not_members == 1  # quiet_seed's care; vip's task was already done
    care = {t["member_id"]: t for t in list_tasks(mart_workspace, kind="care")}
    assert care["quiet_seed"]["status"] == "skipped"
    assert care["quiet_seed"]["detail"]["skipped_because"] == "not a member"
    assert care["lurker"]["status"] == "open"
    assert list_tasks(mart_workspace, kind="vip_care")[0]["status"] == "done"
    assert run.as_dict()["skipped_not_members"] == 1


def test_win_back_outcome_came_back_within_the_window(mart_workspace: Workspace) -> None:
    generate_tasks(mart_workspace)
    complete_task(mart_workspace, "winback:faded:2026-03-31:1")
    stage(mart_workspace, "messages", [message("back", "faded", AS_OF + timedelta(days=5))])
    run = generate_tasks(mart_workspace, AS_OF + timedelta(days=6))
    assert run.outcomes == {"came_back": 1}
    steps = list_tasks(mart_workspace, member_id="faded")
    assert [(t["status"], t["outcome"]) for t in steps] == [
        ("done", "came_back"),
        ("skipped", "came_back"),
        ("skipped", "came_back"),
    ]
    assert steps[0]["detail"]["came_back_at"] == (AS_OF + timedelta(days=5)).isoformat()


def test_win_back_outcome_no_response_after_the_window(mart_workspace: Workspace) -> None:
    generate_tasks(mart_workspace)
    stage(mart_workspace, "messages", [message("late", "faded", AS_OF + timedelta(days=20))])
    assert generate_tasks(mart_workspace, AS_OF + timedelta(days=13)).outcomes == {}  # still undecided
    assert generate_tasks(mart_workspace, AS_OF + timedelta(days=15)).outcomes == {"no_response": 2}
    assert {t["outcome"] for t in list_tasks(mart_workspace, kind="winback")} == {"no_response"}


def test_complete_task_and_filters(mart_workspace: Workspace) -> None:
    generate_tasks(mart_workspace)
    done = complete_task(mart_workspace, "vip_care:vip:2026-03", outcome=" called ", actor="op1")
    assert (done["status"], done["outcome"], done["completed_by"]) == ("done", "called", "op1")
    assert [t["id"] for t in list_tasks(mart_workspace, status="done")] == ["vip_care:vip:2026-03"]
    assert len(list_tasks(mart_workspace, member_id="faded")) == 3
    assert len(list_tasks(mart_workspace, limit=2)) == 2
    assert len(list_tasks(mart_workspace, assignee="op1")) == 10 and not list_tasks(
        mart_workspace, assignee="x"
    )
    with pytest.raises(NotFoundError):
        complete_task(mart_workspace, "'; DROP TABLE tasks; --")
    with pytest.raises(InputFormatError):
        complete_task(mart_workspace, "vip_care:vip:2026-03", outcome="x" * 33)
    for bad in ({"kind": "<script>"}, {"status": "closed"}, {"limit": 0}):
        with pytest.raises(InputFormatError):
            list_tasks(mart_workspace, **bad)  # type: ignore[arg-type]


def test_export_csv_and_xlsx_defuse_formulas(mart_workspace: Workspace, tmp_path: Path) -> None:
    generate_tasks(mart_workspace)
    assert export_tasks(mart_workspace, tmp_path / "t.csv", kind="vip_care") == 1
    with (tmp_path / "t.csv").open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["id"] == "vip_care:vip:2026-03" and rows[0]["title"].startswith("VIP")
    assert rows[0]["suggestion"].startswith("=HYPERLINK") is False
    assert export_tasks(mart_workspace, tmp_path / "t.xlsx") == 10
    sheet = load_workbook(tmp_path / "t.xlsx", read_only=True).active
    values = [row for row in sheet.iter_rows(values_only=True)]
    assert values[0][0] == "id" and len(values) == 11
    assert not any(isinstance(v, str) and v.startswith("=") for row in values for v in row)
    with pytest.raises(InputFormatError):
        export_tasks(mart_workspace, tmp_path / "t.txt")


def test_without_a_mart_there_is_nothing_to_generate(sqlite_workspace: Workspace) -> None:
    with pytest.raises(NotFoundError):
        generate_tasks(sqlite_workspace)
