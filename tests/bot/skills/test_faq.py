"""FAQ skill: BM25 over jieba tokens, confidence threshold, tickets."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from groupops.bot.core import GroupProfile
from groupops.bot.skills.faq import (
    Bm25Index,
    FaqEntry,
    KnowledgeBase,
    load_knowledge_base,
    looks_like_question,
    tokenize,
)
from groupops.errors import ConfigurationError

from ..conftest import BotRun, at


@pytest.fixture(scope="module")
def knowledge_base() -> KnowledgeBase:
    return load_knowledge_base()


@pytest.mark.parametrize(
    ("question", "entry_id"),
    [
        ("尺码怎么选？", "size-choose"),
        ("我170 60kg穿什么码", "size-choose"),
        ("下单后几天能发货？", "shipping-time"),
        ("不合适可以退吗", "returns-policy"),
        ("退货运费谁出啊？", "returns-shipping-fee"),
        ("毛衣能机洗吗", "wash-knit"),
        ("羽绒服可以水洗吗？", "wash-down"),
        ("积分能换什么？", "points-use"),
        ("收到的衣服有破洞怎么办", "quality-issue"),
        ("能开发票吗", "invoice"),
    ],
)
def test_realistic_questions_find_their_entry(
    knowledge_base: KnowledgeBase, question: str, entry_id: str
) -> None:
    match = knowledge_base.best_match(question)
    assert match is not None and match.entry.entry_id == entry_id and match.confidence >= 0.5


@pytest.mark.parametrize(
    "question", ["今天天气怎么样？", "你们老板是谁？", "周末去哪玩呢", "'; DROP TABLE faq; --?"]
)
def test_unrelated_questions_stay_below_the_threshold(knowledge_base: KnowledgeBase, question: str) -> None:
    match = knowledge_base.best_match(question)
    assert match is None or match.confidence < 0.5


def test_confident_answer_in_the_group(run: BotRun) -> None:
    [answer] = run.say("wmA", "请问退款多久到账？", at(3), "安娜")
    assert answer.data["faq_id"] == "refund-time" and answer.text.startswith("@安娜 ")
    assert answer.prompted and answer.mentioned_member_ids == ("wmA",)


def test_unsure_questions_open_a_ticket(run: BotRun) -> None:
    ticket, acknowledgement = run.say("wmA", "你们老板是谁？", at(3))
    assert (
        ticket.kind == "open_ticket" and ticket.data["sla_minutes"] == 15 and ticket.text == "你们老板是谁？"
    )
    assert "15 分钟" in acknowledgement.text and acknowledgement.prompted


def test_threshold_comes_from_the_profile(profile: GroupProfile) -> None:
    strict = BotRun(replace(profile, faq_confidence_threshold=1.01))
    assert strict.say("wmA", "尺码怎么选？", at(3))[0].kind == "open_ticket"


def test_chat_that_is_not_a_question_is_left_alone(run: BotRun) -> None:
    assert run.say("wmA", "今天穿了新买的开衫，好舒服", at(3)) == ()
    assert run.say("wmA", "尺码" * 300 + "？", at(3)) == ()


def test_question_detection() -> None:
    assert (
        looks_like_question("能机洗吗") and looks_like_question("how?") and looks_like_question("尺码怎么选")
    )
    assert not looks_like_question("好看") and not looks_like_question("")


def test_tokenize_drops_stopwords_numbers_and_punctuation() -> None:
    tokens = tokenize("请问，我 170cm 的话尺码表怎么看？！")
    assert "尺码表" in tokens and "请问" not in tokens and "，" not in tokens
    assert not any(any(char.isdigit() for char in token) for token in tokens)
    assert tokenize("") == [] and tokenize("？？？") == []


def test_bm25_prefers_rare_terms() -> None:
    index = Bm25Index([["尺码", "选"], ["发货", "选"], ["退货", "选"]])
    scores = index.scores(["尺码"])
    assert scores[0] > 0 and scores[1] == scores[2] == 0
    assert index.idf("尺码") > index.idf("选") > 0 and index.idf("unknown") == index.max_idf
    with pytest.raises(ConfigurationError):
        Bm25Index([])


def test_custom_knowledge_base_file(tmp_path: Path) -> None:
    path = tmp_path / "faq.yaml"
    path.write_text(
        "entries:\n  - id: gift\n    question: 有赠品吗？\n    answer: 以活动页为准。\n", encoding="utf-8"
    )
    match = load_knowledge_base(path).best_match("买了有赠品吗")
    assert match is not None and match.entry.entry_id == "gift"


@pytest.mark.parametrize(
    "content",
    [
        "",
        "entries: 3",
        "- a\n- b",
        "entries:\n  - id: x\n    question: q\n",
        "entries:\n  - {id: a, question: q, answer: a}\n  - {id: a, question: q, answer: b}\n",
        "entries: [\n",
    ],
)
def test_bad_knowledge_base_files(tmp_path: Path, content: str) -> None:
    path = tmp_path / "faq.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigurationError):
        load_knowledge_base(path)


def test_missing_knowledge_base_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        load_knowledge_base(tmp_path / ".." / "nope.yaml")
    with pytest.raises(ConfigurationError):
        KnowledgeBase([])


def test_builtin_knowledge_base_covers_the_apparel_topics(knowledge_base: KnowledgeBase) -> None:
    ids = {entry.entry_id for entry in knowledge_base.entries}
    assert {"size-choose", "shipping-time", "returns-policy", "wash-knit", "points-earn"} <= ids
    assert all(isinstance(entry, FaqEntry) and entry.answer for entry in knowledge_base.entries)
