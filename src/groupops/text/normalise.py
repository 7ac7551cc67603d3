"""Text normalisation shared by the compliance checker and the message classifier.

Two levels:

``to_simplified_halfwidth(text)``
    A gentle, **length-preserving** normalisation: full-width and other compatibility forms
    to their plain form (``ＮＯ．１`` → ``no.1``, ``①`` → ``1``, ``⼀`` (Kangxi radical) → ``一``),
    traditional to simplified Chinese character by character (OpenCC ``t2s`` character table),
    and lower case. ``len(result) == len(text)`` always, so every offset stays valid.

``normalise_with_offsets(text)``
    The aggressive normalisation used for lexicon matching. On top of the above it drops
    separators that evaders insert between characters (spaces, punctuation, symbols, emoji,
    zero-width characters; ``%`` is kept), maps homoglyphs (``蕞`` → ``最``; ``℃`` → ``度``) and spells out digits and Latin
    letters used for characters (``第1`` → ``第一``, ``NO.1`` / ``top 1`` → ``第一``, ``zui好`` →
    ``最好``). Sentence breaks (``。！？`` and line ends) survive as ``。`` so that matches never
    run across sentences. It returns, for every output character, the index of the original
    character it came from, so findings can point into the original text.

Both are table driven (``str.translate`` and a NumPy code-point table) and build their tables
once, on first use.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

__all__ = [
    "SENTENCE_BREAK",
    "normalise_with_offset_array",
    "normalise_with_offsets",
    "to_simplified_halfwidth",
]

SENTENCE_BREAK = "。"
"""The character every sentence break (``。！？!?``, line ends) becomes in aggressive normalisation."""

_DROPPED = 0  # code point value marking "drop this character" in the aggressive table
_DASH = 0xE000  # private-use placeholder for dash-like characters (they may stand for 一 after 第)
_TABLE_SIZE = 0x110000
_SHORT_TEXT = 256  # below this length str.translate beats the NumPy table lookup
_SCANNED_LIMIT = 0x30000  # categories are examined below this code point; above it only CJK ext. remain

# Code point ranges whose NFKC form (when it is a single character) replaces the character.
_COMPATIBILITY_RANGES = (
    (0x00A0, 0x00BF),  # Latin-1 punctuation and superscripts
    (0x2000, 0x2BFF),  # general punctuation, super/subscripts, letterlike, enclosed alphanumerics
    (0x2E80, 0x2FDF),  # CJK radicals supplement, Kangxi radicals (⼀ → 一)
    (0x3000, 0x33FF),  # CJK symbols, enclosed CJK, CJK compatibility
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFE10, 0xFE6F),  # vertical forms, CJK compatibility forms, small form variants
    (0xFF00, 0xFFEF),  # half-width and full-width forms
    (0x1D400, 0x1D7FF),  # mathematical alphanumerics (𝐍𝐎 → NO)
    (0x1F100, 0x1F1FF),  # enclosed alphanumeric supplement
    (0x2F800, 0x2FA1F),  # CJK compatibility ideographs supplement
)

# Look-alike characters used to dodge word lists, and symbols that stand for a word; applied only
# by the aggressive normalisation.
HOMOGLYPHS: dict[str, str] = {
    "蕞": "最",
    "㝡": "最",
    "冣": "最",
    "朂": "最",
    "嘬": "最",
    "檇": "最",
    "苐": "第",
    "笫": "第",
    "壹": "一",
    "℃": "度",  # a symbol standing for a word (降温5℃); mapped, not dropped
    "℉": "度",
}

_KEPT_SYMBOLS = "%"  # symbols that carry meaning for matching (抑菌率99%, 提升200%) and are not dropped

_SENTENCE_BREAK_CHARACTERS = "。!?\n\r\u2028\u2029"
_DASH_CHARACTERS = "-‐‑‒–—―─━ー一ｰ﹣－"

# Length-changing rewrites on the aggressive text (after separators are gone): Latin letters and
# digits spelling 第一 or 最. Each pattern starts with a literal so the regex engine can skip
# quickly; the "not after a Latin letter or digit" condition is checked on the few matches.
_SPELLED_REWRITES = (
    (re.compile(r"n[o0][1一](?![0-9])"), "第一"),
    (re.compile(r"top[1一](?![0-9])"), "第一"),
    (re.compile(r"number[1一](?![0-9])"), "第一"),
    (re.compile(r"di[1一](?![0-9])"), "第一"),
    (re.compile(r"zui(?=[\u3400-\u9fff])"), "最"),
)
# Length-preserving rewrites: a digit or dash standing for 一 right after 第.
_DIGIT_FIRST = re.compile(r"第[1\ue000](?![0-9])")


def to_simplified_halfwidth(text: str) -> str:
    """Full-width → half-width, traditional → simplified, lower case; same length as ``text``.

    >>> to_simplified_halfwidth("ＮＯ．１最佳選擇")
    'no.1最佳选择'
    """
    tables = _tables()
    if len(text) < _SHORT_TEXT:
        return text.translate(tables.gentle)
    code_points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return _decode(tables.gentle_array[code_points])


def normalise_with_offsets(text: str) -> tuple[str, list[int]]:
    """Aggressively normalised text and, per output character, its index in ``text``.

    >>> normalise_with_offsets("蕞 好")
    ('最好', [0, 2])
    """
    normalised, offsets = normalise_with_offset_array(text)
    return normalised, offsets.tolist()


def normalise_with_offset_array(text: str) -> tuple[str, np.ndarray]:
    """Like :func:`normalise_with_offsets` but the offsets as a NumPy ``int64`` array (no list copy).

    This is the hot path of the compliance checker: the whole text is mapped with one code
    point table lookup, separators are dropped with one boolean mask, and the few
    context-dependent rewrites run as compiled regular expressions.
    """
    if not text:
        return "", np.zeros(0, dtype=np.int64)
    tables = _tables()
    code_points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    mapped = tables.aggressive[code_points]
    offsets = np.flatnonzero(mapped != _DROPPED)
    normalised = _decode(mapped[offsets])
    if "\ue000" in normalised:
        normalised, offsets = _resolve_dashes(normalised, offsets)
    if "第1" in normalised:
        normalised = _DIGIT_FIRST.sub("第一", normalised)
    return _apply_spelled_rewrites(normalised, offsets)


def _follows_latin_or_digit(text: str, position: int) -> bool:
    return position > 0 and (text[position - 1].isascii() and text[position - 1].isalnum())


def _decode(code_points: np.ndarray) -> str:
    return code_points.astype(np.uint32, copy=False).tobytes().decode("utf-32-le", "surrogatepass")


def _resolve_dashes(normalised: str, offsets: np.ndarray) -> tuple[str, np.ndarray]:
    """A dash right after 第 stands for 一 (``第—``); every other dash is a separator and goes."""
    normalised = _DIGIT_FIRST.sub("第一", normalised)
    code_points = np.frombuffer(normalised.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    keep = code_points != _DASH
    return _decode(code_points[keep]), offsets[keep]


def _apply_spelled_rewrites(normalised: str, offsets: np.ndarray) -> tuple[str, np.ndarray]:
    """Replace ``no1``/``top1``/``di1`` with ``第一`` and ``zui`` before a Chinese character with ``最``."""
    rewrites = [
        (match.start(), match.end(), replacement)
        for pattern, replacement in _SPELLED_REWRITES
        for match in pattern.finditer(normalised)
        if not _follows_latin_or_digit(normalised, match.start())
    ]
    if not rewrites:
        return normalised, offsets
    rewrites.sort()
    pieces: list[str] = []
    offset_pieces: list[np.ndarray] = []
    position = 0
    for start, end, replacement in rewrites:
        if start < position:  # overlaps the previous rewrite
            continue
        pieces += [normalised[position:start], replacement]
        kept = offsets[start:end]
        # first output character ← first original character, the rest ← the last one
        replacement_offsets = np.concatenate([kept[:1], np.repeat(kept[-1:], len(replacement) - 1)])
        offset_pieces += [offsets[position:start], replacement_offsets]
        position = end
    pieces.append(normalised[position:])
    offset_pieces.append(offsets[position:])
    return "".join(pieces), np.concatenate(offset_pieces)


@dataclass(frozen=True)
class _Tables:
    gentle: dict[int, int]
    gentle_array: np.ndarray
    aggressive: np.ndarray


@cache
def _tables() -> _Tables:
    gentle = _gentle_table()
    gentle_array = np.arange(_TABLE_SIZE, dtype=np.uint32)
    for source, target in gentle.items():
        gentle_array[source] = target
    aggressive = gentle_array.copy()
    for look_alike, meant in HOMOGLYPHS.items():
        aggressive[ord(look_alike)] = ord(meant)
    for code_point in range(_SCANNED_LIMIT):
        character = chr(aggressive[code_point])
        if _is_separator(character) and character not in _KEPT_SYMBOLS:
            aggressive[code_point] = _DROPPED
    for character in _DASH_CHARACTERS:
        if character != "一":
            aggressive[ord(character)] = _DASH
    for character in _SENTENCE_BREAK_CHARACTERS:
        aggressive[ord(character)] = ord(SENTENCE_BREAK)
    for source, target in _gentle_sentence_breaks(gentle):
        aggressive[source] = target
    aggressive[0xE0000:0xE0080] = _DROPPED  # tag characters
    aggressive[0xE0100:0xE01F0] = _DROPPED  # variation selectors supplement
    return _Tables(gentle=gentle, gentle_array=gentle_array, aggressive=aggressive)


def _gentle_sentence_breaks(gentle: dict[int, int]) -> list[tuple[int, int]]:
    """Full-width and other forms of sentence breaks (``！``, ``？``, ``｡``) also become ``。``."""
    breaks = {ord(character) for character in _SENTENCE_BREAK_CHARACTERS}
    return [(source, ord(SENTENCE_BREAK)) for source, target in gentle.items() if target in breaks]


def _is_separator(character: str) -> bool:
    category = unicodedata.category(character)
    return category[0] in "PSZ" or category in ("Cc", "Cf", "Mn", "Me")


def _gentle_table() -> dict[int, int]:
    """Compatibility form → plain form, then traditional → simplified, then lower case."""
    compatibility: dict[int, int] = {}
    for low, high in _COMPATIBILITY_RANGES:
        for code_point in range(low, high + 1):
            folded = unicodedata.normalize("NFKC", chr(code_point))
            if len(folded) == 1 and folded != chr(code_point):
                compatibility[code_point] = ord(folded)
    simplified = {ord(source): ord(target) for source, target in _traditional_to_simplified().items()}
    table: dict[int, int] = {}
    for code_point in set(range(_SCANNED_LIMIT)) | compatibility.keys() | simplified.keys():
        target = compatibility.get(code_point, code_point)
        target = simplified.get(target, target)
        lowered = chr(target).lower()
        if len(lowered) == 1:
            target = ord(lowered)
        if target != code_point:
            table[code_point] = target
    return table


def _traditional_to_simplified() -> dict[str, str]:
    """OpenCC's ``t2s`` conversion of every single traditional character it knows.

    Converting character by character (never phrase by phrase) keeps lengths equal; OpenCC's
    phrase table can map a phrase to a different length, which would break offsets.
    """
    import opencc
    from opencc import OpenCC

    converter = OpenCC("t2s")
    dictionary = Path(opencc.__file__).parent / "dictionary" / "TSCharacters.txt"
    mapping: dict[str, str] = {}
    with dictionary.open(encoding="utf-8") as lines:
        for line in lines:
            traditional = line.split("\t", 1)[0].strip()
            if len(traditional) != 1:
                continue
            simplified = converter.convert(traditional)
            if len(simplified) == 1 and simplified != traditional:
                mapping[traditional] = simplified
    return mapping
