"""Content review: the queue by state, one item with inline findings, and its review steps."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from groupops.errors import ConfigurationError, PermissionDeniedError
from groupops.ops.review import Actor, ReviewBlockedError, create_content, edit_content, transition
from groupops.web.auth import Principal, require
from groupops.web.context import render, web_context
from groupops.web.operations import (
    CONTENT_STATES,
    allowed_actions,
    content_detail,
    content_items,
    content_state_counts,
)

router = APIRouter(include_in_schema=False)

CONTENT_KINDS = ("post", "product", "promotion", "poster")
MAX_TITLE = 256
MAX_BODY = 20_000
MAX_REASON = 2_000


def _actor(principal: Principal) -> Actor:
    return Actor(principal.name, principal.role)


def _queue(
    request: Request, principal: Principal, state: str, status_code: int = 200, error: str | None = None
) -> Response:
    with web_context(request).workspace.database.session() as session:
        items, counts = content_items(session, state or None), content_state_counts(session)
    return render(
        request, "content.html", principal, status_code=status_code, items=items, counts=counts,
        states=CONTENT_STATES, state=state, kinds=CONTENT_KINDS, error=error,
    )  # fmt: skip


def _item_page(
    request: Request, principal: Principal, item_id: int, status_code: int = 200, error: str | None = None
) -> Response:
    with web_context(request).workspace.database.session() as session:
        item = content_detail(session, item_id)
    return render(
        request, "content_item.html", principal, status_code=status_code, item=item, error=error,
        actions=allowed_actions(principal.role, item["state"]),
    )  # fmt: skip


@router.get("/content")
def content_queue(
    request: Request,
    principal: Annotated[Principal, Depends(require("content.view"))],
    state: Annotated[str, Query(max_length=24)] = "",
) -> Response:
    return _queue(request, principal, state if state in CONTENT_STATES else "")


@router.post("/content")
def content_create(
    request: Request,
    principal: Annotated[Principal, Depends(require("content.write"))],
    title: Annotated[str, Form(max_length=MAX_TITLE)] = "",
    body: Annotated[str, Form(max_length=MAX_BODY)] = "",
    kind: Annotated[str, Form(max_length=16)] = "post",
    group_id: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    try:
        with web_context(request).workspace.database.session() as session:
            item = create_content(
                session, _actor(principal), title, body,
                kind=kind if kind in CONTENT_KINDS else "post", group_id=group_id.strip() or None,
            )  # fmt: skip
            item_id = item.id
    except ConfigurationError as error:
        return _queue(request, principal, "", 400, str(error))
    return RedirectResponse(f"/content/{item_id}", status_code=303)


@router.get("/content/{item_id}")
def content_item(
    request: Request, item_id: int, principal: Annotated[Principal, Depends(require("content.view"))]
) -> Response:
    return _item_page(request, principal, item_id)


@router.post("/content/{item_id}/edit")
def content_edit(
    request: Request,
    item_id: int,
    principal: Annotated[Principal, Depends(require("content.write"))],
    title: Annotated[str, Form(max_length=MAX_TITLE)] = "",
    body: Annotated[str, Form(max_length=MAX_BODY)] = "",
) -> Response:
    if not title.strip() or not body.strip():
        return _item_page(request, principal, item_id, 400, "content needs a title and a body")
    try:
        with web_context(request).workspace.database.session() as session:
            edit_content(session, _actor(principal), item_id, title, body)
    except ConfigurationError as error:
        return _item_page(request, principal, item_id, 400, str(error))
    return RedirectResponse(f"/content/{item_id}", status_code=303)


@router.post("/content/{item_id}/transition")
def content_transition(
    request: Request,
    item_id: int,
    principal: Annotated[Principal, Depends(require("content.review"))],
    action: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str, Form(max_length=MAX_REASON)] = "",
    override_reason: Annotated[str, Form(max_length=MAX_REASON)] = "",
) -> Response:
    try:
        with web_context(request).workspace.database.session() as session:
            transition(
                session, _actor(principal), item_id, action,
                reason=reason.strip() or None, override_reason=override_reason.strip() or None,
            )  # fmt: skip
    except PermissionDeniedError as error:
        return _item_page(request, principal, item_id, 403, str(error))
    except ReviewBlockedError as error:
        return _item_page(request, principal, item_id, 409, str(error))
    except ConfigurationError as error:
        return _item_page(request, principal, item_id, 400, str(error))
    return RedirectResponse(f"/content/{item_id}", status_code=303)
