"""Tests of ``groupops compliance check`` and ``groupops compliance labels`` (ARCHITECTURE.md §4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from groupops.cli import app

runner = CliRunner()

LINES = ["这是全网最好的羊绒大衣", "最好平铺晾干，不要暴晒", "", "抗菌防臭袜，UPF50+"]
PRODUCT_COLUMNS = (
    "sku,name,manufacturer,manufacturer_address,size_spec,fibre_composition,care_instructions,"
    "product_standard,safety_category,usage_notes,storage_notes,category"
)
GOOD_PRODUCT = (
    "A1,女士卫衣,杭州某某服饰有限公司,浙江省杭州市余杭区文一西路100号,160/84A,棉95% 氨纶5%,"
    "30℃水洗 不可漂白 悬挂晾干 低温熨烫,FZ/T 73020-2019,B类,避免暴晒,通风干燥处存放,top"
)
BAD_PRODUCT = "B2,婴儿连体衣,杭州某某服饰有限公司,浙江省杭州市,66/44,冰丝100%,手洗,GB 18401,B类,,,infant"


def _json_lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_check_json_from_a_file_follows_the_contract(tmp_path: Path) -> None:
    source = tmp_path / "copy.txt"
    source.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["compliance", "check", str(source), "--json"])
    assert result.exit_code == 0, result.output
    rows = _json_lines(result.stdout)
    assert [row["line"] for row in rows] == [1, 2, 3, 4]
    assert [row["verdict"] for row in rows] == ["violation", "clean", "clean", "review"]
    assert [row["text"] for row in rows] == LINES
    finding = rows[0]["findings"][0]  # type: ignore[index]
    assert set(finding) == {"rule", "category", "term", "start", "end", "severity", "reason", "suggestion"}
    assert LINES[0][finding["start"] : finding["end"]] == finding["term"]


@pytest.mark.parametrize("arguments", [["-"], []])
def test_check_reads_stdin(arguments: list[str]) -> None:
    result = runner.invoke(
        app, ["compliance", "check", *arguments, "--json"], input="NO.1爆款\r\n普通的一句话\n"
    )
    assert result.exit_code == 0, result.output
    assert [row["verdict"] for row in _json_lines(result.stdout)] == ["violation", "clean"]


def test_check_reads_a_utf8_bom(tmp_path: Path) -> None:
    source = tmp_path / "bom.txt"
    source.write_bytes("\ufeff最佳选择\n".encode())
    rows = _json_lines(runner.invoke(app, ["compliance", "check", str(source), "--json"]).stdout)
    assert rows[0]["text"] == "最佳选择" and rows[0]["findings"][0]["start"] == 0  # type: ignore[index]


def test_check_without_json_prints_a_table_and_a_summary() -> None:
    result = runner.invoke(app, ["compliance", "check"], input="\n".join(LINES))
    assert result.exit_code == 0
    assert "violation" in result.stdout and "4 lines: 1 violation, 1 review, 2 clean" in result.stdout


@pytest.mark.parametrize(
    ("text", "fail_on", "exit_code"),
    [
        ("最佳选择\n", None, 0),
        ("最佳选择\n", "violation", 1),
        ("抗菌袜\n", "violation", 0),
        ("抗菌袜\n", "review", 1),
        ("普通的一句话\n", "review", 0),
    ],
)
def test_fail_on_sets_the_exit_code(text: str, fail_on: str | None, exit_code: int) -> None:
    options = ["--fail-on", fail_on] if fail_on else []
    assert runner.invoke(app, ["compliance", "check", "--json", *options], input=text).exit_code == exit_code


def test_extra_lexicon_directory(tmp_path: Path) -> None:
    lexicon = tmp_path / "lexicon"
    lexicon.mkdir()
    (lexicon / "brand.yaml").write_text(
        "rules:\n  - id: brand.banned\n    category: other\n    reason: 品牌规定\n    terms: [禁词]\n",
        encoding="utf-8",
    )
    result = runner.invoke(
        app, ["compliance", "check", "--json", "--lexicon-dir", str(lexicon)], input="这是禁词\n"
    )
    assert _json_lines(result.stdout)[0]["findings"][0]["rule"] == "brand.banned"  # type: ignore[index]


def test_invalid_lexicon_is_a_clear_error(tmp_path: Path) -> None:
    lexicon = tmp_path / "lexicon"
    lexicon.mkdir()
    (lexicon / "bad.yaml").write_text(
        "rules: [{id: x, category: nope, reason: r, terms: [a]}]", encoding="utf-8"
    )
    result = runner.invoke(app, ["compliance", "check", "--lexicon-dir", str(lexicon)], input="x\n")
    assert result.exit_code == 1
    assert "bad.yaml" in result.output and "category" in result.output


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert runner.invoke(app, ["compliance", "check", str(tmp_path / "missing.txt")]).exit_code == 2
    assert (
        runner.invoke(
            app, ["compliance", "check", "--lexicon-dir", str(tmp_path / "nope")], input="x"
        ).exit_code
        == 2
    )
    assert runner.invoke(app, ["compliance", "check", "--fail-on", "sometimes"], input="x").exit_code == 2


def test_labels_json_lists_products_with_problems(tmp_path: Path) -> None:
    products = tmp_path / "products.csv"
    products.write_text("\n".join([PRODUCT_COLUMNS, GOOD_PRODUCT, BAD_PRODUCT]) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["compliance", "labels", "--file", str(products), "--json"])
    assert result.exit_code == 0, result.output
    rows = _json_lines(result.stdout)
    assert [row["sku"] for row in rows] == ["B2"]
    fields = {finding["field"] for finding in rows[0]["findings"]}  # type: ignore[union-attr]
    assert {
        "usage_notes",
        "storage_notes",
        "fibre_composition",
        "product_standard",
        "safety_category",
    } <= fields


def test_labels_reads_json_and_prints_a_table(tmp_path: Path) -> None:
    products = tmp_path / "products.json"
    products.write_text(
        json.dumps({"products": [{"sku": "J1", "name": "围巾"}]}, ensure_ascii=False), encoding="utf-8"
    )
    result = runner.invoke(app, ["compliance", "labels", "--file", str(products)])
    assert result.exit_code == 0
    assert "J1" in result.stdout and "1 products: 1 with missing or malformed label items" in result.stdout


def test_labels_bad_input(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{oops", encoding="utf-8")
    result = runner.invoke(app, ["compliance", "labels", "--file", str(broken)])
    assert result.exit_code == 1 and "broken.json" in result.output and "invalid JSON" in result.output
    other = tmp_path / "products.xlsx"
    other.write_text("x", encoding="utf-8")
    assert runner.invoke(app, ["compliance", "labels", "--file", str(other)]).exit_code == 2
    assert runner.invoke(app, ["compliance", "labels"]).exit_code == 2


# --- scan-archive and labels --data ------------------------------------------------------------------

ARCHIVE_T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC, in milliseconds
ARCHIVE = [
    ("m1", "CS01", "wr1", "今晚8点上新，羊毛大衣限时优惠", 0),
    ("m2", "CS01", "wr1", "全网最低价！史上最好的羽绒服", 0),
    ("m3", "CS02", "wr2", "这款T恤能防癌抗辐射", 2),
    ("m4", "wmCustomer", "wr1", "这是我买过最好的衣服", 0),
    ("m5", "CS02", "wr2", "抗菌防臭袜，<script>alert(1)</script>", 2),
]


def _archive_workspace(tmp_path: Path) -> Path:
    from groupops.config import Settings
    from groupops.ingest import ingest_files
    from groupops.store.workspace import Workspace

    data = tmp_path / "data"
    path = tmp_path / "archive.jsonl"
    path.write_text(
        "".join(
            json.dumps({"msgid": m, "action": "send", "from": s, "roomid": g, "msgtime": ARCHIVE_T0 + d * 86_400_000,
                        "msgtype": "text", "text": {"content": t}}, ensure_ascii=False) + "\n"
            for m, s, g, t, d in ARCHIVE
        ),
        encoding="utf-8",
    )  # fmt: skip
    workspace = Workspace(Settings(data=data))
    try:
        ingest_files("wecom-archive", [path], workspace)
    finally:
        workspace.close()
    return data


def test_scan_archive_json_reports_by_staff_and_group(tmp_path: Path) -> None:
    data = _archive_workspace(tmp_path)
    result = runner.invoke(app, ["compliance", "scan-archive", "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["scanned"] == 4  # the customer's message is not scanned
    verdicts = {row["msgid"]: row["verdict"] for row in report["messages"]}
    assert verdicts == {"m2": "violation", "m3": "violation", "m5": "review"}
    staff = {row["staff_id"]: (row["violation"], row["review"]) for row in report["by_staff"]}
    assert staff == {"CS01": (1, 0), "CS02": (1, 1)}
    groups = {row["group_id"]: (row["violation"], row["review"]) for row in report["by_group"]}
    assert groups == {"wr1": (1, 0), "wr2": (1, 1)}


def test_scan_archive_date_range_is_inclusive(tmp_path: Path) -> None:
    data = _archive_workspace(tmp_path)
    only_first_day = ["--from", "2026-01-01", "--to", "2026-01-01"]
    report = json.loads(
        runner.invoke(
            app, ["compliance", "scan-archive", "--data", str(data), *only_first_day, "--json"]
        ).stdout
    )
    assert report["scanned"] == 2 and {row["msgid"] for row in report["messages"]} == {"m2"}
    later = ["--from", "2026-01-03", "--to", "2026-01-03"]
    report = json.loads(
        runner.invoke(app, ["compliance", "scan-archive", "--data", str(data), *later, "--json"]).stdout
    )
    assert report["scanned"] == 2 and {row["msgid"] for row in report["messages"]} == {"m3", "m5"}


def test_scan_archive_prints_tables(tmp_path: Path) -> None:
    data = _archive_workspace(tmp_path)
    result = runner.invoke(app, ["compliance", "scan-archive", "--data", str(data)])
    assert result.exit_code == 0, result.output
    assert "CS02" in result.stdout and "wr1" in result.stdout
    assert "4 staff messages scanned: 2 violation, 1 review" in result.stdout


def test_scan_archive_of_an_empty_data_directory(tmp_path: Path) -> None:
    result = runner.invoke(app, ["compliance", "scan-archive", "--data", str(tmp_path / "empty"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["scanned"] == 0


@pytest.mark.parametrize(
    "options",
    [
        ["--from", "2026-13-01"],
        ["--to", "yesterday"],
        ["--from", "2026-01-05", "--to", "2026-01-01"],
        ["--from", "'; DROP TABLE messages; --"],
    ],
)
def test_scan_archive_rejects_bad_dates(tmp_path: Path, options: list[str]) -> None:
    result = runner.invoke(app, ["compliance", "scan-archive", "--data", str(tmp_path), *options])
    assert result.exit_code == 2


def _store_with_products(tmp_path: Path) -> Path:
    from groupops.config import Settings
    from groupops.store.models import Product
    from groupops.store.workspace import Workspace

    data = tmp_path / "data"
    workspace = Workspace(Settings(data=data))
    complete = dict(zip(PRODUCT_COLUMNS.split(","), GOOD_PRODUCT.split(","), strict=True))
    try:
        with workspace.database.session() as session:
            session.add(Product(**complete))
            session.add(
                Product(sku="B2", name="婴儿连体衣<b>", category="infant", fibre_composition="冰丝100%")
            )
    finally:
        workspace.close()
    return data


def test_labels_reads_the_products_of_the_store(tmp_path: Path) -> None:
    data = _store_with_products(tmp_path)
    result = runner.invoke(app, ["compliance", "labels", "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    rows = _json_lines(result.stdout)
    assert [row["sku"] for row in rows] == ["B2"]  # A1 has a complete label
    fields = {finding["field"] for finding in rows[0]["findings"]}  # type: ignore[union-attr]
    assert {"manufacturer", "care_instructions", "safety_category"} <= fields
    table = runner.invoke(app, ["compliance", "labels", "--data", str(data)])
    assert table.exit_code == 0 and "2 products: 1 with missing or malformed label items" in table.stdout


def test_labels_of_an_empty_store(tmp_path: Path) -> None:
    result = runner.invoke(app, ["compliance", "labels", "--data", str(tmp_path / "empty"), "--json"])
    assert result.exit_code == 0 and result.stdout.strip() == ""


def test_labels_refuses_file_and_data_together(tmp_path: Path) -> None:
    source = tmp_path / "p.csv"
    source.write_text(PRODUCT_COLUMNS + "\n" + GOOD_PRODUCT + "\n", encoding="utf-8")
    result = runner.invoke(app, ["compliance", "labels", "--file", str(source), "--data", str(tmp_path)])
    assert result.exit_code == 2
