"""Labelled messages: the training record, JSONL reading and writing, the shipped splits."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from groupops.errors import InputFormatError
from groupops.text._classify_lexicon import INTENT_IDS, classify_data_directory

__all__ = [
    "SENTIMENTS",
    "Sentiment",
    "TrainingExample",
    "append_training_example",
    "builtin_training_examples",
    "load_training_examples",
]

Sentiment = Literal["negative", "neutral", "positive"]
SENTIMENTS: tuple[Sentiment, ...] = ("negative", "neutral", "positive")


@dataclass(frozen=True, slots=True)
class TrainingExample:
    """One message with its labels, as shipped or as corrected by an operator."""

    text: str
    sentiment: Sentiment
    complaint: bool
    question: bool
    intents: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.sentiment not in SENTIMENTS:
            raise InputFormatError(f"sentiment must be one of {SENTIMENTS}, got {self.sentiment!r}")
        unknown = set(self.intents) - set(INTENT_IDS)
        if unknown:
            raise InputFormatError(f"unknown intents {sorted(unknown)}; known: {', '.join(INTENT_IDS)}")

    def as_dict(self) -> dict[str, Any]:
        """The JSONL record of this example."""
        return {
            "text": self.text,
            "sentiment": self.sentiment,
            "complaint": self.complaint,
            "question": self.question,
            "intents": list(self.intents),
        }


def _example_from_record(record: Any, where: str) -> TrainingExample:
    if not isinstance(record, dict):
        raise InputFormatError(f"{where}: expected a JSON object")
    text, sentiment = record.get("text"), record.get("sentiment")
    complaint, question = record.get("complaint"), record.get("question")
    intents = record.get("intents", [])
    if not isinstance(text, str) or not isinstance(sentiment, str):
        raise InputFormatError(f"{where}: 'text' and 'sentiment' must be strings")
    if not isinstance(complaint, bool) or not isinstance(question, bool):
        raise InputFormatError(f"{where}: 'complaint' and 'question' must be true or false")
    if not isinstance(intents, list) or not all(isinstance(intent, str) for intent in intents):
        raise InputFormatError(f"{where}: 'intents' must be a list of intent ids")
    try:
        return TrainingExample(text, sentiment, complaint, question, tuple(sorted(set(intents))))  # type: ignore[arg-type]
    except InputFormatError as error:
        raise InputFormatError(f"{where}: {error}") from error


def load_training_examples(path: Path) -> list[TrainingExample]:
    """Read labelled messages from a JSONL file (blank lines skipped; errors name the line)."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InputFormatError(f"cannot read training examples {path}: {error}") from error
    examples = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputFormatError(f"{path}:{number}: not valid JSON ({error.msg})") from error
        examples.append(_example_from_record(record, f"{path}:{number}"))
    return examples


def append_training_example(path: Path, example: TrainingExample) -> None:
    """Append one corrected message to a corrections JSONL file (created when missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(example.as_dict(), ensure_ascii=False) + "\n")


SPLITS = ("train", "test")


def builtin_training_examples(splits: Iterable[str] = SPLITS) -> list[TrainingExample]:
    """The shipped labelled messages: ``train`` (70 %) and the held-out ``test`` split (30 %)."""
    chosen = list(splits)
    unknown = set(chosen) - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown splits {sorted(unknown)}; the shipped splits are {SPLITS}")
    folder = classify_data_directory()
    return [example for split in chosen for example in load_training_examples(folder / f"{split}.jsonl")]
