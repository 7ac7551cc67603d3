"""``groupops ingest KIND PATH…``: import raw exports (contract: ARCHITECTURE.md §4)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from groupops.cli._common import DataOption, JsonOption, console, emit_json, fail_on_errors, settings_for
from groupops.cli._progress import byte_progress

if TYPE_CHECKING:
    from groupops.ingest import IngestReport

_KINDS_HELP = (
    "wecom-archive (JSONL, official message format), wecom-groups (groupchat/get JSON), memotrace "
    "(WeChatMsg CSV), members, orders (--preset generic|shopify, or --mapping), events, products"
)


def _total_bytes(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        if path.is_file():
            total += path.stat().st_size
        elif path.is_dir():
            total += sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return total


def print_report(report: IngestReport) -> None:
    """A human summary of one import."""
    table = Table(title=f"ingest {report.kind}", show_header=False)
    for label, value in (
        ("files", len(report.files)),
        ("records read", report.read),
        ("ingested (new)", report.ingested),
        ("duplicates (already stored)", report.duplicates),
        ("quarantined", report.quarantined),
    ):
        table.add_row(label, f"{value:,}")
    console.print(table)
    if report.quarantine_file:
        console.print(
            f"[yellow]Bad records were set aside with file, line and reason:[/yellow] {report.quarantine_file}"
        )


def ingest_command(
    kind: Annotated[str, typer.Argument(help=_KINDS_HELP, show_default=False)],
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to import.", show_default=False)],
    preset: Annotated[
        str, typer.Option("--preset", help="Order column layout: generic or shopify.")
    ] = "generic",
    mapping: Annotated[
        Path | None, typer.Option("--mapping", help="YAML column mapping for any other layout.", exists=True)
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            "-o",
            help="Source option KEY=VALUE (repeatable), e.g. group_kind=distributor for wecom-groups, "
            "staff=wxid_a,wxid_b or group_name=… for memotrace.",
        ),
    ] = None,
    data: DataOption = None,
    json_output: JsonOption = False,
) -> None:
    """Import raw exports: bad records are quarantined, re-imports add nothing."""
    from groupops.ingest import ingest_files, sources
    from groupops.store.workspace import Workspace

    if kind not in sources():
        raise typer.BadParameter(f"unknown kind {kind!r}; choose one of: {', '.join(sorted(sources()))}")
    workspace = Workspace(settings_for(data))
    options: dict[str, object] = {"preset": preset, "mapping": mapping}
    for item in option or []:
        key, separator, value = item.partition("=")
        if not separator or not key.strip():
            raise typer.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--option")
        options[key.strip()] = value.strip()
    with fail_on_errors(), byte_progress(f"ingest {kind}", _total_bytes(paths), not json_output) as advance:
        report = ingest_files(kind, paths, workspace, options=options, progress=advance)
    if json_output:
        emit_json(report.to_json())
    else:
        print_report(report)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest_command)
