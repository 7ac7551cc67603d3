"""``groupops users``: manage the people who sign in."""

from __future__ import annotations

from typing import Annotated

import typer

from groupops.cli._common import DataOption, JsonOption, console, emit_json, fail_on_errors, settings_for
from groupops.roles import ROLES

users_app = typer.Typer(
    help="Users and roles (admin, manager, operator, reviewer, cs, viewer).", no_args_is_help=True
)


@users_app.command("add")
def add_user(
    name: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option("--role", help=f"One of: {', '.join(ROLES)}.")],
    password: Annotated[
        str | None,
        typer.Option("--password", help="Password (at least 10 characters); generated when omitted."),
    ] = None,
    data: DataOption = None,
    json_output: JsonOption = False,
) -> None:
    """Create a user; prints the generated password once when none is given."""
    from groupops.accounts import create_user
    from groupops.store.workspace import Workspace

    workspace = Workspace(settings_for(data))
    with fail_on_errors(), workspace.database.session() as session:
        created_password = create_user(session, name, role, password)
    if json_output:
        emit_json({"name": name, "role": role, "password": None if password else created_password})
    elif password:
        console.print(f"User [bold]{name}[/bold] ({role}) created.")
    else:
        console.print(f"User [bold]{name}[/bold] ({role}) created. Password (shown once): {created_password}")


@users_app.command("passwd")
def reset_user_password(
    name: Annotated[str, typer.Argument(help="Login name.")],
    password: Annotated[
        str | None,
        typer.Option("--password", help="New password (at least 10 characters); generated when omitted."),
    ] = None,
    data: DataOption = None,
    json_output: JsonOption = False,
) -> None:
    """Set a new password for NAME; prints the generated one once when none is given."""
    from groupops.accounts import reset_password
    from groupops.store.workspace import Workspace

    workspace = Workspace(settings_for(data))
    with fail_on_errors(), workspace.database.session() as session:
        new_password = reset_password(session, name, password)
    if json_output:
        emit_json({"name": name, "password": None if password else new_password})
    elif password:
        console.print(f"Password of [bold]{name}[/bold] changed.")
    else:
        console.print(f"New password of [bold]{name}[/bold] (shown once): {new_password}")


@users_app.command("list")
def list_users(data: DataOption = None, json_output: JsonOption = False) -> None:
    """List users and their roles."""
    from sqlalchemy import select

    from groupops.store.models import User
    from groupops.store.workspace import Workspace

    workspace = Workspace(settings_for(data))
    with workspace.database.session() as session:
        rows = [{"name": u.name, "role": u.role, "active": u.active} for u in session.scalars(select(User))]
    if json_output:
        emit_json(rows)
        return
    for row in rows:
        console.print(f"{row['name']}\t{row['role']}\t{'active' if row['active'] else 'disabled'}")


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
