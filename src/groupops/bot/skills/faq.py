"""FAQ skill: answers member questions from a knowledge base (BM25 over jieba tokens).

It answers only when the match is confident; any other question becomes an ``open_ticket``
action for customer service (first answer due within the 15-minute SLA of plan §3.3).

Confidence = BM25 score of the best entry / the score a perfect match would get (the sum of
the query terms' IDF, with unknown terms counted at the largest IDF), clipped to 0..1.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from groupops.bot.core import Action, Event, SkillContext, SkillResult
from groupops.bot.skills import Skill, register_skill
from groupops.bot.skills._text import display_name, load_bot_data
from groupops.errors import ConfigurationError

__all__ = [
    "Bm25Index",
    "FaqEntry",
    "FaqMatch",
    "FaqSkill",
    "KnowledgeBase",
    "load_knowledge_base",
    "looks_like_question",
    "tokenize",
]

_DOMAIN_WORDS = (
    "尺码表",
    "机洗",
    "手洗",
    "干洗",
    "七天无理由",
    "运费险",
    "起球",
    "断码",
    "羽绒服",
    "针织衫",
    "代金券",
)
_STOPWORDS = frozenset(
    [
        "的",
        "了",
        "吗",
        "呢",
        "啊",
        "呀",
        "吧",
        "么",
        "嘛",
        "哦",
        "喔",
        "我",
        "你",
        "您",
        "他",
        "她",
        "它",
        "我们",
        "是",
        "在",
        "有",
        "和",
        "与",
        "或",
        "就",
        "都",
        "也",
        "还",
        "要",
        "会",
        "能",
        "可以",
        "怎么",
        "怎么办",
        "怎样",
        "如何",
        "什么",
        "请问",
        "一下",
        "这个",
        "那个",
        "这款",
        "那款",
        "这件",
        "一件",
        "多少",
        "哪",
        "哪里",
        "为什么",
        "不",
        "没",
        "没有",
        "穿",
        "买",
        "衣服",
    ]
)
_QUESTION_MARKERS = re.compile(
    r"[?？]|吗|呢|怎么|如何|多久|几天|能不能|可不可以|可以.*吗|是否|哪里|哪个|什么|多少|请问|咨询|求助"
)
_TOKEN_CHARACTERS = re.compile(r"[\w\u4e00-\u9fff]", re.UNICODE)

_DIGIT = re.compile(r"\d")

_DIGIT = re.compile(r"\d")
_tokenizer_lock = threading.Lock()
_tokenizer: Any = None


def _jieba_tokenizer() -> Any:
    global _tokenizer
    with _tokenizer_lock:
        if _tokenizer is None:
            import jieba

            tokenizer = jieba.Tokenizer()
            for word in _DOMAIN_WORDS:
                tokenizer.add_word(word)
            _tokenizer = tokenizer
        return _tokenizer


def tokenize(text: str) -> list[str]:
    """Search tokens of ``text``: jieba's search-mode words, lower-cased, without stop words,
    punctuation and numbers (heights, weights and order numbers say nothing about the topic)."""
    words = _jieba_tokenizer().lcut_for_search(text.lower())
    return [
        word
        for word in words
        if _TOKEN_CHARACTERS.search(word) and word not in _STOPWORDS and not _DIGIT.search(word)
    ]


def looks_like_question(text: str) -> bool:
    """Whether a message asks something (question mark or a Chinese question word)."""
    return bool(_QUESTION_MARKERS.search(text))


class Bm25Index:
    """Okapi BM25 over token lists (IDF as in BM25+ so that it is never negative)."""

    def __init__(self, documents: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75) -> None:
        if not documents:
            raise ConfigurationError("a BM25 index needs at least one document")
        self.k1, self.b = k1, b
        self._term_counts = [Counter(document) for document in documents]
        self._lengths = [len(document) for document in documents]
        self._average_length = max(sum(self._lengths) / len(documents), 1e-9)
        document_frequency = Counter(term for counts in self._term_counts for term in counts)
        total = len(documents)
        self._idf = {
            term: math.log(1 + (total - seen + 0.5) / (seen + 0.5))
            for term, seen in document_frequency.items()
        }
        self.max_idf = math.log(1 + (total + 0.5) / 0.5)

    def idf(self, term: str) -> float:
        """Inverse document frequency (unknown terms get the largest possible value)."""
        return self._idf.get(term, self.max_idf)

    def scores(self, query: Sequence[str]) -> list[float]:
        """BM25 score of every document for ``query``."""
        terms = [term for term in set(query) if term in self._idf]
        return [
            self._score(terms, counts, length)
            for counts, length in zip(self._term_counts, self._lengths, strict=True)
        ]

    def ideal_score(self, query: Sequence[str]) -> float:
        """The score of a document matching every query term once at average length."""
        return sum(self.idf(term) for term in set(query))

    def _score(self, terms: Sequence[str], counts: Counter[str], length: int) -> float:
        score = 0.0
        norm = self.k1 * (1 - self.b + self.b * length / self._average_length)
        for term in terms:
            frequency = counts.get(term, 0)
            if frequency:
                score += self._idf[term] * frequency * (self.k1 + 1) / (frequency + norm)
        return score


@dataclass(frozen=True)
class FaqEntry:
    """One knowledge-base entry."""

    entry_id: str
    question: str
    answer: str
    alternates: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class FaqMatch:
    """The best entry for a question and how sure the match is (0..1)."""

    entry: FaqEntry
    confidence: float
    score: float


class KnowledgeBase:
    """FAQ entries with a BM25 index over their questions, alternates and keywords."""

    def __init__(self, entries: Sequence[FaqEntry]) -> None:
        if not entries:
            raise ConfigurationError("the FAQ knowledge base has no entries")
        self.entries = tuple(entries)
        self._index = Bm25Index([self._document(entry) for entry in self.entries])

    @staticmethod
    def _document(entry: FaqEntry) -> list[str]:
        return tokenize(" ".join((entry.question, *entry.alternates, *entry.keywords)))

    def best_match(self, question: str) -> FaqMatch | None:
        """The most relevant entry, or None when no query term is known at all."""
        query = tokenize(question)
        if not query:
            return None
        scores = self._index.scores(query)
        best = max(range(len(scores)), key=scores.__getitem__)
        if scores[best] <= 0:
            return None
        confidence = min(1.0, scores[best] / self._index.ideal_score(query))
        return FaqMatch(self.entries[best], confidence, scores[best])


def _entry_from(raw: Any) -> FaqEntry:
    if not isinstance(raw, dict) or not raw.get("id") or not raw.get("question") or not raw.get("answer"):
        raise ConfigurationError(f"FAQ entry needs id, question and answer: {raw!r}")
    return FaqEntry(
        entry_id=str(raw["id"]),
        question=str(raw["question"]),
        answer=str(raw["answer"]).strip(),
        alternates=tuple(str(item) for item in raw.get("alternates") or ()),
        keywords=tuple(str(item) for item in raw.get("keywords") or ()),
    )


def load_knowledge_base(path: Path | None = None) -> KnowledgeBase:
    """Load a knowledge base from a YAML file (``entries: [...]``), or the built-in one."""
    if path is None:
        data = load_bot_data("faq.yaml")
    else:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError, UnicodeDecodeError) as error:
            raise ConfigurationError(f"FAQ file {path} cannot be read: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise ConfigurationError("a FAQ file must hold a mapping with an 'entries' list")
    entries = [_entry_from(raw) for raw in data["entries"]]
    if len({entry.entry_id for entry in entries}) != len(entries):
        raise ConfigurationError("FAQ entry ids must be unique")
    return KnowledgeBase(entries)


class FaqSkill(Skill):
    """Answer confident matches, hand everything else to customer service as a ticket."""

    name = "faq"
    order = 90
    description = "Answers questions from the FAQ knowledge base; opens a CS ticket when unsure."

    def __init__(self, knowledge_base: KnowledgeBase | None = None) -> None:
        self._knowledge_base = knowledge_base
        self._lock = threading.Lock()

    @property
    def knowledge_base(self) -> KnowledgeBase:
        """The knowledge base (the built-in one, loaded on first use, unless one was given)."""
        with self._lock:
            if self._knowledge_base is None:
                self._knowledge_base = load_knowledge_base()
            return self._knowledge_base

    def handle(self, event: Event, state: Any, context: SkillContext) -> SkillResult:
        if event.kind != "message" or event.sender_is_staff or not event.member_id:
            return SkillResult(state)
        if not looks_like_question(event.text) or len(event.text) > 500:
            return SkillResult(state)
        match = self.knowledge_base.best_match(event.text)
        name = display_name(event.member_name, event.member_id)
        threshold = context.profile.faq_confidence_threshold
        if match is not None and match.confidence >= threshold:
            answer = Action(
                "send_text",
                event.group_id,
                text=f"@{name} {match.entry.answer}",
                mentioned_member_ids=(event.member_id,),
                data={"faq_id": match.entry.entry_id, "confidence": round(match.confidence, 3)},
                prompted=True,
            )
            return SkillResult(state, (answer,), handled=True)
        return SkillResult(state, self._ticket_actions(event, name, match), handled=True)

    def _ticket_actions(self, event: Event, name: str, match: FaqMatch | None) -> tuple[Action, ...]:
        ticket = Action(
            "open_ticket",
            event.group_id,
            member_id=event.member_id,
            text=event.text,
            data={
                "category": "question",
                "sla_minutes": 15,
                "closest_faq_id": match.entry.entry_id if match else None,
                "confidence": round(match.confidence, 3) if match else 0.0,
            },
        )
        mentioned = (event.member_id,) if event.member_id else ()
        acknowledgement = Action(
            "send_text",
            event.group_id,
            text=f"@{name} 收到～已转给客服同事，15 分钟内回复您。",
            mentioned_member_ids=mentioned,
            prompted=True,
        )
        return ticket, acknowledgement


register_skill(FaqSkill())
