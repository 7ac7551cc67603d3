"""Options and output helpers shared by every command module."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from groupops.config import Settings
from groupops.errors import GroupOpsError

__all__ = [
    "DataOption",
    "JsonOption",
    "console",
    "emit_json",
    "emit_json_lines",
    "error_console",
    "fail_on_errors",
    "open_text_input",
    "settings_for",
]

console = Console()
error_console = Console(stderr=True)

DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data", help="Data directory (default: $GROUPOPS_DATA or ./groupops-data).", show_default=False
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON on stdout and nothing else.")
]


def settings_for(data: Path | None) -> Settings:
    """The settings with the ``--data`` override applied."""
    return Settings(data=data) if data is not None else Settings()


def emit_json(payload: Any) -> None:
    """Print one JSON document on stdout (UTF-8, non-ASCII kept)."""
    sys.stdout.write(json.dumps(payload, ensure_ascii=False, default=str) + "\n")


def emit_json_lines(rows: Iterable[Any]) -> None:
    """Print one JSON object per line on stdout."""
    write = sys.stdout.write
    for row in rows:
        write(json.dumps(row, ensure_ascii=False, default=str) + "\n")


@contextmanager
def open_text_input(path: str | None) -> Iterator[IO[str]]:
    """Open FILE, or stdin for ``-``/None, as UTF-8 text (a BOM is skipped)."""
    if path in (None, "-"):
        sys.stdin.reconfigure(encoding="utf-8-sig")  # type: ignore[union-attr]
        yield sys.stdin
        return
    file_path = Path(path)
    if not file_path.is_file():
        raise typer.BadParameter(f"{path}: no such file")
    with file_path.open(encoding="utf-8-sig", errors="replace") as handle:
        yield handle


@contextmanager
def fail_on_errors() -> Iterator[None]:
    """Turn library errors into a red message on stderr and exit code 1."""
    try:
        yield
    except GroupOpsError as error:
        error_console.print(
            f"[red]error:[/red] {escape(str(error))}", markup=True, highlight=False, soft_wrap=True
        )
        raise typer.Exit(1) from error
