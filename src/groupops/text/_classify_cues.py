"""Rule cues on a normalised message: question, rhetorical question, complaint."""

from __future__ import annotations

import re
from dataclasses import dataclass

from groupops.text._classify_lexicon import ClassifierLexicon, CueHits

__all__ = ["QuestionCues", "complaint_cue_count", "question_cues"]

_TRAILING_NOISE = re.compile(r"[\s~～.。!！,，…\u3000\U0001F000-\U0001FAFF\u2600-\u27BF啊呀呐哈哦噢喔捏]+$")
_CLAUSE_END = re.compile(r"[,，。!！;；\s]+")


@dataclass(frozen=True, slots=True)
class QuestionCues:
    """What in a message points to a real or a rhetorical question."""

    question_mark: bool
    final_particle: bool
    interrogatives: int
    requests: int
    patterns: int
    rhetorical: int

    @property
    def looks_like_question(self) -> bool:
        """A plain rule verdict: some question cue and no rhetorical cue."""
        cued = (
            self.question_mark or self.final_particle or self.interrogatives or self.requests or self.patterns
        )
        return bool(cued) and not self.rhetorical


def _ends_with_particle(text: str, particles: frozenset[str]) -> bool:
    for clause in _CLAUSE_END.split(text):
        core = _TRAILING_NOISE.sub("", clause)
        if core and (core[-1] in particles or core[-2:] in particles):
            return True
    return False


def _without_statements(text: str, spans: tuple[str, ...]) -> str:
    """The text with statement phrases that contain a question word (不怎么样, 没什么) blanked."""
    for span in spans:
        if span in text:
            text = text.replace(span, "/")
    return text


def question_cues(
    normalised_text: str, lexicon: ClassifierLexicon, hits: CueHits | None = None
) -> QuestionCues:
    """The question cues found in an already normalised message (``hits``: its cue scan, if done)."""
    hits = hits or lexicon.scan(normalised_text)
    plain = _without_statements(normalised_text, lexicon.question_not_interrogative)
    return QuestionCues(
        question_mark="?" in normalised_text,
        final_particle=_ends_with_particle(plain, lexicon.question_final_particles),
        interrogatives=lexicon.question_interrogatives.count(plain),
        requests=hits.count("question:requests"),
        patterns=lexicon.question_patterns.count(plain),
        rhetorical=hits.count("rhetorical"),
    )


def complaint_cue_count(normalised_text: str, lexicon: ClassifierLexicon, hits: CueHits | None = None) -> int:
    """How many complaint cues (waiting, broken promises, repeat failures) the message has."""
    return (hits or lexicon.scan(normalised_text)).count("complaint")
