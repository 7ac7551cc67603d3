"""Features of a chat message: rule numbers, negation-marked words and character n-grams."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import ahocorasick_rs
import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer, TfidfVectorizer

from groupops.text._classify_complaint import SIGNAL_NAMES, ComplaintSignals, complaint_signals
from groupops.text._classify_cues import complaint_cue_count, question_cues
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
_WHITESPACE_RUN = re.compile(r"\s\s+")  # as scikit-learn's character analyser reads text

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


def _feature_caps() -> np.ndarray:
    """Per dense feature, the count at which it saturates (inf: used as it is)."""
    caps = {
        "lexicon_positive": 4.0,
        "lexicon_negative": 4.0,
        "negated_positive": 2.0,
        "negated_negative": 2.0,
        "interrogatives": 3.0,
        "requests": 2.0,
        "question_patterns": 2.0,
        "rhetorical": 2.0,
        "complaint_cues": 3.0,
        "length": 5.0,
        "spam_score": 2.0,
        "asserted_problems": 3.0,
        "negated_problems": 2.0,
        "queried_problems": 2.0,
        "plain_problems": 3.0,
    }
    caps |= {f"intent_{intent}": 3.0 for intent in INTENT_IDS}
    caps |= {f"signal_{name}": 2.0 for name in SIGNAL_NAMES}
    return np.array([caps.get(name, np.inf) for name in DENSE_FEATURE_NAMES])


_CAPS = _feature_caps()
_DIVISORS = np.where(np.isinf(_CAPS), 1.0, _CAPS)
_INTENT_KEYS = tuple(f"intent:{intent}" for intent in INTENT_IDS)


def _dense_features(
    normalised: str,
    tokens: Sequence[str],
    lexicon: ClassifierLexicon,
    spam_score: float,
    signals: ComplaintSignals,
    hits: CueHits,
) -> np.ndarray:
    """The rule numbers of :data:`DENSE_FEATURE_NAMES`, counts saturating at their caps."""
    sentiment = lexicon_sentiment(tokens, lexicon)
    cues = question_cues(normalised, lexicon, hits)
    complaints = complaint_cue_count(normalised, lexicon, hits)
    asking, score = cues.looks_like_question, sentiment.score
    values = [
        sentiment.positive,
        sentiment.negative,
        score,
        score * (not asking or cues.rhetorical > 0),
        float(score < -0.2 and not asking),
        sentiment.negated_positive,
        sentiment.negated_negative,
        float(sentiment.contrast),
        math.tanh(sentiment.last_clause / 2.0),
        float(cues.question_mark),
        float(cues.final_particle),
        cues.interrogatives,
        cues.requests,
        cues.patterns,
        cues.rhetorical,
        float(asking),
        complaints,
        float(asking and not complaints and score > -0.5),
        float(cues.rhetorical > 0 and (sentiment.positive > 0 or sentiment.negated_positive > 0)),
        float(cues.rhetorical > 0 and sentiment.negative > 0 and not sentiment.negated_negative),
        math.log1p(len(normalised)),
        float(len(normalised) <= 3),
        spam_score,
    ]
    values.extend(hits.count(key) for key in _INTENT_KEYS)
    values.extend(_complaint_features(signals, asking))
    structure = clause_structure(normalised, lexicon, signals.problem_starts)
    values.extend(structure.features(signals.problems))
    return np.minimum(np.array(values, dtype=np.float64), _CAPS) / _DIVISORS


def _complaint_features(signals: ComplaintSignals, asking: bool) -> list[float]:
    """Problem and signal counts plus the combinations that separate reports from questions."""
    counts = signals.counts
    hypothetical = counts["hypothetical"] > 0
    problems = signals.problems
    return [
        signals.asserted_problems,
        signals.negated_problems,
        signals.queried_problems,
        signals.plain_problems,
        *(counts[name] for name in SIGNAL_NAMES),
        float(problems > 0 and not hypothetical),
        float(counts["waiting"] > 0 and asking),
        float((signals.queried_problems > 0 or (problems > 0 and hypothetical)) and asking),
        float(signals.negated_problems > 0 and not problems),
        float(problems > 0 and asking and counts["remedy"] > 0),
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


class _CharacterNgrams:
    """Character n-gram TF-IDF (sublinear tf, l2 rows) whose counting is one automaton pass.

    The vocabulary is learnt as scikit-learn's ``analyzer="char"`` learns it; every
    occurrence of every vocabulary n-gram is then found by Aho-Corasick instead of slicing
    all n-grams out of the text, which gives the same counts and so the same numbers.
    """

    def __init__(self, ngram_range: tuple[int, int]) -> None:
        self._vocabulary = CountVectorizer(
            analyzer="char", ngram_range=ngram_range, min_df=2, lowercase=False, dtype=np.float64
        )
        self._tfidf = TfidfTransformer(sublinear_tf=True)
        self._automaton: ahocorasick_rs.AhoCorasick | None = None
        self._width = 0

    def fit(self, texts: Sequence[str], min_df: int) -> None:
        self._vocabulary.set_params(min_df=min_df)
        self._vocabulary.fit(texts)
        terms = sorted(self._vocabulary.vocabulary_, key=self._vocabulary.vocabulary_.__getitem__)
        self._width = len(terms)
        self._automaton = ahocorasick_rs.AhoCorasick(terms, matchkind=ahocorasick_rs.MatchKind.Standard)
        self._tfidf.fit(self._counts(texts))

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        return sparse.csr_matrix(self._tfidf.transform(self._counts(texts), copy=False))

    def _counts(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Occurrences of each vocabulary n-gram per text (runs of whitespace read as one space)."""
        if self._automaton is None:
            raise ValueError("character n-grams used before fit")
        find = self._automaton.find_matches_as_indexes
        columns: list[int] = []
        sizes: list[int] = []
        for text in texts:
            found = find(_WHITESPACE_RUN.sub(" ", text), overlapping=True) if text else []
            columns.extend(index for index, _start, _end in found)
            sizes.append(len(found))
        rows = np.repeat(np.arange(len(texts)), sizes)
        counts = sparse.csr_matrix(
            (np.ones(len(columns)), (rows, np.asarray(columns, dtype=np.int64))),
            shape=(len(texts), self._width),
        )
        counts.sum_duplicates()
        counts.sort_indices()
        return counts


class MessageFeaturizer:
    """Character 1–3-grams + negation-marked words (TF-IDF) + the scaled rule features."""

    def __init__(self, character_ngrams: tuple[int, int] = (1, 3)) -> None:
        self._characters = _CharacterNgrams(character_ngrams)
        self._words = TfidfVectorizer(analyzer=_identity, min_df=1, sublinear_tf=True, dtype=np.float64)

    def fit(self, analyses: Sequence[MessageAnalysis]) -> MessageFeaturizer:
        """Learn the n-gram and word vocabularies (rare n-grams dropped once there is data)."""
        min_df = 2 if len(analyses) >= _ENOUGH_FOR_MIN_DF else 1
        self._characters.fit([analysis.character_text for analysis in analyses], min_df)
        self._words.fit([analysis.marked_tokens for analysis in analyses])
        return self

    def transform(self, analyses: Sequence[MessageAnalysis]) -> sparse.csr_matrix:
        """One sparse feature row per message."""
        characters = self._characters.transform([analysis.character_text for analysis in analyses])
        words = self._words.transform([analysis.marked_tokens for analysis in analyses])
        dense = sparse.csr_matrix(np.vstack([analysis.dense for analysis in analyses]) * _DENSE_WEIGHT)
        return sparse.hstack([characters, words, dense], format="csr")
