"""Clause structure and the newer complaint signals: irony, turns, slang, emoticons, intensity."""

from __future__ import annotations

import pytest

from groupops.text._classify_complaint import SIGNAL_NAMES, complaint_signals
from groupops.text._classify_features import DENSE_FEATURE_NAMES, analyse_message
from groupops.text._classify_lexicon import default_classifier_lexicon
from groupops.text._classify_structure import STRUCTURE_FEATURE_NAMES, clause_structure
from groupops.text._classify_tokens import default_message_tokenizer, normalise_message
from groupops.text.classify import classify_message, classify_messages


def _structure(text: str) -> dict[str, float]:
    lexicon = default_classifier_lexicon()
    normalised = normalise_message(text)
    signals = complaint_signals(normalised, lexicon)
    structure = clause_structure(normalised, lexicon, signals.problem_starts)
    return dict(zip(STRUCTURE_FEATURE_NAMES, structure.features(signals.problems), strict=True))


def _signals(text: str) -> dict[str, int]:
    return complaint_signals(normalise_message(text), default_classifier_lexicon()).counts


def test_every_structure_feature_is_a_named_dense_column() -> None:
    assert set(STRUCTURE_FEATURE_NAMES) <= set(DENSE_FEATURE_NAMES)
    analysis = analyse_message(
        "质量真好，洗一次就起球", default_message_tokenizer(), default_classifier_lexicon()
    )
    assert analysis.dense.shape == (len(DENSE_FEATURE_NAMES),)


@pytest.mark.parametrize(
    "text", ["质量真好，洗一次就起球", "颜色很喜欢 可惜一洗就褪", "款式好看 但是做工太粗糙"]
)
def test_praise_turning_into_a_problem(text: str) -> None:
    features = _structure(text)
    assert features["praise_then_negative"] == 1.0
    assert features["last_clause_negative"] == 1.0
    assert features["praise_only"] == 0.0


@pytest.mark.parametrize("text", ["虽然贵了点 但是质量真的好", "本来担心会起球 结果一点都不起球 很舒服"])
def test_turn_to_the_better_is_not_a_turn_to_the_worse(text: str) -> None:
    features = _structure(text)
    assert features["praise_then_negative"] == 0.0
    assert features["last_clause_negative"] == 0.0


def test_negated_praise_and_degree_words() -> None:
    assert _structure("一点都不显瘦")["negated_praise"] > 0
    assert _structure("没有想象中的好")["last_clause_negative"] == 1.0
    assert _structure("好久没发货了")["praise_only"] == 0.0  # 好 as a degree word is not praise
    assert _structure("真好看")["praise_only"] == 1.0


def test_irony_shapes() -> None:
    assert _structure("这羽绒服真保暖 保暖到我感冒了")["praise_to_degree"] == 1.0
    assert _structure('客服真是太"棒"了')["quoted_praise"] == 1.0
    assert _structure("客服真是太棒了")["quoted_praise"] == 0.0


def test_intensity_marks() -> None:
    features = _structure("到底什么时候发货？？！！ 无语。。。 啊啊啊")
    assert features["question_run"] > 0
    assert features["exclamation_run"] > 0
    assert features["ellipsis"] > 0
    assert features["repeated_character"] > 0
    assert _structure("哈哈哈哈")["repeated_character"] == 0.0
    assert _structure("好的")["exclamation_run"] == 0.0


@pytest.mark.parametrize(
    ("text", "signal"),
    [
        ("没有想象中的厚", "expectation"),
        ("凭什么不给退", "grievance"),
        ("客服已读不回", "service"),
        ("再也不买了", "leaving"),
        ("好一个七天无理由", "irony"),
        ("袖子上有个洞", "defect_present"),
        ("说好的赠品呢", "missing"),
        ("tmd又发错了", "slang"),
        ("又少发一件[撇嘴]", "emoticon_negative"),
        ("谢谢你们啊[微笑]", "emoticon_irony"),
    ],
)
def test_new_signals_fire(text: str, signal: str) -> None:
    assert signal in SIGNAL_NAMES
    assert _signals(text)[signal] >= 1


@pytest.mark.parametrize(
    ("text", "signal"),
    [("客服没有推脱 直接换了", "service"), ("html格式的图", "slang"), ("一点都不恶心", "slang")],
)
def test_negated_or_embedded_cues_do_not_fire(text: str, signal: str) -> None:
    assert _signals(text)[signal] == 0


@pytest.mark.parametrize(
    "text",
    [
        "质量真好，洗一次就起球",
        "比上次那件差远了",
        "踩雷了",
        "不值",
        "怎么还没发货 都第八天了",
        "客服都是摆设吗",
    ],
)
def test_typical_complaints_from_the_issue(text: str) -> None:
    labels = classify_message(text)
    assert labels.complaint
    assert labels.sentiment == "negative"


@pytest.mark.parametrize(
    "text", ["会起球吗", "比上次那件还舒服", "虽然贵 但是一分钱一分货", "笑死 我妈穿着比我好看", "好的 收到"]
)
def test_hard_non_complaint_twins(text: str) -> None:
    assert not classify_message(text).complaint


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert('差评')</script>",
        "'; DROP TABLE messages; --",
        "../../etc/passwd",
        "[发怒]" * 500,
        "！" * 5_000,
        "质量真好，洗一次就起球" * 1_000,
        "\x00\ufeff\u200b",
    ],
)
def test_hostile_and_huge_messages_get_well_formed_labels(text: str) -> None:
    (labels,) = classify_messages([text])
    assert labels.text == text
    assert -1.0 <= labels.score <= 1.0
    assert isinstance(labels.complaint, bool)
