"""Clause structure of a normalised message: praise turning into a problem, irony, intensity.

A message is cut into clauses at punctuation, spaces and turn markers (但是, 结果, 就是, 才…就).
Each clause is *positive* when it holds an un-negated praise word and *negative* when it holds
an un-negated negative word, a negated praise word (不好看, 没有想象中的好) or an asserted
problem (起球了). The order of the clauses separates a turn to the worse (款式好看 但是一洗就
缩水) from a turn to the better (虽然贵 但是质量真好); praise sharing a message with a problem
and no turn marker is the usual shape of irony (质量真好，洗一次就起球). Punctuation runs
(！！, ？？, 。。。) and repeated characters measure intensity.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from groupops.text._classify_lexicon import ClassifierLexicon

__all__ = ["STRUCTURE_FEATURE_NAMES", "ClauseStructure", "clause_structure"]

STRUCTURE_FEATURE_NAMES: tuple[str, ...] = (
    "praise_then_negative",
    "negative_then_praise",
    "praise_with_problem",
    "last_clause_negative",
    "first_clause_praise",
    "negated_praise",
    "exclamation_run",
    "question_run",
    "ellipsis",
    "repeated_character",
    "praise_to_degree",
    "quoted_praise",
    "praise_only",
)

_CLAUSE_SPLIT = re.compile(r"[,，。.!！?？;；~～、…\s]+|(?=但是|但|不过|可是|可惜|结果|然而|谁知|偏偏)")
_SO_SOON = re.compile(r"(才|刚)[^,，。!！?？ ]{1,8}就")
_NEGATOR_BEFORE = re.compile(
    r"(不|没|没有|无|未|别|不是|不太|不怎么|不够|一点都不|一点也不|并不|毫无|完全不|没那么|没这么|没有想象中的?|没想象中的?)"
    r"[都也很太那么这么算还是有的]{0,2}$"
)
_EXCLAMATION_RUN = re.compile(r"[!！]{2,}")
_QUESTION_RUN = re.compile(r"[?？]{2,}|[?？][!！]|[!！][?？]")
_ELLIPSIS = re.compile(r"\.{3,}|。{2,}|…|(^|[^.])\.\.(?!\.)")
_REPEATED = re.compile(r"([^哈嘻嘿h0-9a-z\s.。!！?？~～])\1{2,}")
_LOOKBEHIND = 6
_TO_DEGREE = re.compile(r"到[^,，。.!！?？;；~～\s]{2,}")
_QUOTED = re.compile(r"[\"“「『'‘]([^\"”」』'’]{1,6})[\"”」』'’]")
_CLAUSE_FINAL = re.compile(r"$|[,，。.!！?？;；~～、…\s啊呀哦的了呢吧啦嘛]")


@dataclass(frozen=True, slots=True)
class ClauseStructure:
    """Polarity of each clause and the intensity marks of one message."""

    clauses: tuple[tuple[bool, bool], ...]
    """(positive, negative) per clause, in order."""
    negated_praise: int
    exclamation_runs: int
    question_runs: int
    ellipses: int
    repeated_characters: int
    praise_to_degree: int
    """Praise pushed to a consequence (保暖到我感冒了, 用心到衣服全是褶子): usually irony."""
    quoted_praise: int
    """Praise in quotation marks (太"棒"了)."""

    def features(self, problems: int) -> list[float]:
        """The numbers named by :data:`STRUCTURE_FEATURE_NAMES` (``problems``: asserted ones)."""
        positive = [index for index, (good, bad) in enumerate(self.clauses) if good and not bad]
        negative = [index for index, (_good, bad) in enumerate(self.clauses) if bad]
        return [
            float(bool(positive and negative and min(positive) < max(negative))),
            float(bool(positive and negative and min(negative) < max(positive))),
            float(bool(positive) and problems > 0),
            float(bool(self.clauses) and self.clauses[-1][1]),
            float(bool(self.clauses) and self.clauses[0][0] and not self.clauses[0][1]),
            min(self.negated_praise, 2) / 2.0,
            min(self.exclamation_runs, 2) / 2.0,
            min(self.question_runs, 2) / 2.0,
            min(self.ellipses, 2) / 2.0,
            min(self.repeated_characters, 2) / 2.0,
            float(self.praise_to_degree > 0),
            float(self.quoted_praise > 0),
            float(bool(positive) and not negative and problems == 0 and not self.praise_to_degree),
        ]


def _clauses(text: str) -> list[tuple[int, int]]:
    """Start and end of every non-empty clause (turn markers start a new clause)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _CLAUSE_SPLIT.finditer(text):
        if match.start() > start:
            spans.append((start, match.start()))
        start = max(match.end(), start)
    if start < len(text):
        spans.append((start, len(text)))
    for match in _SO_SOON.finditer(text):  # 才穿一次就开线: the part after 就 is its own clause
        spans = _split_at(spans, match.end() - 1)
    return spans


def _split_at(spans: Sequence[tuple[int, int]], position: int) -> list[tuple[int, int]]:
    result: list[tuple[int, int]] = []
    for start, end in spans:
        if start < position < end:
            result.extend(((start, position), (position, end)))
        else:
            result.append((start, end))
    return result


def _negated(text: str, start: int) -> bool:
    return bool(_NEGATOR_BEFORE.search(text[max(0, start - _LOOKBEHIND) : start]))


def _polar_hits(text: str, lexicon: ClassifierLexicon) -> list[tuple[int, int, float]]:
    """Start, end and signed weight of every sentiment word, negated ones flipped."""
    hits: list[tuple[int, int, float]] = []
    covered_until = -1
    for start, end in _longest_first(lexicon.polar_terms.spans(text)):
        word = text[start:end]
        weight = lexicon.polarity(word)
        if start < covered_until or not weight or word in lexicon.fixed_phrases:
            continue
        covered_until = end
        if len(word) == 1 and weight > 0 and not _CLAUSE_FINAL.match(text, end):
            continue  # 好 in 好多 / 好久 is a degree word, 真好 at a clause end is praise
        hits.append((start, end, -weight if _negated(text, start) else weight))
    return hits


def _longest_first(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    return sorted(spans, key=lambda span: (span[0], -span[1]))


def clause_structure(
    normalised_text: str, lexicon: ClassifierLexicon, problem_starts: Sequence[int]
) -> ClauseStructure:
    """Clause polarities and intensity marks of an already normalised message."""
    hits = _polar_hits(normalised_text, lexicon)
    negated_praise = sum(
        1 for start, _end, weight in hits if weight < 0 < lexicon.polarity(normalised_text[start:_end])
    )
    clauses = []
    for start, end in _clauses(normalised_text):
        weights = [weight for hit_start, _hit_end, weight in hits if start <= hit_start < end]
        problem = any(start <= position < end for position in problem_starts)
        clauses.append(
            (any(weight > 0 for weight in weights), problem or any(weight < 0 for weight in weights))
        )
    return ClauseStructure(
        clauses=tuple(clauses),
        negated_praise=negated_praise,
        exclamation_runs=len(_EXCLAMATION_RUN.findall(normalised_text)),
        question_runs=len(_QUESTION_RUN.findall(normalised_text)),
        ellipses=len(_ELLIPSIS.findall(normalised_text)),
        repeated_characters=len(_REPEATED.findall(normalised_text)),
        praise_to_degree=sum(
            1 for _start, end, weight in hits if weight > 0 and _TO_DEGREE.match(normalised_text, end)
        ),
        quoted_praise=sum(
            1
            for match in _QUOTED.finditer(normalised_text)
            if any(w > 0 for _s, _e, w in _polar_hits(match.group(1), lexicon))
        ),
    )
