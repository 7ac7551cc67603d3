"""``groupops users token``: create an API bearer token for a user (shown once)."""

from __future__ import annotations

from typing import Annotated

import typer

from groupops.cli._common import DataOption, JsonOption, console, emit_json, fail_on_errors, settings_for


def token_command(
    name: Annotated[str, typer.Argument(help="The user the token acts as.")],
    label: Annotated[str, typer.Option("--label", help="A name to recognise the token by.")] = "",
    data: DataOption = None,
    json_output: JsonOption = False,
) -> None:
    """Create a bearer token for /api/v1 acting as NAME with NAME's role; it is printed once."""
    from groupops.store.workspace import Workspace
    from groupops.web.tokens import create_api_token

    workspace = Workspace(settings_for(data))
    with fail_on_errors(), workspace.database.session() as session:
        token = create_api_token(session, name, label)
    if json_output:
        emit_json({"user": name, "label": label, "token": token})
    else:
        console.print(f"Token for [bold]{name}[/bold] (shown once): {token}", soft_wrap=True, highlight=False)


def register(app: typer.Typer) -> None:
    from groupops.cli.users import users_app

    users_app.command("token")(token_command)
