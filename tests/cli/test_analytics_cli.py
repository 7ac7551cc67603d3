"""``groupops run / kpi / funnel / retention / goals`` on a small archive imported for real."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from groupops.analytics.kpis import KPI_NAMES
from groupops.cli import app
from groupops.config import Settings
from groupops.ingest import ingest_files
from groupops.store.workspace import Workspace

runner = CliRunner()


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def _message(msgid: str, sender: str, when: str, text: str) -> str:
    return json.dumps(
        {
            "msgid": msgid,
            "action": "send",
            "from": sender,
            "tolist": [],
            "roomid": "wrGROUP1",
            "msgtime": _ms(when),
            "msgtype": "text",
            "text": {"content": text},
        },
        ensure_ascii=False,
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three customers (wm...) and one staff account speaking in one group over March 2024 (UTC)."""
    root = tmp_path_factory.mktemp("cli")
    lines = [
        _message("1", "wmA", "2024-03-01T02:00:00", "早上好"),
        _message("2", "wmB", "2024-03-02T02:00:00", "有新款吗"),
        _message("3", "wmA", "2024-03-10T02:00:00", "收到"),
        _message("4", "zhangsan", "2024-03-10T03:00:00", "新品上架"),
        _message("5", "wmC", "2024-03-20T02:00:00", "<script>alert(1)</script>"),
    ]
    archive = root / "archive.jsonl"
    archive.write_text("\n".join(lines) + "\n", encoding="utf-8")
    workspace = Workspace(Settings(data=root / "data", _env_file=None))  # type: ignore[call-arg]
    try:
        report = ingest_files("wecom-archive", [archive], workspace)
    finally:
        workspace.close()
    assert report.ingested == 5
    return root / "data"


def invoke(*arguments: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, [*arguments, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_kpi_json_contract(data_dir: Path) -> None:
    document = invoke("kpi", "--data", str(data_dir), "--from", "2024-03-01", "--to", "2024-03-30")
    assert set(document) >= {"as_of", "scope", "kpis", "definitions"}
    assert list(document["kpis"]) == list(KPI_NAMES) and set(document["definitions"]) == set(KPI_NAMES)
    assert document["kpis"]["active_users"] == 3  # staff is not a member
    assert document["kpis"]["interaction_rate"] == pytest.approx(4 / (3 * 30))  # A twice, B, C


def test_kpi_for_a_group_and_unknown_group(data_dir: Path) -> None:
    assert invoke("kpi", "--data", str(data_dir), "--group", "wrGROUP1")["scope"]["group"] == "wrGROUP1"
    result = runner.invoke(
        app, ["kpi", "--data", str(data_dir), "--group", "'; DROP TABLE groups; --", "--json"]
    )
    assert result.exit_code == 1 and result.stdout == ""


@pytest.mark.parametrize(
    "arguments",
    [
        ["kpi", "--from", "2024-13-40"],
        ["kpi", "--from", "2024-03-10", "--to", "2024-03-01"],
        ["kpi", "--engine", "oracle"],
        ["funnel", "--mode", "sideways"],
        ["funnel", "--window", "0"],
        ["retention", "--kind", "sometimes"],
        ["retention", "--period", "fortnight"],
        ["goals", "--as-of", "yesterday"],
        ["run", "--as-of", "../../etc/passwd"],
    ],
)
def test_usage_errors_exit_2(data_dir: Path, arguments: list[str]) -> None:
    result = runner.invoke(app, [*arguments, "--data", str(data_dir), "--json"])
    assert result.exit_code == 2, result.output


def test_run_then_incremental_run(data_dir: Path) -> None:
    first = invoke("run", "--data", str(data_dir), "--full")
    assert first["full"] is True and first["rows"]["member_daily_activity"] == 4
    assert set(first["operations"]) >= {"labelled_messages", "tickets", "incidents", "tasks"}
    assert first["operations"]["labelled_messages"] > 0
    second = invoke("run", "--data", str(data_dir))
    assert second["full"] is False and second["recomputed_months"]["member_daily_activity"] == []
    assert second["operations"]["labelled_messages"] == 0  # labels are incremental
    assert (data_dir / "marts" / "summary.json").exists()


def test_funnel_retention_and_goals_json(data_dir: Path) -> None:
    funnel = invoke("funnel", "--data", str(data_dir), "--mode", "strict", "--window", "7")
    assert funnel["mode"] == "strict" and [step["name"] for step in funnel["steps"]][0] == "view"
    retention = invoke("retention", "--data", str(data_dir), "--period", "week", "--periods", "2")
    assert retention["cohorts"] and retention["period"] == "week"
    goals = invoke("goals", "--data", str(data_dir))
    assert {goal["status"] for goal in goals["goals"]} <= {"green", "amber", "red", "no_data"}


def test_bad_goals_file_fails_with_exit_1(data_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "goals.yaml"
    bad.write_text("goals: nope", encoding="utf-8")
    result = runner.invoke(app, ["goals", "--data", str(data_dir), "--goals", str(bad), "--json"])
    assert result.exit_code == 1 and result.stdout == ""


def test_human_output(data_dir: Path) -> None:
    for command in (["kpi"], ["funnel"], ["retention"], ["goals"], ["run"]):
        result = runner.invoke(app, [*command, "--data", str(data_dir)])
        assert result.exit_code == 0, result.output
        assert result.output.strip()
