"""The brand's interaction network from the warehouse, and the actions it suggests.

Reads the archive (``messages``) and the group rosters (operational store) of a workspace,
builds the graph with :mod:`groupops.analytics.network`, and derives KOC candidates
(influencers and spreaders who buy, by follower tier: tail 1k–10k, waist 10k–50k, head >50k,
plan §4.1), members who bridge groups, isolated newcomers to welcome, and weekly drift alerts.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pyarrow as pa
from sqlalchemy import select

from groupops.analytics.network import NetworkResult, brand_network, build_name_index, group_bridges
from groupops.analytics.network import interaction_edges as build_edges
from groupops.analytics.network_drift import DriftAlert, DriftBand, detect_degree_drift, weekly_activity
from groupops.store.models import Alert, GroupMembership, Member
from groupops.store.rosters import member_display_names
from groupops.store.workspace import Workspace

__all__ = [
    "brand_graph_from_warehouse",
    "follower_tier",
    "isolated_newcomers",
    "koc_candidates",
    "load_interaction_messages",
    "member_name_index",
    "network_actions",
    "refresh_network_drift_alerts",
]

_MESSAGE_COLUMNS = "msgid, group_id, sender_id, sender_is_staff, sent_at, msgtype, action, revoked, mention_names, quote_name"


def load_interaction_messages(
    workspace: Workspace,
    *,
    group_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> pa.Table:
    """The group messages needed for the graph, filtered in DuckDB (only the columns it uses)."""
    conditions, parameters = ["group_id IS NOT NULL", "action = 'send'"], []
    for clause, value in (("group_id = ?", group_id), ("sent_at >= ?", start), ("sent_at < ?", end)):
        if value is not None:
            conditions.append(clause)
            parameters.append(value)
    with workspace.warehouse.connect(memory_limit="2GB") as connection:
        query = f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE {' AND '.join(conditions)} ORDER BY sent_at, msgid"
        return connection.sql(query, params=parameters).to_arrow_table()


def member_name_index(workspace: Workspace) -> dict[tuple[str, str], str]:
    """(group id, display name) → member id from the rosters: group nickname, display name, member name."""
    return build_name_index((group, name, member) for group, member, name in member_display_names(workspace))


def brand_graph_from_warehouse(
    workspace: Workspace,
    *,
    group_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    influencer_share: float = 0.15,
    spreader_share: float = 0.35,
) -> NetworkResult:
    """The interaction network of the brand (or one group) in ``[start, end)``."""
    messages = load_interaction_messages(workspace, group_id=group_id, start=start, end=end)
    return brand_network(
        messages,
        member_name_index(workspace),
        influencer_share=influencer_share,
        spreader_share=spreader_share,
    )


def follower_tier(followers: int | None) -> str | None:
    """KOC tier by followers on other platforms (plan §4.1)."""
    if followers is None or followers < 1_000:
        return None
    if followers < 10_000:
        return "tail"
    if followers <= 50_000:
        return "waist"
    return "head"


def _purchases(workspace: Workspace) -> dict[str, tuple[int, float]]:
    with workspace.warehouse.connect() as connection:
        rows = connection.execute(
            "SELECT member_id, count(*), sum(amount - coalesce(refund_amount, 0)) FROM orders "
            "WHERE status IN ('paid', 'partially_refunded') GROUP BY member_id"
        ).fetchall()
    return {member: (int(count), float(total or 0.0)) for member, count, total in rows}


def koc_candidates(workspace: Workspace, result: NetworkResult) -> list[dict[str, Any]]:
    """Influencers and spreaders with purchase history, with their follower tier; best first."""
    nodes = result.nodes
    ranked = nodes[nodes["role"].isin(["influencer", "spreader"])]
    purchases = _purchases(workspace)
    with workspace.database.session() as session:
        followers = {
            member_id: count for member_id, count in session.execute(select(Member.id, Member.followers))
        }
    candidates = []
    for row in ranked.itertuples(index=False):
        orders, spend = purchases.get(str(row.id), (0, 0.0))
        if orders == 0:
            continue
        member_followers = followers.get(str(row.id))
        candidates.append(
            {"member_id": str(row.id), "role": row.role, "degree_centrality": float(row.degree_centrality),
             "pagerank": float(row.pagerank), "orders": orders, "spend": round(spend, 2),
             "followers": member_followers, "tier": follower_tier(member_followers)}
        )  # fmt: skip
    role_order = {"influencer": 0, "spreader": 1}
    return sorted(candidates, key=lambda c: (role_order[c["role"]], -c["pagerank"], c["member_id"]))


def isolated_newcomers(
    workspace: Workspace, result: NetworkResult, *, as_of: datetime | None = None, days: int = 7
) -> list[dict[str, Any]]:
    """Members who joined a group in the last ``days`` and have no interaction edge yet."""
    as_of = as_of or datetime.now(UTC)
    connected = set(result.nodes.loc[result.nodes["degree"] > 0, "id"].astype(str))
    with workspace.database.session() as session:
        joins = session.execute(
            select(GroupMembership.group_id, GroupMembership.member_id, GroupMembership.joined_at).where(
                GroupMembership.member_type == "external",
                GroupMembership.left_at.is_(None),
                GroupMembership.joined_at >= as_of - timedelta(days=days),
            )
        ).all()
    return [
        {"group_id": group, "member_id": member, "joined_at": joined.isoformat() if joined else None}
        for group, member, joined in joins
        if member not in connected
    ]


def network_actions(
    workspace: Workspace, result: NetworkResult, messages: pa.Table | None = None
) -> dict[str, Any]:
    """What operators can do with the graph: KOC invitations, bridges to value, newcomers to welcome."""
    messages = messages if messages is not None else load_interaction_messages(workspace)
    edges = build_edges(messages, member_name_index(workspace))
    bridges = group_bridges(edges) if len(edges) else pd.DataFrame()
    return {
        "koc_candidates": koc_candidates(workspace, result),
        "bridges": bridges.to_dict(orient="records"),
        "isolated_newcomers": isolated_newcomers(workspace, result),
    }


def refresh_network_drift_alerts(
    workspace: Workspace, *, baseline_weeks: int = 4, band: DriftBand | None = None
) -> list[DriftAlert]:
    """Weekly degree-distribution drift against the first ``baseline_weeks`` weeks, stored as alerts."""
    messages = load_interaction_messages(workspace)
    activity = weekly_activity(messages, member_name_index(workspace), timezone=workspace.settings.timezone)
    weeks = sorted(activity.degrees)
    if len(weeks) <= baseline_weeks:
        return []
    alerts = detect_degree_drift(
        activity.degrees, weeks[:baseline_weeks], band, weekly_messages=activity.message_counts
    )
    with workspace.database.session() as session:
        for drift in alerts:
            key = hashlib.sha1(f"drift|{drift.week}|{drift.metric}".encode()).hexdigest()[:16]
            alert = session.get(Alert, f"drift-{key}") or Alert(id=f"drift-{key}", kind="drift")
            alert.level, alert.title, alert.value = "amber", drift.message[:256], float(drift.value)
            alert.detail = {"week": drift.week, "metric": drift.metric, "baseline": drift.baseline,
                            "threshold": drift.threshold, "direction": drift.direction}  # fmt: skip
            alert.raised_at = datetime.fromisoformat(drift.week).replace(tzinfo=UTC) + timedelta(days=7)
            session.add(alert)
    return alerts
