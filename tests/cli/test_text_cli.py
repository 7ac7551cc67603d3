"""``groupops text classify``: JSON Lines contract, stdin, empty lines, errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from groupops.cli import app

runner = CliRunner()
CONTRACT_KEYS = ["line", "text", "sentiment", "score", "complaint", "question", "intents"]


def _json_lines(output: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in output.splitlines()]


def test_classify_file_as_json_lines(tmp_path: Path) -> None:
    source = tmp_path / "messages.txt"
    source.write_text("等了一周还没到\n\n这个有S码吗\n一点都不起球\n", encoding="utf-8")
    result = runner.invoke(app, ["text", "classify", str(source), "--json"])
    assert result.exit_code == 0, result.output
    records = _json_lines(result.stdout)
    assert [record["line"] for record in records] == [1, 2, 3, 4]
    assert all(list(record) == CONTRACT_KEYS for record in records)
    complaint, empty, question, praise = records
    assert (
        complaint["complaint"]
        and complaint["sentiment"] == "negative"
        and "logistics" in complaint["intents"]
    )
    assert empty == {
        **empty,
        "text": "",
        "sentiment": "neutral",
        "score": 0.0,
        "complaint": False,
        "question": False,
    }
    assert empty["intents"] == []
    assert question["question"] and "size_fit" in question["intents"]
    assert praise["sentiment"] == "positive" and not praise["complaint"]


def test_stdin_when_file_is_dash_or_missing() -> None:
    for arguments in (["text", "classify", "-", "--json"], ["text", "classify", "--json"]):
        result = runner.invoke(app, arguments, input="什么时候发货\r\n打卡\n")
        assert result.exit_code == 0, result.output
        records = _json_lines(result.stdout)
        assert [record["text"] for record in records] == ["什么时候发货", "打卡"]
        assert records[0]["question"]


def test_bom_and_hostile_lines_are_kept_verbatim(tmp_path: Path) -> None:
    source = tmp_path / "hostile.txt"
    lines = ["<script>alert(1)</script>", "'; DROP TABLE messages; --", "../../etc/passwd"]
    source.write_bytes(("\ufeff" + "\n".join(lines) + "\n").encode("utf-8"))
    result = runner.invoke(app, ["text", "classify", str(source), "--json"])
    assert result.exit_code == 0
    assert [record["text"] for record in _json_lines(result.stdout)] == lines


def test_empty_input_prints_nothing() -> None:
    result = runner.invoke(app, ["text", "classify", "--json"], input="")
    assert result.exit_code == 0
    assert result.stdout == ""


def test_rich_table_without_json(tmp_path: Path) -> None:
    source = tmp_path / "messages.txt"
    source.write_text("款式还行但是做工太粗糙\n", encoding="utf-8")
    result = runner.invoke(app, ["text", "classify", str(source)])
    assert result.exit_code == 0
    assert "negative" in result.stdout and "complaint" in result.stdout


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["text", "classify", str(tmp_path / "nope.txt"), "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""


def test_corrections_are_used_and_bad_corrections_fail(tmp_path: Path) -> None:
    corrections = tmp_path / "corrections.jsonl"
    record = {
        "text": "这批吊牌是手写的",
        "sentiment": "negative",
        "complaint": True,
        "question": False,
        "intents": [],
    }
    corrections.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    result = runner.invoke(
        app, ["text", "classify", "--json", "--corrections", str(corrections)], input="这批吊牌是手写的\n"
    )
    assert result.exit_code == 0, result.output
    assert _json_lines(result.stdout)[0]["complaint"] is True
    corrections.write_text("{broken\n", encoding="utf-8")
    failed = runner.invoke(
        app, ["text", "classify", "--json", "--corrections", str(corrections)], input="x\n"
    )
    assert failed.exit_code == 1
    assert failed.stdout == ""


def test_help_describes_the_command() -> None:
    result = runner.invoke(app, ["text", "classify", "--help"])
    assert result.exit_code == 0
    assert "one message per line" in result.stdout.lower()
