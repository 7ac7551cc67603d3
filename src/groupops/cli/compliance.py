"""``groupops compliance``: the ad-law checker and the label checklist on files and stdin."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from groupops.cli._common import (
    DataOption,
    JsonOption,
    console,
    emit_json,
    emit_json_lines,
    fail_on_errors,
    open_text_input,
    settings_for,
)
from groupops.errors import InputFormatError
from groupops.text.labels import LABEL_FIELDS, ProductLabelReport, check_product_labels, parse_products

if TYPE_CHECKING:
    from groupops.ops.compliance_scan import ArchiveScan
    from groupops.text.compliance import ComplianceResult

__all__ = ["register"]

BATCH_LINES = 2_000  # lines checked per batch: large enough to amortise, small enough to stream

compliance_app = typer.Typer(
    help="Ad-law compliance (广告法) of marketing copy and label completeness of product records.",
    no_args_is_help=True,
)


class FailOn(StrEnum):
    violation = "violation"
    review = "review"


_VERDICT_STYLE = {"violation": "bold red", "review": "yellow", "clean": "green"}


@compliance_app.command("check")
def check_command(
    file: Annotated[
        str | None, typer.Argument(help="Text file, one text per line; '-' or nothing reads stdin.")
    ] = None,
    json_output: JsonOption = False,
    lexicon_dir: Annotated[
        list[Path] | None,
        typer.Option(
            "--lexicon-dir",
            exists=True,
            file_okay=False,
            help="Extra directory of YAML lexicons/rules extending the built-in ones (repeatable).",
        ),
    ] = None,
    fail_on: Annotated[
        FailOn | None,
        typer.Option(
            "--fail-on", help="Exit 1 when any line is at least this bad (for CI); default: always exit 0."
        ),
    ] = None,
) -> None:
    """Check each line for absolute terms, authority, efficacy, price, gift, disparagement and label claims.

    With --json, prints one JSON object per input line:
    {"line","text","verdict","findings":[{"rule","category","term","start","end","severity","reason","suggestion"}]}
    (start/end are character offsets into the line).
    """
    from groupops.text.compliance import load_checker

    with fail_on_errors():
        checker = load_checker(lexicon_dir or [])
        counts = {"violation": 0, "review": 0, "clean": 0}
        with open_text_input(file) as handle:
            for first_line, results in _checked_batches(handle, checker.check_many):
                for result in results:
                    counts[result.verdict] += 1
                if json_output:
                    emit_json_lines(result.to_dict(first_line + i) for i, result in enumerate(results))
                else:
                    _print_results(first_line, results)
        if not json_output:
            console.print(
                f"{sum(counts.values())} lines: [bold red]{counts['violation']} violation[/], "
                f"[yellow]{counts['review']} review[/], [green]{counts['clean']} clean[/]"
            )
    if fail_on is not None and (counts["violation"] or (fail_on is FailOn.review and counts["review"])):
        raise typer.Exit(1)


def _checked_batches(
    handle: IO[str], check_many: Callable[[list[str]], list[ComplianceResult]]
) -> Iterator[tuple[int, list[ComplianceResult]]]:
    """(number of the batch's first line, results) for consecutive batches of input lines."""
    batch: list[str] = []
    first_line = 1
    for line in handle:
        batch.append(line.rstrip("\r\n"))
        if len(batch) == BATCH_LINES:
            yield first_line, check_many(batch)
            first_line += len(batch)
            batch = []
    if batch:
        yield first_line, check_many(batch)


def _print_results(first_line: int, results: list[ComplianceResult]) -> None:
    table = Table(show_lines=True)
    for column in ("line", "verdict", "term", "category", "reason", "suggestion"):
        table.add_column(column, overflow="fold")
    for offset, result in enumerate(results):
        if result.verdict == "clean":
            continue
        style = _VERDICT_STYLE[result.verdict]
        table.add_row(
            str(first_line + offset),
            f"[{style}]{result.verdict}[/]",
            "\n".join(f"{f.term} [{f.start}:{f.end}]" for f in result.findings),
            "\n".join(f"{f.category}/{f.severity}" for f in result.findings),
            "\n".join(f.reason for f in result.findings),
            "\n".join(f.suggestion for f in result.findings),
        )
    if table.row_count:
        console.print(table)


@compliance_app.command("labels")
def labels_command(
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            exists=True,
            dir_okay=False,
            help="Products as CSV (header row) or JSON (.json list); or use --data for the store's products.",
        ),
    ] = None,
    data: DataOption = None,
    json_output: JsonOption = False,
) -> None:
    """List products whose label misses or misstates a required item (GB/T 5296.4-2012, GB 18401).

    Reads either --file or the products of the operational store of --data.
    Columns/keys: sku, name, manufacturer, manufacturer_address, size_spec, fibre_composition,
    care_instructions, product_standard, safety_category, usage_notes, storage_notes, category.
    With --json, prints one JSON object per product with findings:
    {"sku","name","findings":[{"sku","field","problem","severity","message","reference"}]}
    """
    if (file is None) == (data is None):
        raise typer.BadParameter("give either --file or --data (exactly one)", param_hint="--file/--data")
    with fail_on_errors():
        products = _products_from_file(file) if file is not None else _products_from_store(data)  # type: ignore[arg-type]
        reports = check_product_labels(products)
        if json_output:
            emit_json_lines(report.to_dict() for report in reports)
        else:
            _print_label_reports(reports, len(products))


def _products_from_file(file: Path) -> list[dict[str, object]]:
    suffix = file.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise typer.BadParameter(f"{file}: expected a .csv or .json file", param_hint="--file")
    try:
        return parse_products(file.read_text(encoding="utf-8-sig"), "csv" if suffix == ".csv" else "json")
    except (InputFormatError, UnicodeDecodeError) as error:
        raise InputFormatError(f"{file}: {error}") from error


_PRODUCT_KEYS = ("sku", "category", *LABEL_FIELDS)


def _products_from_store(data: Path) -> list[dict[str, object]]:
    """The label fields of every product in the operational store, in SKU order."""
    from sqlalchemy import select

    from groupops.store.models import Product
    from groupops.store.workspace import Workspace

    workspace = Workspace(settings_for(data))
    try:
        with workspace.database.session() as session:
            rows = session.scalars(select(Product).order_by(Product.sku)).all()
            return [{key: getattr(row, key) for key in _PRODUCT_KEYS} for row in rows]
    finally:
        workspace.close()


def _print_label_reports(reports: list[ProductLabelReport], total: int) -> None:
    table = Table(show_lines=True)
    for column in ("sku", "name", "item", "problem", "message"):
        table.add_column(column, overflow="fold")
    for report in reports:
        table.add_row(
            report.sku,
            report.name,
            "\n".join(f.field for f in report.findings),
            "\n".join(f"{f.problem}/{f.severity}" for f in report.findings),
            "\n".join(f.message for f in report.findings),
        )
    if reports:
        console.print(table)
    console.print(f"{total} products: {len(reports)} with missing or malformed label items")


def _day_option(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=option) from error


def _start_of(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time.min, tzinfo=UTC)


@compliance_app.command("scan-archive")
def scan_archive_command(
    data: DataOption = None,
    date_from: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD, UTC).")] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", help="Last day, inclusive (YYYY-MM-DD, UTC).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Check the text messages staff already sent in groups; report violations by staff and group.

    With --json, prints one object: {"scanned","violations","reviews","by_staff":[{"staff_id",
    "violation","review"}],"by_group":[{"group_id","violation","review"}],"messages":[{"msgid",
    "group_id","sender_id","sent_at","text","verdict","findings"}]}.
    """
    first, last = _day_option(date_from, "--from"), _day_option(date_to, "--to")
    if first is not None and last is not None and last < first:
        raise typer.BadParameter("--to is before --from", param_hint="--to")
    with fail_on_errors():
        scan = _scan(data, _start_of(first), _start_of(last + timedelta(days=1)) if last else None)
    if json_output:
        emit_json(scan.to_json())
    else:
        _print_archive_scan(scan.to_json())


def _scan(data: Path | None, start: datetime | None, end: datetime | None) -> ArchiveScan:
    from groupops.ops.compliance_scan import scan_archive
    from groupops.store.workspace import Workspace

    workspace = Workspace(settings_for(data))
    try:
        return scan_archive(workspace, start=start, end=end)
    finally:
        workspace.close()


def _print_archive_scan(report: dict[str, Any]) -> None:
    for key, title in (("by_staff", "staff member"), ("by_group", "group")):
        if not report[key]:
            continue
        table = Table(title=f"findings by {title}")
        for column in (title, "violation", "review"):
            table.add_column(column, overflow="fold")
        for row in report[key]:
            name = row["staff_id" if key == "by_staff" else "group_id"]
            table.add_row(str(name), f"[bold red]{row['violation']}[/]", f"[yellow]{row['review']}[/]")
        console.print(table)
    console.print(
        f"{report['scanned']} staff messages scanned: [bold red]{report['violations']} violation[/], "
        f"[yellow]{report['reviews']} review[/]"
    )


def register(app: typer.Typer) -> None:
    """Add the ``compliance`` command group."""
    app.add_typer(compliance_app, name="compliance")
