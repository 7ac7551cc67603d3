"""``groupops bot``: chat with the bot in a terminal, or run it against WeCom."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from groupops.cli._common import DataOption, JsonOption, console, emit_json, fail_on_errors, settings_for

if TYPE_CHECKING:
    from groupops.bot.console import ConsoleTurn

__all__ = ["register"]

bot_app = typer.Typer(
    help="The group bot: try it in a terminal, or serve WeCom callbacks.", no_args_is_help=True
)

CONSOLE_EPILOG = (
    "Type as a member; every line goes through the real bot, store, outbox and compliance check, and the "
    "bot's messages are printed. Helpers: /join [NAME] join the group (welcome) · /as ID [NAME] speak as "
    "another member · /checkin check in (签到) · /poll [open|close] open the outfit poll or show its results · "
    "/draw announce a draw with its seed commitment, reveal it and verify it · /help · /quit. "
    "Stdin may be piped for a scripted session, e.g. printf '/join 安娜\\n/checkin\\n/quit\\n' | groupops bot console --group G"
)


def _print_turn(turn: ConsoleTurn) -> None:
    for line in turn.lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)


@bot_app.command("console", epilog=CONSOLE_EPILOG)
def console_command(
    group: Annotated[
        str, typer.Option("--group", help="Group id to chat in (created if new).", show_default=False)
    ],
    data: DataOption = None,
    member: Annotated[str, typer.Option("--member", help="Member id you speak as.")] = "wm-console",
    name: Annotated[str, typer.Option("--name", help="Display name of that member.")] = "",
    quiet_hours: Annotated[
        bool, typer.Option("--quiet-hours/--no-quiet-hours", help="Hold unprompted messages in quiet hours.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Chat with the bot as a member of GROUP (reads stdin; /help lists the helpers)."""
    from groupops.bot.console import ConsoleSession, run_console
    from groupops.store.workspace import Workspace

    interactive = sys.stdin.isatty() and not json_output
    with fail_on_errors():
        workspace = Workspace(settings_for(data))
        try:
            session = ConsoleSession(workspace, group, member, name, respect_quiet_hours=quiet_hours)
            if interactive:
                console.print(
                    f"chatting in {group} as {member}; /help for helpers, /quit to leave", markup=False
                )
            run_console(
                session, sys.stdin, (lambda turn: emit_json(turn.to_json())) if json_output else _print_turn
            )
        finally:
            workspace.close()


@bot_app.command("serve")
def serve_command(
    data: DataOption = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on (default: setting host).")
    ] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (default: setting port).")] = None,
    robot_keys: Annotated[
        Path | None,
        typer.Option("--robot-keys", help='YAML mapping group id → robot webhook key ("*" for all others).'),
    ] = None,
    archive_inbox: Annotated[
        Path | None, typer.Option("--archive-inbox", help="Folder of decrypted archive JSON files to pull.")
    ] = None,
    single_process: Annotated[
        bool,
        typer.Option(
            "--single-process",
            help="Apply callbacks in the web process too (default: a separate writer process applies them).",
        ),
    ] = False,
) -> None:
    """Run the WeCom callback receiver (/wecom/callback), the scheduler and the outbox worker.

    By default two processes: the web process verifies and decrypts each callback and a writer
    process applies it (bot core, store, outbox worker, scheduler); WeCom gets its answer after
    the commit. --single-process keeps everything in one process.
    """
    import uvicorn

    from groupops.bot.runtime import ServeOptions, load_robot_keys, serve_app

    with fail_on_errors():
        settings = settings_for(data)
        keys = load_robot_keys(robot_keys) if robot_keys else {}
        options = ServeOptions(settings, keys, archive_inbox)
        app = serve_app(options, writer_process=not single_process)
    uvicorn.run(app, host=host or settings.host, port=port or settings.port, log_level="info")


def register(app: typer.Typer) -> None:
    """Add ``groupops bot``."""
    app.add_typer(bot_app, name="bot")
