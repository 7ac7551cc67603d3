"""Python checks that rule files can call by name (``check: promotion_disclosure``).

The registry ``COMPLIANCE_CHECKS`` is the extension point for judgements that regular
expressions cannot express (counting disclosed elements, comparing amounts). The built-in
checks below are registered through the same decorator an extension would use.

A check receives the hit (term position, sentence, whole text) and its rule, and returns a
:class:`CheckOutcome` (a finding with this severity) or ``None`` (this rule does not apply;
the next rule listed for the term is tried).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import TYPE_CHECKING, Any

from groupops.text._compliance_rules import Rule, Severity

if TYPE_CHECKING:
    from groupops.text._compliance_engine import Hit

__all__ = ["COMPLIANCE_CHECKS", "CheckOutcome", "compliance_check", "parse_amount_yuan"]


@dataclass(frozen=True)
class CheckOutcome:
    """What a check decided: the severity, and optionally a note for the reason and a suggestion."""

    severity: Severity
    note: str | None = None
    suggestion: str | None = None


Check = Callable[["Hit", Rule], CheckOutcome | None]
COMPLIANCE_CHECKS: dict[str, Check] = {}
"""Check name → function; rule files refer to checks by these names."""


def compliance_check(name: str) -> Callable[[Check], Check]:
    """Register ``function`` as the check ``name`` (decorator)."""

    def register(function: Check) -> Check:
        COMPLIANCE_CHECKS[name] = function
        return function

    return register


_AMOUNT = re.compile(
    r"([0-9][0-9,]*(?:\.[0-9]+)?|[一二两三四五六七八九十百千]+)\s*(万|w|千|k)?\s*(元|块|rmb)?", re.IGNORECASE
)
_CHINESE_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CHINESE_UNITS = {"十": 10, "百": 100, "千": 1000}


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    """Rule parameters are plain strings; compile each once."""
    return re.compile(pattern)


def parse_amount_yuan(number: str, unit: str | None = None) -> Decimal | None:
    """``"5.8", "万"`` → 58000; ``"2,999"`` → 2999; ``"五"``, ``"万"`` → 50000; None if unreadable."""
    try:
        value = Decimal(number.replace(",", "")) if number[0].isdigit() else _chinese_number(number)
    except (InvalidOperation, KeyError, IndexError):
        return None
    multiplier = {"万": 10_000, "w": 10_000, "千": 1_000, "k": 1_000}.get((unit or "").lower(), 1)
    return value * multiplier


def _chinese_number(text: str) -> Decimal:
    total, current = 0, 0
    for character in text:
        if character in _CHINESE_DIGITS:
            current = _CHINESE_DIGITS[character]
        else:
            total += (current or 1) * _CHINESE_UNITS[character]
            current = 0
    return Decimal(total + current)


def _amounts_after(text: str, markers: re.Pattern[str]) -> list[Decimal]:
    """Amounts written right after any of ``markers`` in ``text`` (e.g. after 价值 / 奖金)."""
    amounts = []
    for marker in markers.finditer(text):
        match = _AMOUNT.match(text, marker.end())
        if match and (match.group(2) or match.group(3) or match.group(1)[0].isdigit()):
            amount = parse_amount_yuan(match.group(1), match.group(2))
            if amount is not None:
                amounts.append(amount)
    return amounts


@compliance_check("prize_cap")
def prize_cap(hit: Hit, rule: Rule) -> CheckOutcome | None:
    """Lottery-style prize above the legal cap (default 50,000 yuan) → violation.

    Params: ``cap_yuan`` (50000), ``markers`` (regex before a prize amount).
    """
    cap = Decimal(str(rule.params.get("cap_yuan", 50_000)))
    markers = _compiled(
        str(rule.params.get("markers", r"(价值|奖金|现金|市值|总价|价格|价值约)\s*[:：]?\s*[¥￥]?"))
    )
    amounts = _amounts_after(hit.original_text_simplified, markers)
    largest = max(amounts, default=Decimal(0))
    if largest > cap:
        return CheckOutcome("violation", note=f"文中最高奖金额约 {largest:,.0f} 元，超过 {cap:,.0f} 元上限")
    return None


@compliance_check("promotion_disclosure")
def promotion_disclosure(hit: Hit, rule: Rule) -> CheckOutcome | None:
    """Gifts and lotteries must state their elements (kind, quantity, time, method, conditions).

    Params: ``elements`` (name → regex over the half-width simplified text, any match counts),
    ``vague`` (regex of vague prize words: a kind named only vaguely counts as missing),
    ``kind_element`` (which element the vague words undermine), ``required`` (elements whose
    absence alone means review), ``review_when_missing`` and ``violation_when_missing``
    (counts). Returns None when enough elements are stated.
    """
    text = hit.original_text_simplified
    elements: dict[str, Any] = rule.params.get("elements", {})
    missing = [name for name, pattern in elements.items() if not _compiled(str(pattern)).search(text)]
    vague = rule.params.get("vague")
    kind = rule.params.get("kind_element")
    if vague and kind and kind not in missing and _compiled(str(vague)).search(text):
        without_vague = _compiled(str(vague)).sub("", text)
        if not _compiled(str(elements[kind])).search(without_vague):
            missing.append(kind)
    required_missing = set(rule.params.get("required", [])) & set(missing)
    if len(missing) >= int(rule.params.get("violation_when_missing", 99)):
        severity: Severity = "violation"
    elif required_missing or len(missing) >= int(rule.params.get("review_when_missing", 1)):
        severity = "review"
    else:
        return None
    return CheckOutcome(severity, note="未写明：" + "、".join(missing), suggestion=rule.suggestion)


_CURRENT_PRICE = re.compile(
    r"(现价|现在|到手价?|秒杀价?|仅需|只需|只要|仅|券后价?|活动价|折后价?|群内价?|群价|特价|限时价?|今天|今日|直接|团购价?|福利价|内购价?)"
    r"\s*[:：]?\s*[¥￥]?\s*"
)


_REFERENCE_AMOUNT = re.compile(
    r"\s*(?:是|为|[:：])?\s*[¥￥]?\s*([0-9][0-9,]*(?:\.[0-9]+)?)\s*(万|w|千|k)?", re.IGNORECASE
)


@compliance_check("reference_price_ratio")
def reference_price_ratio(hit: Hit, rule: Rule) -> CheckOutcome | None:
    """A reference price (原价/专柜价 …) far above the offer price → review (possible 虚构原价).

    Params: ``max_ratio`` (3): reference ÷ offer at or above this is suspicious. Without both
    prices in the sentence the rule does not apply.
    """
    sentence = hit.original_sentence_simplified
    term_end = hit.original_end - hit.original_sentence_start
    reference = _REFERENCE_AMOUNT.match(sentence, term_end)
    offers = _amounts_after(sentence[term_end:], _CURRENT_PRICE)
    if not reference or not offers:
        return None
    reference_amount = parse_amount_yuan(reference.group(1), reference.group(2))
    offer = min(offers)
    if reference_amount is None or offer <= 0:
        return None
    ratio = reference_amount / offer
    if ratio < Decimal(str(rule.params.get("max_ratio", 3))):
        return None
    return CheckOutcome(
        rule.severity,
        note=f"标示的参考价是成交价的 {ratio:.1f} 倍，需核对促销前七日内最低成交价",
    )
