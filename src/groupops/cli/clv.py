"""``groupops clv``: customer lifetime value models on an RFM table."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from groupops.cli._common import JsonOption, console, emit_json, fail_on_errors

if TYPE_CHECKING:
    from groupops.analytics.clv import ClvFit

__all__ = ["register"]

clv_app = typer.Typer(
    help="Customer lifetime value: BG/NBD (purchases, P(alive)) and Gamma-Gamma (spend).",
    no_args_is_help=True,
)

RfmOption = Annotated[
    Path,
    typer.Option(
        "--rfm",
        help="CSV with columns customer_id,frequency,recency,T[,monetary_value] (frequency = repeat "
        "purchases; recency and T in one time unit, e.g. weeks).",
        exists=True,
        dir_okay=False,
        readable=True,
        show_default=False,
    ),
]


@clv_app.command("fit")
def fit_command(rfm: RfmOption, json_output: JsonOption = False) -> None:
    """Fit BG/NBD on every customer and Gamma-Gamma on repeat buyers (needs monetary_value)."""
    from groupops.analytics.clv import fit_clv_models, read_rfm_csv

    with fail_on_errors():
        fitted = fit_clv_models(read_rfm_csv(rfm))
    if json_output:
        emit_json(fitted.as_dict())
        return
    console.print(_parameter_table(fitted))


def _parameter_table(fitted: ClvFit) -> Table:
    table = Table(title=f"CLV models fitted on {fitted.customers} customers")
    table.add_column("model")
    table.add_column("parameter")
    table.add_column("value", justify="right")
    for name, value in fitted.bgnbd.as_dict().items():
        table.add_row("BG/NBD", name, f"{value:.4f}")
    if fitted.gamma_gamma is None:
        table.add_row("Gamma-Gamma", "-", "not fitted (no monetary_value column)")
    else:
        for name, value in fitted.gamma_gamma.as_dict().items():
            table.add_row("Gamma-Gamma", name, f"{value:.4f}")
        table.add_row("Gamma-Gamma", "customers", str(fitted.gamma_gamma.customers))
    return table


def register(app: typer.Typer) -> None:
    """Add the ``clv`` command group."""
    app.add_typer(clv_app, name="clv")
