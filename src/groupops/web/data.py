"""What the pages and the API show, read from the store, the warehouse and the analytics library.

Results that need the analytics engine are cached per data version (the warehouse manifests'
modification times), so a page view costs a dictionary lookup once the figures are computed.
Capabilities whose library is not available yet are reported as ``None`` and the pages say
so; no figure is ever made up here.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, TypeVar

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import func, or_, select

from groupops.errors import NotFoundError
from groupops.store.models import Group, GroupMembership, Member
from groupops.store.schemas import FACT_SCHEMAS
from groupops.store.warehouse import new_duckdb_connection
from groupops.store.workspace import Workspace

__all__ = ["HEALTH_THRESHOLDS", "MemberFacts", "WebData", "health_status", "optional_module"]

T = TypeVar("T")

# active ratio (speakers / members in the month): plan §4.4 baseline 15 %, target 35 %
HEALTH_THRESHOLDS = (0.15, 0.35)
_SPARKLINE_WEEKS = 8
_PAGE_SIZE = 50
_MART_VALUE_COLUMNS = ("clv_365d", "probability_alive", "churn_risk", "expected_purchases_90d")


def optional_module(name: str) -> Any | None:
    """The analytics module ``name`` when it exists in this installation, else None."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name and name.startswith(error.name):
            return None
        raise


def health_status(active_ratio: float | None) -> str:
    """green / amber / red for a group's active ratio (unknown without one)."""
    if active_ratio is None or pd.isna(active_ratio):
        return "unknown"
    low, target = HEALTH_THRESHOLDS
    return "green" if active_ratio >= target else "amber" if active_ratio >= low else "red"


def _records(table: pa.Table) -> list[dict[str, Any]]:
    return [{key: _plain(value) for key, value in row.items()} for row in table.to_pylist()]


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    return value


class MemberFacts:
    """Per-member rows of a table sorted by ``member_id``: a slice per member, found by dictionary."""

    def __init__(self, orders: pa.Table, messages: pa.Table) -> None:
        self._orders, self._order_slices = orders.drop_columns(["member_id"]), _slices(orders)
        self._messages, self._message_slices = messages.drop_columns(["member_id"]), _slices(messages)

    def orders(self, member_id: str) -> list[dict[str, Any]]:
        start, length = self._order_slices.get(member_id, (0, 0))
        return _records(self._orders.slice(start, length))

    def messages(self, member_id: str) -> list[dict[str, Any]]:
        start, length = self._message_slices.get(member_id, (0, 0))
        return _records(self._messages.slice(start, length))


def _slices(table: pa.Table) -> dict[str, tuple[int, int]]:
    """member id → (first row, rows) of a table sorted by ``member_id``."""
    ids = table.column("member_id").to_pylist()
    slices: dict[str, tuple[int, int]] = {}
    start = 0
    for index in range(1, len(ids) + 1):
        if index == len(ids) or ids[index] != ids[start]:
            slices[str(ids[start])] = (start, index - start)
            start = index
    return slices


class WebData:
    """Read side of the web face for one workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._lock = threading.RLock()
        self._cache: dict[tuple[Any, ...], Any] = {}
        self._version: tuple[Any, ...] | None = None
        self._duck: duckdb.DuckDBPyConnection | None = None
        self._recent: dict[tuple[Any, ...], tuple[float, Any]] = {}

    # -- caching ----------------------------------------------------------------------------
    def data_version(self) -> tuple[Any, ...]:
        """Changes whenever an import or a pipeline run publishes new files."""
        warehouse = self.workspace.warehouse
        stamps: list[Any] = []
        for table in FACT_SCHEMAS:
            manifest = warehouse.table_dir(table) / "_manifest.json"
            stamps.append(manifest.stat().st_mtime_ns if manifest.exists() else 0)
        marts = self.workspace.settings.marts_dir
        stamps.append(marts.stat().st_mtime_ns if marts.exists() else 0)
        return tuple(stamps)

    def cached(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        """``compute()`` once per data version and key."""
        version = self.data_version()
        with self._lock:
            if version != self._version:
                self._cache.clear()
                self._reset_duck()
                self._version = version
            if key not in self._cache:
                self._cache[key] = compute()
            return self._cache[key]

    def recent(self, key: tuple[Any, ...], compute: Callable[[], T], seconds: float = 30.0) -> T:
        """``compute()`` at most once per ``seconds`` (for store-backed figures such as alert counts)."""
        now = time.monotonic()
        with self._lock:
            found = self._recent.get(key)
            if found is None or now - found[0] > seconds:
                found = (now, compute())
                self._recent[key] = found
            return found[1]

    def _reset_duck(self) -> None:
        if self._duck is not None:
            self._duck.close()
        self._duck = None

    def query(self, sql: str, parameters: list[Any] | None = None) -> pa.Table:
        """Run read-only SQL over the fact views (one connection, a cursor per call)."""
        self.data_version_check()
        with self._lock:
            if self._duck is None:
                self._duck = new_duckdb_connection(threads=2)
                self.workspace.warehouse.register_views(self._duck)
            cursor = self._duck.cursor()
        try:
            return cursor.sql(sql, params=parameters or None).to_arrow_table()
        finally:
            cursor.close()

    def data_version_check(self) -> None:
        self.cached(("version",), lambda: True)

    # -- KPIs ------------------------------------------------------------------------------
    def last_day(self) -> date | None:
        """The last day with data (brand time zone)."""

        def compute() -> date | None:
            kpis = optional_module("groupops.analytics.kpis")
            if kpis is None:
                return None
            from groupops.analytics.engine import open_engine

            with open_engine(self.workspace) as engine:
                return kpis.data_last_day(engine, engine.facts())

        return self.cached(("last_day",), compute)

    def kpi_report(self, group: str | None = None, days: int | None = None) -> dict[str, Any] | None:
        """The ``kpi --json`` document of the brand or one group; None when KPIs are unavailable."""
        kpis = optional_module("groupops.analytics.kpis")
        if kpis is None:
            return None
        window = days or self.workspace.settings.active_window_days

        def compute() -> dict[str, Any]:
            end = self.last_day() or date.today()
            report = kpis.compute_kpis(
                self.workspace, group=group, date_from=end - timedelta(days=window - 1), date_to=end
            )
            return report.to_json()

        return self.cached(("kpis", group, window), compute)

    def overview(self) -> dict[str, Any] | None:
        """KPI cards: value, previous period, change and a weekly sparkline per KPI."""
        kpis = optional_module("groupops.analytics.kpis")
        if kpis is None or self.last_day() is None:
            return None
        return self.cached(("overview",), lambda: self._overview(kpis))

    def _overview(self, kpis: Any) -> dict[str, Any]:
        from groupops.analytics.engine import open_engine

        end = self.last_day() or date.today()
        window = self.workspace.settings.active_window_days
        with open_engine(self.workspace) as engine:

            def report(start: date, stop: date) -> dict[str, Any]:
                return kpis.compute_kpis(engine, date_from=start, date_to=stop).to_json()["kpis"]

            current_start = end - timedelta(days=window - 1)
            current = report(current_start, end)
            previous = report(current_start - timedelta(days=window), current_start - timedelta(days=1))
            weeks = [end - timedelta(days=7 * k) for k in reversed(range(_SPARKLINE_WEEKS))]
            series = [report(week_end - timedelta(days=6), week_end) for week_end in weeks]
        cards = [_kpi_card(name, current, previous, series) for name in kpis.KPI_NAMES]
        return {
            "as_of": end.isoformat(),
            "window_days": window,
            "cards": cards,
            "weeks": [week.isoformat() for week in weeks],
            "definitions": dict(kpis.METRIC_DEFINITIONS),
        }

    # -- optional analytics ---------------------------------------------------------------------
    def goals(self) -> list[dict[str, Any]] | None:
        """Goal scorecard rows (red/amber/green/no_data) of ``groupops.analytics.pipeline.goals_report``."""
        pipeline = optional_module("groupops.analytics.pipeline")
        if pipeline is None or not hasattr(pipeline, "goals_report") or self.last_day() is None:
            return None
        return self.cached(("goals",), lambda: self._goals(pipeline))

    def _goals(self, pipeline: Any) -> list[dict[str, Any]]:
        """The last ``groupops run`` summary when it is as of the last day with data, else computed."""
        summary = self.workspace.settings.marts_dir / "summary.json"
        last = self.last_day()
        if summary.is_file() and last is not None:
            document = json.loads(summary.read_text(encoding="utf-8"))
            if document.get("as_of") == last.isoformat() and isinstance(document.get("goals"), list):
                return list(document["goals"])
        return list(pipeline.goals_report(self.workspace)["goals"])

    def funnel(self, group: str | None = None) -> list[dict[str, Any]] | None:
        """Awareness → emotion → behaviour funnel rows when the funnel library exists."""
        funnel = optional_module("groupops.analytics.funnel")
        if funnel is None or not hasattr(funnel, "awareness_funnel") or self.last_day() is None:
            return None
        return self.cached(("funnel", group), lambda: self._funnel(funnel, group))

    def _funnel(self, funnel: Any, group: str | None) -> list[dict[str, Any]]:
        from groupops.analytics.engine import open_engine
        from groupops.analytics.kpis import KpiScope

        end = self.last_day() or date.today()
        start = end - timedelta(days=self.workspace.settings.active_window_days - 1)
        with open_engine(self.workspace) as engine:
            result = funnel.awareness_funnel(engine, KpiScope(date_from=start, date_to=end, group=group))
        return list(result.to_json()["stages"])

    def retention(self) -> dict[str, Any] | None:
        """Monthly first-time cohorts and monthly churn when the retention library exists."""
        retention = optional_module("groupops.analytics.retention")
        if retention is None or not hasattr(retention, "compute_retention") or self.last_day() is None:
            return None
        return self.cached(
            ("retention",), lambda: dict(retention.compute_retention(self.workspace).to_json())
        )

    # -- groups ---------------------------------------------------------------------------------
    def group_health(self) -> dict[str, dict[str, Any]]:
        """Latest month's health mart row per group id."""
        return self.cached(("group_health",), self._group_health)

    def _group_health(self) -> dict[str, dict[str, Any]]:
        from groupops.analytics.engine import open_engine
        from groupops.analytics.marts import (
            group_daily_activity,
            group_health,
            member_daily_activity,
            membership_transitions,
        )

        with open_engine(self.workspace) as engine:
            facts = engine.facts()
            expression = group_health(
                group_daily_activity(facts),
                member_daily_activity(facts),
                membership_transitions(facts),
                facts.group_kinds,
            )
            rows = _records(engine.to_arrow(expression))
        latest: dict[str, dict[str, Any]] = {}
        for row in sorted(rows, key=lambda item: str(item["month"])):
            latest[str(row["group_id"])] = row
        return latest

    def groups(self) -> list[dict[str, Any]]:
        """Every group with its kind, present members and latest-month health."""
        with self.workspace.database.session() as session:
            present = (
                select(GroupMembership.group_id, func.count().label("n"))
                .where(GroupMembership.left_at.is_(None), GroupMembership.member_type == "external")
                .group_by(GroupMembership.group_id)
                .subquery()
            )
            rows = session.execute(
                select(Group.id, Group.name, Group.kind, present.c.n)
                .outerjoin(present, present.c.group_id == Group.id)
                .order_by(Group.kind, Group.name)
            ).all()
        health = self.group_health()
        return [_group_row(row, health.get(str(row[0]))) for row in rows]

    def group(self, group_id: str) -> dict[str, Any]:
        """One group: store fields, health, daily activity and top speakers."""
        with self.workspace.database.session() as session:
            group = session.get(Group, group_id)
            if group is None:
                raise NotFoundError(f"no group {group_id!r}")
            info: dict[str, Any] = {
                "id": group.id,
                "name": group.name,
                "kind": group.kind,
                "owner": group.owner,
                "notice": group.notice,
            }
        info["health"] = self.group_health().get(group_id)
        info["status"] = health_status((info["health"] or {}).get("active_ratio"))
        info["activity"] = self.cached(("group_activity", group_id), lambda: self._group_activity(group_id))
        info["speakers"] = self.cached(("group_speakers", group_id), lambda: self._top_speakers(group_id))
        return info

    def _group_activity(self, group_id: str) -> list[dict[str, Any]]:
        table = self.query(
            "SELECT CAST(timezone(?, sent_at) AS DATE) AS day, count(*) AS messages,"
            " count(DISTINCT sender_id) AS speakers FROM messages"
            " WHERE group_id = ? AND action = 'send' AND NOT coalesce(revoked, false)"
            " GROUP BY 1 ORDER BY 1",
            [self.workspace.settings.timezone, group_id],
        )
        return [
            {"day": row["day"].isoformat(), "messages": row["messages"], "speakers": row["speakers"]}
            for row in table.to_pylist()
        ]

    def _top_speakers(self, group_id: str, limit: int = 10) -> list[dict[str, Any]]:
        table = self.query(
            "SELECT sender_id, count(*) AS messages, any_value(sender_is_staff) AS staff FROM messages"
            " WHERE group_id = ? AND action = 'send' AND NOT coalesce(revoked, false)"
            " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?",
            [group_id, limit],
        )
        rows = table.to_pylist()
        names = self._member_names([str(row["sender_id"]) for row in rows])
        return [{**row, "name": names.get(str(row["sender_id"]), "")} for row in rows]

    def group_names(self) -> dict[str, str]:
        """Group id → name, for filters and labels."""
        with self.workspace.database.session() as session:
            return {
                gid: name or gid
                for gid, name in session.execute(select(Group.id, Group.name).order_by(Group.name))
            }

    def group_sentiment(self, group_id: str) -> list[dict[str, Any]]:
        """The group's daily sentiment index (``groupops.ops.group_health.sentiment_index``)."""
        return self.cached(("sentiment",), self._sentiment_by_group).get(group_id, [])

    def _sentiment_by_group(self) -> dict[str, list[dict[str, Any]]]:
        from groupops.ops.group_health import sentiment_index

        by_group: dict[str, list[dict[str, Any]]] = {}
        for row in sentiment_index(self.workspace):
            by_group.setdefault(row.group_id, []).append(
                {"day": row.day.isoformat(), "messages": row.messages, "mean_score": row.mean_score,
                 "negative_share": row.negative_share, "trend_7d": row.trend_7d}
            )  # fmt: skip
        return by_group

    def group_promotions(self, group_id: str) -> dict[str, Any]:
        """Staff promotions of the group, how many repeat an earlier one that week, and the share."""
        return self.cached(("promotions",), self._promotions_by_group).get(
            group_id, {"messages": 0, "repeated": 0, "share": None, "weeks": []}
        )

    def _promotions_by_group(self) -> dict[str, dict[str, Any]]:
        from groupops.ops.group_health import promotion_homogeneity

        by_group: dict[str, dict[str, Any]] = {}
        for row in promotion_homogeneity(self.workspace):
            entry = by_group.setdefault(
                row.group_id, {"messages": 0, "repeated": 0, "share": None, "weeks": []}
            )
            entry["messages"] += row.messages
            entry["repeated"] += row.repeated
            entry["weeks"].append(
                {"week": row.week_start.isoformat(), "messages": row.messages, "share": row.share}
            )
        for entry in by_group.values():
            entry["share"] = entry["repeated"] / entry["messages"] if entry["messages"] else None
        return by_group

    def group_graph(self, group_id: str, max_nodes: int = 200) -> dict[str, Any] | None:
        """The group's whole-history interaction network as ECharts force-graph JSON (None when empty)."""
        return self.cached(
            ("group_graph", group_id, max_nodes), lambda: self._group_graph(group_id, max_nodes)
        )

    def _group_graph(self, group_id: str, max_nodes: int) -> dict[str, Any] | None:
        from groupops.analytics.network_export import echarts_graph_json
        from groupops.analytics.network_warehouse import brand_graph_from_warehouse

        settings = self.workspace.settings
        result = brand_graph_from_warehouse(
            self.workspace, group_id=group_id, influencer_share=settings.influencer_share,
            spreader_share=settings.spreader_share,
        )  # fmt: skip
        if result.nodes.empty:
            return None
        graph = echarts_graph_json(result, max_nodes=max_nodes)
        names = self._member_names([node["id"] for node in graph["nodes"]])
        for node in graph["nodes"]:
            node["name"] = names.get(node["id"]) or node["id"]
        return graph

    # -- members --------------------------------------------------------------------------------
    def _member_names(self, ids: list[str]) -> dict[str, str]:
        if not ids:
            return {}
        with self.workspace.database.session() as session:
            return dict(session.execute(select(Member.id, Member.name).where(Member.id.in_(ids))).all())

    def members(
        self, search: str = "", tag: str = "", region: str = "", page: int = 1, page_size: int = _PAGE_SIZE
    ) -> tuple[list[dict[str, Any]], int]:
        """Members matching the search (name or id) and filters, one page, and the total count."""
        query = select(Member)
        if search:
            pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            query = query.where(
                or_(Member.name.like(pattern, escape="\\"), Member.id.like(pattern, escape="\\"))
            )
        if region:
            query = query.where(Member.region == region)
        with self.workspace.database.session() as session:
            members = list(session.scalars(query.order_by(Member.id)))
        if tag:
            members = [member for member in members if tag in (member.tags or [])]
        start = max(page - 1, 0) * page_size
        return [_member_row(member) for member in members[start : start + page_size]], len(members)

    def member_filters(self) -> dict[str, list[str]]:
        """Distinct regions and tags for the filter drop-downs."""
        with self.workspace.database.session() as session:
            regions = sorted({r for r in session.scalars(select(Member.region).distinct()) if r})
            tags = sorted({t for tags in session.scalars(select(Member.tags)) for t in (tags or [])})
        return {"regions": regions, "tags": tags}

    def member(self, member_id: str) -> dict[str, Any]:
        """One member's profile: basic info, groups, orders, recent messages, CLV and churn risk."""
        with self.workspace.database.session() as session:
            member = session.get(Member, member_id)
            if member is None:
                raise NotFoundError(f"no member {member_id!r}")
            profile = _member_row(member)
            stays = session.execute(
                select(
                    GroupMembership.group_id, Group.name, GroupMembership.joined_at, GroupMembership.left_at
                )
                .join(Group, Group.id == GroupMembership.group_id)
                .where(GroupMembership.member_id == member_id)
            ).all()
        profile["groups"] = [
            {"group_id": g, "group_name": n, "joined_at": j, "left_at": left} for g, n, j, left in stays
        ]
        facts = self.member_facts()
        profile["orders"] = facts.orders(member_id)
        profile["messages"] = facts.messages(member_id)
        profile["value"] = self.member_value(member_id)
        return profile

    def member_facts(self) -> MemberFacts:
        """Every member's last 100 orders and 50 messages, read once per data version."""
        return self.cached(("member_facts",), self._member_facts)

    def _member_facts(self) -> MemberFacts:
        orders = self.query(
            "SELECT member_id, order_id, placed_at, status, amount, refund_amount, channel FROM orders"
            " WHERE member_id IS NOT NULL QUALIFY row_number() OVER"
            " (PARTITION BY member_id ORDER BY placed_at DESC, order_id) <= 100"
            " ORDER BY member_id, placed_at DESC, order_id"
        )
        messages = self.query(
            "SELECT sender_id AS member_id, sent_at, group_id, msgtype, text FROM messages"
            " WHERE action = 'send' AND NOT coalesce(revoked, false) AND sender_id IS NOT NULL"
            " QUALIFY row_number() OVER (PARTITION BY sender_id ORDER BY sent_at DESC, msgid) <= 50"
            " ORDER BY sender_id, sent_at DESC, msgid"
        )
        return MemberFacts(orders, messages)

    def member_value(self, member_id: str) -> dict[str, Any] | None:
        """CLV, P(alive), churn risk: the member mart's row when refreshed, else fitted here."""
        mart = self.cached(("member_mart_values",), self._member_mart_values)
        if mart is not None:
            return mart.get(member_id)
        return self.member_values().get(member_id)

    def _member_mart_values(self) -> dict[str, dict[str, Any]] | None:
        path = self.workspace.settings.marts_dir / "members.parquet"
        if not path.is_file():
            return None
        table = pq.read_table(path)
        wanted = [
            name
            for name in (*_MART_VALUE_COLUMNS, "member_class_zh", "member_tag")
            if name in table.column_names
        ]
        if "member_id" not in table.column_names or not set(_MART_VALUE_COLUMNS) <= set(wanted):
            return None
        values: dict[str, dict[str, Any]] = {}
        for row in table.select(["member_id", *wanted]).to_pylist():
            if row["clv_365d"] is None and row["probability_alive"] is None:
                continue
            values[str(row["member_id"])] = {
                "clv": _plain(row["clv_365d"]), "probability_alive": _plain(row["probability_alive"]),
                "churn_risk": _plain(row["churn_risk"]), "expected_purchases": _plain(row["expected_purchases_90d"]),
                "member_class": row.get("member_class_zh"), "member_tag": row.get("member_tag"),
                "source": "mart",
            }  # fmt: skip
        return values

    def member_values(self) -> dict[str, dict[str, Any]]:
        """Per member: P(alive), expected purchases (90 d), CLV (365 d) from BG/NBD + Gamma-Gamma."""
        return self.cached(("member_values",), self._member_values)

    def _member_values(self) -> dict[str, dict[str, Any]]:
        from groupops.analytics.clv import customer_value_table, fit_clv_models, rfm_from_transactions
        from groupops.errors import GroupOpsError

        orders = self.query(
            "SELECT member_id AS customer_id, placed_at AS timestamp, amount FROM orders"
            " WHERE member_id IS NOT NULL AND status IN ('paid', 'partially_refunded')"
        ).to_pandas()
        if orders["customer_id"].nunique() < 10:
            return {}
        try:
            rfm = rfm_from_transactions(orders)
            table = customer_value_table(fit_clv_models(rfm), rfm)
        except (GroupOpsError, ValueError, ArithmeticError):
            return {}
        table["churn_risk"] = 1.0 - table["probability_alive"]
        return {str(index): {k: _plain(float(v)) for k, v in row.items()} for index, row in table.iterrows()}

    # -- network ----------------------------------------------------------------------------
    def network(
        self, group_id: str | None = None, days: int = 30, max_nodes: int = 300
    ) -> dict[str, Any] | None:
        """ECharts force-graph JSON of the last ``days`` days (None without messages)."""
        return self.cached(
            ("network", group_id, days, max_nodes), lambda: self._network(group_id, days, max_nodes)
        )

    def _network(self, group_id: str | None, days: int, max_nodes: int) -> dict[str, Any] | None:
        from groupops.analytics.network import brand_network, build_name_index
        from groupops.analytics.network_export import echarts_graph_json

        messages = self.query(
            "SELECT * EXCLUDE (raw) FROM messages WHERE sent_at >= (SELECT max(sent_at) FROM messages) - to_days(?)"
            + (" AND group_id = ?" if group_id else ""),
            [days, group_id] if group_id else [days],
        )
        if messages.num_rows == 0:
            return None
        settings = self.workspace.settings
        result = brand_network(
            messages,
            build_name_index(self._display_names()),
            influencer_share=settings.influencer_share,
            spreader_share=settings.spreader_share,
        )
        if result.nodes.empty:
            return None
        graph = echarts_graph_json(result, max_nodes=max_nodes)
        names = self._member_names([node["id"] for node in graph["nodes"]])
        for node in graph["nodes"]:
            node["name"] = names.get(node["id"]) or node["id"]
        graph["summary"] = {
            k: _plain(v) for k, v in result.summary.items() if isinstance(v, int | float | str)
        }
        graph["top"] = _records(pa.Table.from_pandas(result.nodes.head(20), preserve_index=False))
        for row in graph["top"]:
            row["name"] = names.get(str(row["id"]), "")
        return graph

    def _display_names(self) -> list[tuple[str, str, str]]:
        with self.workspace.database.session() as session:
            stays = session.execute(
                select(GroupMembership.group_id, GroupMembership.group_nickname, GroupMembership.display_name,
                       GroupMembership.member_id, Member.name)
                .outerjoin(Member, Member.id == GroupMembership.member_id)
            ).all()  # fmt: skip
        rows: list[tuple[str, str, str]] = []
        for group_id, nickname, display, member_id, name in stays:
            rows.extend((group_id, label, member_id) for label in {nickname, display, name} if label)
        return rows


def _kpi_card(
    name: str, current: dict[str, Any], previous: dict[str, Any], series: list[dict[str, Any]]
) -> dict[str, Any]:
    value, before = current.get(name), previous.get(name)
    change = None
    if value is not None and before not in (None, 0):
        change = (float(value) - float(before)) / abs(float(before))
    return {
        "name": name,
        "value": value,
        "previous": before,
        "change": change,
        "series": [row.get(name) for row in series],
    }


def _group_row(row: Any, health: dict[str, Any] | None) -> dict[str, Any]:
    ratio = None if health is None else health.get("active_ratio")
    return {
        "id": row[0],
        "name": row[1],
        "kind": row[2],
        "members": int(row[3] or 0),
        "messages": None if health is None else health.get("messages"),
        "speakers": None if health is None else health.get("speakers"),
        "active_ratio": ratio,
        "staff_share": None if health is None else health.get("staff_share"),
        "repeated_share": None if health is None else health.get("repeated_share"),
        "month": None if health is None else health.get("month"),
        "status": health_status(ratio),
    }


def _member_row(member: Member) -> dict[str, Any]:
    return {
        "id": member.id,
        "name": member.name,
        "gender": member.gender,
        "age_band": member.age_band,
        "region": member.region,
        "tags": list(member.tags or []),
        "followers": member.followers,
        "first_seen_at": member.first_seen_at,
        "source": member.source,
    }
