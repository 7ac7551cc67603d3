from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from groupops.errors import ConfigurationError, NotFoundError, PermissionDeniedError
from groupops.ops.review import (
    Actor,
    ReviewBlockedError,
    create_content,
    edit_content,
    scan_published,
    transition,
)
from groupops.store.models import AuditLog, ContentItem, ContentTransition, Task
from groupops.store.workspace import Workspace

EDITOR = Actor("li", "operator")
QC = Actor("wang", "reviewer")
LEGAL = Actor("zhao", "reviewer")
MANAGER = Actor("chen", "manager")
CLEAN = ("羊毛大衣上新", "新款羊毛大衣，面料柔软保暖，今晚8点上新")
VIOLATING = ("羽绒服", "全网最低价，史上最好的羽绒服")


def test_clean_item_goes_through_three_reviews_and_is_published_with_every_step_audited(
    workspace: Workspace,
) -> None:
    with workspace.database.session() as session:
        item = create_content(session, EDITOR, *CLEAN)
        item_id = item.id
        for actor, action in (
            (EDITOR, "self_check"),
            (QC, "qc_pass"),
            (LEGAL, "legal_approve"),
            (EDITOR, "publish"),
        ):
            transition(session, actor, item_id, action)
    with workspace.database.session() as session:
        item = session.get(ContentItem, item_id)
        assert item is not None and item.state == "published" and item.published_at is not None
        steps = session.scalars(select(ContentTransition).order_by(ContentTransition.id)).all()
        assert [(s.actor, s.from_state, s.to_state, s.verdict) for s in steps] == [
            ("li", "draft", "self_checked", "clean"),
            ("wang", "self_checked", "qc_passed", "clean"),
            ("zhao", "qc_passed", "legal_approved", "clean"),
            ("li", "legal_approved", "published", "clean"),
        ]
        actions = session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
        assert actions == [
            "content.create",
            "content.self_check",
            "content.qc_pass",
            "content.legal_approve",
            "content.publish",
        ]


def test_violation_blocks_until_a_reviewer_overrides_with_a_reason(workspace: Workspace) -> None:
    with workspace.database.session() as session:
        item_id = create_content(session, EDITOR, *VIOLATING).id
        with pytest.raises(ReviewBlockedError):
            transition(session, EDITOR, item_id, "self_check")
        with pytest.raises(PermissionDeniedError, match="only a reviewer"):
            transition(session, EDITOR, item_id, "self_check", override_reason="我觉得没问题，先发了再说")
    with workspace.database.session() as session:
        item = session.get(ContentItem, item_id)
        assert item is not None and item.state == "draft" and item.verdict == "violation"
        assert {f["category"] for f in item.findings} >= {"absolute"}
        edit_content(session, EDITOR, item_id, "羽绒服", "轻薄保暖的羽绒服，限时优惠")
        transition(session, EDITOR, item_id, "self_check")
        assert session.get(ContentItem, item_id).state == "self_checked"  # type: ignore[union-attr]


def test_override_is_recorded_with_its_reason(workspace: Workspace) -> None:
    with workspace.database.session() as session:
        item_id = create_content(session, EDITOR, *VIOLATING).id
        with pytest.raises(ConfigurationError, match="at least"):
            transition(session, Actor("admin", "admin"), item_id, "self_check", override_reason="ok")
        transition(
            session,
            Actor("admin", "admin"),
            item_id,
            "self_check",
            override_reason="法务已确认有第三方检测报告支持该说法",
        )
        step = session.scalars(select(ContentTransition)).one()
        assert step.override is True and "第三方检测报告" in (step.reason or "")


def test_roles_states_and_four_eyes(workspace: Workspace) -> None:
    with workspace.database.session() as session:
        item_id = create_content(session, EDITOR, *CLEAN).id
        with pytest.raises(PermissionDeniedError):
            transition(session, EDITOR, item_id, "qc_pass")
        with pytest.raises(ConfigurationError, match="cannot qc_pass"):
            transition(session, QC, item_id, "qc_pass")
        transition(session, EDITOR, item_id, "self_check")
        transition(session, QC, item_id, "qc_pass")
        with pytest.raises(PermissionDeniedError, match="someone other than the QC reviewer"):
            transition(session, QC, item_id, "legal_approve")
        with pytest.raises(ConfigurationError, match="reason"):
            transition(session, LEGAL, item_id, "reject")
        transition(session, LEGAL, item_id, "reject", reason="价格表述需附原价依据")
        assert session.get(ContentItem, item_id).state == "draft"  # type: ignore[union-attr]
        with pytest.raises(ConfigurationError, match="unknown review action"):
            transition(session, LEGAL, item_id, "approve_everything")
        with pytest.raises(NotFoundError):
            transition(session, LEGAL, 9999, "reject", reason="x")
        with pytest.raises(ConfigurationError, match="only drafts"):
            transition(session, EDITOR, item_id, "self_check")
            edit_content(session, EDITOR, item_id, "t", "b")


def test_published_violation_gets_one_takedown_task_due_in_three_hours(workspace: Workspace) -> None:
    now = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
    with workspace.database.session() as session:
        item = create_content(session, EDITOR, *CLEAN)
        for actor, action in (
            (EDITOR, "self_check"),
            (QC, "qc_pass"),
            (LEGAL, "legal_approve"),
            (MANAGER, "publish"),
        ):
            transition(session, actor, item.id, action)
        item.body = "史上最好的大衣，穿上能防癌"  # e.g. edited outside GroupOps, or the lexicon grew
        assert [t.id for t in scan_published(session, now=now)] == [f"takedown:{item.id}"]
        assert scan_published(session, now=now) == []
        task = session.get(Task, f"takedown:{item.id}")
        assert task is not None and task.due_at == now + timedelta(hours=3) and task.status == "open"
        transition(session, LEGAL, item.id, "take_down")
        assert task.status == "done" and task.completed_by == "zhao"
