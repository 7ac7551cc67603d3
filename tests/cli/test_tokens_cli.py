"""``groupops users token`` and ``groupops serve --help``."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from groupops.cli import app
from groupops.config import Settings
from groupops.store.models.web import ApiToken
from groupops.store.workspace import Workspace
from groupops.web.tokens import hash_token, user_for_token

runner = CliRunner()


def test_token_is_printed_once_and_stored_hashed(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    assert runner.invoke(app, ["users", "add", "ops", "--role", "operator", "--data", data]).exit_code == 0
    result = runner.invoke(app, ["users", "token", "ops", "--label", "ci", "--data", data, "--json"])
    assert result.exit_code == 0, result.output
    token = json.loads(result.stdout)["token"]
    workspace = Workspace(Settings(data=tmp_path / "data"))
    with workspace.database.session() as session:
        stored = session.scalar(select(ApiToken))
        assert (
            stored is not None and stored.token_hash == hash_token(token) and token not in stored.token_hash
        )
        user = user_for_token(session, token)
        assert user is not None and user.name == "ops"
    workspace.close()


def test_token_for_unknown_user_fails(tmp_path: Path) -> None:
    result = runner.invoke(app, ["users", "token", "ghost", "--data", str(tmp_path / "data")])
    assert result.exit_code == 1 and "ghost" in result.output


def test_serve_help_names_its_options() -> None:
    result = runner.invoke(app, ["serve", "--help"])
    assert result.exit_code == 0 and "--host" in result.output and "--port" in result.output
