"""Group hygiene: spam and hard ads from members, copy-paste, and homogeneous promotions.

``detect_spam`` scores one member message against ``data/classify/spam.yaml`` and a few
patterns (links, WeChat ids and phone numbers, QR-code mentions, invitations to private
chat, hard-ad vocabulary). ``simhash64`` fingerprints a text so that near-duplicates differ
in a few bits; the grouping helpers cluster fingerprints within a Hamming distance and give
the plan's "share of repeated promotions" (重复促销信息占比) per group and week.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

import numpy as np

from groupops.errors import InputFormatError
from groupops.text._classify_lexicon import SpamLexicon, default_spam_lexicon
from groupops.text.normalise import to_simplified_halfwidth

__all__ = [
    "DEFAULT_MAX_HAMMING",
    "SPAM_REASONS",
    "SPAM_THRESHOLD",
    "CopyPasteFinding",
    "PromotionHomogeneity",
    "SpamVerdict",
    "detect_spam",
    "hamming_distance",
    "is_promotional_message",
    "near_duplicate_groups",
    "repeated_copy_paste",
    "repeated_promotion_share",
    "simhash64",
    "weekly_repeated_promotion_share",
]

SPAM_REASONS = ("link", "wechat_id", "qr_code", "contact_request", "hard_ad")
SPAM_THRESHOLD = 1.0
"""A message whose cue weights add up to this is spam."""
DEFAULT_MAX_HAMMING = 10
"""Two 64-bit SimHash fingerprints at most this many bits apart are near-duplicates.

Measured on promotional posts: reworded or re-punctuated copies of one post differ in 0–10
bits, unrelated posts in 25 or more."""

_LINK = re.compile(
    r"(?:https?://|www\.)[^\s\u4e00-\u9fff]+"
    r"|\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|cn|net|org|top|xyz|cc|co|io|me|vip|shop|info|ly|link|site)\b(?:/[^\s\u4e00-\u9fff]*)?"
    r"|[¥$€][a-z0-9]{6,14}[¥$€]"
)
_CONTACT_ID = re.compile(
    r"(?:微信号?|weixin|v信|威信|薇信|vx|wx|加v|\+v|qq|加q)[:：\s]*([a-z][-_a-z0-9]{5,19}|[0-9]{5,11})"
)
_PHONE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
_PRICE = re.compile(r"[0-9]+(?:元|块|折)|满[0-9]+减[0-9]+|[0-9]+%")
_SEPARATORS = re.compile(r"[\s\-_·.*|/\\~～,，。!！?？:：;；'\"“”‘’()（）\[\]【】<>《》]+")
_WEIGHTS = {
    "link": 1.0,
    "wechat_id": 1.0,
    "qr_code": 0.6,
    "strong_contact": 1.0,
    "weak_contact": 0.4,
    "hard_ad": 0.6,
    "phone": 0.5,
    "warning": -1.0,  # per word: a warning about spam quotes its cues
}


@dataclass(frozen=True, slots=True)
class SpamVerdict:
    """Whether a member message is spam or a hard ad, and why."""

    is_spam: bool
    score: float
    reasons: tuple[str, ...]
    terms: tuple[str, ...]


def _compact(text: str) -> str:
    """Lower-case simplified text with separators dropped, so that 加 V 信 reads 加v信."""
    return _SEPARATORS.sub("", text)


def _spam_evidence(gentle: str, compact: str, lexicon: SpamLexicon) -> dict[str, list[str]]:
    contact_text = lexicon.not_contact.sub("", compact)  # 叠加 我刚试了 is not 加我
    strong = lexicon.strong_contact.found(contact_text)
    evidence: dict[str, list[str]] = {
        "link": _LINK.findall(gentle),
        "wechat_id": _CONTACT_ID.findall(gentle) + _CONTACT_ID.findall(compact),
        "phone": _PHONE.findall(compact),
        "qr_code": lexicon.qr_code.found(compact),
        "strong_contact": strong,
        "weak_contact": [] if strong else lexicon.weak_contact.found(contact_text),
        "hard_ad": lexicon.hard_ad.found(compact),
        "warning": lexicon.warning.found(compact),
    }
    return {kind: sorted(set(terms)) for kind, terms in evidence.items() if terms}


def detect_spam(text: str, allowed_domains: Iterable[str] = ()) -> SpamVerdict:
    """Score one member message; links to ``allowed_domains`` (the brand's own) are not counted."""
    gentle = to_simplified_halfwidth(text)
    evidence = _spam_evidence(gentle, _compact(gentle), default_spam_lexicon())
    allowed = tuple(domain.lower() for domain in allowed_domains)
    if allowed and "link" in evidence:
        evidence["link"] = [
            link for link in evidence["link"] if not any(domain in link for domain in allowed)
        ]
        if not evidence["link"]:
            del evidence["link"]
    score = sum(
        _WEIGHTS[kind] * (len(terms) if kind in ("hard_ad", "warning") else 1)
        for kind, terms in evidence.items()
    )
    reasons = tuple(reason for reason in SPAM_REASONS if reason in evidence or _is_contact(reason, evidence))
    terms = tuple(term for kind in sorted(evidence) if kind != "warning" for term in evidence[kind])
    return SpamVerdict(score >= SPAM_THRESHOLD, round(score, 3), reasons, terms)


def _is_contact(reason: str, evidence: dict[str, list[str]]) -> bool:
    if reason == "wechat_id":
        return "phone" in evidence
    return reason == "contact_request" and ("strong_contact" in evidence or "weak_contact" in evidence)


def is_promotional_message(text: str) -> bool:
    """Whether a (staff) message reads as a sales promotion: prices, coupons, launches, links."""
    gentle = to_simplified_halfwidth(text)
    cues = default_spam_lexicon().promotion.found(gentle)
    return len(cues) >= 2 or bool(cues and (_LINK.search(gentle) or _PRICE.search(gentle)))


@lru_cache(maxsize=262_144)
def _shingle_hash(shingle: str) -> int:
    return int.from_bytes(hashlib.blake2b(shingle.encode("utf-8"), digest_size=8).digest(), "little")


_DIGITS = re.compile(r"[0-9]+")
_BIT_POSITIONS = np.arange(64, dtype=np.uint64)


def simhash64(text: str) -> int:
    """A 64-bit SimHash of the text's character 2-grams (separators and case ignored)."""
    compact = _DIGITS.sub("0", _compact(to_simplified_halfwidth(text)))
    if not compact:
        return 0
    shingles = [compact[index : index + 2] for index in range(max(len(compact) - 1, 1))]
    hashes = np.fromiter(
        (_shingle_hash(shingle) for shingle in shingles), dtype=np.uint64, count=len(shingles)
    )
    bits = ((hashes[:, None] >> _BIT_POSITIONS) & np.uint64(1)).astype(np.int64)
    votes = (2 * bits - 1).sum(axis=0)
    return int(sum(1 << int(position) for position in np.flatnonzero(votes > 0)))


def hamming_distance(first: int, second: int) -> int:
    """The number of bits in which two fingerprints differ."""
    return (first ^ second).bit_count()


def _bands(max_hamming: int) -> list[tuple[int, int]]:
    """Pigeonhole bands: fingerprints within ``max_hamming`` bits agree on at least one band."""
    count = max_hamming + 1
    edges = [round(index * 64 / count) for index in range(count + 1)]
    return [(start, end - start) for start, end in zip(edges, edges[1:], strict=False)]


def _find(parents: list[int], index: int) -> int:
    while parents[index] != index:
        parents[index] = parents[parents[index]]
        index = parents[index]
    return index


def near_duplicate_groups(texts: Sequence[str], max_hamming: int = DEFAULT_MAX_HAMMING) -> list[list[int]]:
    """Clusters (indexes into ``texts``, size ≥ 2) of texts linked by near-duplicate fingerprints."""
    if not 0 <= max_hamming <= 31:
        raise ValueError("max_hamming must be between 0 and 31")
    fingerprints = [simhash64(text) for text in texts]
    parents = list(range(len(texts)))
    for start, width in _bands(max_hamming):
        buckets: dict[int, list[int]] = defaultdict(list)
        for index, fingerprint in enumerate(fingerprints):
            buckets[(fingerprint >> start) & ((1 << width) - 1)].append(index)
        for members in buckets.values():
            _union_close(members, fingerprints, parents, max_hamming)
    clusters: dict[int, list[int]] = defaultdict(list)
    for index in range(len(texts)):
        clusters[_find(parents, index)].append(index)
    return sorted((members for members in clusters.values() if len(members) > 1), key=lambda m: m[0])


def _union_close(members: list[int], fingerprints: list[int], parents: list[int], max_hamming: int) -> None:
    for position, first in enumerate(members):
        for second in members[position + 1 :]:
            if hamming_distance(fingerprints[first], fingerprints[second]) <= max_hamming:
                parents[_find(parents, second)] = _find(parents, first)


def repeated_promotion_share(
    messages: Iterable[tuple[str, str]], max_hamming: int = DEFAULT_MAX_HAMMING
) -> float:
    """Share of ``(message_id, text)`` messages that near-duplicate an earlier one (0 when empty).

    A cluster of k near-identical posts counts k − 1 repeats: the first post is original content.
    """
    texts = [text for _message_id, text in messages]
    if not texts:
        return 0.0
    repeats = sum(len(cluster) - 1 for cluster in near_duplicate_groups(texts, max_hamming))
    return repeats / len(texts)


@dataclass(frozen=True, slots=True)
class PromotionHomogeneity:
    """Repeated promotions of one group in one week (weeks start on Monday)."""

    group_id: str
    week_start: date
    messages: int
    repeated: int
    share: float


def weekly_repeated_promotion_share(
    rows: Iterable[tuple[str, date, str]],
    max_hamming: int = DEFAULT_MAX_HAMMING,
    promotional_only: bool = True,
) -> list[PromotionHomogeneity]:
    """Per group and ISO week, the share of promotional posts repeating an earlier one that week."""
    weeks: dict[tuple[str, date], list[str]] = defaultdict(list)
    for row in rows:
        group_id, day, text = _checked_promotion_row(row)
        if not promotional_only or is_promotional_message(text):
            weeks[(group_id, day - timedelta(days=day.weekday()))].append(text)
    result = []
    for (group_id, week_start), texts in sorted(weeks.items()):
        repeated = sum(len(cluster) - 1 for cluster in near_duplicate_groups(texts, max_hamming))
        result.append(PromotionHomogeneity(group_id, week_start, len(texts), repeated, repeated / len(texts)))
    return result


def _checked_promotion_row(row: tuple[str, date, str]) -> tuple[str, date, str]:
    try:
        group_id, day, text = row
    except (TypeError, ValueError) as error:
        raise InputFormatError(f"promotion row must be (group_id, date, text), got {row!r}") from error
    if not isinstance(day, date) or not isinstance(text, str):
        raise InputFormatError(f"promotion row needs a date and a text, got {row!r}")
    return str(group_id), (day.date() if isinstance(day, datetime) else day), text


@dataclass(frozen=True, slots=True)
class CopyPasteFinding:
    """A member who posted (nearly) the same text again and again."""

    sender: str
    repeats: int
    sample: str


def repeated_copy_paste(
    messages: Iterable[tuple[str, str]],
    min_repeats: int = 3,
    min_length: int = 6,
    max_hamming: int = DEFAULT_MAX_HAMMING,
) -> list[CopyPasteFinding]:
    """Senders of ``(sender, text)`` messages with ≥ ``min_repeats`` near-identical posts.

    Short texts (打卡, 1, 收到) repeat legitimately and are ignored below ``min_length`` characters.
    """
    by_sender: dict[str, list[str]] = defaultdict(list)
    for sender, text in messages:
        if len(_compact(to_simplified_halfwidth(text))) >= min_length:
            by_sender[sender].append(text)
    findings = []
    for sender, texts in sorted(by_sender.items()):
        clusters = near_duplicate_groups(texts, max_hamming)
        largest = max(clusters, key=len, default=[])
        if len(largest) >= min_repeats:
            findings.append(CopyPasteFinding(sender, len(largest), texts[largest[0]]))
    return sorted(findings, key=lambda finding: (-finding.repeats, finding.sender))
