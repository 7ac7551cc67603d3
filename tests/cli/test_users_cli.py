from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from groupops.accounts import authenticate
from groupops.cli import app
from groupops.config import Settings
from groupops.store.workspace import Workspace

runner = CliRunner()


def test_users_add_generates_a_password_that_signs_in(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["users", "add", "alice", "--role", "manager", "--data", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert created["role"] == "manager" and len(created["password"]) >= 16
    workspace = Workspace(Settings(data=tmp_path))
    with workspace.database.session() as session:
        assert authenticate(session, "alice", created["password"]) is not None
        assert authenticate(session, "alice", "wrong-password") is None


def test_users_add_refuses_bad_role_duplicate_and_short_password(tmp_path: Path) -> None:
    data = ["--data", str(tmp_path)]
    assert runner.invoke(app, ["users", "add", "bob", "--role", "overlord", *data]).exit_code == 1
    assert (
        runner.invoke(app, ["users", "add", "bob", "--role", "cs", "--password", "short", *data]).exit_code
        == 1
    )
    assert (
        runner.invoke(
            app, ["users", "add", "bob", "--role", "cs", "--password", "long-enough-pw", *data]
        ).exit_code
        == 0
    )
    duplicate = runner.invoke(app, ["users", "add", "bob", "--role", "cs", *data])
    assert duplicate.exit_code == 1 and "already exists" in duplicate.output
    hostile = runner.invoke(app, ["users", "add", "<script>", "--role", "cs", *data])
    assert hostile.exit_code == 1


def test_users_passwd_sets_a_new_password(tmp_path: Path) -> None:
    data = ["--data", str(tmp_path)]
    assert (
        runner.invoke(
            app, ["users", "add", "carol", "--role", "viewer", "--password", "first-password", *data]
        ).exit_code
        == 0
    )
    result = runner.invoke(app, ["users", "passwd", "carol", "--json", *data])
    assert result.exit_code == 0, result.output
    new_password = json.loads(result.stdout)["password"]
    workspace = Workspace(Settings(data=tmp_path))
    with workspace.database.session() as session:
        assert authenticate(session, "carol", new_password) is not None
        assert authenticate(session, "carol", "first-password") is None
    assert runner.invoke(app, ["users", "passwd", "nobody", *data]).exit_code == 1
