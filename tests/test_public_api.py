"""Every module's public API (``__all__``) exists, and every module imports without side effects."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import groupops

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(groupops.__path__, "groupops.")
    if ".migrations" not in info.name and not info.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_module_imports_and_exports_what_it_declares(name: str) -> None:
    module = importlib.import_module(name)
    for exported in getattr(module, "__all__", ()):
        assert hasattr(module, exported), f"{name}.__all__ names {exported!r}, which does not exist"


def test_top_level_package() -> None:
    assert groupops.__version__
    assert issubclass(groupops.GroupOpsError, Exception)
