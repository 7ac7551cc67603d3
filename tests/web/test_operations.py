"""Content review, CS queue, alerts and tasks: real rows in, real figures out, every write audited."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from groupops.accounts import create_user
from groupops.store.models import Alert, AuditLog, ContentItem, Incident, Task, Ticket
from groupops.store.workspace import Workspace
from groupops.web import create_app
from groupops.web.operations import allowed_actions, split_findings

from .conftest import HOSTILE_NAME, HOSTILE_TEXT, PASSWORD, TestClient, csrf_of, login

_USERS = {
    "op": "operator",
    "rev1": "reviewer",
    "rev2": "reviewer",
    "boss": "manager",
    "cs1": "cs",
    "eye": "viewer",
}
VIOLATING = "全网最好的面料，<b>限时</b>抢购"


@pytest.fixture
def ops_workspace(workspace: Workspace) -> Workspace:
    """A fresh workspace (SQLite and PostgreSQL) with one user per name of ``_USERS``."""
    with workspace.database.session() as session:
        for name, role in _USERS.items():
            create_user(session, name, role, PASSWORD, actor="test")
    return workspace


@pytest.fixture
def clients(ops_workspace: Workspace) -> Iterator[Any]:
    app = create_app(ops_workspace)
    opened: list[TestClient] = []

    def open_as(name: str) -> TestClient:
        client = TestClient(app)
        opened.append(client)
        assert login(client, name).status_code == 303
        return client

    yield open_as
    for client in opened:
        client.close()


def _actions(workspace: Workspace) -> list[tuple[str, str, str]]:
    with workspace.database.session() as session:
        rows = session.scalars(select(AuditLog).order_by(AuditLog.id))
        return [(row.actor, row.action, row.target_id) for row in rows]


def _post(client: TestClient, path: str, **fields: Any) -> Any:
    return client.post(path, data={**fields, "csrf_token": csrf_of(client)}, follow_redirects=False)


def _step(client: TestClient, item_id: int, action: str, **fields: str) -> Any:
    return _post(client, f"/content/{item_id}/transition", action=action, **fields)


# -- content review -----------------------------------------------------------------------------


def test_content_goes_through_the_three_review_steps(clients: Any, ops_workspace: Workspace) -> None:
    op, rev1, rev2 = clients("op"), clients("rev1"), clients("rev2")
    created = _post(op, "/content", title="秋季新品", body=VIOLATING, kind="post")
    assert created.status_code == 303
    item_id = int(created.headers["location"].rsplit("/", 1)[1])
    page = op.get(f"/content/{item_id}").text
    assert "&lt;b&gt;限时&lt;/b&gt;" in page and "<b>限时</b>" not in page
    marked = re.findall(
        r'<mark class="finding violation"[^>]*>([^<]+)</mark>', page.split('id="content-body"')[1]
    )
    assert marked and all(term in VIOLATING for term in marked)
    blocked = _step(op, item_id, "self_check")
    assert blocked.status_code == 409 and "violation" in blocked.text
    assert (
        _post(op, f"/content/{item_id}/edit", title="秋季新品", body="柔软的面料，欢迎试穿").status_code
        == 303
    )
    assert _step(op, item_id, "self_check").status_code == 303
    assert _step(rev1, item_id, "qc_pass").status_code == 303
    same = _step(rev1, item_id, "legal_approve")
    assert same.status_code == 403 and "someone other than the QC reviewer" in same.text
    assert _step(rev2, item_id, "legal_approve").status_code == 303
    assert _step(op, item_id, "publish").status_code == 303
    page = op.get(f"/content/{item_id}").text
    assert re.findall(r'<tr data-action="(\w+)">', page) == [
        "self_check",
        "qc_pass",
        "legal_approve",
        "publish",
    ]
    assert 'data-state="published"' in page
    actions = _actions(ops_workspace)
    for expected in [("op", "content.create"), ("op", "content.edit"), ("rev1", "content.qc_pass"),
                     ("rev2", "content.legal_approve"), ("op", "content.publish")]:  # fmt: skip
        assert (*expected, str(item_id)) in actions


def test_reject_needs_a_reason_and_override_needs_a_written_one(
    clients: Any, ops_workspace: Workspace
) -> None:
    op, rev1, boss = clients("op"), clients("rev1"), clients("boss")
    item_id = int(_post(op, "/content", title="标题", body=VIOLATING).headers["location"].rsplit("/", 1)[1])
    assert _step(boss, item_id, "self_check", override_reason="经理想直接放行这条内容").status_code == 403
    assert _step(rev1, item_id, "self_check").status_code == 403  # reviewers do not self-check
    with ops_workspace.database.session() as session:
        session.get(ContentItem, item_id).state = "self_checked"  # type: ignore[union-attr]
    assert _step(rev1, item_id, "qc_pass", override_reason="太短").status_code == 400
    assert (
        _step(rev1, item_id, "qc_pass", override_reason="已与法务确认，属于品牌注册商标用语").status_code
        == 303
    )
    page = rev1.get(f"/content/{item_id}").text
    assert "已与法务确认" in page and "tag override" in page
    assert _step(rev1, item_id, "reject").status_code == 400
    assert _step(rev1, item_id, "reject", reason="请删掉绝对化用语").status_code == 303
    assert "请删掉绝对化用语" in rev1.get(f"/content/{item_id}").text
    assert _step(rev1, item_id, "no_such_step").status_code in (400, 403)


def test_content_queue_filters_by_state_and_refuses_bad_input(clients: Any) -> None:
    op = clients("op")
    assert _post(op, "/content", title="", body="正文").status_code == 400
    _post(op, "/content", title=HOSTILE_NAME, body=HOSTILE_TEXT)
    queue = op.get("/content").text
    assert "&lt;script&gt;alert(&#34;nick&#34;)" in queue and "<script>alert" not in queue
    assert 'data-state="draft"' in queue and re.search(
        r'data-state="draft">[^<]+<span class="count">1<', queue
    )
    assert "<script>alert" not in op.get("/content?state=published").text
    assert op.get("/content/999999").status_code == 404
    assert clients("eye").get("/content").status_code == 200
    assert clients("cs1").get("/content").status_code == 403


def test_content_api_follows_the_review_rules(clients: Any, ops_workspace: Workspace) -> None:
    from groupops.web.tokens import create_api_token

    with ops_workspace.database.session() as session:
        tokens = {name: create_api_token(session, name, "t") for name in ("op", "rev1")}
    client = TestClient(create_app(ops_workspace))
    bearer = {name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()}
    created = client.post("/api/v1/content", json={"title": "t", "body": VIOLATING}, headers=bearer["op"])
    assert created.status_code == 201 and created.json()["verdict"] == "violation"
    item_id = created.json()["id"]
    blocked = client.post(
        f"/api/v1/content/{item_id}/transitions", json={"action": "self_check"}, headers=bearer["op"]
    )
    assert blocked.status_code == 409
    denied = client.post(
        f"/api/v1/content/{item_id}/transitions", json={"action": "self_check"}, headers=bearer["rev1"]
    )
    assert denied.status_code == 403
    listing = client.get("/api/v1/content?state=draft", headers=bearer["rev1"]).json()
    assert [item["id"] for item in listing["items"]] == [item_id]
    assert (
        client.post("/api/v1/content", json={"title": "t", "body": "b"}, headers=bearer["rev1"]).status_code
        == 403
    )


def test_split_findings_and_allowed_actions() -> None:
    findings = [{"start": 0, "end": 2, "severity": "review", "reason": "r"},
                {"start": 5, "end": 7, "severity": "violation", "reason": "r"}]  # fmt: skip
    in_title, in_body = split_findings("标题文字", findings)
    assert in_title == [findings[0]] and in_body[0]["start"] == 0 and in_body[0]["end"] == 2
    assert allowed_actions("reviewer", "self_checked") == ["qc_pass", "reject"]
    assert allowed_actions("operator", "legal_approved") == ["publish"]
    assert allowed_actions("viewer", "draft") == []


# -- CS queue -----------------------------------------------------------------------------------


def _seed_tickets(workspace: Workspace, now: datetime) -> None:
    with workspace.database.session() as session:
        rows = [
            ("t-late", "complaint", HOSTILE_TEXT, now - timedelta(hours=30), now - timedelta(hours=6), None),
            ("t-soon", "question", "请问有 M 码吗", now - timedelta(minutes=5), now + timedelta(minutes=10), None),
            ("t-done", "inquiry", "面料成分？", now - timedelta(hours=5), now - timedelta(hours=2), now - timedelta(hours=4)),
        ]  # fmt: skip
        for ticket_id, kind, text, opened, due, answered in rows:
            session.add(Ticket(
                id=ticket_id, group_id="g-1", member_id="m-1", kind=kind, text=text, opened_at=opened,
                response_due_at=due, first_response_at=answered, first_responder="CS01" if answered else None,
                status="answered" if answered else "open",
            ))  # fmt: skip


def test_cs_queue_counts_down_and_marks_tickets_by_hand(clients: Any, ops_workspace: Workspace) -> None:
    _seed_tickets(ops_workspace, datetime.now(UTC))
    cs = clients("cs1")
    page = cs.get("/tickets").text
    assert '<tr data-ticket="t-late" class="overdue">' in page and "已超时 6h" in page
    assert re.search(r'data-ticket="t-soon" class="">.*?剩 (9|10)m', page, re.S)
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "50.0%" in page.split('id="sla-summary"')[1].split("</section>")[0]  # 1 of 2 decided in time
    assert "t-soon" not in cs.get("/tickets?kind=complaint").text
    assert _post(cs, "/tickets/t-late/status", status="resolved").status_code == 303
    assert _post(cs, "/tickets/t-late/status", status="exploded").status_code == 400
    assert _post(cs, "/tickets/nope/status", status="closed").status_code == 404
    with ops_workspace.database.session() as session:
        ticket = session.get(Ticket, "t-late")
        assert ticket is not None and ticket.status == "resolved" and ticket.status_set_by == "cs1"
    assert ("cs1", "ticket.status", "t-late") in _actions(ops_workspace)
    assert _post(clients("op"), "/tickets/t-soon/status", status="closed").status_code == 403


# -- alerts ------------------------------------------------------------------------------------


def _seed_alerts(workspace: Workspace, now: datetime) -> None:
    with workspace.database.session() as session:
        session.add(Incident(
            id="inc-1", topic="起球<script>", group_ids=["g-1"], first_message_at=now - timedelta(hours=3, minutes=30),
            detected_at=now - timedelta(hours=3), members=7, messages=12, severity="medium", tier="manager",
        ))  # fmt: skip
        session.add(Alert(id="alert-inc-1", kind="incident", level="red", title="起球", raised_at=now))
        session.add(
            Alert(id="drift-1", kind="drift", level="amber", title="degree drift <b>x</b>", raised_at=now)
        )
        session.add(Task(id="takedown:1", kind="takedown", title="Take down: 秋装", due_at=now + timedelta(hours=2),
                         target_type="content_item", target_id="1"))  # fmt: skip
    _seed_tickets(workspace, now)


def test_alerts_page_escalates_and_records_acknowledgements(clients: Any, ops_workspace: Workspace) -> None:
    _seed_alerts(ops_workspace, datetime.now(UTC))
    boss = clients("boss")
    page = boss.get("/alerts").text
    incident = page.split('data-incident="inc-1"')[1].split("</tr>")[0]
    assert 'class="dot red"' in incident  # not responded 3 h after detection (2 h clock)
    assert "已超时 1h" in incident and "起球&lt;script&gt;" in incident
    assert "degree drift &lt;b&gt;x&lt;/b&gt;" in page and 'id="sla-breaches"' in page
    assert "Take down: 秋装" in page
    overview = boss.get("/").text.split('id="alerts-box"')[1]
    assert "未解决舆情事件：1" in overview and "SLA 超时未回复：1" in overview and "待下架内容：1" in overview
    assert _post(boss, "/alerts/drift-1/acknowledge").status_code == 303
    assert _post(boss, "/incidents/inc-1/responded").status_code == 303
    assert _post(boss, "/incidents/inc-1/resolved").status_code == 303
    assert _post(boss, "/alerts/none/acknowledge").status_code == 404
    with ops_workspace.database.session() as session:
        incident_row = session.get(Incident, "inc-1")
        alert = session.get(Alert, "alert-inc-1")
        drift = session.get(Alert, "drift-1")
        assert incident_row is not None and incident_row.resolved_at is not None
        assert alert is not None and alert.level == "green"
        assert drift is not None and drift.acknowledged_by == "boss"
    actions = _actions(ops_workspace)
    for expected in [("boss", "alert.acknowledge", "drift-1"), ("boss", "incident.responded", "inc-1"),
                     ("boss", "incident.resolved", "inc-1")]:  # fmt: skip
        assert expected in actions
    assert _post(clients("eye"), "/alerts/drift-1/acknowledge").status_code == 403
    body = TestClient(create_app(ops_workspace))
    assert body.get("/api/v1/alerts").status_code == 401


# -- tasks --------------------------------------------------------------------------------------


def _seed_tasks(workspace: Workspace, now: datetime) -> None:
    with workspace.database.session() as session:
        for index, (kind, assignee) in enumerate(
            [("care", "op"), ("winback", "op"), ("vip_care", "boss"), ("takedown", None), ("care", "boss")]
        ):
            session.add(Task(id=f"{kind}:m{index}", kind=kind, title=f"任务{index} <i>x</i>", assignee=assignee,
                             suggestion='=HYPERLINK("http://x")' if index == 0 else "问候", member_id=f"m{index}",
                             due_at=now + timedelta(days=index)))  # fmt: skip


def test_tasks_mine_filters_bulk_complete_and_export(clients: Any, ops_workspace: Workspace) -> None:
    _seed_tasks(ops_workspace, datetime.now(UTC))
    op = clients("op")
    mine = op.get("/tasks?mine=true").text
    assert re.findall(r'data-task="([^"]+)"', mine) == ["care:m0", "winback:m1"]
    assert "任务0 &lt;i&gt;x&lt;/i&gt;" in mine
    assert re.findall(r'data-task="([^"]+)"', op.get("/tasks?kind=takedown").text) == ["takedown:m3"]
    assert re.findall(r'data-task="([^"]+)"', op.get("/tasks?assignee=boss").text) == [
        "vip_care:m2",
        "care:m4",
    ]
    refused = op.post("/tasks/complete", data={"task_id": ["care:m0"]}, follow_redirects=False)
    assert refused.status_code == 403
    done = op.post(
        "/tasks/complete",
        data={
            "task_id": ["care:m0", "winback:m1", "no-such"],
            "csrf_token": csrf_of(op),
            "next": "/tasks?mine=true",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/tasks?mine=true&done=2"
    assert "已完成 2 项任务" in op.get(done.headers["location"]).text
    assert re.findall(r'data-task="([^"]+)"', op.get("/tasks?mine=true").text) == []
    assert ("op", "task.done", "care:m0") in _actions(ops_workspace)
    exported = op.get("/tasks.csv?status=done")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["id", "kind", "title"] and {row[0] for row in rows[1:]} == {
        "care:m0",
        "winback:m1",
    }
    assert rows[1][3].startswith("'=")
    assert op.get("/tasks.xlsx").content[:2] == b"PK" and op.get("/tasks.pdf").status_code == 404
    assert op.get("/tasks?kind=<script>").status_code == 200
    assert clients("eye").get("/tasks.csv").status_code == 403


def test_tasks_and_tickets_api(clients: Any, ops_workspace: Workspace) -> None:
    from groupops.web.tokens import create_api_token

    now = datetime.now(UTC)
    _seed_tasks(ops_workspace, now)
    _seed_tickets(ops_workspace, now)
    with ops_workspace.database.session() as session:
        token = {"Authorization": f"Bearer {create_api_token(session, 'boss', 't')}"}
    client = TestClient(create_app(ops_workspace))
    tasks = client.get("/api/v1/tasks?kind=care", headers=token).json()
    assert tasks["total"] == 2 and {task["kind"] for task in tasks["tasks"]} == {"care"}
    assert client.post("/api/v1/tasks/complete", json={"ids": ["care:m4"]}, headers=token).json() == {
        "completed": 1
    }
    assert client.get("/api/v1/tasks?kind=nonsense", headers=token).status_code == 400
    tickets = client.get("/api/v1/tickets?status=open", headers=token).json()
    assert (
        tickets["total"] == 2 and tickets["tickets"][0]["id"] == "t-late" and tickets["tickets"][0]["overdue"]
    )
    sla = client.get("/api/v1/tickets/sla", headers=token).json()
    assert sla["overall"]["tickets"] == 2 and sla["overall"]["within_sla"] == 1
    marked = client.post("/api/v1/tickets/t-soon/status", json={"status": "answered"}, headers=token)
    assert marked.json()["status_set_by"] == "boss"
