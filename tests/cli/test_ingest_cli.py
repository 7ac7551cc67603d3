from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from groupops.cli import app

runner = CliRunner()
LINE = '{"msgid":"m%d","action":"send","from":"wm1","roomid":"wr1","msgtime":1767225600000,"msgtype":"text","text":{"content":"hi"}}\n'


def _archive(tmp_path: Path, count: int = 3, bad: bool = True) -> Path:
    path = tmp_path / "a.jsonl"
    path.write_text("".join(LINE % i for i in range(count)) + ("oops\n" if bad else ""), encoding="utf-8")
    return path


def test_ingest_json_contract_and_exit_code(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["ingest", "wecom-archive", str(_archive(tmp_path)), "--data", str(tmp_path / "d"), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert list(report) == [
        "kind",
        "files",
        "read",
        "ingested",
        "duplicates",
        "quarantined",
        "quarantine_file",
    ]
    assert (report["read"], report["ingested"], report["duplicates"], report["quarantined"]) == (4, 3, 0, 1)
    again = json.loads(
        runner.invoke(
            app,
            ["ingest", "wecom-archive", str(tmp_path / "a.jsonl"), "--data", str(tmp_path / "d"), "--json"],
        ).stdout
    )
    assert (again["ingested"], again["duplicates"]) == (0, 3)


def test_unknown_kind_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", "tiktok", str(_archive(tmp_path)), "--data", str(tmp_path / "d")])
    assert result.exit_code == 2
    assert "unknown kind" in result.output


def test_missing_file_fails_with_nothing_changed(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["ingest", "wecom-archive", str(tmp_path / "missing.jsonl"), "--data", str(tmp_path / "d")]
    )
    assert result.exit_code == 1
    assert "no such file" in result.output
    assert not (tmp_path / "d" / "warehouse" / "messages").exists()


def test_human_output_names_the_quarantine_file(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["ingest", "wecom-archive", str(_archive(tmp_path)), "--data", str(tmp_path / "d")]
    )
    assert result.exit_code == 0
    assert "quarantined" in result.output and "quarantine" in result.output
