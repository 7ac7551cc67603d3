"""Lexicon-and-rules sentiment of chat messages, and the daily sentiment index.

The rules read ``data/classify/sentiment.yaml``: a negator (不, 没有, 一点都不, 不会 …) opens a
short scope that flips the next sentiment word (不贵, 没有色差 → positive; 不是很满意 →
negative); a contrast marker (但是, 不过, 就是 …) makes the clause after it weigh more and a
concession (虽然 …) less; emoji and slang carry their own weights. The message classifier uses
these numbers as features; :func:`score_sentiment` is the rule-only score.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from groupops.errors import InputFormatError
from groupops.text._classify_cues import question_cues
from groupops.text._classify_lexicon import ClassifierLexicon, default_classifier_lexicon
from groupops.text._classify_tokens import default_message_tokenizer, normalise_message

__all__ = [
    "NEGATIVE_SCORE_THRESHOLD",
    "DailySentiment",
    "LexiconSentiment",
    "brand_sentiment_index",
    "daily_sentiment_index",
    "lexicon_sentiment",
    "score_sentiment",
]

NEGATIVE_SCORE_THRESHOLD = -1.0 / 3.0
"""Scores at or below this are negative (the classifier's negative labels all score ≤ −1/3)."""

_NEGATION_WINDOW = 3
_CLAUSE_BREAKS = frozenset(",，。.!！?？;；~～、…")
_NEGATOR_CHARACTERS = ("不", "没", "无", "未", "别")
_QUESTION_DAMPING = 0.3
_BEFORE_CONTRAST = 0.5


@dataclass(frozen=True, slots=True)
class LexiconSentiment:
    """Positive and negative evidence in one message after negation and contrast."""

    positive: float
    negative: float
    negated_positive: int
    negated_negative: int
    contrast: bool
    last_clause: float

    @property
    def score(self) -> float:
        """Net evidence squashed into −1..1."""
        return math.tanh((self.positive - self.negative) / 2.0)


@dataclass(slots=True)
class _Scan:
    positive: float = 0.0
    negative: float = 0.0
    negated_positive: int = 0
    negated_negative: int = 0
    contrast: bool = False
    last_clause: float = 0.0
    segment_weight: float = 1.0
    negation_left: int = 0
    multiplier: float = 1.0
    dangling: float = 0.0  # polarity of an intensifier that may end its clause (真的好)

    def close_clause(self) -> None:
        if self.dangling:
            self.add(self.dangling / self.multiplier, negated=False)
        self.negation_left, self.multiplier, self.dangling = 0, 1.0, 0.0

    def add(self, polarity: float, negated: bool) -> None:
        if negated:
            self.negated_positive += polarity > 0
            self.negated_negative += polarity < 0
            polarity = -polarity * (0.9 if polarity > 0 else 0.6)
        value = polarity * self.multiplier * self.segment_weight
        if value > 0:
            self.positive += value
        else:
            self.negative -= value
        self.last_clause += value
        self.negation_left, self.multiplier, self.dangling = 0, 1.0, 0.0


def _split_negated(token: str, lexicon: ClassifierLexicon) -> float:
    """The polarity of the word after a leading negator character (不贵 → 贵), else 0."""
    if len(token) > 1 and token.startswith(_NEGATOR_CHARACTERS):
        return lexicon.polarity(token[1:]) or lexicon.polarity(token[2:])
    return 0.0


def _marker_step(token: str, scan: _Scan, lexicon: ClassifierLexicon) -> bool:
    """Handle clause, contrast, negation and intensity markers; True when the token was one."""
    if token in _CLAUSE_BREAKS:
        scan.close_clause()
    elif token in lexicon.contrast_markers:
        scan.close_clause()
        scan.contrast, scan.segment_weight, scan.last_clause = True, lexicon.contrast_weight, 0.0
        scan.positive, scan.negative = scan.positive * _BEFORE_CONTRAST, scan.negative * _BEFORE_CONTRAST
    elif token in lexicon.concession_markers:
        scan.segment_weight = lexicon.concession_weight
    elif token in lexicon.negators:
        scan.negation_left = _NEGATION_WINDOW
    elif token in lexicon.intensifiers:
        scan.multiplier *= lexicon.intensifiers[token]
        scan.dangling = lexicon.polarity(token) * scan.multiplier
    elif token in lexicon.diminishers:
        scan.multiplier *= lexicon.diminishers[token]
    else:
        return False
    return True


def lexicon_sentiment(tokens: Sequence[str], lexicon: ClassifierLexicon | None = None) -> LexiconSentiment:
    """Scan the tokens of a normalised message with negation scope and clause weights."""
    lexicon = lexicon or default_classifier_lexicon()
    scan = _Scan()
    for token in tokens:
        polarity = (
            0.0 if token in lexicon.intensifiers else lexicon.polarity(token) or lexicon.emoji.get(token, 0.0)
        )
        if polarity:
            scan.add(polarity, negated=scan.negation_left > 0 and token not in lexicon.emoji)
        elif token in lexicon.fixed_phrases:
            scan.negation_left = 0
        elif _marker_step(token, scan, lexicon):
            continue
        elif negated_polarity := _split_negated(token, lexicon):
            scan.add(negated_polarity, negated=True)
        elif token not in lexicon.scope_fillers:
            scan.negation_left = max(scan.negation_left - 1, 0)
    scan.close_clause()
    return LexiconSentiment(
        positive=scan.positive,
        negative=scan.negative,
        negated_positive=scan.negated_positive,
        negated_negative=scan.negated_negative,
        contrast=scan.contrast,
        last_clause=scan.last_clause,
    )


def score_sentiment(text: str) -> float:
    """Rule-only sentiment of one message in −1..1 (questions are damped towards 0)."""
    normalised = normalise_message(text)
    if not normalised:
        return 0.0
    lexicon = default_classifier_lexicon()
    score = lexicon_sentiment(default_message_tokenizer().tokens(normalised), lexicon).score
    if question_cues(normalised, lexicon).looks_like_question:
        score *= _QUESTION_DAMPING
    return score


@dataclass(frozen=True, slots=True)
class DailySentiment:
    """The sentiment index of one group (or brand) on one day."""

    day: date
    group_id: str
    messages: int
    mean_score: float
    negative_share: float
    trend_7d: float
    """Message-weighted mean score over this day and the six before it."""


def _checked_row(row: tuple[date, str, float]) -> tuple[date, str, float]:
    try:
        day, group_id, score = row
        score = float(score)
    except (TypeError, ValueError) as error:
        raise InputFormatError(f"sentiment row must be (date, group_id, score), got {row!r}") from error
    if not isinstance(day, date) or not math.isfinite(score) or not -1.0 <= score <= 1.0:
        raise InputFormatError(f"sentiment row needs a date and a score in -1..1, got {row!r}")
    return (day.date() if isinstance(day, datetime) else day), str(group_id), score


def daily_sentiment_index(
    rows: Iterable[tuple[date, str, float]],
    negative_threshold: float = NEGATIVE_SCORE_THRESHOLD,
) -> list[DailySentiment]:
    """Per group and day: message count, mean score, share negative and a 7-day trend."""
    totals: dict[tuple[str, date], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for row in rows:
        day, group_id, score = _checked_row(row)
        bucket = totals[(group_id, day)]
        bucket[0] += 1
        bucket[1] += score
        bucket[2] += score <= negative_threshold
    index = []
    for group_id, day in sorted(totals):
        count, score_sum, negatives = totals[(group_id, day)]
        index.append(
            DailySentiment(
                day=day,
                group_id=group_id,
                messages=int(count),
                mean_score=score_sum / count,
                negative_share=negatives / count,
                trend_7d=_trailing_mean(totals, group_id, day),
            )
        )
    return index


def _trailing_mean(totals: dict[tuple[str, date], list[float]], group_id: str, day: date) -> float:
    count = score_sum = 0.0
    for offset in range(7):
        bucket = totals.get((group_id, day - timedelta(days=offset)))
        if bucket is not None:
            count += bucket[0]
            score_sum += bucket[1]
    return score_sum / count


def brand_sentiment_index(
    rows: Iterable[tuple[date, str, float]],
    brand: str = "brand",
    negative_threshold: float = NEGATIVE_SCORE_THRESHOLD,
) -> list[DailySentiment]:
    """The daily index of all groups together, reported under the id ``brand``."""
    return daily_sentiment_index(((day, brand, score) for day, _group, score in rows), negative_threshold)
