"""Complaint signals of a normalised message: asserted vs negated problems, waiting, irony.

A problem word (起球, 开线, 少了, 发错 …) is *negated* when a negator stands just before it
(不起球, 没有色差, 一点都不掉色) or it is counted to zero (一个线头都找不到), and *asserted*
when a perfective or a "so soon" marker goes with it (起球了, 才穿一次就开线, 又掉色). The
numbers feed the model; the lists live in ``cues.yaml`` under ``complaint_signals``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from groupops.text._classify_lexicon import ClassifierLexicon, CueHits

__all__ = ["NEGATED_MARK", "QUERIED_MARK", "SIGNAL_NAMES", "ComplaintSignals", "complaint_signals"]

SIGNAL_NAMES: tuple[str, ...] = (
    "hypothetical",
    "mismatch",
    "waiting",
    "sarcasm",
    "repeat",
    "remedy",
    "resolved",
    "staff",
    "advice",
    "shrug",
    "personal",
    "verdict",
    "decline",
    "expectation",
    "grievance",
    "service",
    "leaving",
    "irony",
    "defect_present",
    "missing",
    "slang",
    "emoticon_negative",
    "emoticon_irony",
)
"""The counted signal lists of ``complaint_signals`` besides ``problems``, in feature order."""
_NEGATABLE = frozenset({"verdict", "decline", "service", "slang"})
"""Signals whose terms do not count inside a negation (没踩雷, 不后悔, 不比上一件差)."""
_SIGNAL_KEYS = tuple((name, f"signal:{name}") for name in SIGNAL_NAMES)

_NEGATED_BEFORE = re.compile(
    r"(不|没|没有|无|未|零|毫无|不会|不怎么|不太|从不|从没|并不|完全没|一点都?不|一点也不|一点儿都不)"
    r"[都也还会有太很是算怎么再]{0,2}$"
)
_COUNTED_TO_ZERO = re.compile(r"^[^,，。!！?？ ]{0,2}(都|也)(没|不|找不到|看不到)")
_ZERO_BEFORE = re.compile(r"一(个|点|根|丝|点点)$")
_ASSERTED_AFTER = re.compile(r"^[^,，。!！?？ ]{0,2}(了|得|成|一大|严重|好多|太多|很多|掉)")
_ASSERTED_BEFORE = re.compile(
    r"(就|才|又|都|已经|全是|有个|有一|好多|一堆|很多|全|严重)[^,，。!！?？ ]{0,2}$"
)
_QUERIED_AFTER = re.compile(r"^(不|没)?[^,，。!！?？ ]{0,3}(吗|(?<![这那怎什多])么|嘛|伐|\?)")
_QUERIED_BEFORE = re.compile(r"(会|容易|会不会|易|怕|担心)[^,，。!！?？ ]{0,1}$")
_LOOKBEHIND = 6
NEGATED_MARK = "Ⓝ"
"""Stands in for a negated problem word in the text the character n-grams see."""
QUERIED_MARK = "Ⓠ"
"""Stands in for a problem word that is only asked about (会起球吗)."""


@dataclass(frozen=True, slots=True)
class ComplaintSignals:
    """Counts of the complaint signals in one message."""

    asserted_problems: int
    negated_problems: int
    queried_problems: int
    plain_problems: int
    counts: dict[str, int]
    marked_text: str
    """The message with negated and queried problem words replaced by a mark."""
    problem_starts: tuple[int, ...] = ()
    """Where the asserted and plain problem words start."""

    @property
    def problems(self) -> int:
        """Problem words that are not negated."""
        return self.asserted_problems + self.plain_problems


def _is_negated(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - _LOOKBEHIND) : start]
    if _NEGATED_BEFORE.search(before):
        return True
    return bool(_ZERO_BEFORE.search(before) and _COUNTED_TO_ZERO.match(text[end : end + 6]))


def _is_asserted(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - _LOOKBEHIND) : start]
    return bool(_ASSERTED_AFTER.match(text[end : end + 4]) or _ASSERTED_BEFORE.search(before))


def _is_queried(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - _LOOKBEHIND) : start]
    return bool(_QUERIED_AFTER.match(text[end : end + 5]) or _QUERIED_BEFORE.search(before))


def _problem_kind(text: str, start: int, end: int) -> str:
    if _is_negated(text, start, end):
        return "negated"
    if _is_queried(text, start, end):
        return "queried"
    return "asserted" if _is_asserted(text, start, end) else "plain"


def _problem_spans(text: str, hits: CueHits) -> list[tuple[int, int, str]]:
    """Non-overlapping problem words with their kind (negated, queried, asserted, plain)."""
    spans: list[tuple[int, int, str]] = []
    covered_until = -1
    for start, end in hits.spans("signal:problems"):
        if start < covered_until:  # overlapping terms (起球 inside 球球): keep the first
            continue
        covered_until = end
        spans.append((start, end, _problem_kind(text, start, end)))
    return spans


def _signal_counts(text: str, hits: CueHits) -> dict[str, int]:
    """Per signal: distinct terms plus matching patterns; negatable terms inside a negation skipped."""
    counts = hits.counts
    result: dict[str, int] = {}
    for name, key in _SIGNAL_KEYS:
        spans = hits.found.get(key) if name in _NEGATABLE else None
        if spans:
            terms = {text[start:end] for start, end in spans if not _is_negated(text, start, end)}
            result[name] = len(terms) + hits.pattern_count(key)
        else:
            result[name] = counts.get(key, 0)
    return result


def _marked_text(text: str, spans: list[tuple[int, int, str]]) -> str:
    marks = {"negated": NEGATED_MARK, "queried": QUERIED_MARK}
    pieces: list[str] = []
    previous = 0
    for start, end, kind in spans:
        if kind in marks:
            pieces.extend((text[previous:start], marks[kind]))
            previous = end
    pieces.append(text[previous:])
    return "".join(pieces)


def complaint_signals(
    normalised_text: str, lexicon: ClassifierLexicon, hits: CueHits | None = None
) -> ComplaintSignals:
    """The complaint signals of an already normalised message (``hits``: its cue scan, if done)."""
    hits = hits or lexicon.scan(normalised_text)
    spans = _problem_spans(normalised_text, hits)
    kinds = [kind for _start, _end, kind in spans]
    counts = _signal_counts(normalised_text, hits)
    return ComplaintSignals(
        asserted_problems=kinds.count("asserted"),
        negated_problems=kinds.count("negated"),
        queried_problems=kinds.count("queried"),
        plain_problems=kinds.count("plain"),
        counts=counts,
        marked_text=_marked_text(normalised_text, spans),
        problem_starts=tuple(start for start, _end, kind in spans if kind in ("asserted", "plain")),
    )
