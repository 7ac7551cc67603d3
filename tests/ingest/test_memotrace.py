"""``memotrace``: WeChatMsg/MemoTrace CSV → messages, join facts, groups and members."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from groupops.config import Settings
from groupops.errors import InputFormatError
from groupops.ingest import ingest_files
from groupops.ingest.memotrace import membership_changes_in
from groupops.store.models import Group, Member, Staff
from groupops.store.workspace import Workspace

from .conftest import WriteCsv, quarantined

HEADER = ["localId", "TalkerId", "Type", "SubType", "IsSender", "CreateTime", "Status", "StrContent", "StrTime", "Remark", "NickName", "Sender"]  # fmt: skip
ROOM = "24461683452@chatroom"
T0 = 1705285425  # 2024-01-15 10:23:45 in Shanghai


def _row(local_id: int, kind: int, content: str, sender: str = "", nickname: str = "", *, subtype: int = 0,
         is_sender: int = 0, offset: int = 0, talker: str = ROOM) -> list[object]:  # fmt: skip
    return [local_id, talker, kind, subtype, is_sender, T0 + offset, 2, content, "", "", nickname, sender]


def _chat() -> list[list[object]]:
    return [
        HEADER,
        _row(1, 10000, '"小美"邀请"阿强、小红"加入了群聊'),
        _row(2, 1, "大家好 @小美\u2005这件卫衣有M码吗", "wxid_aq", "阿强", offset=5),
        _row(3, 1, "有的亲，@阿强 M码现货", "wxid_staff", "客服小美", is_sender=1, offset=10),
        _row(4, 3, "", "wxid_xh", "小红", offset=15),
        _row(5, 49, "谢谢", "wxid_aq", "阿强", subtype=57, offset=20),
        _row(6, 10000, '"阿刚"通过扫描"小红"分享的二维码加入群聊', offset=25),
        _row(7, 49, "尺码表.xlsx", "wxid_xh", "小红", subtype=6, offset=30),
        _row(
            8,
            1,
            "「阿强：这件卫衣有M码吗」\n- - - - - - - - - - - - - - -\n有的，我穿M正好",
            "wxid_xh",
            "小红",
            offset=35,
        ),
        _row(9, 9999, "<msg>unknown</msg>", "wxid_xh", "小红", offset=40),
        _row(10, 1, "私聊消息", "", "", offset=45, talker="wxid_friend"),
    ]


def _messages(workspace: Workspace) -> dict[str, dict[str, object]]:
    return {row["msgid"]: row for row in workspace.warehouse.read_table("messages").to_pylist()}


def test_memotrace_messages_have_the_archive_columns(workspace: Workspace, write_csv: WriteCsv) -> None:
    report = ingest_files("memotrace", [write_csv("卫衣福利群.csv", _chat(), "utf-8-sig")], workspace)
    assert (report.read, report.ingested, report.duplicates, report.quarantined) == (10, 10, 0, 0)
    messages = _messages(workspace)
    text = messages[f"mt:{ROOM}:2"]
    assert (text["source"], text["action"], text["group_id"], text["sender_id"]) == (
        "memotrace",
        "send",
        ROOM,
        "wxid_aq",
    )
    assert (text["msgtype"], text["sender_is_staff"], text["mention_names"]) == ("text", False, ["小美"])
    assert text["sent_at"] == datetime(2024, 1, 15, 2, 23, 50, tzinfo=UTC) and text["month"] == "2024-01"
    assert messages[f"mt:{ROOM}:3"]["sender_is_staff"] is True
    assert messages[f"mt:{ROOM}:3"]["mention_names"] == ["阿强"]
    image = messages[f"mt:{ROOM}:4"]
    assert (
        image["msgtype"] == "image" and image["text"] is None and json.loads(str(image["raw"]))["Type"] == "3"
    )
    assert (messages[f"mt:{ROOM}:5"]["msgtype"], messages[f"mt:{ROOM}:5"]["text"]) == ("text", "谢谢")
    assert (messages[f"mt:{ROOM}:7"]["msgtype"], messages[f"mt:{ROOM}:7"]["text"]) == ("file", "尺码表.xlsx")
    quote = messages[f"mt:{ROOM}:8"]
    assert (quote["quote_name"], quote["quote_text"], quote["text"]) == (
        "阿强",
        "这件卫衣有M码吗",
        "有的，我穿M正好",
    )
    unknown = messages[f"mt:{ROOM}:9"]
    assert unknown["msgtype"] == "unknown" and "<msg>unknown</msg>" in str(unknown["raw"])
    private = messages["mt:wxid_friend:10"]
    assert (private["group_id"], private["sender_id"]) == (None, "wxid_friend")
    assert messages[f"mt:{ROOM}:1"]["msgtype"] == "system"


def test_system_messages_become_join_facts_with_names_resolved_to_wxids(
    workspace: Workspace, write_csv: WriteCsv
) -> None:
    ingest_files("memotrace", [write_csv("chat.csv", _chat(), "utf-8-sig")], workspace)
    facts = sorted(
        (row["member_id"], row["change"], row["join_scene"], row["invitor"])
        for row in workspace.warehouse.read_table("membership_changes").to_pylist()
    )
    assert facts == [
        ("nick:阿刚", "join", 3, "wxid_xh"),
        ("wxid_aq", "join", 1, "nick:小美"),
        ("wxid_xh", "join", 1, "nick:小美"),
    ]


def test_groups_members_and_staff_are_upserted(workspace: Workspace, write_csv: WriteCsv) -> None:
    ingest_files("memotrace", [write_csv("卫衣福利群.csv", _chat(), "utf-8-sig")], workspace)
    with workspace.database.session() as session:
        groups = {group.id: group for group in session.scalars(select(Group))}
        members = {member.id: member for member in session.scalars(select(Member))}
        staff = {person.id: person.name for person in session.scalars(select(Staff))}
    assert groups[ROOM].name == "卫衣福利群"  # from the file name (MemoTrace names files after the chat)
    assert (members["wxid_aq"].name, members["wxid_xh"].name) == ("阿强", "小红")
    assert members["wxid_aq"].first_seen_at == datetime(2024, 1, 15, 2, 23, 50, tzinfo=UTC)
    assert staff == {"wxid_staff": "客服小美"}
    assert "wxid_staff" not in members


def test_staff_option_marks_listed_senders_as_staff(workspace: Workspace, write_csv: WriteCsv) -> None:
    path = write_csv("chat.csv", _chat(), "utf-8-sig")
    ingest_files("memotrace", [path], workspace, options={"staff": "wxid_xh, other", "group_name": "铁粉群"})
    messages = _messages(workspace)
    assert messages[f"mt:{ROOM}:4"]["sender_is_staff"] is True
    assert messages[f"mt:{ROOM}:2"]["sender_is_staff"] is False
    with workspace.database.session() as session:
        assert session.get(Group, ROOM).name == "铁粉群"  # type: ignore[union-attr]


def test_reimport_and_gb18030_twin_are_duplicates(workspace: Workspace, write_csv: WriteCsv) -> None:
    first = ingest_files("memotrace", [write_csv("a.csv", _chat(), "utf-8-sig")], workspace)
    twin = ingest_files("memotrace", [write_csv("b.csv", _chat(), "gb18030")], workspace)
    assert (first.ingested, twin.ingested, twin.duplicates, twin.quarantined) == (10, 0, 10, 0)
    assert workspace.warehouse.row_count("membership_changes") == 3


def test_gb18030_file_stores_the_same_messages(tmp_path: Path, write_csv: WriteCsv) -> None:
    stored = {}
    for encoding in ("utf-8-sig", "gb18030"):
        workspace = Workspace(Settings(data=tmp_path / encoding))
        ingest_files("memotrace", [write_csv(f"{encoding}.csv", _chat(), encoding)], workspace)
        stored[encoding] = sorted(
            (row["msgid"], row["text"], row["raw"])
            for row in workspace.warehouse.read_table("messages").to_pylist()
        )
        workspace.close()
    assert stored["utf-8-sig"] == stored["gb18030"]


def test_bad_rows_are_quarantined(workspace: Workspace, write_csv: WriteCsv) -> None:
    rows = [
        HEADER,
        _row(1, 1, "ok", "wxid_a", "A"),
        ["", ROOM, 1, 0, 0, T0, 2, "no local id", "", "", "A", "wxid_a"],
        _row(3, 1, "no sender on a group message"),
        [4, ROOM, "text", 0, 0, T0, 2, "bad type", "", "", "A", "wxid_a"],
        [5, ROOM, 1, 0, 0, "yesterday", 2, "bad time", "", "", "A", "wxid_a"],
        [6, ROOM, 1, 0, 0, "", 2, "StrTime fallback", "2024-01-15 10:23:45", "", "A", "wxid_a"],
        _row(7, 1, "'; DROP TABLE messages; -- <script>x</script>", "wxid_a", "A"),
        _row(8, 1, "nul in name", "wxid_n", "bad\x00name"),
        _row(9, 1, "sender id too long", "w" * 300, "B"),
    ]
    report = ingest_files("memotrace", [write_csv("bad.csv", rows, "utf-8-sig")], workspace)
    assert (report.ingested, report.quarantined) == (3, 6)
    reasons = {record["line"]: record["reason"] for record in quarantined(report)}
    assert "column 'localId': empty" in reasons[3]
    assert "column 'Sender': empty" in reasons[4]
    assert "column 'Type': 'text' is not a whole number" in reasons[5]
    assert "column 'CreateTime': 'yesterday'" in reasons[6]
    assert "column 'NickName': contains a NUL character" in reasons[9]
    assert "column 'Sender': longer than 128 characters" in reasons[10]
    messages = _messages(workspace)
    assert messages[f"mt:{ROOM}:6"]["sent_at"] == datetime(2024, 1, 15, 2, 23, 45, tzinfo=UTC)
    assert messages[f"mt:{ROOM}:7"]["text"] == "'; DROP TABLE messages; -- <script>x</script>"


def test_not_a_memotrace_file_names_the_missing_columns(workspace: Workspace, write_csv: WriteCsv) -> None:
    with pytest.raises(InputFormatError, match="localId, TalkerId, Type"):
        ingest_files("memotrace", [write_csv("x.csv", [["a", "b"], ["1", "2"]])], workspace)


def test_membership_changes_in_system_texts() -> None:
    def summary(text: str) -> list[tuple[str, str, str | None, int | None]]:
        return [(c.change, c.member_name, c.by_name, c.join_scene) for c in membership_changes_in(text)]

    assert summary('"小美"邀请"阿强、小红"加入了群聊') == [
        ("join", "阿强", "小美", 1),
        ("join", "小红", "小美", 1),
    ]
    assert summary("“小美”邀请你和“阿强”加入了群聊") == [
        ("join", "self", "小美", 1),
        ("join", "阿强", "小美", 1),
    ]
    assert summary('你邀请"小红"加入了群聊') == [("join", "小红", "self", 1)]
    assert summary('"阿刚"通过扫描"小红"分享的二维码加入群聊') == [("join", "阿刚", "小红", 3)]
    assert summary('"群主"将"广告号"移出了群聊') == [("leave", "广告号", "群主", None)]
    assert summary("你撤回了一条消息") == []


def test_numeric_talker_ids_take_the_group_from_the_file_name_and_app_xml_is_read(
    workspace: Workspace, write_csv: WriteCsv
) -> None:
    quote_xml = (
        '<msg><appmsg appid="" sdkver="0"><title>版型真的绝了 &amp; 显瘦</title><type>57</type>'
        "<refermsg><type>1</type><chatusr>wxid_aq</chatusr><displayname>阿强</displayname>"
        "<content>奶咖色加绒卫衣可以机洗吗</content></refermsg></appmsg></msg>"
    )
    link_xml = "<msg><appmsg><title>秋冬新品上市</title><type>5</type><url>https://x</url></appmsg></msg>"
    rows = [
        HEADER,
        _row(9, 10000, '"小美"邀请"阿强"加入了群聊', talker="20"),
        _row(10, 1, "奶咖色加绒卫衣可以机洗吗", "wxid_aq", "阿强", talker="20", offset=1),
        _row(11, 49, quote_xml, "wxid_xh", "小红", subtype=57, talker="20", offset=2),
        _row(12, 49, link_xml, "wxid_xh", "小红", subtype=5, talker="20", offset=3),
    ]
    report = ingest_files("memotrace", [write_csv(f"{ROOM}.csv", rows, "utf-8-sig")], workspace)
    assert (report.ingested, report.quarantined) == (4, 0)
    messages = _messages(workspace)
    assert set(messages) == {f"mt:{ROOM}:{n}" for n in (9, 10, 11, 12)}
    quote = messages[f"mt:{ROOM}:11"]
    assert (quote["group_id"], quote["msgtype"], quote["text"]) == (ROOM, "text", "版型真的绝了 & 显瘦")
    assert (quote["quote_name"], quote["quote_text"]) == ("阿强", "奶咖色加绒卫衣可以机洗吗")
    assert "refermsg" in str(quote["raw"])
    assert (messages[f"mt:{ROOM}:12"]["msgtype"], messages[f"mt:{ROOM}:12"]["text"]) == (
        "link",
        "秋冬新品上市",
    )
    (fact,) = workspace.warehouse.read_table("membership_changes").to_pylist()
    assert (fact["group_id"], fact["member_id"], fact["invitor"]) == (ROOM, "wxid_aq", "nick:小美")
