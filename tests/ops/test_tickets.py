from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import select

from groupops.ingest import ingest_files
from groupops.ops.tickets import TicketRules, refresh_tickets, sla_summary
from groupops.store.models import Group, GroupMembership, Ticket
from groupops.store.schemas import FACT_SCHEMAS
from groupops.store.warehouse import LINE_COLUMN
from groupops.store.workspace import Workspace

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
QUOTE_SEPARATOR = "\n- - - - - - - - - - - - - - -\n"

# (minute, msgid, sender, text, labels: (question, complaint, sentiment, intents))
SCRIPT = [
    (0, "a1", "wmA", "请问这件卫衣有S码吗？", (True, False, "neutral", ["size_fit"])),
    (1, "a2", "wmA", "身高160穿什么码", (True, False, "neutral", ["size_fit"])),
    (5, "s1", "CS01", "@小A\u2005有的亲，S码有货", None),
    (60, "b1", "wmB", "什么时候发货呀", (True, False, "neutral", ["logistics"])),
    (100, "s2", "CS01", "今天下午统一发货", None),
    (200, "a3", "wmA", "衣服洗了一次就缩水了，太差了", (False, True, "negative", ["after_sales"])),
    (
        210,
        "s3",
        "CS02",
        "「小A：衣服洗了一次就缩水了，太差了」" + QUOTE_SEPARATOR + "非常抱歉，马上给您换货",
        None,
    ),
    (300, "a4", "wmA", "换货收到了，谢谢，很满意", (False, False, "positive", ["praise"])),
    (400, "c1", "wmC", "这个活动积分怎么兑换？", (True, False, "neutral", ["activity_points"])),
    (405, "s4", "CS01", "在小程序积分商城兑换哦", None),
    (500, "b2", "wmB", "面料起球严重", (False, True, "negative", ["material_care"])),
]


def _archive(tmp_path: Path) -> Path:
    lines = []
    for minute, msgid, sender, text, _ in SCRIPT:
        record = {
            "msgid": msgid, "action": "send", "from": sender, "tolist": [], "roomid": "wr1",
            "msgtime": int((T0 + timedelta(minutes=minute)).timestamp() * 1000), "msgtype": "text",
            "text": {"content": text},
        }  # fmt: skip
        lines.append(json.dumps(record, ensure_ascii=False))
    path = tmp_path / "archive.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _stage_labels(workspace: Workspace) -> None:
    rows = [
        {"msgid": msgid, "group_id": "wr1", "sender_id": sender, "sent_at": T0 + timedelta(minutes=minute),
         "sentiment": labels[2], "score": 0.0, "complaint": labels[1], "question": labels[0],
         "intents": labels[3], "spam": False, "month": "2026-03"}
        for minute, msgid, sender, _, labels in SCRIPT if labels is not None
    ]  # fmt: skip
    table = pa.Table.from_pylist(rows, schema=FACT_SCHEMAS["message_labels"])
    table = table.append_column(LINE_COLUMN, pa.array(range(len(rows)), pa.int64()))
    with workspace.warehouse.staged_import("message_labels") as staged:
        staged.add(table)
        workspace.warehouse.commit(staged)


@pytest.fixture
def fixture_workspace(workspace: Workspace, tmp_path: Path) -> Workspace:
    ingest_files("wecom-archive", [_archive(tmp_path)], workspace)
    _stage_labels(workspace)
    with workspace.database.session() as session:
        session.add(Group(id="wr1", name="核心会员群", kind="core_user"))
        for member, nickname in (("wmA", "小A"), ("wmB", "小B"), ("wmC", "小C")):
            session.add(GroupMembership(group_id="wr1", member_id=member, group_nickname=nickname))
    return workspace


def _tickets(workspace: Workspace) -> dict[str, Ticket]:
    with workspace.database.session() as session:
        return {t.id: t for t in session.scalars(select(Ticket))}


def test_tickets_threads_kinds_and_first_responses_match_the_script(fixture_workspace: Workspace) -> None:
    as_of = T0 + timedelta(days=1)
    assert refresh_tickets(fixture_workspace, TicketRules(), as_of=as_of) == 5
    tickets = _tickets(fixture_workspace)
    assert sorted(tickets) == ["a1", "a3", "b1", "b2", "c1"]
    a1, b1, a3, c1, b2 = (tickets[k] for k in ("a1", "b1", "a3", "c1", "b2"))
    assert (a1.kind, a1.messages, a1.first_responder) == ("inquiry", 2, "CS01")  # a1+a2 threaded; @-mention
    assert a1.first_response_at == T0 + timedelta(minutes=5)
    assert a1.response_due_at == T0 + timedelta(minutes=180)
    assert (b1.kind, b1.first_response_at, b1.status) == (
        "question",
        None,
        "open",
    )  # staff 40 min later: ambiguous
    assert (a3.kind, a3.first_responder) == ("complaint", "CS02")  # quote reply
    assert a3.first_response_at == T0 + timedelta(minutes=210)
    assert a3.resolved_at == T0 + timedelta(minutes=300) and a3.status == "resolved"
    assert a3.resolution_due_at == T0 + timedelta(minutes=200 + 4320)
    assert (c1.first_response_at, c1.first_responder) == (
        T0 + timedelta(minutes=405),
        "CS01",
    )  # unambiguous next
    assert (b2.kind, b2.first_response_at) == ("complaint", None)


def test_sla_summary_counts_exactly(fixture_workspace: Workspace) -> None:
    refresh_tickets(fixture_workspace, TicketRules(), as_of=T0 + timedelta(days=1))
    summary = sla_summary(fixture_workspace, as_of=T0 + timedelta(days=1)).to_json()
    # decided: a1 met, b1 missed (due +15), a3 met, c1 met (5 min), b2 still undecided (due +24 h from 500)
    assert (summary["overall"]["tickets"], summary["overall"]["within_sla"]) == (4, 3)
    assert summary["overall"]["compliance"] == pytest.approx(0.75)
    by_kind = {row["kind"]: row for row in summary["by_kind"]}
    assert (by_kind["question"]["tickets"], by_kind["question"]["within_sla"]) == (2, 1)
    assert {row["id"] for row in summary["unanswered"]} == {"b1", "b2"}
    by_staff = {row["first_responder"]: row["within_sla"] for row in summary["by_staff"]}
    assert by_staff == {"CS01": 2, "CS02": 1, None: 0}


def test_rerun_is_idempotent_and_keeps_statuses_set_by_people(fixture_workspace: Workspace) -> None:
    refresh_tickets(fixture_workspace, TicketRules(), as_of=T0 + timedelta(days=1))
    with fixture_workspace.database.session() as session:
        ticket = session.get(Ticket, "b2")
        assert ticket is not None
        ticket.status, ticket.status_set_by = "resolved", "alice"
    refresh_tickets(fixture_workspace, TicketRules(), as_of=T0 + timedelta(days=2))
    tickets = _tickets(fixture_workspace)
    assert len(tickets) == 5
    assert (tickets["b2"].status, tickets["b2"].status_set_by) == ("resolved", "alice")


def test_old_tickets_leave_the_queue_but_stay_in_the_sla_history(fixture_workspace: Workspace) -> None:
    later = T0 + timedelta(days=30)
    assert refresh_tickets(fixture_workspace, TicketRules(queue_days=14), as_of=later) == 5
    assert _tickets(fixture_workspace) == {}  # the CS queue holds the last 14 days only
    assert (fixture_workspace.settings.marts_dir / "tickets.parquet").exists()
    summary = sla_summary(fixture_workspace, as_of=later).to_json()
    assert (summary["overall"]["tickets"], summary["overall"]["within_sla"]) == (
        5,
        3,
    )  # b2 now decided: missed
    assert summary["overall"]["unanswered"] == 2
