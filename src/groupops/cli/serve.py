"""``groupops serve``: the web UI and API (uvicorn)."""

from __future__ import annotations

from typing import Annotated

import typer

from groupops.cli._common import DataOption, console, fail_on_errors, settings_for


def serve_command(
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on (default: the host setting).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", min=1, max=65535, help="Port to listen on (default: the port setting)."),
    ] = None,
    data: DataOption = None,
) -> None:
    """Serve the dashboard and /api/v1 until interrupted."""
    import uvicorn

    from groupops.web import create_app

    settings = settings_for(data)
    with fail_on_errors():
        app = create_app(settings)
    bind_host, bind_port = host or settings.host, port or settings.port
    console.print(f"GroupOps on http://{bind_host}:{bind_port}/ (data: {settings.data})")
    uvicorn.run(app, host=bind_host, port=bind_port, log_level="info", proxy_headers=False)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
