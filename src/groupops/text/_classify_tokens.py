"""Normalisation and jieba segmentation of chat messages for the classifier."""

from __future__ import annotations

import logging
import math
import re
from functools import cache

import jieba

from groupops.text._classify_lexicon import ClassifierLexicon, default_classifier_lexicon
from groupops.text.normalise import to_simplified_halfwidth

__all__ = ["MessageTokenizer", "default_message_tokenizer", "normalise_message"]

_INVISIBLE = dict.fromkeys(map(ord, "\ufe0f\ufe0e\u200b\u200c\u200d\u2060\ufeff"), None)
_WHITESPACE = re.compile(r"\s+")
_WORD_FREQUENCY = 200_000  # high enough that jieba keeps lexicon words whole
_HAN_BLOCK = re.compile("([\u4e00-\u9fd5a-zA-Z0-9+#&\\._%\\-]+)")  # jieba's re_han_default
_LATIN = re.compile("[a-zA-Z0-9]")  # jieba's re_eng


def normalise_message(text: str) -> str:
    """Simplified, half-width, lower-case text without invisible characters or runs of spaces."""
    simplified = to_simplified_halfwidth(text).translate(_INVISIBLE)
    return _WHITESPACE.sub(" ", simplified).strip()


class MessageTokenizer:
    """A private jieba dictionary that keeps the lexicon's words whole.

    Segmentation is jieba's exact mode without HMM (its prefix-dictionary DAG and the most
    probable route), done here with fewer Python calls and the word weights remembered: the
    words are identical to ``jieba.Tokenizer.lcut(text, HMM=False)`` with spaces dropped.
    """

    def __init__(self, lexicon: ClassifierLexicon) -> None:
        logging.getLogger("jieba").setLevel(logging.WARNING)
        self._tokenizer = jieba.Tokenizer()
        self._tokenizer.initialize()
        for word in sorted(lexicon.vocabulary()):
            self._tokenizer.add_word(word, freq=_WORD_FREQUENCY)
        self._frequencies: dict[str, int] = self._tokenizer.FREQ
        self._log_total = math.log(self._tokenizer.total)
        self._word_weights: dict[str, float] = {}

    def tokens(self, normalised_text: str) -> list[str]:
        """The words of an already normalised message, spaces dropped."""
        words: list[str] = []
        for block in _HAN_BLOCK.split(normalised_text):
            if not block:
                continue
            if _HAN_BLOCK.match(block):
                words.extend(self._segment(block))
            else:
                words.extend(character for character in block if not character.isspace())
        return words

    def _segment(self, block: str) -> list[str]:
        """jieba's most probable route through the block's dictionary words.

        One backwards pass: for each start, every dictionary word starting there (jieba's DAG,
        found by extending the fragment while it is a known prefix) is weighed with the best
        route after it; ties go to the longer word, as jieba's ``max`` over (weight, end) does.
        A start where no word begins is a word of one character.
        """
        size = len(block)
        known = self._frequencies.get
        weights = self._word_weights
        log_total = self._log_total
        route_weight = [0.0] * (size + 1)
        route_end = [0] * (size + 1)
        for start in range(size - 1, -1, -1):
            best_weight, best_end = -math.inf, -1
            end, fragment = start, block[start]
            while end < size:
                frequency = known(fragment)
                if frequency is None:
                    break
                if frequency:
                    weight = weights.get(fragment)
                    if weight is None:
                        weight = weights[fragment] = math.log(frequency) - log_total
                    candidate = weight + route_weight[end + 1]
                    if candidate > best_weight or (candidate == best_weight and end > best_end):
                        best_weight, best_end = candidate, end
                end += 1
                fragment = block[start : end + 1]
            if best_end < 0:  # no dictionary word starts here: the character alone
                best_weight, best_end = self._word_weight(block[start]) + route_weight[start + 1], start
            route_weight[start], route_end[start] = best_weight, best_end
        return _joined_latin(block, route_end)

    def _word_weight(self, word: str) -> float:
        weight = self._word_weights.get(word)
        if weight is None:
            weight = math.log(self._frequencies.get(word) or 1) - self._log_total
            self._word_weights[word] = weight
        return weight


def _joined_latin(block: str, route_end: list[int]) -> list[str]:
    """The route's words, runs of single Latin letters and digits joined (as jieba does)."""
    words: list[str] = []
    latin = ""
    start = 0
    while start < len(block):
        end = route_end[start] + 1
        word = block[start:end]
        if len(word) == 1 and _LATIN.match(word):
            latin += word
        else:
            if latin:
                words.append(latin)
                latin = ""
            words.append(word)
        start = end
    if latin:
        words.append(latin)
    return words


@cache
def default_message_tokenizer() -> MessageTokenizer:
    """The tokenizer for the shipped lexicon, built once per process (about a second)."""
    return MessageTokenizer(default_classifier_lexicon())
