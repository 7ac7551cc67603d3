"""The command line starts without the heavy analytics, ML and text libraries."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from groupops.cli import app
from groupops.cli import members as members_cli
from groupops.cli import users as users_cli

HEAVY_MODULES = ("sklearn", "scipy", "pandas", "ibis", "jieba")

runner = CliRunner()


def _heavy_modules_loaded_after(code: str) -> list[str]:
    """Run CODE in a fresh interpreter; the heavy top-level packages it left in ``sys.modules``."""
    script = textwrap.dedent(code) + textwrap.dedent(
        f"""
        import json, sys
        loaded = sorted({{name.partition(".")[0] for name in sys.modules}} & set({list(HEAVY_MODULES)!r}))
        sys.stdout.write("\\n" + json.dumps(loaded) + "\\n")
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr
    loaded: list[str] = json.loads(completed.stdout.strip().splitlines()[-1])
    return loaded


def test_importing_the_cli_loads_no_heavy_library() -> None:
    assert _heavy_modules_loaded_after("import groupops.cli") == []


def test_building_every_command_loads_no_heavy_library() -> None:
    # What `groupops --help` does: resolve every command's parameters (annotations are evaluated).
    code = """
        import typer.main
        from groupops.cli import app
        command = typer.main.get_command(app)
        assert {"run", "kpi", "members", "tasks", "users", "text", "clv", "network"} <= set(command.commands)
    """
    assert _heavy_modules_loaded_after(code) == []


@pytest.mark.parametrize(
    "arguments",
    [
        ["--help"],
        ["run", "--help"],
        ["members", "refresh", "--help"],
        ["tasks", "--help"],
        ["users", "add", "--help"],
        ["wecom", "verify-url", "--help"],
    ],
)
def test_help_loads_no_heavy_library(arguments: list[str]) -> None:
    code = f"""
        from groupops.cli import app
        try:
            app({arguments!r}, prog_name="groupops")
        except SystemExit as exit:
            assert exit.code in (0, None), exit.code
    """
    assert _heavy_modules_loaded_after(code) == []


def test_wecom_usage_error_loads_no_heavy_library() -> None:
    code = """
        from groupops.cli import app
        try:
            app(["wecom", "decrypt", "--token", "t", "--aes-key", "k", "--receive-id", "r",
                 "--timestamp", "1", "--nonce", "n", "--msg-signature", "s"], prog_name="groupops")
        except SystemExit as exit:
            assert exit.code == 2, exit.code
    """
    assert _heavy_modules_loaded_after(code) == []


def test_help_lists_the_library_choices() -> None:
    from groupops.ops.tasks import TASK_KINDS, TASK_STATUSES
    from groupops.store.models import ROLES

    assert users_cli.ROLES == ROLES
    assert (members_cli.TASK_KINDS, members_cli.TASK_STATUSES) == (TASK_KINDS, TASK_STATUSES)
    roles_help = runner.invoke(app, ["users", "add", "--help"], env={"COLUMNS": "300", "NO_COLOR": "1"})
    tasks_help = runner.invoke(app, ["tasks", "--help"], env={"COLUMNS": "300", "NO_COLOR": "1"})
    assert roles_help.exit_code == 0 and tasks_help.exit_code == 0
    assert f"One of: {', '.join(ROLES)}." in roles_help.output
    assert f"One of {', '.join(TASK_KINDS)}." in tasks_help.output
    assert f"One of {', '.join(TASK_STATUSES)}." in tasks_help.output


def test_bad_choices_are_still_usage_errors(tmp_path: Path) -> None:
    for arguments in (
        ["tasks", "--kind", "<script>alert(1)</script>", "--data", str(tmp_path)],
        ["tasks", "--status", "'; DROP TABLE tasks; --", "--data", str(tmp_path)],
        ["funnel", "--mode", "../../etc/passwd", "--data", str(tmp_path)],
        ["retention", "--period", "fortnight", "--data", str(tmp_path)],
        ["kpi", "--engine", "oracle", "--data", str(tmp_path)],
    ):
        result = runner.invoke(app, arguments)
        assert result.exit_code == 2, (arguments, result.output)
