"""Write docs/cli.md from the commands' own --help text: python scripts/cli_reference.py."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer.main
from typer.testing import CliRunner

from groupops.cli import app

DOCS = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def command_paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and subcommand path, in registration order."""
    if path:
        yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from command_paths(sub, (*path, name))


def help_text(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(
        app, [*path, "--help"], env={"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
    )
    return "\n".join(line.rstrip() for line in result.output.strip().splitlines())


def reference() -> str:
    parts = [
        "# Command-line reference",
        "",
        "Generated from each command's `--help` by `python scripts/cli_reference.py`; "
        "`tests/test_docs.py` fails when a command is missing here.",
        "",
    ]
    for path in command_paths(typer.main.get_command(app)):
        parts += [f"## groupops {' '.join(path)}", "", "```text", help_text(path), "```", ""]
    return "\n".join(parts)


if __name__ == "__main__":
    DOCS.write_text(reference(), encoding="utf-8")
    sys.stdout.write(f"wrote {DOCS}\n")
