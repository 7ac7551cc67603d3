"""One month of group chat planned as arrays: who says what, when, to whom.

Member messages are drawn per membership (speaking days Poisson in activity × presence, a
burst of messages on each, weekly rhythm, daily peaks, pulled into conversations, thinned as
churners fade out); staff post promos, content, check-ins, polls and draws; members answer
those (打卡, 选2, 参与), reply to recent messages (targets chosen by attractiveness, so hubs
collect quotes and @-mentions) and ask questions that customer service answers, mostly
within minutes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from groupops.simulate._calendar import DAY, HOUR, LOCAL_OFFSET, Month
from groupops.simulate._commerce import ScheduledMessages, times_of_day
from groupops.simulate._phrases import PhrasePools
from groupops.simulate._population import Population

__all__ = ["TYPES", "ChatContext", "MessageBatch", "plan_month"]

TYPES = ("text", "image", "emotion", "link", "weapp", "file", "voice", "video")
TEXT, IMAGE, EMOTION, LINK, WEAPP, FILE, VOICE, VIDEO = range(8)
QUOTE, MENTION = 1, 2
_DAY_OF_WEEK = np.asarray([0.9, 0.9, 0.95, 0.95, 1.0, 1.15, 1.1])  # Monday first
_KIND_ACTIVITY = np.asarray([0.7, 1.3, 1.0])
_MESSAGES_PER_SPEAKING_DAY = 5.0

# (what, message type, pool, weights in brand_official / core_user / distributor groups)
_MEMBER_MIX = [
    ("greeting", TEXT, "member.greeting", (10, 8, 8)),
    ("chitchat", TEXT, "member.chitchat", (14, 20, 10)),
    ("outfit", IMAGE, "member.outfit_caption", (6, 12, 0)),
    ("size", TEXT, "member.size_question", (8, 7, 4)),
    ("logistics", TEXT, "member.logistics_question", (7, 4, 8)),
    ("product", TEXT, "member.product_question", (9, 6, 10)),
    ("praise", TEXT, "member.praise", (6, 7, 3)),
    ("negation", TEXT, "member.negation_praise", (3, 4, 2)),
    ("complaint", TEXT, "member.complaint", (2.5, 2, 2)),
    ("emotion", EMOTION, "member.emotion_caption", (12, 12, 10)),
    ("voice", VOICE, "member.emotion_caption", (2, 2, 4)),
    ("video", VIDEO, "member.outfit_caption", (0.5, 1, 0.5)),
    ("link", LINK, "titles.link_title", (1, 2, 1)),
    ("agent", TEXT, "member.distributor_talk", (0, 0, 30)),
    ("material", IMAGE, "member.distributor_talk", (0, 0, 8)),
    ("file", FILE, "member.distributor_talk", (0, 0, 1)),
]
_REPLY_POOLS = {
    "member.size_question": "reply.peer_answer", "member.logistics_question": "reply.peer_answer",
    "member.product_question": "reply.peer_answer", "member.outfit_caption": "reply.compliment",
    "member.complaint": "reply.empathy", "member.praise": "reply.compliment",
}  # fmt: skip
_ANSWER_POOLS = {
    "member.size_question": "staff.answer_size", "member.logistics_question": "staff.answer_logistics",
    "member.product_question": "staff.answer_product", "member.complaint": "staff.answer_complaint",
}  # fmt: skip


@dataclass
class MessageBatch:
    """Messages as parallel arrays; ``ref`` indexes the quoted/answered message of the same batch."""

    time: np.ndarray
    group: np.ndarray
    sender: np.ndarray
    mtype: np.ndarray
    pool: np.ndarray
    pick: np.ndarray
    ref: np.ndarray
    mention: np.ndarray  # sender mentioned with @ (-1 for none)
    style: np.ndarray  # 0 plain, 1 quote, 2 mention

    @classmethod
    def make(cls, time: np.ndarray, group: np.ndarray, sender: np.ndarray, mtype: np.ndarray | int,
             pool: np.ndarray | int, pick: np.ndarray) -> MessageBatch:  # fmt: skip
        size = time.size
        minus = np.full(size, -1, dtype=np.int64)
        return cls(
            time.astype(np.int64), group.astype(np.int64), sender.astype(np.int64),
            np.broadcast_to(mtype, size).astype(np.int64), np.broadcast_to(pool, size).astype(np.int64),
            pick.astype(np.int64), minus, minus.copy(), np.zeros(size, dtype=np.int64),
        )  # fmt: skip

    @classmethod
    def concat(cls, batches: list[MessageBatch]) -> MessageBatch:
        return cls(*(np.concatenate([getattr(b, f.name) for b in batches]) for f in fields(cls)))

    def take(self, index: np.ndarray) -> MessageBatch:
        return MessageBatch(*(getattr(self, f.name)[index] for f in fields(self)))

    @property
    def size(self) -> int:
        return int(self.time.size)


@dataclass
class ChatContext:
    """Everything a month needs; built once and shared with worker processes."""

    population: Population
    pools: PhrasePools
    scheduled: ScheduledMessages
    seed: int

    def __post_init__(self) -> None:
        members = self.population.members
        self.member_count = len(members.ids)
        self.robot = self.member_count + len(self.population.staff.userids)
        self.custom_pool = len(self.pools.names)
        self.by_member = np.argsort(self.population.memberships.member, kind="stable")
        self.custom_answer = np.asarray(
            [self.pool("staff.answer_complaint") if category == "complaint" else self.pool("staff.answer_logistics")
             if category == "logistics_question" else -1 for category in self.scheduled.category] or [-1]
        )  # fmt: skip
        self.pool_sizes = np.append(self.pools.sizes(), max(1, len(self.scheduled.text)))
        staff_weight = float(np.median(members.attractiveness)) * 3
        self.attractiveness = np.concatenate(
            [members.attractiveness, np.full(len(self.population.staff.userids), staff_weight), [0.0]]
        )

    def pool(self, name: str) -> int:
        return self.pools.index(name)

    def picks(self, rng: np.random.Generator, pools: np.ndarray) -> np.ndarray:
        return np.asarray((rng.random(pools.size) * self.pool_sizes[pools]).astype(np.int64))


def _at_local_time(timestamps: np.ndarray, seconds_of_day: np.ndarray) -> np.ndarray:
    return np.asarray((timestamps + LOCAL_OFFSET) // DAY * DAY - LOCAL_OFFSET + seconds_of_day)


def _member_draws(
    context: ChatContext, rng: np.random.Generator, month: Month
) -> tuple[np.ndarray, np.ndarray]:
    """(membership, time) of every spontaneous member message of the month, thinned by rhythm and churn.

    Members speak in bursts: on a day they speak they send a few messages close together, so
    the share of members speaking on a day stays low while the regulars carry the chat.
    """
    population = context.population
    memberships, members = population.memberships, population.members
    start = np.maximum(memberships.join_ts, month.start_ts)
    end = np.minimum(
        np.minimum(memberships.leave_ts, members.silent_from_ts[memberships.member]), month.end_ts
    )
    share = 1 / np.sqrt(np.bincount(memberships.member, minlength=context.member_count)[memberships.member])
    rate = (
        members.activity[memberships.member]
        * share
        * _KIND_ACTIVITY[population.groups.kinds[memberships.group]]
    )
    span = np.maximum(end - start, 0)
    burst = np.where(
        members.spammer[memberships.member], 1.0, _MESSAGES_PER_SPEAKING_DAY
    )  # ads come one by one
    index, raw, time = _speaking_bursts(rng, start, span, rate * (1.15 / _DAY_OF_WEEK.mean()), burst)
    time = np.where((time >= start[index]) & (time < end[index]), time, raw)
    weekday = ((time + LOCAL_OFFSET) // DAY + 3) % 7
    decline_start = members.silent_from_ts[memberships.member[index]] - 21 * DAY
    fading = np.exp(-np.maximum(time - decline_start, 0) / (6 * DAY))
    keep = rng.random(index.size) < _DAY_OF_WEEK[weekday] / 1.15 * fading
    return index[keep], time[keep]


def _speaking_bursts(
    rng: np.random.Generator, start: np.ndarray, span: np.ndarray, daily_rate: np.ndarray, burst: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(membership, raw time, local time) of messages sent in bursts of about ``burst`` messages,
    minutes apart, on days spread over each span."""
    days = rng.poisson(daily_rate * span / DAY / burst)
    day_index = np.repeat(np.arange(days.size), days)
    day_raw = start[day_index] + (rng.random(day_index.size) * span[day_index]).astype(np.int64)
    day_time = _at_local_time(day_raw, times_of_day(rng, day_index.size))
    per_day = 1 + rng.poisson(burst[day_index] - 1)
    index = np.repeat(day_index, per_day)
    gaps = rng.exponential(600, size=index.size).astype(np.int64)
    return index, np.repeat(day_raw, per_day), np.repeat(day_time, per_day) + gaps


def _into_conversations(
    rng: np.random.Generator,
    month: Month,
    group: np.ndarray,
    time: np.ndarray,
    limit: np.ndarray,
    groups: int,
) -> np.ndarray:
    """Pull most messages to the next conversation start in their group, so talk comes in bursts."""
    sessions = rng.poisson(np.bincount(group, minlength=groups) / 6 + 1)
    session_group = np.repeat(np.arange(groups), sessions)
    raw = month.start_ts + (rng.random(session_group.size) * (month.end_ts - month.start_ts)).astype(np.int64)
    session_time = _at_local_time(raw, times_of_day(rng, session_group.size))
    session_key = np.sort(session_group * 2**40 + session_time)
    position = np.searchsorted(session_key, group * 2**40 + time)
    found = np.minimum(position, max(session_key.size - 1, 0))
    next_time = session_key[found] - group * 2**40 if session_key.size else time
    moved = next_time + rng.exponential(300, size=time.size).astype(np.int64)
    ok = (position < session_key.size) & (next_time >= time) & (next_time - time < 3 * HOUR)
    ok &= (moved < limit) & (rng.random(time.size) < 0.6)
    return np.where(ok, moved, time)


def _member_messages(context: ChatContext, rng: np.random.Generator, month: Month) -> MessageBatch:
    population = context.population
    memberships, members = population.memberships, population.members
    index, time = _member_draws(context, rng, month)
    member, group = memberships.member[index], memberships.group[index]
    limit = np.minimum(np.minimum(memberships.leave_ts[index], members.silent_from_ts[member]), month.end_ts)
    time = _into_conversations(rng, month, group, time, limit, len(population.groups.chat_ids))
    kind = population.groups.kinds[group]
    what = np.zeros(index.size, dtype=np.int64)
    weights = np.asarray([mix[3] for mix in _MEMBER_MIX], dtype=float)
    for code in range(3):
        chosen = np.flatnonzero(kind == code)
        what[chosen] = rng.choice(
            len(_MEMBER_MIX), size=chosen.size, p=weights[:, code] / weights[:, code].sum()
        )
    mtypes = np.asarray([mix[1] for mix in _MEMBER_MIX])[what]
    pools = np.asarray([context.pool(mix[2]) for mix in _MEMBER_MIX])[what]
    spam = members.spammer[member] & (rng.random(index.size) < 0.8)
    mtypes, pools = np.where(spam, TEXT, mtypes), np.where(spam, context.pool("member.spam"), pools)
    return MessageBatch.make(time, group, member, mtypes, pools, context.picks(rng, pools))


@dataclass
class _Prompts:
    """Times of the staff posts members respond to, keyed ``group * 2**40 + time`` and sorted."""

    checkin: np.ndarray
    poll: np.ndarray
    draw: np.ndarray


def _group_days(population: Population, month: Month) -> tuple[np.ndarray, np.ndarray]:
    """Every (group, local midnight) pair of the month on which the group exists."""
    days = np.arange(month.start_ts, month.end_ts, DAY)
    groups = np.arange(len(population.groups.chat_ids))
    group, day = np.repeat(groups, days.size), np.tile(days, groups.size)
    alive = population.groups.create_ts[group] < day
    return group[alive], day[alive]


def _posters(
    context: ChatContext, rng: np.random.Generator, group: np.ndarray, robot_share: float
) -> np.ndarray:
    """Owner (60%) or an admin of each group; some posts come from the robot."""
    groups = context.population.groups
    admins = np.asarray([admins[0] for admins in groups.admins]) if groups.admins else np.zeros(0, np.int64)
    second = np.asarray([admins[-1] for admins in groups.admins]) if groups.admins else np.zeros(0, np.int64)
    draw = rng.random(group.size)
    staff = np.where(draw < 0.6, groups.owners[group], np.where(draw < 0.8, admins[group], second[group]))
    sender = staff + context.member_count
    return np.where(rng.random(group.size) < robot_share, context.robot, sender)


def _posts(
    context: ChatContext, rng: np.random.Generator, group: np.ndarray, day: np.ndarray, per_day: np.ndarray,
    window: tuple[int, int], mtype: np.ndarray | int, pool: np.ndarray | int, robot_share: float = 0.0,
) -> MessageBatch:  # fmt: skip
    counts = rng.poisson(per_day)
    group, day = np.repeat(group, counts), np.repeat(day, counts)
    time = day + rng.integers(window[0], window[1], size=group.size)
    pools = np.broadcast_to(pool if np.ndim(pool) == 0 else np.repeat(pool, counts), group.size).astype(
        np.int64
    )
    mtypes = mtype if np.ndim(mtype) == 0 else np.repeat(mtype, counts)
    sender = _posters(context, rng, group, robot_share)
    return MessageBatch.make(time, group, sender, mtypes, pools, context.picks(rng, pools))


def _staff_posts(
    context: ChatContext, rng: np.random.Generator, month: Month
) -> tuple[MessageBatch, _Prompts]:
    """Promos (some breaking the ad law), content, mini-programs, 打卡 prompts, polls and draws."""
    group, day = _group_days(context.population, month)
    kind = context.population.groups.kinds[group]
    pool = context.pool
    violating = rng.random(group.size) < 0.18
    promo_pool = np.where(violating, pool("staff.promo_violating"), pool("staff.promo_compliant"))
    content_type = np.where(kind == 2, np.where(rng.random(group.size) < 0.6, IMAGE, FILE), LINK)
    weekday = ((day + LOCAL_OFFSET) // DAY + 3) % 7
    batches = [
        _posts(context, rng, group, day, np.asarray([2.0, 0.8, 1.5])[kind], (9 * HOUR, 22 * HOUR), TEXT, promo_pool),
        _posts(context, rng, group, day, np.asarray([0.6, 0.8, 1.2])[kind], (10 * HOUR, 21 * HOUR), content_type,
               np.where(kind == 2, pool("member.distributor_talk"), pool("staff.content"))),
        _posts(context, rng, group, day, np.asarray([0.4, 0.3, 0.5])[kind], (11 * HOUR, 21 * HOUR), WEAPP,
               pool("titles.weapp_title")),
    ]  # fmt: skip
    prompts = []
    for probability, window, name in (
        (np.asarray([0.5, 1.0, 0.0])[kind], (8 * HOUR + 1800, 9 * HOUR + 1800), "staff.checkin_prompt"),
        (np.asarray([1 / 7, 2 / 7, 0.0])[kind], (20 * HOUR, 20 * HOUR + 1800), "staff.poll_post"),
        (
            np.where(weekday == 4, np.asarray([1.0, 1.0, 0.0])[kind], 0.0),
            (19 * HOUR, 19 * HOUR + 1800),
            "staff.draw_post",
        ),
    ):
        fires = rng.random(group.size) < probability
        batch = _posts(
            context, rng, group[fires], day[fires], np.ones(int(fires.sum())), window, TEXT, pool(name), 0.5
        )
        batches.append(batch)
        prompts.append(np.sort(batch.group * 2**40 + batch.time))
    return MessageBatch.concat(batches), _Prompts(*prompts)


def _respond_to_prompts(
    context: ChatContext, rng: np.random.Generator, batch: MessageBatch, prompts: _Prompts
) -> None:
    """Text messages soon after a 打卡 prompt, poll or draw in their group become 打卡 / votes / 参与."""
    key = batch.group * 2**40 + batch.time
    chatty = (batch.mtype == TEXT) & ~context.population.members.spammer[
        np.minimum(batch.sender, context.member_count - 1)
    ]
    for keys, window, share, name in (
        (prompts.checkin, 3 * HOUR, 0.45, "member.checkin"),
        (prompts.poll, 4 * HOUR, 0.5, "member.vote"),
        (prompts.draw, 3 * HOUR, 0.5, "member.draw_join"),
    ):
        if keys.size == 0:
            continue
        previous = np.searchsorted(keys, key, side="right") - 1
        since = key - keys[np.maximum(previous, 0)]
        hit = chatty & (previous >= 0) & (since >= 0) & (since < window) & (rng.random(key.size) < share)
        batch.pool[hit] = context.pool(name)
        batch.pick[hit] = context.picks(rng, batch.pool[hit])


def _welcomes(context: ChatContext, rng: np.random.Generator, month: Month) -> MessageBatch:
    """Staff or the robot greet each newcomer with an @-mention a few minutes after they join."""
    memberships = context.population.memberships
    time = memberships.join_ts + rng.integers(60, 900, size=memberships.join_ts.size)
    joined = np.flatnonzero((memberships.join_ts >= month.start_ts) & (time < month.end_ts))
    group = memberships.group[joined]
    pool = context.pool("staff.welcome")
    batch = MessageBatch.make(
        time[joined], group, _posters(context, rng, group, 0.4), TEXT, pool,
        context.picks(rng, np.full(joined.size, pool)),
    )  # fmt: skip
    batch.mention[:] = memberships.member[joined]
    batch.style[:] = MENTION
    return batch


def _scheduled(context: ChatContext, month: Month) -> tuple[MessageBatch, np.ndarray]:
    """Order-driven messages of the month in a group the member is in at that time (else dropped)."""
    scheduled, memberships = context.scheduled, context.population.memberships
    times = np.asarray(scheduled.time, dtype=np.int64)
    chosen, groups = [], []
    first_of_member = np.searchsorted(memberships.member[context.by_member], np.arange(context.member_count))
    for item in np.flatnonzero((times >= month.start_ts) & (times < month.end_ts)).tolist():
        member, time = scheduled.member[item], int(times[item])
        position = int(first_of_member[member])
        while position < context.by_member.size and memberships.member[context.by_member[position]] == member:
            row = context.by_member[position]
            if memberships.join_ts[row] <= time < memberships.leave_ts[row]:
                chosen.append(item)
                groups.append(int(memberships.group[row]))
                break
            position += 1
    index = np.asarray(chosen, dtype=np.int64)
    senders = np.asarray(scheduled.member, dtype=np.int64)[index]
    batch = MessageBatch.make(
        times[index], np.asarray(groups, dtype=np.int64), senders, TEXT, context.custom_pool, index
    )
    return batch, index


def _choose_in_window(rng: np.random.Generator, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise weighted choice of a column; returns (column, whether any weight was positive)."""
    cumulative = np.cumsum(weights, axis=1)
    total = cumulative[:, -1]
    draw = rng.random(total.size) * total
    column = (cumulative <= draw[:, None]).sum(axis=1)
    return np.minimum(column, weights.shape[1] - 1), total > 0


def _replies(context: ChatContext, rng: np.random.Generator, batch: MessageBatch, window: int = 8) -> None:
    """About 30% of member texts reply to one of the previous messages in the group (quote or @)."""
    order = np.lexsort((batch.time, batch.group))
    group, sender, time = batch.group[order], batch.sender[order], batch.time[order]
    quotable = (batch.mtype[order] == TEXT) | (batch.mtype[order] == IMAGE)
    member_text = (
        (sender < context.member_count)
        & (batch.mtype[order] == TEXT)
        & (batch.pool[order] != context.custom_pool)
    )
    member_text &= ~context.population.members.spammer[np.minimum(sender, context.member_count - 1)]
    candidates = np.flatnonzero(member_text & (rng.random(order.size) < 0.3))
    offsets = candidates[:, None] - np.arange(1, window + 1)[None, :]
    safe = np.maximum(offsets, 0)
    valid = (
        (offsets >= 0) & (group[safe] == group[candidates, None]) & (sender[safe] != sender[candidates, None])
    )
    valid &= quotable[safe] & (time[candidates, None] - time[safe] < 2 * HOUR)
    column, any_valid = _choose_in_window(rng, context.attractiveness[sender[safe]] * valid)
    replier = order[candidates[any_valid]]
    target = order[safe[any_valid, column[any_valid]]]
    reply_pool = np.asarray(
        [context.pool(_REPLY_POOLS.get(name, "reply.generic")) for name in context.pools.names]
        + [context.pool("reply.empathy")]
    )
    style = rng.choice([QUOTE, MENTION, 0], size=replier.size, p=[0.45, 0.4, 0.15])
    batch.ref[replier] = target
    batch.mention[replier] = np.where(style == MENTION, batch.sender[target], -1)
    batch.style[replier] = style
    batch.pool[replier] = reply_pool[batch.pool[target]]
    batch.pick[replier] = context.picks(rng, batch.pool[replier])


def _answer_delays(rng: np.random.Generator, asked: np.ndarray) -> np.ndarray:
    """Mostly within minutes, some slow; questions at night wait for the 9:00 shift."""
    draw = rng.random(asked.size)
    quick = np.minimum(rng.lognormal(np.log(180), 0.7, size=asked.size), 14 * 60)
    slow = rng.uniform(20 * 60, 2 * HOUR, size=asked.size)
    very_slow = rng.uniform(3 * HOUR, 10 * HOUR, size=asked.size)
    delay = np.where(draw < 0.75, quick, np.where(draw < 0.9, slow, very_slow)).astype(np.int64)
    local_hour = (asked + LOCAL_OFFSET) % DAY // HOUR
    night = (local_hour >= 22) | (local_hour < 9)
    next_morning = _at_local_time(asked + np.where(local_hour >= 22, DAY, 0), np.full(asked.size, 9 * HOUR))
    return np.where(night, next_morning - asked + rng.integers(60, 2400, size=asked.size), delay)


def _answers(
    context: ChatContext, rng: np.random.Generator, month: Month, batch: MessageBatch
) -> MessageBatch:
    """Customer service answers ~90% of questions and complaints, quoting or @-mentioning the asker."""
    answer_pool = np.asarray(
        [context.pool(_ANSWER_POOLS[name]) if name in _ANSWER_POOLS else -1 for name in context.pools.names]
        + [-1]
    )
    pools = answer_pool[batch.pool]
    custom = batch.pool == context.custom_pool
    pools[custom] = context.custom_answer[np.minimum(batch.pick[custom], context.custom_answer.size - 1)]
    asked = np.flatnonzero((pools >= 0) & (batch.sender < context.member_count) & (batch.style == 0))
    asked = asked[rng.random(asked.size) < 0.9]
    time = batch.time[asked] + _answer_delays(rng, batch.time[asked])
    asked, time = asked[time < month.end_ts], time[time < month.end_ts]
    group = batch.group[asked]
    staff = context.population.groups.admins
    sender = np.asarray([staff[g][0] for g in group.tolist()], dtype=np.int64) + context.member_count
    answers = MessageBatch.make(time, group, sender, TEXT, pools[asked], context.picks(rng, pools[asked]))
    answers.ref[:] = asked
    answers.style[:] = np.where(rng.random(asked.size) < 0.55, QUOTE, MENTION)
    answers.mention[:] = np.where(answers.style == MENTION, batch.sender[asked], -1)
    return answers


def _captions(
    context: ChatContext, rng: np.random.Generator, month: Month, batch: MessageBatch
) -> MessageBatch:
    """An outfit photo is followed by its caption from the same member seconds later."""
    photo = np.flatnonzero((batch.mtype == IMAGE) & (batch.pool == context.pool("member.outfit_caption")))
    time = batch.time[photo] + rng.integers(5, 60, size=photo.size)
    photo, time = photo[time < month.end_ts], time[time < month.end_ts]
    pool = np.full(photo.size, context.pool("member.outfit_caption"))
    return MessageBatch.make(
        time, batch.group[photo], batch.sender[photo], TEXT, pool, context.picks(rng, pool)
    )


@dataclass
class MonthPlan:
    """The month's messages (unsorted) and which of them are recalled, and the incident messages."""

    messages: MessageBatch
    recalled: np.ndarray
    incident_messages: np.ndarray


def plan_month(context: ChatContext, month: Month) -> MonthPlan:
    """Every group message of ``month``; deterministic in (seed, month)."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([context.seed, 7, month.index])))
    staff, prompts = _staff_posts(context, rng, month)
    members = _member_messages(context, rng, month)
    _respond_to_prompts(context, rng, members, prompts)
    scheduled, scheduled_index = _scheduled(context, month)
    batch = MessageBatch.concat([staff, members, scheduled, _welcomes(context, rng, month)])
    _replies(context, rng, batch)
    batch = MessageBatch.concat(
        [batch, _answers(context, rng, month, batch), _captions(context, rng, month, batch)]
    )
    text_by_member = np.flatnonzero(
        (batch.mtype == TEXT) & (batch.sender < context.member_count) & (batch.pool != context.custom_pool)
    )
    recalled = text_by_member[rng.random(text_by_member.size) < 0.004]
    incident_flags = np.asarray(context.scheduled.incident + [False], dtype=bool)
    custom = np.flatnonzero(batch.pool == context.custom_pool)
    incident = custom[incident_flags[np.minimum(batch.pick[custom], incident_flags.size - 1)]]
    del scheduled_index
    return MonthPlan(batch, recalled, incident)
