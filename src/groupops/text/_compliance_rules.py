"""Rule files of the compliance checker: the data model and the YAML loader.

A lexicon directory holds ``*.yaml`` files. Each file may declare:

``contexts``
    Named context conditions (``self_comparison``, ``usage_tip`` …) that rules refer to by name.
``ordinary_words``
    Words that merely contain a listed term (``最近``, ``第一次``); they are matched too and,
    being longer, shadow the shorter term, so they never become findings.
``rules``
    Rules: trigger ``terms`` (with optional compliant replacements), a category, a severity, a
    reason citing the law, a suggestion, and context lists ``require`` / ``exempt`` / ``review``
    / ``escalate``, optionally a Python ``check`` from the check registry, and ``examples``
    (``positive`` must be flagged by this rule, ``negative`` must not).
``extend``
    Additions to rules declared elsewhere (more terms, more exemptions, more examples).

A context condition is a mapping of regular expressions over the *aggressively normalised*
text (simplified, lower case, separators dropped, sentence breaks as ``。``):

``term``     must match the whole (normalised) term itself
``before``   must match ending right where the term starts (within its sentence)
``after``    must match starting right where the term ends (within its sentence)
``sentence`` must occur somewhere in the term's sentence
``text``     must occur somewhere in the whole text (the message)
and ``not_term`` / ``not_before`` / ``not_after`` / ``not_sentence`` / ``not_text`` which must
*not* match.
All keys of one condition must hold; a context is a list of conditions, any of which may hold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from groupops.errors import ConfigurationError
from groupops.text.normalise import normalise_with_offsets

__all__ = [
    "CATEGORIES",
    "SEVERITIES",
    "Condition",
    "Context",
    "Rule",
    "RuleSet",
    "Severity",
    "TermEntry",
    "load_rule_set",
]

Severity = Literal["violation", "review"]
CATEGORIES = ("absolute", "authority", "efficacy", "price", "gift", "disparage", "label", "other")
SEVERITIES: tuple[Severity, ...] = ("violation", "review")
_CONDITION_KEYS = ("term", "before", "after", "sentence", "text")
_RULE_KEYS = {
    "id",
    "category",
    "severity",
    "reason",
    "suggestion",
    "terms",
    "require",
    "exempt",
    "review",
    "escalate",
    "check",
    "params",
    "once_per_text",
    "priority",
    "extend_span",
    "examples",
    "description",
}
_EXTEND_KEYS = {"rule", "terms", "require", "exempt", "review", "escalate", "examples"}
WINDOW = 40
"""How many normalised characters ``before`` and ``after`` conditions look at."""


@dataclass(frozen=True)
class Condition:
    """One conjunction of regular expressions around a hit; see the module docstring."""

    source: str
    term: re.Pattern[str] | None = None
    before: re.Pattern[str] | None = None
    after: re.Pattern[str] | None = None
    sentence: re.Pattern[str] | None = None
    text: re.Pattern[str] | None = None
    not_term: re.Pattern[str] | None = None
    not_before: re.Pattern[str] | None = None
    not_after: re.Pattern[str] | None = None
    not_sentence: re.Pattern[str] | None = None
    not_text: re.Pattern[str] | None = None


@dataclass(frozen=True)
class Context:
    """A named (or inline) context: a list of alternative conditions and an optional note."""

    name: str
    conditions: tuple[Condition, ...]
    note: str | None = None
    description: str | None = None


@dataclass
class Rule:
    """A compliance rule as loaded from a lexicon file."""

    id: str
    category: str
    severity: Severity
    reason: str
    suggestion: str
    source: Path
    terms: dict[str, str | None] = field(default_factory=dict)
    require: list[Context] = field(default_factory=list)
    exempt: list[Context] = field(default_factory=list)
    review: list[Context] = field(default_factory=list)
    escalate: list[Context] = field(default_factory=list)
    check: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    once_per_text: bool = False
    priority: int = 0
    extend_span: re.Pattern[str] | None = None
    positive_examples: list[str] = field(default_factory=list)
    negative_examples: list[str] = field(default_factory=list)
    description: str | None = None


@dataclass(frozen=True)
class TermEntry:
    """A normalised lexicon term and, in evaluation order, the rules it triggers (empty: ordinary word)."""

    term: str
    rules: tuple[Rule, ...]
    replacements: tuple[str | None, ...]


@dataclass
class RuleSet:
    """Everything loaded from one or more lexicon directories."""

    rules: dict[str, Rule]
    ordinary_words: set[str]
    directories: tuple[Path, ...]

    def term_entries(self) -> list[TermEntry]:
        """One entry per distinct normalised term, rules sorted by priority (then load order)."""
        by_term: dict[str, list[tuple[int, int, Rule, str | None]]] = {}
        for order, rule in enumerate(self.rules.values()):
            for term, replacement in rule.terms.items():
                by_term.setdefault(term, []).append((-rule.priority, order, rule, replacement))
        entries = []
        for term, rows in by_term.items():
            rows.sort(key=lambda row: (row[0], row[1]))
            entries.append(TermEntry(term, tuple(r[2] for r in rows), tuple(r[3] for r in rows)))
        entries += [TermEntry(word, (), ()) for word in self.ordinary_words if word not in by_term]
        return entries


def load_rule_set(directories: Sequence[Path]) -> RuleSet:
    """Load every ``*.yaml`` file of ``directories`` in order (files sorted by name within one).

    Named contexts are global; a later directory may redefine a context or a rule (same id
    replaces) and ``extend`` earlier rules. Raises :class:`ConfigurationError` naming the file
    and rule on any mistake.
    """
    documents: list[tuple[Path, dict[str, Any]]] = []
    for directory in directories:
        if not directory.is_dir():
            raise ConfigurationError(f"{directory}: lexicon directory does not exist")
        documents += [(path, _read_yaml(path)) for path in sorted(directory.glob("*.yaml"))]
    contexts: dict[str, Context] = {}
    for path, document in documents:
        for name, spec in (document.get("contexts") or {}).items():
            contexts[name] = _parse_context(path, str(name), spec)
    rules: dict[str, Rule] = {}
    ordinary: set[str] = set()
    for path, document in documents:
        ordinary |= {_normalise_term(path, word) for word in document.get("ordinary_words") or []}
        defaults: dict[str, Any] = {
            key: document[key] for key in ("category", "severity", "reason") if key in document
        }
        for spec in document.get("rules") or []:
            rule = _parse_rule(path, spec, defaults, contexts)
            rules[rule.id] = rule
    for path, document in documents:
        for spec in document.get("extend") or []:
            _apply_extension(path, spec, rules, contexts)
    return RuleSet(rules=rules, ordinary_words=ordinary, directories=tuple(directories))


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigurationError(f"{path}: cannot read lexicon file: {error}") from error
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigurationError(f"{path}: a lexicon file must be a mapping at the top level")
    unknown = set(document) - {
        "contexts",
        "ordinary_words",
        "rules",
        "extend",
        "category",
        "severity",
        "reason",
    }
    if unknown:
        raise ConfigurationError(f"{path}: unknown top-level keys {sorted(unknown)}")
    return document


def _parse_rule(path: Path, spec: Any, defaults: Mapping[str, Any], contexts: Mapping[str, Context]) -> Rule:
    if not isinstance(spec, dict) or "id" not in spec:
        raise ConfigurationError(f"{path}: every rule needs an 'id' (got {spec!r:.80})")
    rule_id = str(spec["id"])
    where = f"{path}: rule {rule_id}"
    unknown = set(spec) - _RULE_KEYS
    if unknown:
        raise ConfigurationError(f"{where}: unknown keys {sorted(unknown)}")
    merged = {**defaults, **spec}
    category = merged.get("category")
    severity = merged.get("severity", "violation")
    if category not in CATEGORIES:
        raise ConfigurationError(
            f"{where}: category must be one of {', '.join(CATEGORIES)} (got {category!r})"
        )
    if severity not in SEVERITIES:
        raise ConfigurationError(f"{where}: severity must be violation or review (got {severity!r})")
    if not merged.get("reason"):
        raise ConfigurationError(f"{where}: a reason citing the rule of law is required")
    rule = Rule(
        id=rule_id,
        category=category,
        severity=severity,
        reason=str(merged["reason"]),
        suggestion=str(spec.get("suggestion", "删除或改为可证实的客观描述")),
        source=path,
        check=spec.get("check"),
        params=dict(spec.get("params") or {}),
        once_per_text=bool(spec.get("once_per_text", False)),
        priority=int(spec.get("priority", 0)),
        extend_span=_compile(where, "extend_span", spec["extend_span"]) if spec.get("extend_span") else None,
        description=spec.get("description"),
    )
    _add_parts(where, rule, spec, contexts)
    if not rule.terms:
        raise ConfigurationError(f"{where}: a rule needs at least one term")
    return rule


def _apply_extension(path: Path, spec: Any, rules: dict[str, Rule], contexts: Mapping[str, Context]) -> None:
    if not isinstance(spec, dict) or spec.get("rule") not in rules:
        raise ConfigurationError(
            f"{path}: 'extend' entries need 'rule' naming a loaded rule (got {spec!r:.80})"
        )
    unknown = set(spec) - _EXTEND_KEYS
    if unknown:
        raise ConfigurationError(f"{path}: extend {spec['rule']}: unknown keys {sorted(unknown)}")
    _add_parts(f"{path}: extend {spec['rule']}", rules[spec["rule"]], spec, contexts)


def _add_parts(where: str, rule: Rule, spec: Mapping[str, Any], contexts: Mapping[str, Context]) -> None:
    for item in spec.get("terms") or []:
        for raw_term, replacement in _term_items(where, item):
            rule.terms[_normalise_term(Path(where), raw_term)] = replacement
    for key in ("require", "exempt", "review", "escalate"):
        getattr(rule, key).extend(_resolve_contexts(where, key, spec.get(key) or [], contexts))
    examples = spec.get("examples") or {}
    if not isinstance(examples, dict):
        raise ConfigurationError(f"{where}: examples must be a mapping with positive/negative lists")
    rule.positive_examples += [str(text) for text in examples.get("positive") or []]
    rule.negative_examples += [str(text) for text in examples.get("negative") or []]


def _term_items(where: str, item: Any) -> Iterable[tuple[str, str | None]]:
    if isinstance(item, str | int | float):
        return [(str(item), None)]
    if isinstance(item, dict):
        return [
            (str(term), None if replacement is None else str(replacement))
            for term, replacement in item.items()
        ]
    raise ConfigurationError(f"{where}: a term is a string or a mapping term: replacement (got {item!r:.80})")


def _normalise_term(path: Path, raw_term: str) -> str:
    term = normalise_with_offsets(str(raw_term))[0]
    if not term or "。" in term:
        raise ConfigurationError(
            f"{path}: term {raw_term!r} is empty or contains a sentence break once normalised"
        )
    return term


def _resolve_contexts(where: str, key: str, items: Any, contexts: Mapping[str, Context]) -> list[Context]:
    if isinstance(items, str | dict):
        items = [items]
    resolved = []
    for index, item in enumerate(items):
        if isinstance(item, str):
            if item not in contexts:
                raise ConfigurationError(f"{where}: {key} refers to unknown context {item!r}")
            resolved.append(contexts[item])
        else:
            resolved.append(_parse_context(Path(where), f"{key}[{index}]", item))
    return resolved


def _parse_context(path: Path, name: str, spec: Any) -> Context:
    where = f"{path}: context {name}"
    note = description = None
    if isinstance(spec, dict) and "when" in spec:
        note, description = spec.get("note"), spec.get("description")
        spec = spec["when"]
    elif isinstance(spec, dict) and "note" in spec:  # an inline condition with its own note
        note = spec["note"]
        spec = {key: value for key, value in spec.items() if key != "note"}
    alternatives = spec if isinstance(spec, list) else [spec]
    return Context(name, tuple(_parse_condition(where, alt) for alt in alternatives), note, description)


def _parse_condition(where: str, spec: Any) -> Condition:
    allowed = set(_CONDITION_KEYS) | {f"not_{key}" for key in _CONDITION_KEYS}
    if not isinstance(spec, dict) or not spec or set(spec) - allowed:
        raise ConfigurationError(
            f"{where}: a condition is a mapping with keys from {sorted(allowed)} (got {spec!r:.80})"
        )
    compiled: dict[str, re.Pattern[str]] = {}
    for key, pattern in spec.items():
        anchored = f"(?:{pattern})$" if key.endswith(("before", "term")) else str(pattern)
        compiled[key] = _compile(where, key, anchored)
    return Condition(source=repr(spec), **compiled)


def _compile(where: str, key: str, pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(str(pattern))
    except re.error as error:
        raise ConfigurationError(
            f"{where}: {key}: invalid regular expression {pattern!r}: {error}"
        ) from error
