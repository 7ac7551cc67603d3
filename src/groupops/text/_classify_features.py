"""Features of a chat message: rule numbers, negation-marked words and character n-grams."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from groupops.text._classify_complaint import SIGNAL_NAMES, ComplaintSignals, complaint_signals
from groupops.text._classify_cues import QuestionCues, complaint_cue_count, question_cues
from groupops.text._classify_lexicon import INTENT_IDS, ClassifierLexicon, CueHits
from groupops.text._classify_structure import STRUCTURE_FEATURE_NAMES, clause_structure
from groupops.text._classify_tokens import MessageTokenizer
from groupops.text.hygiene import detect_spam
from groupops.text.sentiment import lexicon_sentiment

__all__ = ["DENSE_FEATURE_NAMES", "MessageAnalysis", "MessageFeaturizer", "analyse_message", "marked_tokens"]

ANALYSED_CHARACTERS = 2_000
"""Only the first characters of a very long message are analysed (chat messages are short)."""

NEGATED_PREFIX = "¬"
_CLAUSE_BREAKS = frozenset(",，。.!！?？;；~～、…")
_NEGATION_WINDOW = 3
_DENSE_WEIGHT = 2.0
_ENOUGH_FOR_MIN_DF = 50

DENSE_FEATURE_NAMES: tuple[str, ...] = (
    "lexicon_positive",
    "lexicon_negative",
    "lexicon_score",
    "assertive_score",
    "assertive_negative",
    "negated_positive",
    "negated_negative",
    "contrast",
    "last_clause",
    "question_mark",
    "final_particle",
    "interrogatives",
    "requests",
    "question_patterns",
    "rhetorical",
    "rule_question",
    "complaint_cues",
    "plain_question",
    "rhetorical_positive",
    "rhetorical_negative",
    "length",
    "very_short",
    "spam_score",
    *(f"intent_{intent}" for intent in INTENT_IDS),
    "asserted_problems",
    "negated_problems",
    "queried_problems",
    "plain_problems",
    *(f"signal_{name}" for name in SIGNAL_NAMES),
    "problem_not_hypothetical",
    "waiting_question",
    "property_question",
    "only_negated_problems",
    "problem_remedy_question",
    *STRUCTURE_FEATURE_NAMES,
)


@dataclass(frozen=True, slots=True)
class MessageAnalysis:
    """One normalised message, its marked words and its rule features."""

    normalised: str
    character_text: str
    """What the character n-grams read: negated / queried problem words replaced by marks."""
    marked_tokens: tuple[str, ...]
    dense: np.ndarray
    spam: bool


def marked_tokens(tokens: Sequence[str], lexicon: ClassifierLexicon) -> list[str]:
    """The words with those inside a negation scope prefixed by ``¬`` (不贵 → 不, ¬贵)."""
    marked: list[str] = []
    left = 0
    for token in tokens:
        if token in _CLAUSE_BREAKS or token in lexicon.contrast_markers:
            left = 0
            marked.append(token)
        elif token in lexicon.negators:
            left = _NEGATION_WINDOW
            marked.append(token)
        elif left and token not in lexicon.fixed_phrases:
            marked.append(NEGATED_PREFIX + token)
            left = 0 if lexicon.polarity(token) else left - (token not in lexicon.scope_fillers)
        else:
            marked.append(token)
    return marked


def _capped(value: float, cap: float) -> float:
    return min(value, cap) / cap


def _dense_features(
    normalised: str,
    tokens: Sequence[str],
    lexicon: ClassifierLexicon,
    spam_score: float,
    signals: ComplaintSignals,
    hits: CueHits,
) -> np.ndarray:
    sentiment = lexicon_sentiment(tokens, lexicon)
    cues = question_cues(normalised, lexicon, hits)
    complaints = complaint_cue_count(normalised, lexicon, hits)
    values = [
        _capped(sentiment.positive, 4.0),
        _capped(sentiment.negative, 4.0),
        sentiment.score,
        sentiment.score * (not cues.looks_like_question or cues.rhetorical > 0),
        float(sentiment.score < -0.2 and not cues.looks_like_question),
        _capped(sentiment.negated_positive, 2.0),
        _capped(sentiment.negated_negative, 2.0),
        float(sentiment.contrast),
        math.tanh(sentiment.last_clause / 2.0),
        float(cues.question_mark),
        float(cues.final_particle),
        _capped(cues.interrogatives, 3.0),
        _capped(cues.requests, 2.0),
        _capped(cues.patterns, 2.0),
        _capped(cues.rhetorical, 2.0),
        float(cues.looks_like_question),
        _capped(complaints, 3.0),
        float(cues.looks_like_question and not complaints and sentiment.score > -0.5),
        float(cues.rhetorical > 0 and (sentiment.positive > 0 or sentiment.negated_positive > 0)),
        float(cues.rhetorical > 0 and sentiment.negative > 0 and not sentiment.negated_negative),
        _capped(math.log1p(len(normalised)), 5.0),
        float(len(normalised) <= 3),
        min(spam_score, 2.0) / 2.0,
    ]
    values.extend(_capped(hits.count(f"intent:{intent}"), 3.0) for intent in INTENT_IDS)
    values.extend(_complaint_features(signals, cues))
    structure = clause_structure(normalised, lexicon, signals.problem_starts)
    values.extend(structure.features(signals.problems))
    return np.asarray(values, dtype=np.float64)


def _complaint_features(signals: ComplaintSignals, cues: QuestionCues) -> list[float]:
    """Problem and signal counts plus the combinations that separate reports from questions."""
    counts = signals.counts
    asking = cues.looks_like_question
    hypothetical = counts["hypothetical"] > 0
    return [
        _capped(signals.asserted_problems, 3.0),
        _capped(signals.negated_problems, 2.0),
        _capped(signals.queried_problems, 2.0),
        _capped(signals.plain_problems, 3.0),
        *(_capped(counts[name], 2.0) for name in SIGNAL_NAMES),
        float(signals.problems > 0 and not hypothetical),
        float(counts["waiting"] > 0 and asking),
        float((signals.queried_problems > 0 or (signals.problems > 0 and hypothetical)) and asking),
        float(signals.negated_problems > 0 and not signals.problems),
        float(signals.problems > 0 and asking and counts["remedy"] > 0),
    ]


def analyse_message(
    normalised: str, tokenizer: MessageTokenizer, lexicon: ClassifierLexicon
) -> MessageAnalysis:
    """Tokens, negation marks and rule features of one normalised message."""
    clipped = normalised[:ANALYSED_CHARACTERS]
    tokens = tokenizer.tokens(clipped)
    spam = detect_spam(clipped)
    hits = lexicon.scan(clipped)
    signals = complaint_signals(clipped, lexicon, hits)
    dense = _dense_features(clipped, tokens, lexicon, spam.score, signals, hits)
    return MessageAnalysis(
        clipped, signals.marked_text, tuple(marked_tokens(tokens, lexicon)), dense, spam.is_spam
    )


def _identity(tokens: Sequence[str]) -> Sequence[str]:
    return tokens


class MessageFeaturizer:
    """Character 1–3-grams + negation-marked words (TF-IDF) + the scaled rule features."""

    def __init__(self, character_ngrams: tuple[int, int] = (1, 3)) -> None:
        self._characters = TfidfVectorizer(
            analyzer="char",
            ngram_range=character_ngrams,
            min_df=2,
            sublinear_tf=True,
            lowercase=False,
            dtype=np.float64,
        )
        self._words = TfidfVectorizer(analyzer=_identity, min_df=1, sublinear_tf=True, dtype=np.float64)

    def fit(self, analyses: Sequence[MessageAnalysis]) -> MessageFeaturizer:
        """Learn the n-gram and word vocabularies (rare n-grams dropped once there is data)."""
        self._characters.set_params(min_df=2 if len(analyses) >= _ENOUGH_FOR_MIN_DF else 1)
        self._characters.fit([analysis.character_text for analysis in analyses])
        self._words.fit([analysis.marked_tokens for analysis in analyses])
        return self

    def transform(self, analyses: Sequence[MessageAnalysis]) -> sparse.csr_matrix:
        """One sparse feature row per message."""
        characters = self._characters.transform([analysis.character_text for analysis in analyses])
        words = self._words.transform([analysis.marked_tokens for analysis in analyses])
        dense = sparse.csr_matrix(np.vstack([analysis.dense for analysis in analyses]) * _DENSE_WEIGHT)
        return sparse.hstack([characters, words, dense], format="csr")
