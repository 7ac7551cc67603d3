"""Group health from the text: daily sentiment index and repeated-promotion share (plan §2.1, §5.4).

The sentiment index uses the stored message labels (days in the brand time zone); the
homogeneity figure is the share of staff promotional posts that near-duplicate an earlier post
of the same group in the same week (plan baseline: 65 % repeated promotions).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from groupops.store.warehouse import sql_string
from groupops.store.workspace import Workspace
from groupops.text.hygiene import PromotionHomogeneity, weekly_repeated_promotion_share
from groupops.text.sentiment import DailySentiment, brand_sentiment_index, daily_sentiment_index

__all__ = ["group_health_report", "promotion_homogeneity", "sentiment_index"]


def _rows(workspace: Workspace, sql: str) -> list[tuple[Any, ...]]:
    with workspace.warehouse.connect(memory_limit="1GB") as connection:
        connection.execute(f"SET TimeZone = {sql_string(workspace.settings.timezone)}")
        return connection.execute(sql).fetchall()


def sentiment_index(workspace: Workspace, *, brand: bool = False) -> list[DailySentiment]:
    """Daily sentiment per group (or for the whole brand) from the labelled customer messages."""
    rows = _rows(
        workspace,
        "SELECT CAST(sent_at AS DATE), group_id, score FROM message_labels "
        "WHERE group_id IS NOT NULL AND NOT spam ORDER BY sent_at",
    )
    scores = [(day, group, max(-1.0, min(1.0, float(score)))) for day, group, score in rows]
    return brand_sentiment_index(scores) if brand else daily_sentiment_index(scores)


def promotion_homogeneity(workspace: Workspace) -> list[PromotionHomogeneity]:
    """Per group and week, the share of staff promotions repeating an earlier one."""
    rows = _rows(
        workspace,
        "SELECT group_id, CAST(sent_at AS DATE), text FROM messages WHERE sender_is_staff AND action = 'send' "
        "AND msgtype IN ('text', 'markdown', 'news', 'link') AND text IS NOT NULL AND group_id IS NOT NULL "
        "AND NOT revoked ORDER BY sent_at, msgid",
    )
    return weekly_repeated_promotion_share(rows)


def group_health_report(workspace: Workspace) -> dict[str, Any]:
    """Sentiment (brand and per group) and promotion homogeneity, ready for JSON."""
    homogeneity = promotion_homogeneity(workspace)
    promotions = sum(row.messages for row in homogeneity)
    repeated = sum(row.repeated for row in homogeneity)
    return {
        "sentiment_brand": [asdict(row) for row in sentiment_index(workspace, brand=True)],
        "sentiment_groups": [asdict(row) for row in sentiment_index(workspace)],
        "promotion_homogeneity": [asdict(row) for row in homogeneity],
        "repeated_promotion_share": repeated / promotions if promotions else None,
    }
