from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
from sqlalchemy import select

from groupops.ops.incidents import IncidentRules, detect_incidents, refresh_incidents, topic_of
from groupops.store.models import Alert, Incident
from groupops.store.schemas import FACT_SCHEMAS
from groupops.store.warehouse import LINE_COLUMN
from groupops.store.workspace import Workspace

T0 = datetime(2026, 5, 1, 4, 0, tzinfo=UTC)


def _stage(workspace: Workspace, rows: list[tuple[int, str, str, str, str]]) -> None:
    """rows: (minute, msgid, group, member, text); all negative complaints."""
    messages = [
        {"msgid": msgid, "source": "wecom-archive", "action": "send", "group_id": group, "sender_id": member,
         "sender_is_staff": False, "sent_at": T0 + timedelta(minutes=minute), "msgtype": "text", "text": text,
         "mention_names": [], "quote_name": None, "quote_text": None, "recalled_msgid": None, "revoked": False,
         "raw": None, "month": "2026-05"}
        for minute, msgid, group, member, text in rows
    ]  # fmt: skip
    labels = [
        {"msgid": m["msgid"], "group_id": m["group_id"], "sender_id": m["sender_id"], "sent_at": m["sent_at"],
         "sentiment": "negative", "score": -0.8, "complaint": True, "question": False, "intents": ["after_sales"],
         "spam": False, "month": "2026-05"}
        for m in messages
    ]  # fmt: skip
    for table_name, records in (("messages", messages), ("message_labels", labels)):
        table = pa.Table.from_pylist(records, schema=FACT_SCHEMAS[table_name])
        table = table.append_column(LINE_COLUMN, pa.array(range(len(records)), pa.int64()))
        with workspace.warehouse.staged_import(table_name) as staged:
            staged.add(table)
            workspace.warehouse.commit(staged)


DEFECT = [
    (0, "d1", "wr1", "wm1", "刚买的毛衣穿一次就起球了"),
    (12, "d2", "wr2", "wm2", "我的也起球，质量太差"),
    (25, "d3", "wr1", "wm3", "同款起毛球严重，怎么处理"),
    (31, "d4", "wr1", "wm1", "客服在吗？起球这个怎么说"),
    (40, "d5", "wr3", "wm4", "起球+1"),
    (55, "d6", "wr2", "wm5", "一洗就起球"),
]
SCATTERED = [
    (0, "n1", "wr1", "wm7", "快递太慢了还没到"),
    (300, "n2", "wr2", "wm8", "物流慢死了"),
    (900, "n3", "wr3", "wm9", "等了一周还没到"),
    (120, "n4", "wr1", "wm10", "颜色和图片不一样，有色差"),
]


def test_a_defect_spike_becomes_one_incident_detected_at_the_third_member(
    sqlite_workspace: Workspace,
) -> None:
    _stage(sqlite_workspace, DEFECT + SCATTERED)
    incidents = detect_incidents(sqlite_workspace.warehouse, IncidentRules())
    assert [i.topic for i in incidents] == ["pilling"]
    incident = incidents[0]
    assert incident.first_message_at == T0
    assert incident.detected_at == T0 + timedelta(minutes=25)  # wm3 is the third distinct member
    assert (len(incident.members), incident.messages, sorted(incident.groups)) == (
        5,
        6,
        ["wr1", "wr2", "wr3"],
    )
    assert incident.severity(IncidentRules()) == ("low", "cs")
    assert incident.severity(IncidentRules(medium_members=5)) == ("medium", "manager")


def test_refresh_stores_incident_and_escalating_alert_idempotently(workspace: Workspace) -> None:
    _stage(workspace, DEFECT)
    assert refresh_incidents(workspace, now=T0 + timedelta(minutes=60)) == 1
    assert refresh_incidents(workspace, now=T0 + timedelta(hours=3)) == 1
    with workspace.database.session() as session:
        incident = session.scalars(select(Incident)).one()
        alert = session.scalars(select(Alert)).one()
        assert (incident.topic, incident.members, incident.tier) == ("pilling", 5, "cs")
        assert alert.kind == "incident" and alert.level == "red"  # not responded within 2 h of detection
        incident.responded_at = T0 + timedelta(minutes=50)
    refresh_incidents(workspace, now=T0 + timedelta(hours=3))
    with workspace.database.session() as session:
        assert session.scalars(select(Alert)).one().level == "amber"
        assert session.scalars(select(Incident)).one().responded_at is not None


def test_topics_from_terms_traditional_text_and_intents() -> None:
    assert topic_of("衣服起球了", None) == "pilling"
    assert topic_of("衣服掉色嚴重", None) == "fading"
    assert topic_of("不开心", ["logistics"]) == "logistics"
    assert topic_of("不开心", []) is None


def test_quiet_archive_has_no_incident(sqlite_workspace: Workspace) -> None:
    _stage(sqlite_workspace, SCATTERED)
    assert detect_incidents(sqlite_workspace.warehouse) == []
