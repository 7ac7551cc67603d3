"""``groupops text``: message classification (sentiment, complaint, question, intents)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from groupops.cli._common import JsonOption, console, emit_json_lines, fail_on_errors, open_text_input

if TYPE_CHECKING:
    from groupops.text.classify import MessageLabels

__all__ = ["register", "text_app"]

text_app = typer.Typer(name="text", help="Classify group messages: sentiment, complaint, question, intents.")

FileArgument = Annotated[
    str | None,
    typer.Argument(
        help="Text file with one message per line; '-' or nothing reads stdin.", show_default=False
    ),
]
CorrectionsOption = Annotated[
    Path | None,
    typer.Option(
        "--corrections",
        help="JSONL of operator-corrected messages to train on as well (fields: text, sentiment, complaint, question, intents).",
        show_default=False,
    ),
]


def _records(lines: list[str], corrections: Path | None) -> list[dict[str, Any]]:
    from groupops.text.classify import classify_messages, train_classifier

    labels: list[MessageLabels]
    if corrections is None:
        labels = classify_messages(lines)
    else:
        labels = train_classifier(corrections_path=corrections).classify_many(lines)
    return [{"line": number, **label.as_dict()} for number, label in enumerate(labels, start=1)]


def _table(records: list[dict[str, Any]]) -> Table:
    table = Table(title="Message labels")
    for column in ("line", "text", "sentiment", "score", "complaint", "question", "intents"):
        table.add_column(column, overflow="fold")
    for record in records:
        table.add_row(
            str(record["line"]),
            record["text"],
            record["sentiment"],
            f"{record['score']:+.2f}",
            "yes" if record["complaint"] else "",
            "yes" if record["question"] else "",
            ", ".join(record["intents"]),
        )
    return table


@text_app.command("classify")
def classify_command(
    file: FileArgument = None, json_output: JsonOption = False, corrections: CorrectionsOption = None
) -> None:
    """Label one message per line: sentiment and score, complaint, question and intents.

    Empty lines keep their line number and get empty labels (neutral, 0, no flags, no intents).
    """
    with fail_on_errors(), open_text_input(file) as handle:
        lines = [line.rstrip("\r\n") for line in handle]
        records = _records(lines, corrections)
    if json_output:
        emit_json_lines(records)
    else:
        console.print(_table(records))


def register(app: typer.Typer) -> None:
    """Add the ``text`` command group."""
    app.add_typer(text_app, name="text")
