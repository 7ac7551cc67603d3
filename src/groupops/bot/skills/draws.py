"""Weekly / monthly draws that anyone can verify (commit → freeze → reveal).

1. ``draw_announce``: the full rules and the commitment ``sha256(seed)`` are published; the
   seed itself stays private.
2. ``draw_freeze`` (optional, else at reveal): the eligible list is frozen, sorted and hashed
   (``sha256`` of the member ids joined by newlines); count and hash are published.
3. ``draw_reveal``: winners are picked deterministically from the seed, the draw id and the
   list hash (HMAC-SHA256, rejection sampling, no modulo bias); the seed is published so anyone
   can run :func:`verify_draw`.

Prize rules follow the lottery-style sales limits: a top prize over 50,000 yuan is refused
(Anti-Unfair Competition Law art. 10), and the rules text names the organiser, prize name,
kind, value and quantity, conditions, how to take part, draw time and method, how and until
when to claim, and when a prize is forfeited.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Literal

from groupops.bot.core import Action, Event, SkillContext, SkillResult
from groupops.bot.skills import Skill, register_skill
from groupops.bot.skills.checkin import CheckInState, checkin_days_between
from groupops.errors import ConfigurationError

__all__ = [
    "MAX_TOP_PRIZE_YUAN",
    "DrawRecord",
    "DrawRulesError",
    "DrawSkill",
    "DrawSpec",
    "DrawState",
    "DrawVerification",
    "draw_rules_text",
    "draw_spec_from_payload",
    "eligible_list_hash",
    "new_draw_seed",
    "seed_commitment",
    "select_winners",
    "validate_draw_spec",
    "verify_draw",
]

MAX_TOP_PRIZE_YUAN = Decimal("50000")


class DrawRulesError(ConfigurationError):
    """A draw's rules are incomplete or break the lottery limits; it is not announced."""


@dataclass(frozen=True)
class DrawSpec:
    """What a draw offers, to whom and when."""

    draw_id: str
    title: str
    prize_name: str
    prize_kind: str
    prize_value_yuan: Decimal
    quantity: int
    draw_at: datetime
    entry_conditions: str
    organizer: str
    period_start: date | None = None
    period_end: date | None = None
    min_checkin_days: int = 1
    claim_days: int = 7


@dataclass(frozen=True)
class DrawRecord:
    """A draw's progress; ``seed`` is private until the reveal."""

    spec: DrawSpec
    seed: str
    commitment: str
    status: Literal["announced", "frozen", "revealed"] = "announced"
    eligible_member_ids: tuple[str, ...] = ()
    eligible_hash: str = ""
    winners: tuple[str, ...] = ()


@dataclass(frozen=True)
class DrawState:
    """Draws by id."""

    draws: MappingProxyType[str, DrawRecord] | dict[str, DrawRecord] = field(default_factory=dict)


@dataclass(frozen=True)
class DrawVerification:
    """The outcome of :func:`verify_draw`; ``problems`` says what does not match."""

    valid: bool
    problems: tuple[str, ...] = ()
    expected_winners: tuple[str, ...] = ()


def new_draw_seed() -> str:
    """A fresh secret seed (64 hex characters)."""
    return secrets.token_hex(32)


def seed_commitment(seed: str) -> str:
    """The public commitment of a seed: its SHA-256 hex digest."""
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()


def _frozen_list(member_ids: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({member_id for member_id in member_ids if member_id}))


def eligible_list_hash(member_ids: Iterable[str]) -> str:
    """SHA-256 of the sorted, de-duplicated member ids joined by newlines."""
    return hashlib.sha256("\n".join(_frozen_list(member_ids)).encode("utf-8")).hexdigest()


def _uniform_index(seed: str, message: str, size: int) -> int:
    limit = (2**256 // size) * size
    for attempt in range(1_000):
        digest = hmac.new(seed.encode("utf-8"), f"{message}|{attempt}".encode(), hashlib.sha256).digest()
        value = int.from_bytes(digest, "big")
        if value < limit:
            return value % size
    raise AssertionError("rejection sampling did not finish")  # pragma: no cover - probability ~0


def select_winners(seed: str, draw_id: str, member_ids: Iterable[str], quantity: int) -> tuple[str, ...]:
    """Pick ``quantity`` distinct winners from the frozen list, deterministically from the seed."""
    pool = list(_frozen_list(member_ids))
    list_hash = eligible_list_hash(pool)
    winners: list[str] = []
    for round_number in range(min(max(quantity, 0), len(pool))):
        index = _uniform_index(seed, f"{draw_id}|{list_hash}|{round_number}", len(pool))
        winners.append(pool.pop(index))
    return tuple(winners)


def verify_draw(
    *,
    draw_id: str,
    commitment: str,
    seed: str,
    eligible_member_ids: Sequence[str],
    eligible_hash: str,
    quantity: int,
    winners: Sequence[str],
) -> DrawVerification:
    """Check a published draw: the seed matches its commitment, the list its hash, the winners the seed."""
    problems: list[str] = []
    if not hmac.compare_digest(seed_commitment(seed), commitment.lower()):
        problems.append("sha256(seed) does not equal the published commitment")
    if not hmac.compare_digest(eligible_list_hash(eligible_member_ids), eligible_hash.lower()):
        problems.append("the eligible list does not match the published list hash")
    expected = select_winners(seed, draw_id, eligible_member_ids, quantity)
    if tuple(winners) != expected:
        problems.append("the winners are not the ones the seed selects")
    return DrawVerification(not problems, tuple(problems), expected)


def validate_draw_spec(spec: DrawSpec) -> None:
    """Refuse incomplete rules and prizes over the legal limit."""
    required = {"title": spec.title, "prize_name": spec.prize_name, "prize_kind": spec.prize_kind}
    required |= {"entry_conditions": spec.entry_conditions, "organizer": spec.organizer}
    missing = [name for name, value in required.items() if not str(value).strip()]
    if missing:
        raise DrawRulesError(f"draw {spec.draw_id}: the rules need {', '.join(missing)}")
    if spec.prize_value_yuan > MAX_TOP_PRIZE_YUAN:
        raise DrawRulesError(
            f"draw {spec.draw_id}: a prize worth {spec.prize_value_yuan} yuan is over the 50,000 yuan limit "
            "for lottery-style sales (反不正当竞争法 第十条)"
        )
    if spec.prize_value_yuan <= 0 or spec.quantity < 1 or spec.claim_days < 1:
        raise DrawRulesError(f"draw {spec.draw_id}: prize value, quantity and claim days must be positive")
    if spec.draw_at.tzinfo is None:
        raise DrawRulesError(f"draw {spec.draw_id}: the draw time needs a time zone")


def draw_rules_text(spec: DrawSpec, commitment: str, timezone_label: str = "北京时间") -> str:
    """The complete public rules of a draw, including the seed commitment."""
    validate_draw_spec(spec)
    period = ""
    if spec.period_start and spec.period_end:
        period = f"（统计期 {spec.period_start.isoformat()} 至 {spec.period_end.isoformat()}）"
    return "\n".join(
        [
            f"🎁【{spec.title}】抽奖规则",
            f"主办方：{spec.organizer}",
            f"奖品：{spec.prize_name}（{spec.prize_kind}），单份价值 {spec.prize_value_yuan} 元，共 {spec.quantity} 份",
            f"参与条件：{spec.entry_conditions}{period}",
            "参与方式：满足条件即自动获得资格，无需转发或付费",
            f"开奖时间：{spec.draw_at.strftime('%Y-%m-%d %H:%M')}（{timezone_label}）",
            "开奖方式：公开可验证抽奖——现在公布随机种子的 SHA-256 承诺值，截止时锁定参与名单并公布名单哈希，"
            "开奖时公布种子，任何人都可复算中奖结果",
            f"种子承诺值：{commitment}",
            f"兑奖方式：中奖者请在开奖后 {spec.claim_days} 日内私信群管理员领取，逾期视为自动放弃",
            "本活动最高奖金额不超过 5 万元；如有疑问请联系群管理员",
        ]
    )


def _decimal(value: Any, field_name: str) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError) as error:
        raise DrawRulesError(f"draw field {field_name} is not a number: {value!r}") from error


def _optional_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def draw_spec_from_payload(payload: Mapping[str, Any]) -> DrawSpec:
    """Read a :class:`DrawSpec` from a scheduled job's payload."""
    try:
        draw_at = payload["draw_at"]
        return DrawSpec(
            draw_id=str(payload["draw_id"]),
            title=str(payload.get("title", "")),
            prize_name=str(payload.get("prize_name", "")),
            prize_kind=str(payload.get("prize_kind", "")),
            prize_value_yuan=_decimal(payload.get("prize_value_yuan", 0), "prize_value_yuan"),
            quantity=int(payload.get("quantity", 0)),
            draw_at=draw_at if isinstance(draw_at, datetime) else datetime.fromisoformat(str(draw_at)),
            entry_conditions=str(payload.get("entry_conditions", "")),
            organizer=str(payload.get("organizer", "")),
            period_start=_optional_date(payload.get("period_start")),
            period_end=_optional_date(payload.get("period_end")),
            min_checkin_days=int(payload.get("min_checkin_days", 1)),
            claim_days=int(payload.get("claim_days", 7)),
        )
    except (KeyError, ValueError, TypeError) as error:
        raise DrawRulesError(f"draw job payload is incomplete or malformed: {error}") from error


class DrawSkill(Skill):
    """Scheduled jobs ``draw_announce`` (payload: spec + ``seed``), ``draw_freeze``, ``draw_reveal``."""

    name = "draws"
    order = 40
    description = "Weekly / monthly draws with a published seed commitment and a verifiable reveal."

    def initial_state(self) -> DrawState:
        return DrawState()

    def handle(self, event: Event, state: Any, context: SkillContext) -> SkillResult:
        if event.kind != "scheduled" or event.job not in ("draw_announce", "draw_freeze", "draw_reveal"):
            return SkillResult(state)
        try:
            if event.job == "draw_announce":
                return self._announce(event, state, context)
            record = state.draws.get(str(event.payload.get("draw_id", "")))
            if record is None:
                raise DrawRulesError(f"no announced draw {event.payload.get('draw_id')!r}")
            if event.job == "draw_freeze":
                return self._freeze(event, state, record, context)
            return self._reveal(event, state, record, context)
        except DrawRulesError as error:
            return SkillResult(
                state, (Action("notify_admins", event.group_id, text=f"抽奖未执行：{error}"),), True
            )

    def _announce(self, event: Event, state: DrawState, context: SkillContext) -> SkillResult:
        spec = draw_spec_from_payload(event.payload)
        seed = str(event.payload.get("seed", ""))
        if len(seed) < 32:
            raise DrawRulesError(
                "the draw seed must be a secret of at least 32 characters (use new_draw_seed())"
            )
        if spec.draw_at <= event.occurred_at:
            raise DrawRulesError(f"draw {spec.draw_id}: the draw time must be after the announcement")
        if spec.draw_id in state.draws:
            raise DrawRulesError(f"draw {spec.draw_id} was already announced")
        commitment = seed_commitment(seed)
        text = draw_rules_text(spec, commitment)
        draws = {**state.draws, spec.draw_id: DrawRecord(spec, seed, commitment)}
        action = Action(
            "send_text", event.group_id, text=text, data={"draw_id": spec.draw_id, "commitment": commitment}
        )
        return SkillResult(DrawState(MappingProxyType(draws)), (action,), handled=True)

    def _eligible(self, event: Event, record: DrawRecord, context: SkillContext) -> tuple[str, ...]:
        given = event.payload.get("eligible_member_ids")
        if given is not None:
            return _frozen_list(str(member_id) for member_id in given)
        checkins = context.state_of("checkin")
        if not isinstance(checkins, CheckInState):
            return ()
        first = record.spec.period_start or date.min
        last = record.spec.period_end or context.local_date()
        return _frozen_list(
            member_id
            for member_id in checkins.members
            if checkin_days_between(checkins, member_id, first, last) >= record.spec.min_checkin_days
        )

    def _freeze(
        self, event: Event, state: DrawState, record: DrawRecord, context: SkillContext
    ) -> SkillResult:
        if record.status != "announced":
            raise DrawRulesError(f"draw {record.spec.draw_id} is already {record.status}")
        eligible = self._eligible(event, record, context)
        frozen = replace(
            record, status="frozen", eligible_member_ids=eligible, eligible_hash=eligible_list_hash(eligible)
        )
        text = (
            f"🔒【{record.spec.title}】参与名单已锁定：共 {len(eligible)} 人。\n"
            f"名单哈希（SHA-256）：{frozen.eligible_hash}\n开奖时将公布随机种子，欢迎复核。"
        )
        action = Action("send_text", event.group_id, text=text, data={"draw_id": record.spec.draw_id})
        return SkillResult(
            DrawState(MappingProxyType({**state.draws, record.spec.draw_id: frozen})), (action,), True
        )

    def _reveal(
        self, event: Event, state: DrawState, record: DrawRecord, context: SkillContext
    ) -> SkillResult:
        if record.status == "revealed":
            raise DrawRulesError(f"draw {record.spec.draw_id} was already revealed")
        freeze_actions: tuple[Action, ...] = ()
        if record.status == "announced":
            frozen = self._freeze(event, state, record, context)
            state, freeze_actions, record = (
                frozen.state,
                frozen.actions,
                frozen.state.draws[record.spec.draw_id],
            )
        winners = select_winners(
            record.seed, record.spec.draw_id, record.eligible_member_ids, record.spec.quantity
        )
        revealed = replace(record, status="revealed", winners=winners)
        draws = DrawState(MappingProxyType({**state.draws, record.spec.draw_id: revealed}))
        return SkillResult(
            draws, (*freeze_actions, *self._reveal_actions(event, revealed, context)), handled=True
        )

    def _reveal_actions(self, event: Event, record: DrawRecord, context: SkillContext) -> tuple[Action, ...]:
        spec = record.spec
        names = _winner_names(record.winners, context)
        if record.winners:
            outcome = f"恭喜 {'、'.join('@' + name for name in names)} 获得{spec.prize_name}！请在 {spec.claim_days} 日内私信管理员领取。"
        else:
            outcome = "本期无人符合参与条件，奖品不发放。"
        text = "\n".join(
            [
                f"🎉【{spec.title}】开奖",
                outcome,
                f"随机种子：{record.seed}",
                f"校验：sha256(种子) = {record.commitment}（与开奖前公布的承诺值一致）",
                f"名单哈希：{record.eligible_hash}（{len(record.eligible_member_ids)} 人）",
                "复算方法：名单按 ID 排序，每轮用 HMAC-SHA256(种子, 抽奖编号|名单哈希|轮次|尝试次数) 均匀抽取一人。",
            ]
        )
        publish = {
            "draw_id": spec.draw_id,
            "commitment": record.commitment,
            "seed": record.seed,
            "eligible_member_ids": list(record.eligible_member_ids),
            "eligible_hash": record.eligible_hash,
            "quantity": spec.quantity,
            "winners": list(record.winners),
        }
        return (
            Action(
                "send_text",
                event.group_id,
                text=text,
                mentioned_member_ids=record.winners,
                data={"draw_id": spec.draw_id},
            ),
            Action("publish_draw_record", event.group_id, data=publish),
        )


def _winner_names(winners: Sequence[str], context: SkillContext) -> list[str]:
    checkins = context.state_of("checkin")
    members = checkins.members if isinstance(checkins, CheckInState) else {}
    return [members[member_id].display_name if member_id in members else member_id for member_id in winners]


register_skill(DrawSkill())
