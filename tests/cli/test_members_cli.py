from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from groupops.cli import app
from groupops.config import Settings
from groupops.store.workspace import Workspace

sys.path.insert(0, str(Path(__file__).parents[1] / "ops"))
from member_fixture import build_small_brand

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path) -> str:
    workspace = Workspace(Settings(data=tmp_path / "data"))
    build_small_brand(workspace)
    workspace.close()
    return str(tmp_path / "data")


def _json(args: list[str]) -> dict:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_member_show_json_has_the_six_dimensions(data_dir: str) -> None:
    card = _json(["member", "show", "mA", "--data", data_dir, "--json"])
    assert card["consumption"]["net_spend"] == 450 and card["interaction"]["mentions_received"] == 1
    assert card["intelligence"] is None
    plain = runner.invoke(app, ["member", "show", "mA", "--data", data_dir])
    assert plain.exit_code == 0 and "consumption" in plain.stdout


@pytest.mark.parametrize("member_id", ["nobody", "<script>alert(1)</script>", "../../etc/passwd"])
def test_member_show_unknown_fails_cleanly(data_dir: str, member_id: str) -> None:
    result = runner.invoke(app, ["member", "show", member_id, "--data", data_dir, "--json"])
    assert result.exit_code == 1 and result.stdout == ""


def test_members_refresh_then_classes_then_tasks(data_dir: str, tmp_path: Path) -> None:
    run = _json(["members", "refresh", "--as-of", "2026-03-31", "--data", data_dir, "--json"])
    assert run["members"] == 4 and Path(run["mart"]).is_file()
    classes = _json(["members", "classes", "--as-of", "2026-03-31", "--data", data_dir, "--json"])
    assert [c["short_zh"] for c in classes["classes"]] == ["种子", "潜力", "培育", "流失风险"]
    listed = _json(["tasks", "--data", data_dir, "--json", "--export", str(tmp_path / "t.xlsx")])
    ids = [task["id"] for task in listed["tasks"]]
    assert "koc_invite:mA" in ids and "vip_care:mA:2026-03" in ids and listed["exported"] == len(ids)
    assert (tmp_path / "t.xlsx").is_file()
    again = _json(["tasks", "--data", data_dir, "--json"])
    assert [task["id"] for task in again["tasks"]] == ids  # no duplicates
    done = _json(["tasks", "done", "koc_invite:mA", "--outcome", "accepted", "--data", data_dir, "--json"])
    assert (done["status"], done["outcome"]) == ("done", "accepted")
    only_done = _json(["tasks", "--status", "done", "--no-refresh", "--data", data_dir, "--json"])
    assert [task["id"] for task in only_done["tasks"]] == ["koc_invite:mA"]
    table = runner.invoke(app, ["tasks", "--no-refresh", "--data", data_dir])
    assert table.exit_code == 0 and f"Tasks ({len(ids)})" in table.stdout


def test_tasks_refresh_builds_the_mart_when_missing(data_dir: str) -> None:
    listed = _json(["tasks", "--data", data_dir, "--json"])
    assert listed["tasks"] and listed["export_file"] is None


@pytest.mark.parametrize(
    "args",
    [["tasks", "--kind", "bogus"], ["tasks", "--status", "'; DROP TABLE tasks"], ["tasks", "--export", "t.txt"],
     ["member", "show"], ["members", "refresh", "--bogus"]],
)  # fmt: skip
def test_usage_errors_exit_2(data_dir: str, args: list[str]) -> None:
    assert runner.invoke(app, [*args, "--data", data_dir]).exit_code == 2


def test_failures_exit_1(data_dir: str) -> None:
    assert runner.invoke(app, ["tasks", "done", "missing", "--data", data_dir]).exit_code == 1
    assert (
        runner.invoke(app, ["members", "refresh", "--as-of", "yesterday-ish", "--data", data_dir]).exit_code
        == 1
    )
    too_long = runner.invoke(app, ["tasks", "done", "x", "--outcome", "y" * 40, "--data", data_dir])
    assert too_long.exit_code == 1
