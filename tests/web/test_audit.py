"""Every write made through the web leaves an audit-log row naming the actor."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from groupops.accounts import create_user
from groupops.config import Settings
from groupops.store.models import AuditLog
from groupops.store.workspace import Workspace
from groupops.web import create_app

from .conftest import PASSWORD, TestClient, csrf_of, login


def _actions(workspace: Workspace) -> list[tuple[str, str, str]]:
    with workspace.database.session() as session:
        rows = session.scalars(select(AuditLog).order_by(AuditLog.id))
        return [(row.actor, row.action, row.target_id) for row in rows]


def test_user_and_token_writes_are_audited(workspace: Workspace) -> None:
    with workspace.database.session() as session:
        create_user(session, "root", "admin", PASSWORD, actor="test")
    with TestClient(create_app(workspace)) as client:
        assert login(client, "root").status_code == 303
        token = csrf_of(client)
        client.post("/admin/users", data={"name": "amy", "role": "viewer", "csrf_token": token})
        client.post("/admin/users/amy/role", data={"role": "operator", "csrf_token": token})
        client.post("/admin/users/amy/active", data={"active": "false", "csrf_token": token})
        client.post("/account/tokens", data={"name": "ci", "csrf_token": token})
        client.post("/account/tokens/1/revoke", data={"csrf_token": token})
        refused = client.post("/admin/users/root/role", data={"role": "viewer", "csrf_token": token})
        assert refused.status_code == 400  # the last admin keeps the role
        audit_page = client.get("/admin/audit").text
    actions = _actions(workspace)
    for expected in [
        ("root", "login.success", "root"),
        ("root", "user.create", "amy"),
        ("root", "user.role", "amy"),
        ("root", "user.disable", "amy"),
        ("root", "token.create", "root"),
        ("root", "token.revoke", "1"),
    ]:
        assert expected in actions
    assert not any(action == "user.role" and target == "root" for _actor, action, target in actions)
    assert "user.disable" in audit_page


def test_failed_logins_are_audited(sqlite_workspace: Workspace) -> None:
    with TestClient(create_app(sqlite_workspace)) as client:
        login(client, "<script>x</script>", "nope-nope-nope")
    assert ("<script>x</script>", "login.failure", "<script>x</script>") in _actions(sqlite_workspace)


def test_created_users_password_shown_once_and_usable(tmp_path: Path) -> None:
    workspace = Workspace(Settings(data=tmp_path / "data"))
    with workspace.database.session() as session:
        create_user(session, "root", "admin", PASSWORD)
    app = create_app(workspace)
    with TestClient(app) as admin:
        login(admin, "root")
        page = admin.post(
            "/admin/users", data={"name": "newbie", "role": "cs", "csrf_token": csrf_of(admin)}
        ).text
        password = page.split("<code>")[1].split("</code>")[0]
        bad = admin.post("/admin/users", data={"name": "x y<", "role": "cs", "csrf_token": csrf_of(admin)})
        assert bad.status_code == 400 and "x y&lt;" not in bad.text
    with TestClient(app) as newbie:
        assert login(newbie, "newbie", password).status_code == 303
        assert newbie.get("/admin/users").status_code == 403
    workspace.close()
