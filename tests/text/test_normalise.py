"""Tests of groupops.text.normalise: length preservation, evasions, offsets into the original."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from groupops.text.normalise import (
    SENTENCE_BREAK,
    normalise_with_offset_array,
    normalise_with_offsets,
    to_simplified_halfwidth,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ＮＯ．１最佳選擇", "no.1最佳选择"),
        ("頂級羊絨大衣", "顶级羊绒大衣"),
        ("絕對保暖", "绝对保暖"),
        ("ABC Xl码", "abc xl码"),
        ("①号", "1号"),
        ("⼀流", "一流"),  # Kangxi radical ⼀ looks like 一
        ("　全角空格", " 全角空格"),
        ("", ""),
    ],
)
def test_to_simplified_halfwidth(text: str, expected: str) -> None:
    assert to_simplified_halfwidth(text) == expected


def test_to_simplified_halfwidth_long_text_uses_same_table() -> None:
    text = "頂級ＮＯ．１羊絨" * 100
    assert to_simplified_halfwidth(text) == "顶级no.1羊绒" * 100


@given(st.text())
def test_to_simplified_halfwidth_preserves_length(text: str) -> None:
    assert len(to_simplified_halfwidth(text)) == len(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("最 好", "最好"),
        ("最*好", "最好"),
        ("最🔥好", "最好"),
        ("最\u200b好", "最好"),
        ("蕞好", "最好"),
        ("第1名", "第一名"),
        ("第—名", "第一名"),
        ("第壹", "第一"),
        ("NO.1", "第一"),
        ("No 1", "第一"),
        ("ｎｏ．１", "第一"),
        ("全网TOP 1", "全网第一"),
        ("zui好", "最好"),
        ("最佳", "最佳"),
        ("最佳選擇", "最佳选择"),
        ("第10名", "第10名"),
        ("piano1", "piano1"),
        ("下一行", "下一行"),
        ("好！真的？", f"好{SENTENCE_BREAK}真的{SENTENCE_BREAK}"),
        ("第一行\n第二行", f"第一行{SENTENCE_BREAK}第二行"),
    ],
)
def test_normalise_with_offsets_undoes_evasions(text: str, expected: str) -> None:
    assert normalise_with_offsets(text)[0] == expected


def test_offsets_point_into_the_original_text() -> None:
    text = "這款 ＮＯ．１ 蕞*好"
    normalised, offsets = normalise_with_offsets(text)
    assert normalised == "这款第一最好"
    assert [text[i] for i in offsets] == ["這", "款", "Ｎ", "１", "蕞", "好"]
    start, end = normalised.index("最好"), normalised.index("最好") + 2
    assert text[offsets[start] : offsets[end - 1] + 1] == "蕞*好"


@given(st.text())
def test_offsets_are_increasing_and_in_range(text: str) -> None:
    normalised, offsets = normalise_with_offsets(text)
    assert len(offsets) == len(normalised)
    assert all(0 <= offset < len(text) for offset in offsets)
    assert all(a < b for a, b in zip(offsets, offsets[1:], strict=False))


@given(st.text(alphabet=st.sampled_from("最好第一 1no.*頂級ＮＯ．１蕞\n！"), max_size=40))
def test_array_and_list_forms_agree(text: str) -> None:
    normalised, offsets = normalise_with_offset_array(text)
    assert (normalised, offsets.tolist()) == normalise_with_offsets(text)
