"""Tasks: mine or everyone's, filtered by kind, status and assignee; bulk complete; export."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from groupops.web.auth import Principal, require
from groupops.web.context import render, web_context
from groupops.web.export import TABLE_FORMATS, table_response
from groupops.web.operations import TASK_FILTER_KINDS, TASK_FILTER_STATUSES, complete_tasks, task_rows

router = APIRouter(include_in_schema=False)

MAX_BULK = 500
_EXPORT_COLUMNS = (
    "id", "kind", "title", "suggestion", "member_id", "group_id", "step", "assignee", "due_at", "status",
    "outcome", "completed_at", "completed_by", "created_at",
)  # fmt: skip
_EXPORT_LIMIT = 200_000

KindQuery = Annotated[str, Query(max_length=16)]
StatusQuery = Annotated[str, Query(max_length=16)]
AssigneeQuery = Annotated[str, Query(max_length=64)]


def _filters(kind: str, status: str, assignee: str, mine: bool, principal: Principal) -> dict[str, str]:
    return {
        "kind": kind if kind in TASK_FILTER_KINDS else "",
        "status": status if status in TASK_FILTER_STATUSES else "",
        "assignee": principal.name if mine else assignee,
    }


@router.get("/tasks")
def tasks_page(
    request: Request,
    principal: Annotated[Principal, Depends(require("tasks.view"))],
    kind: KindQuery = "",
    status: StatusQuery = "open",
    assignee: AssigneeQuery = "",
    mine: bool = False,
    done: Annotated[int, Query(ge=0, le=MAX_BULK)] = 0,
) -> Response:
    chosen = _filters(kind, status, assignee, mine, principal)
    rows, total = task_rows(
        web_context(request).workspace,
        kind=chosen["kind"],
        status=chosen["status"],
        assignee=chosen["assignee"],
    )
    export_query = urlencode({key: value for key, value in chosen.items() if value})
    return render(
        request, "tasks.html", principal, tasks=rows, total=total, kinds=TASK_FILTER_KINDS,
        statuses=TASK_FILTER_STATUSES, mine=mine, completed=done, export_query=export_query,
        kind=chosen["kind"], status=chosen["status"], assignee=chosen["assignee"],
    )  # fmt: skip


@router.post("/tasks/complete")
def tasks_complete(
    request: Request,
    principal: Annotated[Principal, Depends(require("tasks.manage"))],
    task_ids: Annotated[list[str] | None, Form(alias="task_id")] = None,
    next: Annotated[str, Form(max_length=512)] = "/tasks",
) -> Response:
    chosen = [task_id[:160] for task_id in (task_ids or [])][:MAX_BULK]
    completed = complete_tasks(web_context(request).workspace, chosen, principal.name) if chosen else 0
    target = next if next.startswith("/tasks") and not next.startswith("//") else "/tasks"
    separator = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{separator}done={completed}", status_code=303)


@router.get("/tasks.{fmt}")
def tasks_export(
    request: Request,
    fmt: str,
    principal: Annotated[Principal, Depends(require("data.export"))],
    kind: KindQuery = "",
    status: StatusQuery = "",
    assignee: AssigneeQuery = "",
    mine: bool = False,
) -> Response:
    if fmt not in TABLE_FORMATS:
        return Response(status_code=404)
    rows, _total = task_rows(
        web_context(request).workspace,
        **_filters(kind, status, assignee, mine, principal),
        limit=_EXPORT_LIMIT,
    )
    return table_response(fmt, "tasks", _EXPORT_COLUMNS, rows)
