"""Advertising-law compliance checker for marketing copy and group messages.

Usage::

    from groupops.text.compliance import check_text
    result = check_text("这是全网最好的羊绒大衣")
    result.verdict            # "violation"
    result.findings[0].term   # "最好的"  (text[start:end] of the original text)

How it works. The text is normalised aggressively (:mod:`groupops.text.normalise`: simplified,
half-width, lower case, separators and emoji dropped, homoglyphs and ``NO.1``/``第1`` spelled
out) keeping an offset table back into the original. One Aho-Corasick automaton
(``ahocorasick_rs``, leftmost-longest) finds every lexicon term; ordinary words that merely
contain a term (``最近``, ``第一次``) are in the automaton too and shadow it. Only around these
hits do the context rules run: ``require`` (the rule applies only in this context), ``exempt``
(the exemptions of SAMR's 2023 《广告绝对化用语执法指南》 and similar), ``review`` (cannot be
judged without evidence) and ``escalate``, plus registered Python checks. Lexicons and rules
are YAML files (``data/compliance``); extra directories extend or override them
(:func:`load_checker`).

The verdict of a text is ``violation`` if any finding is a violation, else ``review`` if any
finding needs review, else ``clean``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Literal

import ahocorasick_rs
import numpy as np

from groupops.errors import ConfigurationError
from groupops.text._compliance_checks import COMPLIANCE_CHECKS, CheckOutcome, compliance_check
from groupops.text._compliance_engine import CompiledRule, Decision, Hit, compile_rule, decide
from groupops.text._compliance_rules import CATEGORIES, Rule, RuleSet, Severity, load_rule_set
from groupops.text.normalise import normalise_with_offset_array

__all__ = [
    "BUILTIN_LEXICON_DIR",
    "CATEGORIES",
    "COMPLIANCE_CHECKS",
    "CheckOutcome",
    "ComplianceChecker",
    "ComplianceResult",
    "Finding",
    "Hit",
    "OriginalPriceCheck",
    "Rule",
    "Verdict",
    "check_original_price",
    "check_text",
    "check_texts",
    "compliance_check",
    "default_checker",
    "load_checker",
    "reference_price_before_promotion",
]

Verdict = Literal["violation", "review", "clean"]
BUILTIN_LEXICON_DIR = Path(__file__).parent / "data" / "compliance"
"""The lexicons and rules shipped with GroupOps."""
_CLAUSE_BREAKS = re.compile(r"[，。！？；,!?;\n\r]")
_CLAUSE_REACH = 12  # characters of the clause shown on each side of a term in suggestions


@dataclass(frozen=True)
class Finding:
    """One problem in a text; ``text[start:end] == term`` (offsets into the original text)."""

    rule: str
    category: str
    term: str
    start: int
    end: int
    severity: Severity
    reason: str
    suggestion: str

    def to_dict(self) -> dict[str, object]:
        """The finding as in the ``compliance check --json`` contract."""
        return {
            "rule": self.rule,
            "category": self.category,
            "term": self.term,
            "start": self.start,
            "end": self.end,
            "severity": self.severity,
            "reason": self.reason,
            "suggestion": self.suggestion,
        }


@dataclass(frozen=True)
class ComplianceResult:
    """The verdict on one text and its findings in text order."""

    text: str
    verdict: Verdict
    findings: tuple[Finding, ...]

    def to_dict(self, line: int) -> dict[str, object]:
        """One object of the ``compliance check --json`` output (``line`` counts from 1)."""
        return {
            "line": line,
            "text": self.text,
            "verdict": self.verdict,
            "findings": [finding.to_dict() for finding in self.findings],
        }


def verdict_of(findings: Iterable[Finding]) -> Verdict:
    """``violation`` if any finding is one, else ``review`` if any finding exists, else ``clean``."""
    verdict: Verdict = "clean"
    for finding in findings:
        if finding.severity == "violation":
            return "violation"
        verdict = "review"
    return verdict


class ComplianceChecker:
    """A compiled rule set: one automaton over all terms plus the rules behind each term."""

    def __init__(self, rule_set: RuleSet) -> None:
        unknown = {rule.check for rule in rule_set.rules.values() if rule.check} - set(COMPLIANCE_CHECKS)
        if unknown:
            raise ConfigurationError(f"rules refer to unregistered checks: {sorted(unknown)}")
        self.rule_set = rule_set
        compiled = {rule_id: compile_rule(rule) for rule_id, rule in rule_set.rules.items()}
        entries = rule_set.term_entries()
        self.terms: tuple[str, ...] = tuple(entry.term for entry in entries)
        self._rules_by_pattern: tuple[tuple[tuple[CompiledRule, str | None], ...], ...] = tuple(
            tuple(
                (compiled[rule.id], replacement)
                for rule, replacement in zip(entry.rules, entry.replacements, strict=True)
            )
            for entry in entries
        )
        self._only_once_rules = tuple(
            bool(rules) and all(compiled.rule.once_per_text for compiled, _ in rules)
            for rules in self._rules_by_pattern
        )
        self._automaton = ahocorasick_rs.AhoCorasick(
            list(self.terms),
            matchkind=ahocorasick_rs.MATCHKIND_LEFTMOST_LONGEST,
            implementation=ahocorasick_rs.Implementation.DFA,  # about twice the NFA's speed here
        )

    @property
    def rules(self) -> dict[str, Rule]:
        return self.rule_set.rules

    @property
    def term_count(self) -> int:
        """Number of distinct normalised terms (including ordinary words) in the automaton."""
        return len(self.terms)

    def check(self, text: str) -> ComplianceResult:
        """Check one text (a message or a piece of copy)."""
        return self.check_many([text])[0]

    def check_many(self, texts: Sequence[str]) -> list[ComplianceResult]:
        """Check many texts in one pass (one normalisation and one automaton scan for all).

        Identical texts (broadcasts, "好的", "收到") are checked once and share their result.
        """
        position_of: dict[str, int] = {}
        for text in texts:
            position_of.setdefault(text, len(position_of))
        results = self._check_distinct(list(position_of))  # distinct texts, in order of appearance
        return [results[position_of[text]] for text in texts]

    def _check_distinct(self, texts: list[str]) -> list[ComplianceResult]:
        if not texts:
            return []
        normalised, offsets = normalise_with_offset_array("\n".join(texts))
        original_starts = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum([len(text) + 1 for text in texts], out=original_starts[1:])
        text_starts = np.searchsorted(offsets, original_starts).tolist()
        findings: list[list[Finding]] = [[] for _ in texts]
        for index, finding in self._findings(
            normalised, offsets, texts, text_starts, original_starts.tolist()
        ):
            findings[index].append(finding)
        return [
            ComplianceResult(text, verdict_of(found), tuple(found))
            if found
            else ComplianceResult(text, "clean", ())
            for text, found in zip(texts, findings, strict=True)
        ]

    def _findings(
        self,
        normalised: str,
        offsets: np.ndarray,
        texts: Sequence[str],
        text_starts: list[int],
        original_starts: list[int],
    ) -> Iterator[tuple[int, Finding]]:
        rules_by_pattern, only_once = self._rules_by_pattern, self._only_once_rules
        index, next_start = 0, text_starts[1]
        seen_once: set[tuple[int, str]] = set()
        memo: dict[tuple[int, str], object] = {}
        for pattern_index, start, end in self._automaton.find_matches_as_indexes(normalised):
            rules = rules_by_pattern[pattern_index]
            if not rules:
                continue  # an ordinary word
            while start >= next_start:
                index += 1
                next_start = text_starts[index + 1]
            if only_once[pattern_index] and all(
                (index, compiled.rule.id) in seen_once for compiled, _ in rules
            ):
                continue  # every rule of this term already reported its once-per-text finding
            hit = Hit(
                normalised,
                offsets,
                texts[index],
                start,
                end,
                text_starts[index],
                next_start,
                original_starts[index],
            )
            decision = decide(rules, hit, memo)
            if decision is None:
                continue
            if decision.rule.once_per_text:
                if (index, decision.rule.id) in seen_once:
                    continue
                seen_once.add((index, decision.rule.id))
            yield index, _finding(decision, hit)


def _finding(decision: Decision, hit: Hit) -> Finding:
    rule = decision.rule
    start, end = hit.original_start, hit.original_end
    if rule.extend_span is not None and (extension := rule.extend_span.match(hit.after)):
        end = hit.original_offset(hit.end + extension.end() - 1) + 1
    reason = rule.reason if decision.note is None else f"{rule.reason}（{decision.note}）"
    return Finding(
        rule=rule.id,
        category=rule.category,
        term=hit.original[start:end],
        start=start,
        end=end,
        severity=decision.severity,
        reason=reason,
        suggestion=decision.suggestion or _suggestion(rule, decision.replacement, hit.original, start, end),
    )


def _suggestion(rule: Rule, replacement: str | None, original: str, start: int, end: int) -> str:
    """``clause → rewritten clause`` when the term has a compliant replacement, else the rule's advice."""
    if replacement is None:
        return rule.suggestion
    breaks_before = [m.end() for m in _CLAUSE_BREAKS.finditer(original, max(0, start - _CLAUSE_REACH), start)]
    clause_start = breaks_before[-1] if breaks_before else max(0, start - _CLAUSE_REACH)
    found = _CLAUSE_BREAKS.search(original, end, end + _CLAUSE_REACH)
    clause_end = found.start() if found else min(len(original), end + _CLAUSE_REACH)
    clause = original[clause_start:clause_end]
    rewritten = original[clause_start:start] + replacement + original[end:clause_end]
    return f"{clause} → {rewritten}"


def load_checker(
    lexicon_dirs: Iterable[str | Path] = (), *, include_builtin: bool = True
) -> ComplianceChecker:
    """A checker over the built-in lexicons plus ``lexicon_dirs`` (later directories extend/override).

    Raises :class:`groupops.errors.ConfigurationError` when a rule file is invalid.
    """
    extra = [Path(directory) for directory in lexicon_dirs]
    if include_builtin and not extra:
        return default_checker()
    return ComplianceChecker(load_rule_set(([BUILTIN_LEXICON_DIR] if include_builtin else []) + extra))


@cache
def default_checker() -> ComplianceChecker:
    """The checker over the built-in lexicons (compiled once per process)."""
    return ComplianceChecker(load_rule_set([BUILTIN_LEXICON_DIR]))


def check_text(text: str, checker: ComplianceChecker | None = None) -> ComplianceResult:
    """Check one text with ``checker`` (default: the built-in lexicons)."""
    return (checker or default_checker()).check(text)


def check_texts(texts: Iterable[str], checker: ComplianceChecker | None = None) -> list[ComplianceResult]:
    """Check many texts in one batch; far faster than calling :func:`check_text` in a loop."""
    return (checker or default_checker()).check_many(list(texts))


# --- 原价 against the order history (明码标价和禁止价格欺诈规定 第十六条) -----------------------------

PRICE_REASON = (
    "明码标价和禁止价格欺诈规定第十六条、第十九条：未另行标明时，折价、减价以本次促销活动前七日内"
    "最低成交价格为基准（前七日内无交易的，以最后一次成交价格为基准）；虚构原价属价格欺诈"
)


@dataclass(frozen=True)
class OriginalPriceCheck:
    """Outcome of checking a stated 原价 against the transaction history."""

    stated_original_price: Decimal
    reference_price: Decimal | None
    fictitious: bool
    reason: str


def reference_price_before_promotion(
    transactions: Iterable[tuple[date | datetime, float | Decimal | str]],
    promotion_start: date | datetime,
    *,
    window_days: int = 7,
) -> Decimal | None:
    """The lowest transaction price in the ``window_days`` days before the promotion.

    If there was no transaction in that window, the last transaction price before the
    promotion; ``None`` if the product never sold before it. Dates are compared as calendar
    days: a sale on the promotion's first day does not count.
    """
    start_day = _day(promotion_start)
    window_start = start_day - timedelta(days=window_days)
    earlier = sorted(
        (_day(when), Decimal(str(price))) for when, price in transactions if _day(when) < start_day
    )
    in_window = [price for day, price in earlier if day >= window_start]
    if in_window:
        return min(in_window)
    return earlier[-1][1] if earlier else None


def check_original_price(
    stated_original_price: float | Decimal | str,
    transactions: Iterable[tuple[date | datetime, float | Decimal | str]],
    promotion_start: date | datetime,
) -> OriginalPriceCheck:
    """Is the stated 原价 higher than the reference price the rules allow? (pure function)"""
    stated = Decimal(str(stated_original_price))
    reference = reference_price_before_promotion(transactions, promotion_start)
    if reference is None:
        return OriginalPriceCheck(
            stated, None, True, f"{PRICE_REASON}（促销前没有任何成交记录，原价无从证实）"
        )
    fictitious = stated > reference
    detail = f"标示原价 {stated} 元，促销前七日内最低成交价 {reference} 元"
    return OriginalPriceCheck(stated, reference, fictitious, f"{PRICE_REASON}（{detail}）")


def _day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value
