"""Docs that cannot rot: every command has a reference section, every README link resolves."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import typer.main

from groupops.cli import app

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from cli_reference import command_paths  # noqa: E402


def test_every_command_has_a_section_in_the_cli_reference() -> None:
    reference = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^## (groupops .+)$", reference, flags=re.MULTILINE))
    missing = [
        f"groupops {' '.join(path)}"
        for path in command_paths(typer.main.get_command(app))
        if f"groupops {' '.join(path)}" not in headings
    ]
    assert not missing, f"run `python scripts/cli_reference.py`; docs/cli.md lacks {missing}"


def test_readme_links_point_at_files_that_exist() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(((?:docs|scripts)/[^)#]+)\)", readme)
    assert targets
    assert [target for target in targets if not (ROOT / target).exists()] == []
