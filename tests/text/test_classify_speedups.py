"""The fast paths of the classifier give exactly what the straightforward computations give."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer

from groupops.text._classify_features import _CharacterNgrams, analyse_message
from groupops.text._classify_lexicon import default_classifier_lexicon
from groupops.text._classify_tokens import default_message_tokenizer, normalise_message
from groupops.text.classify import builtin_training_examples, default_classifier

_HOSTILE = (
    "",
    " ",
    "<script>alert('x')</script>",
    "'; DROP TABLE messages; --",
    "../../etc/passwd",
    "a  b\t\tc\r\nd",
    "😭😭😭 ？？？",
    "拍的L 发来的是M 1688元 满300减50 #12",
    "好" * 3_000,
)
_ALPHABET = "好不是的了吗起球发货abcXYZ019 .-_#%&+\t\n，。！？😭中\u3000\x1c"


def _jieba_words(text: str) -> list[str]:
    tokenizer = default_message_tokenizer()
    jieba_tokenizer = tokenizer._tokenizer
    return [word for word in jieba_tokenizer.lcut(text, HMM=False) if not word.isspace()]


@pytest.mark.parametrize("text", _HOSTILE)
def test_segmentation_equals_jieba_on_hostile_text(text: str) -> None:
    assert default_message_tokenizer().tokens(text) == _jieba_words(text)


def test_segmentation_equals_jieba_on_the_shipped_messages() -> None:
    tokenizer = default_message_tokenizer()
    texts = [normalise_message(example.text) for example in builtin_training_examples()]
    assert [tokenizer.tokens(text) for text in texts] == [_jieba_words(text) for text in texts]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=40))
def test_segmentation_equals_jieba_on_any_text(text: str) -> None:
    assert default_message_tokenizer().tokens(text) == _jieba_words(text)


def test_character_ngrams_equal_scikit_learn_tfidf() -> None:
    lexicon, tokenizer = default_classifier_lexicon(), default_message_tokenizer()
    texts = [
        analyse_message(normalise_message(example.text), tokenizer, lexicon).character_text
        for example in builtin_training_examples(("train",))
    ]
    reference = TfidfVectorizer(
        analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True, lowercase=False, dtype=np.float64
    ).fit(texts)
    ngrams = _CharacterNgrams((1, 3))
    ngrams.fit(texts, min_df=2)
    unseen = [*_HOSTILE, *(example.text for example in builtin_training_examples(("test",)))]
    for documents in (texts, unseen):
        expected, got = reference.transform(documents).tocsr(), ngrams.transform(documents)
        assert got.shape == expected.shape
        assert np.array_equal(got.indptr, expected.indptr)
        assert np.array_equal(got.indices, expected.indices)
        assert np.allclose(got.data, expected.data, rtol=0, atol=1e-12)


def test_stacked_models_equal_each_models_predict_proba() -> None:
    classifier = default_classifier()
    lexicon, tokenizer = default_classifier_lexicon(), default_message_tokenizer()
    texts = [*_HOSTILE[1:], *(example.text for example in builtin_training_examples(("test",))[:300])]
    analyses = [analyse_message(normalise_message(text), tokenizer, lexicon) for text in texts]
    matrix = classifier._featurizer.transform(analyses)
    stacked = classifier._stacked.probabilities(matrix)
    for name, column in classifier._stacked.column.items():
        expected = classifier._models[name].predict_proba(matrix)[:, 1]
        assert np.allclose(stacked[:, column], expected, rtol=0, atol=1e-9), name


def test_cue_counts_equal_counting_each_cue_set() -> None:
    lexicon = default_classifier_lexicon()
    sets = {f"intent:{name}": cues for name, cues in lexicon.intents.items()}
    sets |= {f"signal:{name}": cues for name, cues in lexicon.complaint_signals.items()}
    sets |= {"rhetorical": lexicon.rhetorical, "complaint": lexicon.complaint}
    for example in builtin_training_examples(("test",))[:400]:
        text = normalise_message(example.text)
        hits = lexicon.scan(text)
        for name, cues in sets.items():
            assert hits.count(name) == cues.count(text), (name, text)
