"""The ``groupops`` command line: a thin Typer shell over the library.

Each module in this package adds its commands through ``register(app)``; this module only
assembles them, so a new command group is a new module and nothing else changes.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

__all__ = ["app", "main"]

app = typer.Typer(
    name="groupops",
    help="GroupOps — operations for apparel brands' WeCom / WeChat customer groups.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_all() -> None:
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        module.register(app)


_register_all()


def main() -> None:
    """Console-script entry point."""
    app()
