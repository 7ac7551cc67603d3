"""The hot path of the compliance checker: hits, compiled context conditions, rule decisions.

Rules as loaded (:mod:`._compliance_rules`) are compiled once per checker: every condition
becomes a tuple of ``(scope, bound regex method, wanted)`` checks, and the alternatives of a
rule's ``require`` and ``exempt`` lists that test a single scope are merged into one regular
expression per scope, so deciding a hit costs a handful of C-level regex calls.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from groupops.text._compliance_checks import COMPLIANCE_CHECKS, Check, CheckOutcome
from groupops.text._compliance_rules import WINDOW, Condition, Context, Rule, Severity
from groupops.text.normalise import SENTENCE_BREAK, to_simplified_halfwidth

__all__ = ["CompiledRule", "Decision", "Hit", "compile_rule", "decide"]

# scopes a condition can look at; checks run in this order (cheap anchored matches first)
_TERM, _AFTER, _BEFORE, _SENTENCE, _TEXT = range(5)
_SCOPES = {"term": _TERM, "after": _AFTER, "before": _BEFORE, "sentence": _SENTENCE, "text": _TEXT}
_ANCHORED_AT_START = {_TERM, _AFTER}  # matched with re.match; the others with re.search


class Hit:
    """A lexicon term found in a message, with lazily computed views for the context rules.

    ``start``/``end`` index the normalised text (of the whole batch); ``original_start`` and
    ``original_end`` are offsets into the original message. Checks registered with
    :func:`groupops.text.compliance.compliance_check` receive a Hit.
    """

    __slots__ = (
        "_after",
        "_base",
        "_before",
        "_original_sentence",
        "_original_text",
        "_sentence",
        "_sentence_end",
        "_sentence_start",
        "_term",
        "_text",
        "end",
        "normalised",
        "offsets",
        "original",
        "start",
        "text_end",
        "text_start",
    )

    def __init__(
        self,
        normalised: str,
        offsets: np.ndarray,
        original: str,
        start: int,
        end: int,
        text_start: int,
        text_end: int,
        original_base: int,
    ) -> None:
        self.normalised, self.offsets, self.original = normalised, offsets, original
        self.start, self.end, self.text_start, self.text_end = start, end, text_start, text_end
        self._base = original_base
        self._sentence_start = self._sentence_end = -1
        self._term: str | None = None
        self._before: str | None = None
        self._after: str | None = None
        self._sentence: str | None = None
        self._text: str | None = None
        self._original_sentence: str | None = None
        self._original_text: str | None = None

    @property
    def sentence_start(self) -> int:
        if self._sentence_start < 0:
            found = self.normalised.rfind(SENTENCE_BREAK, self.text_start, self.start)
            self._sentence_start = self.text_start if found < 0 else found + 1
        return self._sentence_start

    @property
    def sentence_end(self) -> int:
        if self._sentence_end < 0:
            found = self.normalised.find(SENTENCE_BREAK, self.end, self.text_end)
            self._sentence_end = self.text_end if found < 0 else found
        return self._sentence_end

    def scope(self, index: int) -> str:
        """The normalised term, before-window, after-window, sentence or whole message."""
        if index == _AFTER:
            return self.after
        if index == _BEFORE:
            return self.before
        if index == _TERM:
            return self.term
        return self.sentence if index == _SENTENCE else self.text

    @property
    def term(self) -> str:
        if self._term is None:
            self._term = self.normalised[self.start : self.end]
        return self._term

    @property
    def before(self) -> str:
        """The sentence up to the term (at most ``WINDOW`` characters), normalised."""
        if self._before is None:
            self._before = self.normalised[max(self.sentence_start, self.start - WINDOW) : self.start]
        return self._before

    @property
    def after(self) -> str:
        """The sentence after the term (at most ``WINDOW`` characters), normalised."""
        if self._after is None:
            self._after = self.normalised[self.end : min(self.sentence_end, self.end + WINDOW)]
        return self._after

    @property
    def sentence(self) -> str:
        if self._sentence is None:
            self._sentence = self.normalised[self.sentence_start : self.sentence_end]
        return self._sentence

    @property
    def text(self) -> str:
        """The whole message, normalised."""
        if self._text is None:
            self._text = self.normalised[self.text_start : self.text_end]
        return self._text

    def original_offset(self, position: int) -> int:
        """Offset in the original message of normalised position ``position``."""
        return int(self.offsets[position]) - self._base

    @property
    def original_start(self) -> int:
        return self.original_offset(self.start)

    @property
    def original_end(self) -> int:
        return self.original_offset(self.end - 1) + 1

    @property
    def original_sentence_start(self) -> int:
        return self.original_offset(self.sentence_start)

    @property
    def original_sentence_simplified(self) -> str:
        """The term's sentence in the original message, half-width and simplified (punctuation kept)."""
        if self._original_sentence is None:
            end = self.original_offset(self.sentence_end - 1) + 1
            self._original_sentence = to_simplified_halfwidth(
                self.original[self.original_sentence_start : end]
            )
        return self._original_sentence

    @property
    def original_text_simplified(self) -> str:
        """The whole original message, half-width and simplified (punctuation kept)."""
        if self._original_text is None:
            self._original_text = to_simplified_halfwidth(self.original)
        return self._original_text


_Search = Callable[[str], "re.Match[str] | None"]
_Check = tuple[int, _Search, bool]  # (scope, bound match/search, must it match?)


class _EndSearch:
    """Search for a ``…$`` pattern only in the last ``width`` characters it can possibly span."""

    __slots__ = ("pattern", "width")

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self.width = _max_width(pattern)

    def __call__(self, text: str) -> re.Match[str] | None:
        return self.pattern.search(text, max(0, len(text) - self.width))


def _max_width(pattern: re.Pattern[str]) -> int:
    """The longest text ``pattern`` can match, capped at the context window."""
    try:
        from re import _parser as sre_parse  # type: ignore[attr-defined]

        return min(int(sre_parse.parse(pattern.pattern).getwidth()[1]), WINDOW)
    except Exception:  # an implementation detail of ``re``; fall back to the whole window
        return WINDOW


def _method(scope: int, pattern: re.Pattern[str]) -> _Search:
    if scope in _ANCHORED_AT_START:
        return pattern.match
    return _EndSearch(pattern) if scope == _BEFORE else pattern.search


def _compile_condition(condition: Condition) -> tuple[_Check, ...]:
    checks = []
    for key, scope in _SCOPES.items():
        for negated in (False, True):
            pattern: re.Pattern[str] | None = getattr(condition, f"not_{key}" if negated else key)
            if pattern is not None:
                checks.append((scope, _method(scope, pattern), not negated))
    return tuple(checks)


def _all_hold(checks: tuple[_Check, ...], hit: Hit) -> bool:
    return all((search(hit.scope(scope)) is not None) is wanted for scope, search, wanted in checks)


@dataclass(frozen=True)
class _CompiledContext:
    context: Context
    conditions: tuple[tuple[_Check, ...], ...]

    def holds(self, hit: Hit) -> bool:
        return any(_all_hold(checks, hit) for checks in self.conditions)


class _AnyOf:
    """Any of several contexts: single-check conditions merged into one regex per scope."""

    __slots__ = ("merged", "others")

    def __init__(self, contexts: Sequence[Context]) -> None:
        singles: dict[int, list[str]] = {}
        others: list[tuple[_Check, ...]] = []
        for context in contexts:
            for condition in context.conditions:
                checks = _compile_condition(condition)
                keys = [key for key in _SCOPES if getattr(condition, key) is not None]
                negations = [key for key in _SCOPES if getattr(condition, f"not_{key}") is not None]
                if len(keys) == 1 and not negations:
                    pattern: re.Pattern[str] = getattr(condition, keys[0])
                    singles.setdefault(_SCOPES[keys[0]], []).append(pattern.pattern)
                else:
                    others.append(checks)
        self.merged: tuple[tuple[int, _Search], ...] = tuple(
            (scope, _merged_method(scope, patterns)) for scope, patterns in sorted(singles.items())
        )
        self.others = tuple(others)

    def holds(self, hit: Hit) -> bool:
        for scope, search in self.merged:
            if search(hit.scope(scope)) is not None:
                return True
        return any(_all_hold(checks, hit) for checks in self.others)


def _merged_method(scope: int, patterns: list[str]) -> _Search:
    return _method(scope, re.compile("|".join(f"(?:{pattern})" for pattern in patterns)))


@dataclass(frozen=True)
class CompiledRule:
    """A rule ready for the hot path."""

    rule: Rule
    require: _AnyOf | None
    exempt: _AnyOf | None
    review: tuple[_CompiledContext, ...]
    escalate: tuple[_CompiledContext, ...]
    check: Check | None


def compile_rule(rule: Rule) -> CompiledRule:
    """Compile ``rule``; its ``check`` must be registered in ``COMPLIANCE_CHECKS``."""

    def contexts(items: Sequence[Context]) -> tuple[_CompiledContext, ...]:
        return tuple(_CompiledContext(c, tuple(_compile_condition(x) for x in c.conditions)) for c in items)

    return CompiledRule(
        rule=rule,
        require=_AnyOf(rule.require) if rule.require else None,
        exempt=_AnyOf(rule.exempt) if rule.exempt else None,
        review=contexts(rule.review),
        escalate=contexts(rule.escalate),
        check=COMPLIANCE_CHECKS[rule.check] if rule.check else None,
    )


_UNSET = object()


def _check_outcome(
    compiled: CompiledRule, hit: Hit, memo: dict[tuple[int, str], object]
) -> CheckOutcome | None:
    assert compiled.check is not None
    if not compiled.rule.once_per_text:
        return compiled.check(hit, compiled.rule)
    key = (hit.text_start, compiled.rule.id)
    outcome = memo.get(key, _UNSET)
    if outcome is _UNSET:
        outcome = memo[key] = compiled.check(hit, compiled.rule)
    return outcome  # type: ignore[return-value]


@dataclass(frozen=True)
class Decision:
    """The outcome for one hit: which rule, how severe, and the material for reason and suggestion."""

    rule: Rule
    severity: Severity
    replacement: str | None
    note: str | None = None
    suggestion: str | None = None


_DROP = object()  # a rule applied and exempted the hit: no finding, no further rules


def decide(
    rules: Sequence[tuple[CompiledRule, str | None]], hit: Hit, memo: dict[tuple[int, str], object]
) -> Decision | None:
    """The first rule of the term whose ``require`` holds decides; None means no finding.

    ``memo`` (one dict per batch) remembers the check outcome of once-per-text rules per
    message, so a second trigger word in the same message does not run the check again.
    """
    for compiled, replacement in rules:
        decision = _apply(compiled, replacement, hit, memo)
        if decision is _DROP:
            return None
        if decision is not None:
            return decision  # type: ignore[return-value]
    return None


def _apply(
    compiled: CompiledRule, replacement: str | None, hit: Hit, memo: dict[tuple[int, str], object]
) -> Decision | object | None:
    if compiled.require is not None and not compiled.require.holds(hit):
        return None
    if compiled.exempt is not None and compiled.exempt.holds(hit):
        return _DROP
    rule = compiled.rule
    severity, note, suggestion = rule.severity, None, None
    if compiled.check is not None:
        outcome = _check_outcome(compiled, hit, memo)
        if outcome is None:
            return None
        severity, note, suggestion = outcome.severity, outcome.note, outcome.suggestion
    if severity == "violation":
        for context in compiled.review:
            if context.holds(hit):
                severity, note = "review", context.context.note or note
                break
    else:
        for context in compiled.escalate:
            if context.holds(hit):
                severity, note = "violation", context.context.note or note
                break
    return Decision(rule, severity, replacement, note, suggestion)
