"""Rich progress bars on stderr (stdout stays clean for --json)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from groupops.cli._common import error_console

__all__ = ["byte_progress", "step_progress"]


@contextmanager
def byte_progress(
    description: str, total_bytes: int, enabled: bool = True
) -> Iterator[Callable[[int], None]]:
    """A progress bar over bytes read; yields ``advance(n)``."""
    if not enabled or not error_console.is_terminal:
        yield lambda advance: None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=error_console, transient=True) as progress:
        task = progress.add_task(description, total=total_bytes)
        yield lambda advance: progress.advance(task, advance)


@contextmanager
def step_progress(description: str, total: int, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A progress bar over steps; yields ``update(done, total)``."""
    if not enabled or not error_console.is_terminal:
        yield lambda done, total: None
        return
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), console=error_console, transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task(description, total=total)
        yield lambda done, total: progress.update(task, completed=done, total=total)
