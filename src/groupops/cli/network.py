"""``groupops network``: degree centrality, PageRank, roles and communities of the interaction graph."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from rich.text import Text

from groupops.cli._common import (
    DataOption,
    JsonOption,
    console,
    emit_json,
    error_console,
    fail_on_errors,
    open_text_input,
    settings_for,
)
from groupops.errors import ConfigurationError

if TYPE_CHECKING:
    from groupops.analytics.network import NetworkResult
    from groupops.config import Settings

__all__ = ["register"]

EdgesOption = Annotated[
    str | None,
    typer.Option(
        "--edges",
        help="Edge list CSV with header source,target[,weight] ('-' reads stdin). Ids are kept verbatim.",
        show_default=False,
    ),
]
GroupOption = Annotated[
    str | None, typer.Option("--group", help="Only this group (with --data).", show_default=False)
]
FromOption = Annotated[
    datetime | None,
    typer.Option(
        "--from",
        formats=["%Y-%m-%d"],
        help="First day (YYYY-MM-DD, brand time zone; with --data).",
        show_default=False,
    ),
]
ToOption = Annotated[
    datetime | None,
    typer.Option(
        "--to",
        formats=["%Y-%m-%d"],
        help="Last day, inclusive (YYYY-MM-DD; with --data).",
        show_default=False,
    ),
]
InfluencerShareOption = Annotated[
    float | None,
    typer.Option(
        "--influencer-share",
        help="Top share of members by degree centrality called influencers (default 0.15, setting influencer_share).",
        show_default=False,
    ),
]
SpreaderShareOption = Annotated[
    float | None,
    typer.Option(
        "--spreader-share",
        help="Next share of members called spreaders (default 0.35, setting spreader_share).",
        show_default=False,
    ),
]
ExportOption = Annotated[
    Path | None,
    typer.Option(
        "--export",
        help="Also write the graph for Gephi / Pajek: format by suffix .gexf, .graphml or .net.",
        show_default=False,
    ),
]
TopOption = Annotated[int, typer.Option("--top", min=1, help="Members shown in the table (not with --json).")]


def network_command(
    edges: EdgesOption = None,
    data: DataOption = None,
    group: GroupOption = None,
    start: FromOption = None,
    end: ToOption = None,
    influencer_share: InfluencerShareOption = None,
    spreader_share: SpreaderShareOption = None,
    export: ExportOption = None,
    top: TopOption = 20,
    json_output: JsonOption = False,
) -> None:
    """Who influences whom: degree centrality, PageRank, roles (influencer / spreader / ordinary), communities.

    Roles by degree-centrality rank: the top 15 % are influencers, the next 35 % spreaders, the
    rest ordinary (ties by PageRank, then id).
    """
    from groupops.analytics.network_export import EXPORT_FORMATS, export_network

    settings = settings_for(data)
    shares = (
        settings.influencer_share if influencer_share is None else influencer_share,
        settings.spreader_share if spreader_share is None else spreader_share,
    )
    if export is not None and export.suffix.lower() not in EXPORT_FORMATS:
        raise typer.BadParameter(
            f"use a file name ending in {', '.join(sorted(EXPORT_FORMATS))}", param_hint="--export"
        )
    result = _compute(edges, data, group, start, end, shares, settings)
    if export is not None:
        with fail_on_errors():
            written = export_network(result, export)
        (error_console if json_output else console).print(f"wrote {written}", markup=False, highlight=False)
    if json_output:
        emit_json(result.to_json())
        return
    console.print(_summary_table(result))
    console.print(_node_table(result, top))


def _compute(
    edges: str | None,
    data: Path | None,
    group: str | None,
    start: datetime | None,
    end: datetime | None,
    shares: tuple[float, float],
    settings: Settings,
) -> NetworkResult:
    from groupops.analytics.network import compute_network, read_edge_list_csv
    from groupops.analytics.network_warehouse import brand_graph_from_warehouse
    from groupops.store.workspace import Workspace

    if edges is not None:
        if data is not None or group is not None or start is not None or end is not None:
            raise typer.BadParameter("--edges cannot be combined with --data, --group, --from or --to")
        with open_text_input(edges) as handle, fail_on_errors(), _shares_are_usage_errors():
            return compute_network(
                read_edge_list_csv(handle), influencer_share=shares[0], spreader_share=shares[1]
            )
    zone = ZoneInfo(settings.timezone)
    window_start = _local_midnight(start.date(), zone) if start is not None else None
    window_end = _local_midnight(end.date() + timedelta(days=1), zone) if end is not None else None
    with fail_on_errors(), _shares_are_usage_errors():
        result: NetworkResult = brand_graph_from_warehouse(
            Workspace(settings),
            group_id=group,
            start=window_start,
            end=window_end,
            influencer_share=shares[0],
            spreader_share=shares[1],
        )
    return result


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=zone)


@contextmanager
def _shares_are_usage_errors() -> Iterator[None]:
    """Out-of-range role shares are a usage error (exit 2), not a failure."""
    try:
        yield
    except ConfigurationError as error:
        raise typer.BadParameter(str(error), param_hint="--influencer-share / --spreader-share") from error


def _summary_table(result: NetworkResult) -> Table:
    summary = result.summary
    table = Table(title="Interaction network", show_header=False)
    table.add_column("figure")
    table.add_column("value", justify="right")
    roles = summary["roles"]
    rows = [
        ("members (nodes)", str(summary["nodes"])),
        ("ties (edges)", str(summary["edges"])),
        ("density", f"{summary['density']:.4f}"),
        ("communities", str(summary["communities"])),
        ("modularity", f"{summary['modularity']:.3f}"),
        ("Gini of degree", f"{summary['degree_gini']:.3f}"),
        ("top share of weighted degree", f"{summary['top_weighted_degree_share']:.1%}"),
        (
            "influencers / spreaders / ordinary",
            f"{roles['influencer']} / {roles['spreader']} / {roles['ordinary']}",
        ),
        ("members bridging groups", str(summary["group_bridges"])),
        ("cut edges (bridges)", str(summary["cut_edges"])),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def _node_table(result: NetworkResult, top: int) -> Table:
    table = Table(title=f"Top {min(top, len(result.nodes))} members by degree centrality")
    for column, justify in (
        ("id", "left"),
        ("degree", "right"),
        ("centrality", "right"),
        ("PageRank", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    table.add_column("role")
    table.add_column("community", justify="right")
    for row in result.nodes.head(top).itertuples(index=False):
        table.add_row(
            Text(str(row.id)),
            str(row.degree),
            f"{row.degree_centrality:.3f}",
            f"{row.pagerank:.4f}",
            str(row.role),
            str(row.community),
        )
    return table


def register(app: typer.Typer) -> None:
    """Add the ``network`` command."""
    app.command("network")(network_command)
