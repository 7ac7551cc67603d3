"""The public API of ``groupops.wecom`` and its purity (no store, no settings, no web)."""

from __future__ import annotations

import ast
from pathlib import Path

import groupops.wecom as wecom

SOURCE = Path(wecom.__file__).parent


def test_every_exported_name_exists() -> None:
    assert sorted(wecom.__all__) == wecom.__all__
    for name in wecom.__all__:
        assert hasattr(wecom, name), name


def test_wecom_is_a_pure_library() -> None:
    forbidden = ("groupops.store", "groupops.config", "groupops.web", "groupops.cli", "groupops.bot", "tests")
    for path in SOURCE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(forbidden), f"{path.name} imports {node.module}"
            if isinstance(node, ast.Import):
                assert not any(alias.name.startswith(forbidden) for alias in node.names), path.name
