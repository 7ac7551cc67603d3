"""Message classifier: sentiment, complaint, question and intents of group-chat messages.

Rules and a model work together. The rules (``data/classify/*.yaml``: sentiment lexicon with
negation scope and contrast, question / rhetorical / complaint cues, intent cues) turn each
message into numbers; jieba words with negation marks (不贵 → 不 ¬贵) and character 1–3-grams
add the wording. One scikit-learn logistic regression per label learns from the labelled
messages shipped in ``data/classify/`` plus any operator corrections, in about a second, once
per process. Operator corrections are also authoritative for the identical message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse, special
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_fscore_support

from groupops.errors import InputFormatError
from groupops.text._classify_examples import (
    SENTIMENTS,
    Sentiment,
    TrainingExample,
    append_training_example,
    builtin_training_examples,
    load_training_examples,
)
from groupops.text._classify_features import MessageFeaturizer, analyse_message
from groupops.text._classify_lexicon import INTENT_IDS, ClassifierLexicon, default_classifier_lexicon
from groupops.text._classify_tokens import MessageTokenizer, default_message_tokenizer, normalise_message

__all__ = [
    "INTENT_IDS",
    "SENTIMENTS",
    "LabelScores",
    "MessageClassifier",
    "MessageLabels",
    "TrainingExample",
    "append_training_example",
    "builtin_training_examples",
    "classify_message",
    "classify_messages",
    "default_classifier",
    "evaluate_classifier",
    "load_training_examples",
    "train_classifier",
]

CORRECTION_WEIGHT = 3.0
"""Operator corrections count this many times in training."""
_BATCH = 20_000
_SENTIMENT_BAND = 1.0 / 3.0
_SENTIMENT_MODELS = tuple(f"sentiment:{sentiment}" for sentiment in SENTIMENTS)
_C = {"complaint": 10.0, "question": 10.0}
"""Inverse regularisation per model (others 4.0), chosen by cross-validation on the train split."""
_UNBALANCED = frozenset({*_SENTIMENT_MODELS, "complaint", "question"})


@dataclass(frozen=True, slots=True)
class MessageLabels:
    """The labels of one message. ``score`` is in −1..1: negative ≤ −1/3 < neutral < 1/3 ≤ positive."""

    text: str
    sentiment: Sentiment
    score: float
    complaint: bool
    question: bool
    intents: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """The JSON record of ``text classify`` without the line number."""
        return {
            "text": self.text,
            "sentiment": self.sentiment,
            "score": self.score,
            "complaint": self.complaint,
            "question": self.question,
            "intents": list(self.intents),
        }


@dataclass(frozen=True, slots=True)
class LabelScores:
    """Precision, recall and F1 of one label on a set of labelled messages."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int


def _empty_labels(text: str) -> MessageLabels:
    return MessageLabels(text, "neutral", 0.0, False, False, ())


def _sentiment_and_score(probabilities: np.ndarray, complaint: bool) -> tuple[Sentiment, float]:
    """Label and a score consistent with it (probabilities ordered negative, neutral, positive)."""
    negative, neutral, positive = (float(value) for value in probabilities)
    if complaint or (negative >= neutral and negative >= positive):
        return "negative", -max(negative, _SENTIMENT_BAND)
    if positive > neutral:
        return "positive", max(positive, _SENTIMENT_BAND)
    return "neutral", (positive - negative) / 2.0


def _shown_score(label: Sentiment, score: float) -> float:
    """``score`` to 3 decimals, still on its label's side of ±1/3 (−0.3333 would round to −0.333)."""
    shown = round(score, 3)
    if label == "negative":
        return min(shown, -0.334)
    if label == "positive":
        return max(shown, 0.334)
    return shown


class MessageClassifier:
    """A trained classifier; use :func:`train_classifier` or :func:`default_classifier`."""

    def __init__(
        self,
        lexicon: ClassifierLexicon,
        tokenizer: MessageTokenizer,
        featurizer: MessageFeaturizer,
        models: dict[str, LogisticRegression],
        corrections: dict[str, TrainingExample],
    ) -> None:
        self._lexicon = lexicon
        self._tokenizer = tokenizer
        self._featurizer = featurizer
        self._models = models
        self._corrections = corrections
        self._stacked = _StackedModels(models)

    def classify(self, text: str) -> MessageLabels:
        """Labels of one message."""
        return self.classify_many([text])[0]

    def classify_many(self, texts: Iterable[str]) -> list[MessageLabels]:
        """Labels of many messages; identical messages are analysed once."""
        originals = list(texts)
        normalised = [normalise_message(text) for text in originals]
        unique = list(dict.fromkeys(text for text in normalised if text))
        labelled: dict[str, MessageLabels] = {}
        for start in range(0, len(unique), _BATCH):
            labelled.update(self._classify_unique(unique[start : start + _BATCH]))
        return [
            _relabelled(labelled[key], original) if key else _empty_labels(original)
            for original, key in zip(originals, normalised, strict=True)
        ]

    def _classify_unique(self, normalised: Sequence[str]) -> dict[str, MessageLabels]:
        analyses = [analyse_message(text, self._tokenizer, self._lexicon) for text in normalised]
        probabilities = self._stacked.probabilities(self._featurizer.transform(analyses))
        sentiment = _normalised_rows(probabilities[:, : len(_SENTIMENT_MODELS)])
        flags = probabilities >= 0.5
        column = self._stacked.column
        complaint_flags, question_flags = flags[:, column["complaint"]], flags[:, column["question"]]
        intent_flags = flags[:, [column[intent] for intent in INTENT_IDS]]
        results = {}
        for row, text in enumerate(normalised):
            correction = self._corrections.get(text)
            if correction is not None:
                results[text] = _labels_from_example(text, correction)
                continue
            intents = tuple(
                intent for intent, flag in zip(INTENT_IDS, intent_flags[row], strict=True) if flag
            )
            if "spam_ad" not in intents and analyses[row].spam:
                intents = (*intents, "spam_ad")
            complaint = bool(complaint_flags[row])
            label, score = _sentiment_and_score(sentiment[row], complaint)
            results[text] = MessageLabels(
                text, label, _shown_score(label, score), complaint, bool(question_flags[row]), intents
            )
        return results


class _StackedModels:
    """Every binary logistic regression as one weight matrix: one product and one sigmoid.

    Column order: the three sentiment models first, then the others. The numbers equal each
    model's ``predict_proba(matrix)[:, 1]``; a model trained on one class gives that class.
    """

    def __init__(self, models: dict[str, LogisticRegression]) -> None:
        names = [*_SENTIMENT_MODELS, *(name for name in models if name not in _SENTIMENT_MODELS)]
        self.column = {name: index for index, name in enumerate(names)}
        fitted = [models[name] for name in names if len(models[name].classes_) > 1]
        width = fitted[0].coef_.shape[1] if fitted else 0
        self._weights = np.zeros((width, len(names)))
        self._intercepts = np.zeros(len(names))
        self._constant = np.full(len(names), np.nan)
        for index, name in enumerate(names):
            model = models[name]
            if len(model.classes_) == 1:
                self._constant[index] = float(model.classes_[0])
            else:
                self._weights[:, index] = model.coef_[0]
                self._intercepts[index] = model.intercept_[0]

    def probabilities(self, matrix: sparse.csr_matrix) -> np.ndarray:
        """One row per message, one column per model: the probability of the positive class."""
        if self._weights.shape[0] == 0:
            return np.tile(self._constant, (matrix.shape[0], 1))
        scores = np.asarray(matrix @ self._weights) + self._intercepts
        probabilities = special.expit(scores)
        constant = ~np.isnan(self._constant)
        probabilities[:, constant] = self._constant[constant]
        return np.asarray(probabilities)


def _normalised_rows(columns: np.ndarray) -> np.ndarray:
    """One-vs-rest probabilities (negative, neutral, positive), rows normalised to sum 1."""
    return columns / np.maximum(columns.sum(axis=1, keepdims=True), 1e-12)


def _relabelled(labels: MessageLabels, original: str) -> MessageLabels:
    return MessageLabels(
        original, labels.sentiment, labels.score, labels.complaint, labels.question, labels.intents
    )


def _labels_from_example(text: str, example: TrainingExample) -> MessageLabels:
    score = {"negative": -1.0, "neutral": 0.0, "positive": 1.0}[example.sentiment]
    return MessageLabels(text, example.sentiment, score, example.complaint, example.question, example.intents)


def _targets(examples: Sequence[TrainingExample]) -> dict[str, np.ndarray]:
    targets = {
        f"sentiment:{sentiment}": np.array(
            [example.sentiment == sentiment for example in examples], dtype=int
        )
        for sentiment in SENTIMENTS
    }
    targets |= {
        "complaint": np.array([example.complaint for example in examples], dtype=int),
        "question": np.array([example.question for example in examples], dtype=int),
    }
    for intent in INTENT_IDS:
        targets[intent] = np.array([intent in example.intents for example in examples], dtype=int)
    return targets


def _fit_model(
    name: str, matrix: sparse.csr_matrix, target: np.ndarray, weights: np.ndarray
) -> LogisticRegression:
    balanced = None if name in _UNBALANCED else "balanced"
    model = LogisticRegression(C=_C.get(name, 4.0), solver="liblinear", max_iter=1000, class_weight=balanced)
    if len(np.unique(target)) == 1:  # a label nobody used: a constant model
        model.classes_ = np.unique(target)
        return model
    return model.fit(matrix, target, sample_weight=weights)


def train_classifier(
    extra_examples: Iterable[TrainingExample] = (),
    corrections_path: Path | None = None,
    include_builtin: bool = True,
    builtin_splits: Sequence[str] = ("train", "test"),
) -> MessageClassifier:
    """Train on the shipped messages plus operator corrections (from memory and/or a JSONL file)."""
    corrections = list(extra_examples)
    if corrections_path is not None:
        corrections.extend(load_training_examples(corrections_path))
    base = builtin_training_examples(builtin_splits) if include_builtin else []
    examples = base + corrections
    if not examples:
        raise InputFormatError("no training examples: include the built-in ones or give corrections")
    lexicon, tokenizer = default_classifier_lexicon(), default_message_tokenizer()
    analyses = [analyse_message(normalise_message(example.text), tokenizer, lexicon) for example in examples]
    featurizer = MessageFeaturizer().fit(analyses)
    matrix = featurizer.transform(analyses)
    weights = np.array([1.0] * len(base) + [CORRECTION_WEIGHT] * len(corrections))
    models = {name: _fit_model(name, matrix, target, weights) for name, target in _targets(examples).items()}
    corrected = {_key(example): example for example in corrections if _key(example)}
    return MessageClassifier(lexicon, tokenizer, featurizer, models, corrected)


def _key(example: TrainingExample) -> str:
    return normalise_message(example.text)


@cache
def default_classifier() -> MessageClassifier:
    """The classifier trained on all shipped messages, built once per process."""
    return train_classifier()


def classify_message(text: str) -> MessageLabels:
    """Labels of one message with the default classifier."""
    return default_classifier().classify(text)


def classify_messages(texts: Iterable[str]) -> list[MessageLabels]:
    """Labels of many messages with the default classifier (batched, duplicates analysed once)."""
    return default_classifier().classify_many(texts)


def evaluate_classifier(
    classifier: MessageClassifier, examples: Sequence[TrainingExample]
) -> list[LabelScores]:
    """Per-label precision, recall and F1 of ``classifier`` on labelled ``examples``."""
    predicted = classifier.classify_many([example.text for example in examples])
    pairs: dict[str, tuple[list[bool], list[bool]]] = {
        "complaint": ([e.complaint for e in examples], [p.complaint for p in predicted]),
        "question": ([e.question for e in examples], [p.question for p in predicted]),
    }
    for sentiment in SENTIMENTS:
        pairs[f"sentiment:{sentiment}"] = (
            [e.sentiment == sentiment for e in examples],
            [p.sentiment == sentiment for p in predicted],
        )
    for intent in INTENT_IDS:
        pairs[f"intent:{intent}"] = (
            [intent in e.intents for e in examples],
            [intent in p.intents for p in predicted],
        )
    return [_label_scores(label, truth, guess) for label, (truth, guess) in pairs.items()]


def _label_scores(label: str, truth: list[bool], guess: list[bool]) -> LabelScores:
    precision, recall, f1, _support = precision_recall_fscore_support(
        truth, guess, average="binary", pos_label=True, zero_division=0.0
    )
    return LabelScores(label, float(precision), float(recall), float(f1), sum(truth))
