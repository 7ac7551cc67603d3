from __future__ import annotations

import json
from pathlib import Path

import pytest

from groupops.errors import InputFormatError
from groupops.ingest import ingest_files
from groupops.store.workspace import Workspace

ROOM = "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def _msg(
    msgid: str, msgtype: str = "text", offset_s: int = 0, sender: str = "wmAbc123", **body: object
) -> dict:
    record: dict[str, object] = {
        "msgid": msgid, "action": "send", "from": sender, "tolist": ["zhangsan"],
        "roomid": ROOM, "msgtime": T0 + offset_s * 1000, "msgtype": msgtype,
    }  # fmt: skip
    record.update(body)
    return record


ALL_TYPES = [
    _msg("t1", text={"content": "请问这件卫衣有S码吗？@小王\u2005"}),
    _msg("t2", "image", image={"md5sum": "50de8e5ae8ffe4f1df7a93841f71993a", "filesize": 70961, "sdkfileid": "CtYBMzA2"}),
    _msg("t3", "voice", voice={"voice_size": 4355, "play_length": 10, "sdkfileid": "kcyZjZqOXhETGYxajB2Zkp"}),
    _msg("t4", "video", video={"filesize": 3479, "play_length": 2, "sdkfileid": "CpsBMzA2T"}),
    _msg("t5", "file", file={"filename": "尺码表.xlsx", "fileext": "xlsx", "filesize": 18}),
    _msg("t6", "link", link={"title": "秋冬新品上市", "description": "d", "link_url": "https://x", "image_url": "https://y"}),
    _msg("t7", "weapp", weapp={"title": "会员积分商城", "description": "d", "username": "gh_1", "displayname": "积分"}),
    _msg("t8", "emotion", emotion={"type": 1, "width": 100, "height": 100, "sdkfileid": "x"}),
    _msg("t9", "card", card={"corpname": "品牌旗舰店", "userid": "abel"}),
    _msg("t10", "location", location={"longitude": 116.5, "latitude": 39.9, "address": "北京", "title": "门店", "zoom": 15}),
    _msg("t11", "markdown", info={"content": "**本周新品** 预告"}),
    _msg("t12", "news", info={"item": [{"title": "穿搭指南", "description": "d", "url": "u", "picurl": "p"}]}),
    _msg("t13", "docmsg", doc={"title": "群规", "doc_creator": "zhangsan", "link_url": "u"}),
    _msg("t14", "chatrecord", chatrecord={"title": "群聊的聊天记录", "item": []}),
    _msg("t15", "mixed", mixed={"item": [{"type": "text", "content": "{\"content\":\"看看这件\"}"}]}),
    _msg("t16", "redpacket", redpacket={"type": 1, "wish": "恭喜发财", "totalcnt": 1, "totalamount": 3000}),
    _msg("t17", "vote", vote={"votetitle": "今日穿搭投票", "voteitem": ["A", "B"], "votetype": 101, "voteid": "v1"}),
    _msg("t18", "agree", agree={"userid": "wmAbc123", "agree_time": T0}),
    _msg("t19", "disagree", disagree={"userid": "wmAbc123", "disagree_time": T0}),
    _msg("t20", "sphfeed", sphfeed={"feed_type": 4, "sph_name": "品牌号"}),
    {"msgid": "t21", "action": "recall", "from": "wmAbc123", "tolist": [], "roomid": ROOM, "msgtime": T0 + 60_000,
     "msgtype": "revoke", "revoke": {"pre_msgid": "t1"}},
    {"msgid": "t22", "action": "switch", "time": T0 + 90_000, "user": "zhangsan"},
    _msg("t23", sender="zhangsan", offset_s=120,
         text={"content": "「小王：请问这件卫衣有S码吗？」\n- - - - - - - - - - - - - - -\n有的亲 @小王 可以直接拍"}),
]  # fmt: skip


def _write_jsonl(path: Path, records: list[object]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def _messages(workspace: Workspace) -> dict[str, dict]:
    return {row["msgid"]: row for row in workspace.warehouse.read_table("messages").to_pylist()}


def test_every_official_message_type_is_kept(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    report = ingest_files("wecom-archive", [_write_jsonl(tmp_path / "a.jsonl", ALL_TYPES)], sqlite_workspace)
    assert (report.read, report.ingested, report.quarantined) == (len(ALL_TYPES), len(ALL_TYPES), 0)
    rows = _messages(sqlite_workspace)
    assert rows["t1"]["text"].startswith("请问这件卫衣有S码吗") and rows["t1"]["mention_names"] == ["小王"]
    assert rows["t1"]["revoked"] is True  # recalled by t21
    assert rows["t21"]["recalled_msgid"] == "t1" and rows["t21"]["action"] == "recall"
    assert rows["t22"]["msgtype"] == "switch" and rows["t22"]["sender_id"] == "zhangsan"
    assert rows["t5"]["text"] == "尺码表.xlsx" and rows["t6"]["text"] == "秋冬新品上市"
    assert rows["t11"]["text"] == "**本周新品** 预告" and rows["t12"]["text"] == "穿搭指南"
    assert rows["t15"]["text"] == "看看这件" and rows["t17"]["text"] == "今日穿搭投票"
    assert json.loads(rows["t20"]["raw"])["sphfeed"]["sph_name"] == "品牌号"  # unknown to us, kept raw
    assert rows["t23"]["quote_name"] == "小王" and rows["t23"]["text"] == "有的亲 @小王 可以直接拍"
    assert rows["t23"]["sender_is_staff"] is True and rows["t1"]["sender_is_staff"] is False
    assert rows["t1"]["sent_at"].isoformat() == "2026-01-01T00:00:00+00:00"
    assert rows["t1"]["month"] == "2026-01"


def test_month_partition_follows_the_brand_time_zone(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    late_evening_utc = _msg("tz", offset_s=-3600)  # 2025-12-31T23:00Z is 2026-01-01 07:00 in Shanghai
    ingest_files("wecom-archive", [_write_jsonl(tmp_path / "a.jsonl", [late_evening_utc])], sqlite_workspace)
    assert _messages(sqlite_workspace)["tz"]["month"] == "2026-01"


def test_bad_lines_are_quarantined_with_file_line_and_reason(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    path = tmp_path / "bad.jsonl"
    good = json.dumps(_msg("ok1"))
    lines = [
        good,
        "{truncated",
        "[1, 2, 3]",
        json.dumps({**_msg("x1"), "msgtime": "yesterday"}),
        json.dumps({**_msg("x2"), "msgtime": 1_600_000}),  # seconds-ish, far too early
        json.dumps({k: v for k, v in _msg("x3").items() if k != "from"}),
        json.dumps({**_msg("x4"), "action": "delete"}),
        json.dumps({k: v for k, v in _msg("x5").items() if k != "msgid"}),
        "",
        json.dumps(_msg("ok2")),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = ingest_files("wecom-archive", [path], sqlite_workspace)
    assert (report.read, report.ingested, report.quarantined) == (9, 2, 7)
    quarantined = [json.loads(line) for line in Path(report.quarantine_file or "").read_text().splitlines()]
    assert [(q["line"], q["reason"]) for q in quarantined] == [
        (2, "invalid JSON"),
        (3, "not a JSON object"),
        (4, "missing or non-integer msgtime"),
        (5, "msgtime out of range (milliseconds since 1970 expected)"),
        (6, "missing from"),
        (7, "unknown action delete"),
        (8, "missing msgid"),
    ]
    assert all(q["file"] == str(path) for q in quarantined)
    assert set(_messages(sqlite_workspace)) == {"ok1", "ok2"}


def test_reimport_adds_nothing(workspace: Workspace, tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "a.jsonl", ALL_TYPES)
    ingest_files("wecom-archive", [path], workspace)
    again = ingest_files("wecom-archive", [path], workspace)
    assert (again.ingested, again.duplicates) == (0, len(ALL_TYPES))
    assert workspace.warehouse.row_count("messages") == len(ALL_TYPES)


def test_hostile_input_huge_lines_bad_utf8_and_deep_nesting(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    path = tmp_path / "hostile.jsonl"
    nesting = "[" * 20000 + "]" * 20000
    deep = (
        '{"msgid":"deep","action":"send","from":"wm1","roomid":"r","msgtime":'
        + str(T0)
        + ',"msgtype":"x","x":'
        + nesting
        + "}"
    )
    huge = json.dumps(_msg("huge", text={"content": "大" * 600_000}))
    injection = json.dumps(
        _msg("inj", text={"content": "'); DROP TABLE messages;-- <script>alert(1)</script>"})
    )
    with path.open("wb") as handle:
        handle.write(huge.encode() + b"\n")
        handle.write(b'{"msgid":"\xff\xfe bad utf8"}\n')
        handle.write(deep.encode() + b"\n")
        handle.write(injection.encode() + b"\n")
    report = ingest_files("wecom-archive", [path], sqlite_workspace)
    rows = _messages(sqlite_workspace)
    assert rows["inj"]["text"] == "'); DROP TABLE messages;-- <script>alert(1)</script>"
    reasons = [
        json.loads(line)["reason"] for line in Path(report.quarantine_file or "").read_text().splitlines()
    ]
    assert any("longer than" in reason for reason in reasons)
    assert any("UTF-8" in reason for reason in reasons)
    assert report.read == 4 and report.ingested + report.quarantined == 4


def test_gb18030_archive_is_refused_line_by_line_not_garbled(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    path = tmp_path / "gbk.jsonl"
    path.write_bytes(
        (json.dumps(_msg("g1", text={"content": "请问有货吗"}), ensure_ascii=False) + "\n").encode("gb18030")
    )
    report = ingest_files("wecom-archive", [path], sqlite_workspace)
    assert report.quarantined == 1 and report.ingested == 0


def test_missing_file_and_empty_file(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match="no such file"):
        ingest_files("wecom-archive", [tmp_path / "nope.jsonl"], sqlite_workspace)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    report = ingest_files("wecom-archive", [empty], sqlite_workspace)
    assert (report.read, report.ingested, report.quarantined, report.quarantine_file) == (0, 0, 0, None)


def test_folder_of_files_and_crlf(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    folder.mkdir()
    _write_jsonl(folder / "2026-01.jsonl", ALL_TYPES[:5])
    (folder / "2026-02.jsonl").write_bytes(
        b"\r\n".join(json.dumps(r).encode() for r in ALL_TYPES[5:10]) + b"\r\n"
    )
    report = ingest_files("wecom-archive", [folder], sqlite_workspace)
    assert (report.ingested, report.quarantined, len(report.files)) == (10, 0, 2)


def test_duckdb_line_reader_and_block_reader_give_the_same_rows(tmp_path: Path) -> None:
    from groupops.config import Settings
    from groupops.ingest import wecom_archive

    path = _write_jsonl(tmp_path / "a.jsonl", [*ALL_TYPES, "not json", [1]])
    results = {}
    for name, fast in (("duckdb", True), ("blocks", False)):
        workspace = Workspace(Settings(data=tmp_path / name))
        original = wecom_archive._stage_file_in_duckdb
        if not fast:
            wecom_archive._stage_file_in_duckdb = lambda *args: False  # type: ignore[assignment]
        try:
            report = ingest_files("wecom-archive", [path], workspace)
        finally:
            wecom_archive._stage_file_in_duckdb = original  # type: ignore[assignment]
        quarantined = [
            json.loads(line) for line in Path(report.quarantine_file or "").read_text().splitlines()
        ]
        results[name] = (
            report.read,
            report.ingested,
            [(q["line"], q["reason"]) for q in quarantined],
            _messages(workspace),
        )
        workspace.close()
    assert results["duckdb"] == results["blocks"]
    assert results["duckdb"][2] == [(24, "not a JSON object"), (25, "not a JSON object")]


def _month_in_shanghai(record: dict) -> str:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.fromtimestamp(record["msgtime"] / 1000, ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")


def test_clean_multi_month_file_gives_one_file_per_month(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    records = [_msg(f"m{i}", offset_s=i * 20 * 86_400, text={"content": f"第{i}条"}) for i in range(7)]
    path = _write_jsonl(tmp_path / "a.jsonl", records)
    report = ingest_files("wecom-archive", [path], sqlite_workspace)
    assert (report.ingested, report.duplicates, report.quarantined) == (7, 0, 0)
    expected: dict[str, int] = {}
    for record in records:
        expected[_month_in_shanghai(record)] = expected.get(_month_in_shanghai(record), 0) + 1
    entries = sqlite_workspace.warehouse.manifest("messages")["files"]
    assert {entry["month"]: entry["rows"] for entry in entries} == expected
    assert len(entries) == len(expected) >= 4
    for entry in entries:
        months = {row["month"] for row in _read_parquet_rows(sqlite_workspace, entry["path"])}
        assert months == {entry["month"]}


def _read_parquet_rows(workspace: Workspace, relative: str) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(workspace.warehouse.table_dir("messages") / relative).to_pylist()


def _import_recording_the_path(path: Path, data: Path, fast: bool) -> tuple[list[bool], tuple]:
    from groupops.config import Settings
    from groupops.ingest import wecom_archive

    original = wecom_archive._stage_file_in_duckdb
    taken: list[bool] = []

    def recording(*args: object) -> bool:
        taken.append(original(*args) if fast else False)  # type: ignore[arg-type]
        return taken[-1]

    workspace = Workspace(Settings(data=data))
    wecom_archive._stage_file_in_duckdb = recording  # type: ignore[assignment]
    try:
        report = ingest_files("wecom-archive", [path], workspace)
    finally:
        wecom_archive._stage_file_in_duckdb = original  # type: ignore[assignment]
    quarantined = (
        [
            (record["line"], record["reason"], record.get("raw"))
            for record in map(json.loads, Path(report.quarantine_file).read_text("utf-8").splitlines())
        ]
        if report.quarantine_file
        else []
    )
    result = (report.ingested, report.quarantined, _messages(workspace), quarantined)
    workspace.close()
    return taken, result


def test_fast_and_block_paths_agree_on_a_clean_multi_month_file(tmp_path: Path) -> None:
    shifted = [dict(record, msgtime=T0 + index * 9 * 86_400_000) for index, record in enumerate(ALL_TYPES)]
    for record in shifted:
        if record["action"] == "switch":
            record["time"] = record.pop("msgtime")
    path = _write_jsonl(tmp_path / "a.jsonl", shifted)
    fast_taken, fast = _import_recording_the_path(path, tmp_path / "duckdb", fast=True)
    block_taken, blocks = _import_recording_the_path(path, tmp_path / "blocks", fast=False)
    assert (fast_taken, block_taken) == ([True], [False])
    assert fast == blocks
    assert fast[:2] == (len(ALL_TYPES), 0)
    assert len({row["month"] for row in fast[2].values()}) >= 6


def test_partly_stored_file_adds_only_its_new_messages(workspace: Workspace, tmp_path: Path) -> None:
    ingest_files("wecom-archive", [_write_jsonl(tmp_path / "first.jsonl", ALL_TYPES[:10])], workspace)
    report = ingest_files("wecom-archive", [_write_jsonl(tmp_path / "all.jsonl", ALL_TYPES)], workspace)
    assert (report.ingested, report.duplicates) == (len(ALL_TYPES) - 10, 10)
    assert workspace.warehouse.row_count("messages") == len(ALL_TYPES)
    assert set(_messages(workspace)) == {record["msgid"] for record in ALL_TYPES}


def test_repeated_msgid_in_a_clean_file_keeps_the_first_line(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    records = [
        _msg("d1", text={"content": "先到的"}),
        _msg("x1", offset_s=5, text={"content": "别的"}),
        _msg("d1", offset_s=10, text={"content": "后到的"}),
    ]
    report = ingest_files("wecom-archive", [_write_jsonl(tmp_path / "a.jsonl", records)], sqlite_workspace)
    assert (report.ingested, report.duplicates) == (2, 1)
    assert _messages(sqlite_workspace)["d1"]["text"] == "先到的"


def test_a_file_with_bad_lines_is_numbered_by_the_block_reader(tmp_path: Path) -> None:
    good = [json.dumps(record, ensure_ascii=False) for record in ALL_TYPES]
    bad = ["not json", '{"msgid": "x1", "action": "send"}', "[1]", "not json", '{"msgid": "cut off']
    lines = [*good[:5], bad[0], *good[5:12], bad[1], bad[2], "", *good[12:], bad[3], bad[4]]
    path = tmp_path / "a.jsonl"
    path.write_bytes(("\ufeff" + "\r\n".join(lines)).encode())
    fast_taken, fast = _import_recording_the_path(path, tmp_path / "duckdb", fast=True)
    block_taken, blocks = _import_recording_the_path(path, tmp_path / "blocks", fast=False)
    assert (fast_taken, block_taken) == ([False], [False])  # the DuckDB path does not number lines
    assert fast == blocks
    assert fast[:2] == (len(ALL_TYPES), len(bad))
    assert [line for line, _, _ in fast[3]] == [6, 14, 15, 28, 29]
    assert [raw for _, _, raw in fast[3]] == [bad[0], bad[1], bad[2], bad[3], bad[4]]
