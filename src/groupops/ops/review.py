"""The triple review of outgoing content (plan §3.4): self-check → QC → legal → publish.

Every transition runs the compliance checker on the text as it is at that moment and is kept
(who, when, role, verdict, findings, reason) in ``content_transitions`` and the audit log.
A ``violation`` blocks every forward step unless a reviewer or admin overrides it with a
written reason. Legal approval must come from someone other than the QC reviewer. A published
item that turns out to violate (``scan_published``) gets a takedown task due in 3 hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from groupops.errors import ConfigurationError, NotFoundError, PermissionDeniedError
from groupops.store.models import ContentItem, ContentTransition, Task
from groupops.store.workspace import record_audit

__all__ = [
    "REVIEW_STEPS",
    "Actor",
    "ReviewBlockedError",
    "create_content",
    "edit_content",
    "scan_published",
    "transition",
]

MIN_OVERRIDE_REASON = 10


@dataclass(frozen=True)
class Actor:
    """The person acting, as the web layer or CLI knows them."""

    name: str
    role: str


@dataclass(frozen=True)
class ReviewStep:
    """A transition: from which states, to which state, by which roles; forward steps are gated."""

    from_states: tuple[str, ...]
    to_state: str
    roles: tuple[str, ...]
    forward: bool


REVIEW_STEPS: dict[str, ReviewStep] = {
    "self_check": ReviewStep(("draft",), "self_checked", ("operator", "manager", "admin"), True),
    "qc_pass": ReviewStep(("self_checked",), "qc_passed", ("reviewer", "manager", "admin"), True),
    "legal_approve": ReviewStep(("qc_passed",), "legal_approved", ("reviewer", "admin"), True),
    "publish": ReviewStep(("legal_approved",), "published", ("operator", "manager", "admin"), True),
    "reject": ReviewStep(("self_checked", "qc_passed", "legal_approved"), "draft", ("reviewer", "manager", "admin"), False),
    "take_down": ReviewStep(("published",), "taken_down", ("reviewer", "manager", "admin"), False),
}  # fmt: skip

_OVERRIDE_ROLES = ("reviewer", "admin")


class ReviewBlockedError(ConfigurationError):
    """The checker found a violation; only a reviewer's written override lets the item through."""


def _check(item: ContentItem) -> tuple[str, list[dict[str, object]]]:
    from groupops.text.compliance import check_text

    result = check_text(f"{item.title}\n{item.body}")
    return result.verdict, [finding.to_dict() for finding in result.findings]


def create_content(
    session: Session, actor: Actor, title: str, body: str, **fields: str | None
) -> ContentItem:
    """A new draft; the checker runs at once so the author sees findings while writing."""
    if not title.strip() or not body.strip():
        raise ConfigurationError("content needs a title and a body")
    item = ContentItem(title=title, body=body, author=actor.name, state="draft", **fields)
    item.verdict, item.findings = _check(item)
    session.add(item)
    session.flush()
    record_audit(session, actor.name, "content.create", "content_item", str(item.id), verdict=item.verdict)
    return item


def edit_content(session: Session, actor: Actor, item_id: int, title: str, body: str) -> ContentItem:
    """Change a draft's text (only drafts can change: reviewed text stays as reviewed)."""
    item = _item(session, item_id)
    if item.state != "draft":
        raise ConfigurationError(
            f"only drafts can be edited; this item is {item.state} (reject it back first)"
        )
    item.title, item.body, item.updated_at = title, body, datetime.now(UTC)
    item.verdict, item.findings = _check(item)
    record_audit(session, actor.name, "content.edit", "content_item", str(item.id), verdict=item.verdict)
    return item


def _item(session: Session, item_id: int) -> ContentItem:
    item = session.get(ContentItem, item_id)
    if item is None:
        raise NotFoundError(f"content item {item_id} does not exist")
    return item


def _authorise(step: ReviewStep, action: str, item: ContentItem, actor: Actor, session: Session) -> None:
    if actor.role not in step.roles:
        raise PermissionDeniedError(
            f"{action} needs one of the roles {', '.join(step.roles)}; {actor.name} is {actor.role}"
        )
    if item.state not in step.from_states:
        raise ConfigurationError(f"cannot {action} an item that is {item.state}")
    if action == "legal_approve" and actor.role != "admin":
        qc_by = session.scalar(
            select(ContentTransition.actor)
            .where(ContentTransition.item_id == item.id, ContentTransition.action == "qc_pass")
            .order_by(ContentTransition.id.desc())
        )
        if qc_by == actor.name:
            raise PermissionDeniedError("legal approval must come from someone other than the QC reviewer")


def _gate(verdict: str, actor: Actor, override_reason: str | None) -> bool:
    """Whether the step overrides a violation; raises when a violation blocks it."""
    if verdict != "violation":
        return False
    if override_reason is None:
        raise ReviewBlockedError(
            "the compliance checker found a violation: fix the text, or a reviewer overrides with a reason"
        )
    if actor.role not in _OVERRIDE_ROLES:
        raise PermissionDeniedError("only a reviewer or an admin can override a violation")
    if len(override_reason.strip()) < MIN_OVERRIDE_REASON:
        raise ConfigurationError(
            f"an override needs a written reason of at least {MIN_OVERRIDE_REASON} characters"
        )
    return True


def transition(
    session: Session,
    actor: Actor,
    item_id: int,
    action: str,
    *,
    reason: str | None = None,
    override_reason: str | None = None,
) -> ContentItem:
    """Move an item one step; the checker runs, the step is recorded and audited."""
    step = REVIEW_STEPS.get(action)
    if step is None:
        raise ConfigurationError(
            f"unknown review action {action!r}; choose one of: {', '.join(REVIEW_STEPS)}"
        )
    item = _item(session, item_id)
    _authorise(step, action, item, actor, session)
    if action == "reject" and not (reason and reason.strip()):
        raise ConfigurationError("a rejection needs a reason for the author")
    verdict, findings = _check(item)
    overridden = _gate(verdict, actor, override_reason) if step.forward else False
    from_state, now = item.state, datetime.now(UTC)
    item.state, item.verdict, item.findings, item.updated_at = step.to_state, verdict, findings, now
    if step.to_state == "published":
        item.published_at = now
    if step.to_state == "taken_down":
        item.taken_down_at = now
        _close_takedown_tasks(session, item, actor, now)
    session.add(ContentTransition(
        item_id=item.id, action=action, from_state=from_state, to_state=step.to_state, actor=actor.name,
        actor_role=actor.role, at=now, verdict=verdict, findings=findings,
        reason=override_reason if overridden else reason, override=overridden,
    ))  # fmt: skip
    record_audit(
        session, actor.name, f"content.{action}", "content_item", str(item.id),
        from_state=from_state, to_state=step.to_state, verdict=verdict, override=overridden,
    )  # fmt: skip
    return item


def _close_takedown_tasks(session: Session, item: ContentItem, actor: Actor, now: datetime) -> None:
    for task in session.scalars(select(Task).where(Task.id == f"takedown:{item.id}", Task.status == "open")):
        task.status, task.completed_at, task.completed_by = "done", now, actor.name
        task.outcome = "on_time" if now <= task.due_at else "late"


def scan_published(
    session: Session, *, takedown_minutes: int = 180, now: datetime | None = None
) -> list[Task]:
    """Re-check published items; each violating one gets (once) a takedown task due in 3 hours."""
    now = now or datetime.now(UTC)
    created = []
    for item in session.scalars(select(ContentItem).where(ContentItem.state == "published")):
        item.verdict, item.findings = _check(item)
        if item.verdict != "violation" or session.get(Task, f"takedown:{item.id}") is not None:
            continue
        task = Task(
            id=f"takedown:{item.id}", kind="takedown", title=f"Take down: {item.title}"[:256],
            suggestion="; ".join(str(f["reason"]) for f in item.findings)[:2000], group_id=item.group_id,
            target_type="content_item", target_id=str(item.id), due_at=now + timedelta(minutes=takedown_minutes),
            status="open", created_at=now, detail={"findings": item.findings},
        )  # fmt: skip
        session.add(task)
        created.append(task)
        record_audit(
            session,
            "system",
            "content.takedown_task",
            "content_item",
            str(item.id),
            due_at=task.due_at.isoformat(),
        )
    return created
