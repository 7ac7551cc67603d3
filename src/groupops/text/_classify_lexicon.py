"""Lexicons and cue lists of the message classifier, loaded from ``data/classify/*.yaml``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import ahocorasick_rs
import yaml

from groupops.errors import ConfigurationError

__all__ = [
    "INTENT_IDS",
    "ClassifierLexicon",
    "CueHits",
    "CueIndex",
    "CueSet",
    "SpamLexicon",
    "TermFinder",
    "classify_data_directory",
    "default_classifier_lexicon",
    "default_spam_lexicon",
    "load_classifier_lexicon",
    "load_spam_lexicon",
]

INTENT_IDS: tuple[str, ...] = (
    "size_fit",
    "logistics",
    "price_discount",
    "material_care",
    "after_sales",
    "order_status",
    "activity_points",
    "praise",
    "check_in",
    "poll_vote",
    "spam_ad",
)
"""The intent ids, in the order they are reported."""


class TermFinder:
    """Which of many fixed terms occur in a text, in one Aho-Corasick pass."""

    def __init__(self, terms: tuple[str, ...]) -> None:
        self.terms = tuple(dict.fromkeys(term for term in terms if term))
        self._automaton = (
            ahocorasick_rs.AhoCorasick(self.terms, matchkind=ahocorasick_rs.MatchKind.Standard)
            if self.terms
            else None
        )

    def found(self, text: str) -> list[str]:
        """The distinct terms occurring in ``text``, in term order."""
        if self._automaton is None or not text:
            return []
        indexes = {
            index for index, _start, _end in self._automaton.find_matches_as_indexes(text, overlapping=True)
        }
        return [self.terms[index] for index in sorted(indexes)]

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Start and end of every (overlapping) term occurrence in ``text``, in text order."""
        if self._automaton is None or not text:
            return []
        matches = self._automaton.find_matches_as_indexes(text, overlapping=True)
        return sorted((start, end) for _index, start, end in matches)


@dataclass(frozen=True, slots=True)
class CueSet:
    """Substrings and compiled regular expressions that signal one thing."""

    substrings: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...]
    finder: TermFinder

    def count(self, text: str) -> int:
        """How many of the cues occur in ``text`` (each cue counted once)."""
        found = len(self.finder.found(text))
        return found + sum(1 for pattern in self.patterns if pattern.search(text))


@dataclass(frozen=True, slots=True)
class CueHits:
    """Where the substrings of every indexed cue set occur in one text, and how many cues hit."""

    text: str
    found: dict[str, list[tuple[int, int]]]
    counts: dict[str, int] = field(default_factory=dict)
    """Per set: distinct terms found plus matching patterns (absent: 0)."""
    pattern_counts: dict[str, int] = field(default_factory=dict)
    """Per set: matching patterns only (absent: 0)."""

    def spans(self, name: str) -> list[tuple[int, int]]:
        """Start and end of every (overlapping) occurrence of the set's terms, in text order."""
        return sorted(self.found.get(name, ()))

    def count(self, name: str) -> int:
        """Like :meth:`CueSet.count`: distinct terms found plus matching patterns."""
        return self.counts.get(name, 0)

    def pattern_count(self, name: str) -> int:
        """How many of the set's regular expressions match the text."""
        return self.pattern_counts.get(name, 0)


class CueIndex:
    """The substrings of many cue sets in one automaton: one pass per message finds them all."""

    def __init__(self, sets: dict[str, CueSet]) -> None:
        owners: dict[str, list[str]] = {}
        for name, cues in sets.items():
            for term in cues.finder.terms:
                owners.setdefault(term, []).append(name)
        self._owners = tuple(tuple(names) for names in owners.values())
        self._automaton = (
            ahocorasick_rs.AhoCorasick(list(owners), matchkind=ahocorasick_rs.MatchKind.Standard)
            if owners
            else None
        )
        self._searches = tuple(
            (name, pattern.search) for name, cues in sets.items() for pattern in cues.patterns
        )

    def scan(self, text: str) -> CueHits:
        """Every occurrence of every indexed term in ``text``, grouped by cue set, and the counts."""
        found: dict[str, list[tuple[int, int]]] = {}
        terms: dict[str, set[int]] = {}
        if self._automaton is not None and text:
            for index, start, end in self._automaton.find_matches_as_indexes(text, overlapping=True):
                for name in self._owners[index]:
                    found.setdefault(name, []).append((start, end))
                    terms.setdefault(name, set()).add(index)
        counts = {name: len(indexes) for name, indexes in terms.items()}
        pattern_counts: dict[str, int] = {}
        for name, search in self._searches:
            if search(text) is not None:
                pattern_counts[name] = pattern_counts.get(name, 0) + 1
        for name, matching in pattern_counts.items():
            counts[name] = counts.get(name, 0) + matching
        return CueHits(text, found, counts, pattern_counts)


def _cues(substrings: tuple[str, ...], patterns: tuple[re.Pattern[str], ...] = ()) -> CueSet:
    return CueSet(substrings, patterns, TermFinder(substrings))


@dataclass(frozen=True, slots=True)
class ClassifierLexicon:
    """Everything the rules of the classifier read from the data files."""

    positive: dict[str, float]
    negative: dict[str, float]
    fixed_phrases: frozenset[str]
    negators: frozenset[str]
    scope_fillers: frozenset[str]
    intensifiers: dict[str, float]
    diminishers: dict[str, float]
    contrast_markers: frozenset[str]
    concession_markers: frozenset[str]
    contrast_weight: float
    concession_weight: float
    emoji: dict[str, float]
    question_final_particles: frozenset[str]
    question_interrogatives: CueSet
    question_not_interrogative: tuple[str, ...]
    question_requests: CueSet
    question_patterns: CueSet
    rhetorical: CueSet
    complaint: CueSet
    intents: dict[str, CueSet]
    complaint_signals: dict[str, CueSet] = field(default_factory=dict)
    polar_terms: TermFinder = field(default_factory=lambda: TermFinder(()))
    """Every positive and negative word, for clause-level polarity."""
    cue_index: CueIndex = field(default_factory=lambda: CueIndex({}))
    """Intent, complaint-signal, rhetorical, complaint and request cues in one automaton."""

    def scan(self, text: str) -> CueHits:
        """One pass over ``text`` for every indexed cue set (see :func:`_indexed_sets`)."""
        return self.cue_index.scan(text)

    def polarity(self, word: str) -> float:
        """The signed lexicon weight of ``word`` (0 when it carries no sentiment)."""
        return self.positive.get(word) or self.negative.get(word) or 0.0

    def vocabulary(self) -> set[str]:
        """Every multi-character word the tokenizer should keep whole."""
        words = set(self.positive) | set(self.negative) | set(self.fixed_phrases) | set(self.negators)
        words |= (
            set(self.intensifiers) | set(self.diminishers) | self.contrast_markers | self.concession_markers
        )
        return {word for word in words if len(word) > 1}


@dataclass(frozen=True, slots=True)
class SpamLexicon:
    """Cue lists of spam and hard-ad detection."""

    strong_contact: TermFinder
    weak_contact: TermFinder
    qr_code: TermFinder
    hard_ad: TermFinder
    promotion: TermFinder
    warning: TermFinder
    not_contact: re.Pattern[str]
    """Words removed before the contact cues are looked for (叠加 is not 加我)."""


def classify_data_directory() -> Path:
    """The folder holding the shipped lexicons and labelled messages."""
    return Path(str(resources.files("groupops.text").joinpath("data", "classify")))


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigurationError(f"cannot read lexicon {path}: {error}") from error
    if not isinstance(loaded, dict):
        raise ConfigurationError(f"lexicon {path} must be a mapping at the top level")
    return loaded


def _weights(section: Any, name: str) -> dict[str, float]:
    if not isinstance(section, dict):
        raise ConfigurationError(f"lexicon section {name!r} must map words to numbers")
    try:
        return {str(word).lower(): float(weight) for word, weight in section.items()}
    except (TypeError, ValueError) as error:
        raise ConfigurationError(f"lexicon section {name!r} has a non-numeric weight") from error


def _words(section: Any, name: str) -> tuple[str, ...]:
    if section is None:
        return ()
    if not isinstance(section, list):
        raise ConfigurationError(f"lexicon section {name!r} must be a list of words")
    return tuple(str(word).lower() for word in section)


def _cue_set(section: Any, name: str) -> CueSet:
    section = section or {}
    if not isinstance(section, dict):
        raise ConfigurationError(f"cue section {name!r} must have 'substrings' and/or 'patterns'")
    try:
        patterns = tuple(re.compile(str(pattern)) for pattern in section.get("patterns") or ())
    except re.error as error:
        raise ConfigurationError(f"cue section {name!r} has a bad pattern: {error}") from error
    return _cues(_words(section.get("substrings"), name), patterns)


def load_classifier_lexicon(directory: Path | None = None) -> ClassifierLexicon:
    """Read ``sentiment.yaml``, ``cues.yaml`` and ``intents.yaml`` from ``directory``."""
    folder = directory or classify_data_directory()
    sentiment = _read_yaml(folder / "sentiment.yaml")
    cues = _read_yaml(folder / "cues.yaml")
    intents = _read_yaml(folder / "intents.yaml")
    unknown = set(intents) - set(INTENT_IDS)
    if unknown:
        raise ConfigurationError(f"intents.yaml names unknown intents: {sorted(unknown)}")
    question = cues.get("question") or {}
    intent_sets = {intent: _cue_set(intents.get(intent), intent) for intent in INTENT_IDS}
    signal_sets = _signal_sets(cues.get("complaint_signals"))
    rhetorical = _cue_set(cues.get("rhetorical"), "rhetorical")
    complaint = _cue_set(cues.get("complaint"), "complaint")
    requests = _cues(_words(question.get("requests"), "requests"))
    positive = _weights(sentiment.get("positive"), "positive")
    negative = _weights(sentiment.get("negative"), "negative")
    return ClassifierLexicon(
        positive=positive,
        negative=negative,
        fixed_phrases=frozenset(_words(sentiment.get("fixed_phrases"), "fixed_phrases")),
        negators=frozenset(_words(sentiment.get("negators"), "negators")),
        scope_fillers=frozenset(_words(sentiment.get("scope_fillers"), "scope_fillers")),
        intensifiers=_weights(sentiment.get("intensifiers") or {}, "intensifiers"),
        diminishers=_weights(sentiment.get("diminishers") or {}, "diminishers"),
        contrast_markers=frozenset(_words(sentiment.get("contrast_markers"), "contrast_markers")),
        concession_markers=frozenset(_words(sentiment.get("concession_markers"), "concession_markers")),
        contrast_weight=float(sentiment.get("contrast_weight", 1.8)),
        concession_weight=float(sentiment.get("concession_weight", 0.5)),
        emoji=_weights(sentiment.get("emoji") or {}, "emoji"),
        question_final_particles=frozenset(_words(question.get("final_particles"), "final_particles")),
        question_interrogatives=_cues(_words(question.get("interrogatives"), "interrogatives")),
        question_not_interrogative=_words(question.get("not_interrogative"), "not_interrogative"),
        question_requests=requests,
        question_patterns=_cue_set({"patterns": question.get("patterns")}, "question.patterns"),
        rhetorical=rhetorical,
        complaint=complaint,
        intents=intent_sets,
        complaint_signals=signal_sets,
        polar_terms=TermFinder((*positive, *negative)),
        cue_index=CueIndex(_indexed_sets(intent_sets, signal_sets, rhetorical, complaint, requests)),
    )


def _indexed_sets(
    intents: dict[str, CueSet],
    signals: dict[str, CueSet],
    rhetorical: CueSet,
    complaint: CueSet,
    requests: CueSet,
) -> dict[str, CueSet]:
    """The cue sets read on the whole message, under the names :class:`CueHits` answers to."""
    named = {f"intent:{name}": cues for name, cues in intents.items()}
    named |= {f"signal:{name}": cues for name, cues in signals.items()}
    return named | {"rhetorical": rhetorical, "complaint": complaint, "question:requests": requests}


def _signal_sets(section: Any) -> dict[str, CueSet]:
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise ConfigurationError("cue section 'complaint_signals' must map signal names to cue sections")
    return {str(name): _cue_set(cues, f"complaint_signals.{name}") for name, cues in section.items()}


def load_spam_lexicon(directory: Path | None = None) -> SpamLexicon:
    """Read ``spam.yaml`` from ``directory`` (default: the shipped one)."""
    data = _read_yaml((directory or classify_data_directory()) / "spam.yaml")
    contact = data.get("contact_request") or {}
    if not isinstance(contact, dict):
        raise ConfigurationError("spam.yaml: 'contact_request' must have 'strong' and 'weak' lists")
    return SpamLexicon(
        strong_contact=TermFinder(_words(contact.get("strong"), "contact_request.strong")),
        weak_contact=TermFinder(_words(contact.get("weak"), "contact_request.weak")),
        qr_code=TermFinder(_words(data.get("qr_code"), "qr_code")),
        hard_ad=TermFinder(_words(data.get("hard_ad"), "hard_ad")),
        promotion=TermFinder(_words(data.get("promotion"), "promotion")),
        warning=TermFinder(_words(data.get("warning"), "warning")),
        not_contact=_any_of(_words(contact.get("not_contact"), "contact_request.not_contact")),
    )


def _any_of(words: tuple[str, ...]) -> re.Pattern[str]:
    """A pattern matching any of ``words`` (longest first); one that matches nothing when empty."""
    ordered = sorted(set(words), key=lambda word: (-len(word), word))
    return re.compile("|".join(map(re.escape, ordered)) if ordered else "(?!)")


@cache
def default_classifier_lexicon() -> ClassifierLexicon:
    """The shipped classifier lexicon, read once per process."""
    return load_classifier_lexicon()


@cache
def default_spam_lexicon() -> SpamLexicon:
    """The shipped spam lexicon, read once per process."""
    return load_spam_lexicon()
