"""``members``: member lists (CSV/XLSX, Chinese headers), upsert semantics and bad rows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from groupops.errors import InputFormatError
from groupops.ingest import ingest_files
from groupops.ingest.members import parse_gender
from groupops.store.models import Member
from groupops.store.workspace import Workspace

from .conftest import WriteCsv, quarantined

CHINESE_HEADER = ["会员ID", "昵称", "性别", "年龄段", "地区", "标签", "粉丝数", "授权时间"]
ROWS = [
    ["wmA", "小美", "女", "18-25", "杭州", "KOC;学生|潮流", "1.2万", "2024-01-15 10:00:00"],
    ["wxid_b", "阿强", "男", "26-35", "上海", "", "800", ""],
]


def _members(workspace: Workspace) -> dict[str, Member]:
    with workspace.database.session() as session:
        return {member.id: member for member in session.scalars(select(Member))}


def test_member_list_with_chinese_headers(workspace: Workspace, write_csv: WriteCsv) -> None:
    report = ingest_files("members", [write_csv("members.csv", [CHINESE_HEADER, *ROWS])], workspace)
    assert (report.read, report.ingested, report.duplicates, report.quarantined) == (2, 2, 0, 0)
    members = _members(workspace)
    first = members["wmA"]
    assert (first.name, first.gender, first.age_band, first.region) == ("小美", "female", "18-25", "杭州")
    assert (first.tags, first.followers) == (["KOC", "学生", "潮流"], 12000)
    assert first.consent_at == datetime(2024, 1, 15, 2, 0, tzinfo=UTC)
    assert (members["wxid_b"].gender, members["wxid_b"].tags, members["wxid_b"].consent_at) == (
        "male",
        [],
        None,
    )


def test_unchanged_rows_are_duplicates_changed_rows_are_ingested(
    workspace: Workspace, write_csv: WriteCsv
) -> None:
    ingest_files("members", [write_csv("a.csv", [CHINESE_HEADER, *ROWS])], workspace)
    same = ingest_files("members", [write_csv("a.csv", [CHINESE_HEADER, *ROWS])], workspace)
    assert (same.ingested, same.duplicates) == (0, 2)
    header = ["External UserID", "Followers"]
    changed = ingest_files(
        "members", [write_csv("b.csv", [header, ["wmA", "2w"], ["wxid_b", "800"]])], workspace
    )
    assert (changed.ingested, changed.duplicates) == (1, 1)
    assert _members(workspace)["wmA"].followers == 20000
    assert _members(workspace)["wmA"].name == "小美"  # a column the file lacks is not touched


def test_bad_member_rows_are_quarantined(workspace: Workspace, write_csv: WriteCsv) -> None:
    rows = [
        ["wxid", "name", "gender", "followers", "consent_time"],
        ["w1", "ok", "female", "10", "2024-01-01"],
        ["", "no id", "female", "10", ""],
        ["w3", "bad gender", "robot", "10", ""],
        ["w4", "bad followers", "male", "lots", ""],
        ["w5", "bad time", "male", "1", "someday"],
        ["w" * 200, "id too long", "male", "1", ""],
        ["w7", "nul\x00name", "male", "1", ""],
    ]
    report = ingest_files("members", [write_csv("m.csv", rows)], workspace)
    assert (report.read, report.ingested, report.quarantined) == (7, 1, 6)
    reasons = {record["line"]: record["reason"] for record in quarantined(report)}
    assert "column 'external_userid': empty" in reasons[3]
    assert "column 'gender': 'robot'" in reasons[4]
    assert "column 'followers': 'lots'" in reasons[5]
    assert "column 'consent_time': 'someday'" in reasons[6]
    assert "longer than 128" in reasons[7]
    assert "NUL" in reasons[8]


def test_hostile_names_are_stored_verbatim(workspace: Workspace, write_csv: WriteCsv) -> None:
    hostile = ["Robert'); DROP TABLE members;--", "<img src=x onerror=alert(1)>", '=HYPERLINK("http://x")']
    rows = [["wxid", "name"], *[[f"w{index}", name] for index, name in enumerate(hostile)]]
    report = ingest_files("members", [write_csv("m.csv", rows)], workspace)
    assert report.ingested == 3
    assert sorted(member.name for member in _members(workspace).values()) == sorted(hostile)


def test_xlsx_member_list(workspace: Workspace, tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(CHINESE_HEADER)
    sheet.append(["wmX", "小雨", "女", "18-25", "成都", "宝妈", 3500, datetime(2024, 2, 1, 9, 30)])
    path = tmp_path / "members.xlsx"
    workbook.save(path)
    report = ingest_files("members", [path], workspace)
    assert (report.ingested, report.quarantined) == (1, 0)
    member = _members(workspace)["wmX"]
    assert (member.followers, member.tags) == (3500, ["宝妈"])
    assert member.consent_at == datetime(2024, 2, 1, 1, 30, tzinfo=UTC)


def test_gb18030_member_list_imports_like_utf8(tmp_path: Path, write_csv: WriteCsv) -> None:
    from groupops.config import Settings

    stored = {}
    for encoding in ("utf-8", "gb18030"):
        workspace = Workspace(Settings(data=tmp_path / encoding))
        ingest_files("members", [write_csv(f"{encoding}.csv", [CHINESE_HEADER, *ROWS], encoding)], workspace)
        stored[encoding] = {
            m.id: (m.name, m.gender, m.region, m.tags, m.followers, m.consent_at)
            for m in _members(workspace).values()
        }
        workspace.close()
    assert stored["utf-8"] == stored["gb18030"]


def test_header_without_an_id_column_is_an_error(workspace: Workspace, write_csv: WriteCsv) -> None:
    with pytest.raises(InputFormatError, match="external_userid"):
        ingest_files("members", [write_csv("m.csv", [["昵称", "性别"], ["小美", "女"]])], workspace)


def test_parse_gender_vocabulary() -> None:
    assert [parse_gender(v) for v in ("男", "F", "female", "0", "保密", " ")] == [
        "male",
        "female",
        "female",
        "unknown",
        "unknown",
        None,
    ]
