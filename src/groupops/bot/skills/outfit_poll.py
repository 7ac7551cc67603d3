"""Daily outfit poll (穿搭小投票): open with a question, collect letter votes, publish results."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any

from groupops.bot.core import Action, Event, SkillContext, SkillResult
from groupops.bot.skills import Skill, register_skill
from groupops.bot.skills._text import load_bot_data

__all__ = [
    "OPTION_LETTERS",
    "OutfitPollSkill",
    "Poll",
    "PollResult",
    "PollState",
    "poll_results_text",
    "tally",
]

OPTION_LETTERS = "ABCD"
_VOTE = re.compile(r"^(?:我选|投票|投|选)?\s*([a-d])\s*[。.!！~～]*$", re.IGNORECASE)


@dataclass(frozen=True)
class Poll:
    """An open poll and its votes (member id → option index; a new vote replaces the old one)."""

    poll_id: str
    question: str
    options: tuple[str, ...]
    opened_on: date
    votes: MappingProxyType[str, int] | dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class PollResult:
    """Counts per option of a closed poll."""

    poll_id: str
    question: str
    options: tuple[str, ...]
    counts: tuple[int, ...]

    @property
    def total_votes(self) -> int:
        return sum(self.counts)

    @property
    def leading_options(self) -> tuple[str, ...]:
        """The options with the most votes (several on a tie; none without votes)."""
        best = max(self.counts, default=0)
        return tuple(
            option for option, count in zip(self.options, self.counts, strict=True) if best and count == best
        )


@dataclass(frozen=True)
class PollState:
    """The open poll (if any) and the last result."""

    current: Poll | None = None
    last_result: PollResult | None = None


def tally(poll: Poll) -> PollResult:
    """Count the votes of ``poll``."""
    counts = [0] * len(poll.options)
    for option_index in poll.votes.values():
        counts[option_index] += 1
    return PollResult(poll.poll_id, poll.question, poll.options, tuple(counts))


def poll_results_text(result: PollResult) -> str:
    """The results message."""
    lines = [f"📊 穿搭小投票结果：{result.question}"]
    for letter, option, count in zip(OPTION_LETTERS, result.options, result.counts, strict=False):
        share = f"{count / result.total_votes:.0%}" if result.total_votes else "0%"
        lines.append(f"{letter}. {option} — {count} 票（{share}）")
    if result.leading_options:
        lines.append(
            f"共 {result.total_votes} 人参与，本期胜出的是 {'、'.join(result.leading_options)}。明天见～"
        )
    else:
        lines.append("今天还没有人投票，明天再来参与吧～")
    return "\n".join(lines)


def _poll_text(poll: Poll) -> str:
    options = "\n".join(
        f"{letter}. {option}" for letter, option in zip(OPTION_LETTERS, poll.options, strict=False)
    )
    return f"👗 今日穿搭小投票\n{poll.question}\n{options}\n直接回复字母即可投票（如“A”），晚些时候公布结果。"


def _question_for(day: date, payload: Any) -> tuple[str, tuple[str, ...]]:
    if payload.get("question") and payload.get("options"):
        return str(payload["question"]), tuple(str(option) for option in payload["options"])
    polls = load_bot_data("polls.yaml")["polls"]
    chosen = polls[day.toordinal() % len(polls)]
    return str(chosen["question"]), tuple(str(option) for option in chosen["options"])


class OutfitPollSkill(Skill):
    """Scheduled jobs ``poll_open`` / ``poll_close``; members vote by replying A–D."""

    name = "outfit_poll"
    order = 30
    description = "Daily outfit poll (穿搭小投票) with results."

    def initial_state(self) -> PollState:
        return PollState()

    def handle(self, event: Event, state: Any, context: SkillContext) -> SkillResult:
        if event.kind == "scheduled" and event.job == "poll_open":
            return self._open(event, state, context)
        if event.kind == "scheduled" and event.job == "poll_close":
            return self._close(event, state)
        if (
            event.kind == "message"
            and state.current is not None
            and event.member_id
            and not event.sender_is_staff
        ):
            return self._vote(event, state)
        return SkillResult(state)

    def _open(self, event: Event, state: PollState, context: SkillContext) -> SkillResult:
        closing = self._close(event, state) if state.current is not None else SkillResult(state)
        question, options = _question_for(context.local_date(), event.payload)
        if not 2 <= len(options) <= len(OPTION_LETTERS):
            notice = Action(
                "notify_admins",
                event.group_id,
                text=f"穿搭投票需要 2–4 个选项，收到 {len(options)} 个，未发布。",
            )
            return SkillResult(closing.state, (*closing.actions, notice), handled=True)
        poll = Poll(
            f"{event.group_id}:{context.local_date().isoformat()}", question, options, context.local_date()
        )
        announce = Action("send_text", event.group_id, text=_poll_text(poll), data={"poll_id": poll.poll_id})
        return SkillResult(
            PollState(poll, closing.state.last_result), (*closing.actions, announce), handled=True
        )

    def _close(self, event: Event, state: PollState) -> SkillResult:
        if state.current is None:
            return SkillResult(state, handled=True)
        result = tally(state.current)
        results = Action(
            "send_text",
            event.group_id,
            text=poll_results_text(result),
            data={"poll_id": result.poll_id, "counts": list(result.counts)},
        )
        return SkillResult(PollState(None, result), (results,), handled=True)

    def _vote(self, event: Event, state: PollState) -> SkillResult:
        assert state.current is not None and event.member_id is not None
        match = _VOTE.match(unicodedata.normalize("NFKC", event.text).strip())
        if match is None:
            return SkillResult(state)
        option_index = OPTION_LETTERS.index(match.group(1).upper())
        if option_index >= len(state.current.options):
            return SkillResult(state)
        votes = dict(state.current.votes)
        votes[event.member_id] = option_index
        poll = Poll(
            state.current.poll_id,
            state.current.question,
            state.current.options,
            state.current.opened_on,
            MappingProxyType(votes),
        )
        return SkillResult(PollState(poll, state.last_result), handled=True)


register_skill(OutfitPollSkill())
