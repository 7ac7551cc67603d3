"""Lexicon sentiment with negation scope and contrast, and the daily sentiment index."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from groupops.errors import InputFormatError
from groupops.text.sentiment import (
    NEGATIVE_SCORE_THRESHOLD,
    brand_sentiment_index,
    daily_sentiment_index,
    lexicon_sentiment,
    score_sentiment,
)


@pytest.mark.parametrize(
    "text", ["不贵", "一点都不起球", "没有色差", "不会缩水", "不得不说真的好看", "不要太好看好吗"]
)
def test_negation_scope_turns_defects_into_praise(text: str) -> None:
    assert score_sentiment(text) > 0.2


@pytest.mark.parametrize("text", ["不是很满意", "一点都不好看", "不会再回购了", "踩雷了", "離譜", "翻车了😡"])
def test_negated_praise_slang_and_emoji_are_negative(text: str) -> None:
    assert score_sentiment(text) < -0.2


def test_clause_after_contrast_weighs_more() -> None:
    assert score_sentiment("款式还行但是做工太粗糙") < -0.5
    assert score_sentiment("颜色好看，就是有点起球") < 0
    assert score_sentiment("虽然贵了点但是质量真的好") > 0.5
    assert score_sentiment("物流慢了点不过衣服很喜欢") > 0.5


def test_questions_are_damped_and_empty_is_neutral() -> None:
    assert abs(score_sentiment("不会起球吧")) < abs(score_sentiment("不会起球"))
    assert score_sentiment("") == 0.0
    assert score_sentiment("   ") == 0.0


def test_lexicon_sentiment_reports_negations_and_contrast() -> None:
    result = lexicon_sentiment(["没有", "色差", "但是", "有点", "薄"])
    assert result.negated_negative == 1
    assert result.contrast
    assert result.last_clause < 0
    assert -1.0 <= result.score <= 1.0


def test_hostile_text_scores_in_range() -> None:
    for text in ["<b>好看</b>", "'; DROP TABLE x; --", "不" * 10_000, "\x00"]:
        assert -1.0 <= score_sentiment(text) <= 1.0


def test_daily_index_per_group_and_day_with_trend() -> None:
    rows = [
        (date(2024, 5, 1), "g1", 0.8),
        (date(2024, 5, 1), "g1", -0.5),
        (datetime(2024, 5, 1, 23, 59), "g1", -1 / 3),
        (date(2024, 5, 2), "g1", 1.0),
        (date(2024, 5, 1), "g2", 0.0),
    ]
    index = daily_sentiment_index(rows)
    assert [(row.group_id, row.day) for row in index] == [
        ("g1", date(2024, 5, 1)),
        ("g1", date(2024, 5, 2)),
        ("g2", date(2024, 5, 1)),
    ]
    first = index[0]
    assert first.messages == 3
    assert first.mean_score == pytest.approx((0.8 - 0.5 - 1 / 3) / 3)
    assert first.negative_share == pytest.approx(2 / 3)
    assert index[1].trend_7d == pytest.approx((0.8 - 0.5 - 1 / 3 + 1.0) / 4)
    assert index[2].negative_share == 0.0


def test_trend_ignores_days_older_than_a_week() -> None:
    rows = [(date(2024, 5, 1), "g", -1.0), (date(2024, 5, 8), "g", 1.0)]
    assert daily_sentiment_index(rows)[1].trend_7d == 1.0


def test_brand_index_pools_groups_and_threshold_is_configurable() -> None:
    rows = [(date(2024, 5, 1), "g1", -0.2), (date(2024, 5, 1), "g2", 0.4)]
    (brand,) = brand_sentiment_index(rows, brand="acme")
    assert (brand.group_id, brand.messages) == ("acme", 2)
    assert brand.negative_share == 0.0
    assert daily_sentiment_index(rows, negative_threshold=-0.1)[0].negative_share == 1.0
    assert pytest.approx(-1 / 3) == NEGATIVE_SCORE_THRESHOLD


def test_empty_rows_give_an_empty_index() -> None:
    assert daily_sentiment_index([]) == []


@pytest.mark.parametrize(
    "row",
    [
        ("2024-05-01", "g", 0.1),
        (date(2024, 5, 1), "g", float("nan")),
        (date(2024, 5, 1), "g", 1.5),
        (date(2024, 5, 1), "g", "bad"),
        (date(2024, 5, 1), "g"),
    ],
)
def test_malformed_rows_are_rejected(row: tuple) -> None:  # type: ignore[type-arg]
    with pytest.raises(InputFormatError):
        daily_sentiment_index([row])
