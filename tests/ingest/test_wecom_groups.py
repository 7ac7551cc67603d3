"""``wecom-groups``: groupchat/get responses → groups, staff, members, stays and join facts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from groupops.config import Settings
from groupops.errors import ConfigurationError
from groupops.ingest import ingest_files
from groupops.ingest.wecom_groups import group_kind_from_name, membership_event_id
from groupops.store.models import Group, GroupMembership, Member, Staff
from groupops.store.workspace import Workspace

from .conftest import quarantined

CHAT = "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA"


def _response(chat_id: str = CHAT, name: str = "品牌官方福利群", **extra: Any) -> dict[str, Any]:
    return {
        "errcode": 0,
        "errmsg": "ok",
        "group_chat": {
            "chat_id": chat_id,
            "name": name,
            "owner": "ZhuShengBen",
            "create_time": 1572505490,
            "notice": "文明沟通，拒绝广告",
            "member_list": [
                {
                    "userid": "abel",
                    "type": 1,
                    "join_time": 1572505491,
                    "join_scene": 1,
                    "invitor": {"userid": "jack"},
                    "group_nickname": "客服小张",
                    "name": "张三丰",
                },
                {
                    "userid": "wmOgQhDgAAuXFJGwbve4g4iXknfOAAAA",
                    "type": 2,
                    "unionid": "ozynqsulJFCZ2z1aYeS8h-nuasdAAA",
                    "join_time": 1572505491,
                    "join_scene": 3,
                    "group_nickname": "杭州-160-小美",
                    "name": "小美",
                },
            ],  # fmt: skip
            "admin_list": [{"userid": "sam"}, {"userid": "pony"}],
            "member_version": "71217227bbd112ecfe3a49c482195cb4",
            **extra,
        },
    }


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _all(workspace: Workspace, model: Any) -> list[Any]:
    with workspace.database.session() as session:
        return list(session.scalars(select(model)))


def test_single_response_upserts_group_people_stays_and_join_facts(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = _write(tmp_path, "group.json", json.dumps(_response(), ensure_ascii=False, indent=2))
    report = ingest_files("wecom-groups", [path], workspace)
    assert (report.read, report.ingested, report.duplicates, report.quarantined) == (2, 2, 0, 0)
    (group,) = _all(workspace, Group)
    assert (group.name, group.kind, group.owner, group.admins) == (
        "品牌官方福利群",
        "brand_official",
        "ZhuShengBen",
        ["sam", "pony"],
    )
    assert group.created_at == datetime(2019, 10, 31, 7, 4, 50, tzinfo=UTC)
    assert [(s.id, s.name) for s in _all(workspace, Staff)] == [("abel", "张三丰")]
    (member,) = _all(workspace, Member)
    assert (member.id, member.name, member.unionid) == (
        "wmOgQhDgAAuXFJGwbve4g4iXknfOAAAA",
        "小美",
        "ozynqsulJFCZ2z1aYeS8h-nuasdAAA",
    )
    stays = {stay.member_id: stay for stay in _all(workspace, GroupMembership)}
    assert stays["abel"].member_type == "staff" and stays["abel"].invitor == "jack"
    assert stays["wmOgQhDgAAuXFJGwbve4g4iXknfOAAAA"].join_scene == 3
    assert stays["wmOgQhDgAAuXFJGwbve4g4iXknfOAAAA"].group_nickname == "杭州-160-小美"
    facts = {
        row["member_id"]: row for row in workspace.warehouse.read_table("membership_changes").to_pylist()
    }
    joined = datetime(2019, 10, 31, 7, 4, 51, tzinfo=UTC)
    fact = facts["wmOgQhDgAAuXFJGwbve4g4iXknfOAAAA"]
    assert (fact["change"], fact["occurred_at"], fact["join_scene"], fact["month"]) == (
        "join",
        joined,
        3,
        "2019-10",
    )
    assert fact["event_id"] == membership_event_id(CHAT, "wmOgQhDgAAuXFJGwbve4g4iXknfOAAAA", "join", joined)


def test_reimport_adds_nothing(workspace: Workspace, tmp_path: Path) -> None:
    path = _write(tmp_path, "group.json", json.dumps(_response()))
    ingest_files("wecom-groups", [path], workspace)
    again = ingest_files("wecom-groups", [path], workspace)
    assert (again.ingested, again.duplicates) == (0, 2)
    assert len(_all(workspace, GroupMembership)) == 2
    assert workspace.warehouse.row_count("membership_changes") == 2


def test_array_and_json_lines_files(workspace: Workspace, tmp_path: Path) -> None:
    array = _write(
        tmp_path, "groups.json", json.dumps([_response("wr1", "分销代理群"), _response("wr2", "铁粉群")])
    )
    lines = _write(
        tmp_path, "groups.jsonl", "\n".join(json.dumps(_response(f"wr{i}", "群")) for i in (3, 4)) + "\n"
    )
    report = ingest_files("wecom-groups", [array, lines], workspace)
    assert (report.read, report.quarantined) == (8, 0)
    kinds = {group.id: group.kind for group in _all(workspace, Group)}
    assert kinds == {"wr1": "distributor", "wr2": "core_user", "wr3": "core_user", "wr4": "core_user"}
    assert workspace.warehouse.row_count("membership_changes") == 8


def test_group_kind_from_field_option_and_name(workspace: Workspace, tmp_path: Path) -> None:
    explicit = _response("wr1", "品牌群")
    explicit["groupops_kind"] = "distributor"
    path = _write(
        tmp_path, "a.jsonl", json.dumps(explicit) + "\n" + json.dumps(_response("wr2", "普通群")) + "\n"
    )
    ingest_files("wecom-groups", [path], workspace, options={"group_kind": "brand_official"})
    assert {group.id: group.kind for group in _all(workspace, Group)} == {
        "wr1": "distributor",
        "wr2": "brand_official",
    }
    with pytest.raises(ConfigurationError, match="not one of"):
        ingest_files("wecom-groups", [path], workspace, options={"group_kind": "vip"})
    assert [group_kind_from_name(n) for n in ("官方群", "代理商群", "老粉群")] == [
        "brand_official",
        "distributor",
        "core_user",
    ]


def test_error_responses_and_bad_members_are_quarantined(workspace: Workspace, tmp_path: Path) -> None:
    bad_members = _response("wr9")
    bad_members["group_chat"]["member_list"] += [
        {"userid": "wmNoTime", "type": 2},
        {"userid": "wmBadType", "type": 7, "join_time": 1572505491},
        {"userid": "", "type": 2, "join_time": 1572505491},
        "not an object",
    ]
    lines = [
        json.dumps({"errcode": 40050, "errmsg": "invalid chatid"}),
        json.dumps({"errcode": 0, "errmsg": "ok"}),
        "{not json",
        json.dumps(bad_members),
    ]
    report = ingest_files("wecom-groups", [_write(tmp_path, "x.jsonl", "\n".join(lines))], workspace)
    assert (report.ingested, report.quarantined) == (2, 7)
    records = [(record["line"], record["reason"]) for record in quarantined(report)]
    assert records[:3] == [
        (1, "response: WeCom error 40050: invalid chatid"),
        (2, "response: no group_chat object"),
        (3, "invalid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    ]
    assert {line for line, _ in records[3:]} == {4}
    texts = " | ".join(reason for _, reason in records)
    assert "member_list[2].join_time: missing" in texts
    assert "member_list[3].type: 7 is not 1 (staff) or 2" in texts
    assert "member_list[4].userid: missing" in texts
    assert "member_list[5]: not a JSON object" in texts


def test_whole_file_error_response_is_quarantined_with_errmsg(workspace: Workspace, tmp_path: Path) -> None:
    path = _write(tmp_path, "err.json", json.dumps({"errcode": 60011, "errmsg": "no privilege"}, indent=2))
    report = ingest_files("wecom-groups", [path], workspace)
    assert (report.ingested, report.quarantined) == (0, 1)
    assert quarantined(report)[0]["reason"] == "response: WeCom error 60011: no privilege"


def test_deeply_nested_huge_and_oversize_json_is_quarantined_not_a_crash(tmp_path: Path) -> None:
    workspace = Workspace(Settings(data=tmp_path / "data", max_line_bytes=10_000))
    deep = _write(tmp_path, "deep.json", "[" * 200_000 + "]" * 200_000)
    nested_line = '{"a":' * 1500 + "1" + "}" * 1500
    long_line = json.dumps(_response("wr2", "x" * 20_000))
    lines = _write(
        tmp_path, "deep.jsonl", "\n".join([json.dumps(_response()), nested_line, long_line]) + "\n"
    )
    huge = _write(tmp_path, "huge.json", json.dumps([_response("wr1", "x" * 2_000_000)], indent=1))
    report = ingest_files("wecom-groups", [deep, lines, huge], workspace)
    records = sorted((Path(r["file"]).name, r["line"], r["reason"]) for r in quarantined(report))
    assert records == [
        ("deep.json", 1, "JSON nested too deeply"),
        ("deep.jsonl", 2, "JSON nested too deeply"),
        ("deep.jsonl", 3, f"line longer than 10000 bytes ({len(long_line.encode())} bytes)"),
        (
            "huge.json",
            1,
            f"file larger than 1000000 bytes ({huge.stat().st_size}); split it into JSON lines, one response per line",
        ),
    ]
    assert report.ingested == 2  # the good response on line 1 of deep.jsonl
    workspace.close()


def test_nested_json_within_limits_is_reported_as_too_deep(workspace: Workspace, tmp_path: Path) -> None:
    path = _write(tmp_path, "deep.json", "[" * 100_000 + "]" * 100_000)
    report = ingest_files("wecom-groups", [path], workspace)
    assert [record["reason"] for record in quarantined(report)] == ["JSON nested too deeply"]


def test_empty_file_reports_zeros(workspace: Workspace, tmp_path: Path) -> None:
    report = ingest_files("wecom-groups", [_write(tmp_path, "empty.json", "")], workspace)
    assert (report.read, report.ingested, report.duplicates, report.quarantined) == (0, 0, 0, 0)


def test_truncated_document_is_quarantined(workspace: Workspace, tmp_path: Path) -> None:
    text = json.dumps(_response(), indent=2)
    report = ingest_files("wecom-groups", [_write(tmp_path, "cut.json", text[: len(text) // 2])], workspace)
    (record,) = quarantined(report)
    assert record["line"] == 1 and record["reason"].startswith("invalid JSON")
    assert report.ingested == 0
