"""Normalisation and jieba segmentation of chat messages for the classifier."""

from __future__ import annotations

import logging
import re
from functools import cache

import jieba

from groupops.text._classify_lexicon import ClassifierLexicon, default_classifier_lexicon
from groupops.text.normalise import to_simplified_halfwidth

__all__ = ["MessageTokenizer", "default_message_tokenizer", "normalise_message"]

_INVISIBLE = dict.fromkeys(map(ord, "\ufe0f\ufe0e\u200b\u200c\u200d\u2060\ufeff"), None)
_WHITESPACE = re.compile(r"\s+")
_WORD_FREQUENCY = 200_000  # high enough that jieba keeps lexicon words whole


def normalise_message(text: str) -> str:
    """Simplified, half-width, lower-case text without invisible characters or runs of spaces."""
    simplified = to_simplified_halfwidth(text).translate(_INVISIBLE)
    return _WHITESPACE.sub(" ", simplified).strip()


class MessageTokenizer:
    """A private jieba tokenizer that keeps the lexicon's words whole."""

    def __init__(self, lexicon: ClassifierLexicon) -> None:
        logging.getLogger("jieba").setLevel(logging.WARNING)
        self._tokenizer = jieba.Tokenizer()
        self._tokenizer.initialize()
        for word in sorted(lexicon.vocabulary()):
            self._tokenizer.add_word(word, freq=_WORD_FREQUENCY)

    def tokens(self, normalised_text: str) -> list[str]:
        """The words of an already normalised message, spaces dropped."""
        return [token for token in self._tokenizer.lcut(normalised_text, HMM=False) if not token.isspace()]


@cache
def default_message_tokenizer() -> MessageTokenizer:
    """The tokenizer for the shipped lexicon, built once per process (about a second)."""
    return MessageTokenizer(default_classifier_lexicon())
