"""Render a planned month as WeCom 会话存档 JSON lines (``wecom/archive/messages-YYYY-MM.jsonl``).

Lines are assembled from pre-escaped string pieces (no ``json.dumps`` per message); every
piece that can hold user text went through :func:`json_escape`, so each line is valid JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from groupops.simulate._calendar import Month
from groupops.simulate._chat import (
    EMOTION,
    FILE,
    IMAGE,
    LINK,
    MENTION,
    QUOTE,
    TEXT,
    VOICE,
    WEAPP,
    ChatContext,
    MonthPlan,
    plan_month,
)
from groupops.simulate._ids import mix64
from groupops.simulate._phrases import json_escape
from groupops.simulate._population import BRAND

__all__ = ["ArchiveWriter", "MonthResult", "write_month"]

QUOTE_SEPARATOR = "\\n- - - - - - - - - - - - - - -\\n"  # JSON-escaped "\n- - … -\n"
_FILES = [
    ("栖木秋冬代理价目表.xlsx", "xlsx"),
    ("尺码表.pdf", "pdf"),
    ("本周朋友圈素材.zip", "zip"),
    ("新品详情页.pdf", "pdf"),
]
_ROBOT_NAME = f"{BRAND}小助手"


@dataclass(frozen=True)
class MonthResult:
    label: str
    path: Path
    messages: int
    incident_msgids: list[str]


class ArchiveWriter:
    """Shared lookup tables for rendering (sender ids, display names, escaped pools)."""

    def __init__(self, context: ChatContext) -> None:
        population = context.population
        self.context = context
        self.sender_ids = population.members.ids + population.staff.userids + [population.staff.robot_id]
        self.rooms = population.groups.chat_ids
        self.group_count = len(self.rooms)
        self.pools = context.pools.escaped + [[json_escape(text) for text in context.scheduled.text] or [""]]
        self.salt = np.uint64((context.seed * 0x9E3779B97F4A7C15) % 2**64)
        owners = population.groups.owners
        admins = [admins[0] for admins in population.groups.admins]
        self.owner_sender = owners + context.member_count
        self.owner_ids = [population.staff.userids[int(owner)] for owner in owners]
        self.admin_ids = [population.staff.userids[admin] for admin in admins]
        self.displays = self._displays()

    def _displays(self) -> dict[int, str]:
        population, context = self.context.population, self.context
        displays: dict[int, str] = {}
        memberships = population.memberships
        for position in range(memberships.member.size):
            key = int(memberships.member[position]) * self.group_count + int(memberships.group[position])
            displays[key] = json_escape(population.display_name(position))
        for staff, display in enumerate(population.staff.displays):
            for group in range(self.group_count):
                displays[(context.member_count + staff) * self.group_count + group] = json_escape(display)
        for group in range(self.group_count):
            displays[context.robot * self.group_count + group] = json_escape(_ROBOT_NAME)
        return displays

    def display(self, sender: int, group: int) -> str:
        return self.displays.get(sender * self.group_count + group) or json_escape(self.sender_ids[sender])

    def msgid_numbers(self, month: Month, count: int) -> np.ndarray:
        keys = (np.uint64(month.index) << np.uint64(32)) | np.arange(count, dtype=np.uint64)
        return mix64(keys + self.salt)


def _contents(writer: ArchiveWriter, batch_pool: np.ndarray, batch_pick: np.ndarray) -> list[str]:
    pools = writer.pools
    return [pools[pool][pick] for pool, pick in zip(batch_pool.tolist(), batch_pick.tolist(), strict=True)]


def _texts(writer: ArchiveWriter, plan: MonthPlan, base: list[str]) -> list[str]:
    """Text bodies with WeChat quote blocks (「name：quoted」 + separator) and @name mentions."""
    batch = plan.messages
    texts = list(base)
    mtype, group, sender = batch.mtype, batch.group.tolist(), batch.sender.tolist()
    for index in np.flatnonzero(batch.style == QUOTE).tolist():
        target = int(batch.ref[index])
        quoted = base[target] if mtype[target] == TEXT else "[图片]"
        name = writer.display(sender[target], group[target])
        texts[index] = f"「{name}：{quoted}」{QUOTE_SEPARATOR}{base[index]}"
    space = batch.time % 5 == 0  # most clients put U+2005 after a mention, some a plain space
    for index in np.flatnonzero(batch.style == MENTION).tolist():
        name = writer.display(int(batch.mention[index]), group[index])
        texts[index] = f"@{name}{' ' if space[index] else chr(0x2005)}{base[index]}"
    return texts


def _media(numbers: np.ndarray) -> tuple[list[str], list[int], list[str]]:
    second = mix64(numbers)
    third = mix64(second)
    md5 = [f"{a:016x}{b:016x}" for a, b in zip(second.tolist(), third.tolist(), strict=True)]
    sizes = (30_000 + second % np.uint64(2_000_000)).tolist()
    sdk = [
        f"CtYBMzA2{a:016x}{b:016x}{c:016x}"
        for a, b, c in zip(numbers.tolist(), second.tolist(), third.tolist(), strict=True)
    ]
    return md5, sizes, sdk


def _bodies(writer: ArchiveWriter, plan: MonthPlan, numbers: np.ndarray) -> list[str]:
    """``msgtype`` onwards of every line (the part after ``"msgtype":"``)."""
    batch = plan.messages
    base = _contents(writer, batch.pool, batch.pick)
    texts = _texts(writer, plan, base)
    md5, sizes, sdk = _media(numbers)
    seconds = (numbers % np.uint64(59) + np.uint64(2)).tolist()
    link_pool = writer.context.pool("titles.link_title")
    bodies: list[str] = []
    for index, kind in enumerate(batch.mtype.tolist()):
        if kind == TEXT:
            bodies.append(f'text","text":{{"content":"{texts[index]}"}}}}')
        elif kind == IMAGE:
            bodies.append(
                f'image","image":{{"md5sum":"{md5[index]}","filesize":{sizes[index]},"sdkfileid":"{sdk[index]}"}}}}'
            )
        elif kind == EMOTION:
            bodies.append(
                f'emotion","emotion":{{"type":{1 + sizes[index] % 2},"width":240,"height":240,'
                f'"imagesize":{sizes[index] // 20},"md5sum":"{md5[index]}","sdkfileid":"{sdk[index]}"}}}}'
            )
        elif kind == LINK:
            member_share = batch.pool[index] == link_pool
            url = (
                f"http://xhslink.com/a/{md5[index][:12]}"
                if member_share
                else f"https://mp.weixin.qq.com/s/{sdk[index][8:30]}"
            )
            source = "小红书" if member_share else f"{BRAND}穿搭研究所"
            bodies.append(
                f'link","link":{{"title":"{base[index]}","description":"{source}","link_url":"{url}",'
                f'"image_url":"https://mmbiz.qpic.cn/mmbiz_jpg/{md5[index]}/0?wx_fmt=jpeg"}}}}'
            )
        elif kind == WEAPP:
            bodies.append(
                f'weapp","weapp":{{"title":"{base[index]}","description":"","username":"gh_7a4f1c2e9b30@app",'
                f'"displayname":"{BRAND}官方商城"}}}}'
            )
        elif kind == FILE:
            name, extension = _FILES[sizes[index] % len(_FILES)]
            bodies.append(
                f'file","file":{{"md5sum":"{md5[index]}","filename":"{name}","fileext":"{extension}",'
                f'"filesize":{sizes[index]},"sdkfileid":"{sdk[index]}"}}}}'
            )
        elif kind == VOICE:
            bodies.append(
                f'voice","voice":{{"md5sum":"{md5[index]}","voice_size":{sizes[index] // 60},'
                f'"play_length":{seconds[index]},"sdkfileid":"{sdk[index]}"}}}}'
            )
        else:
            bodies.append(
                f'video","video":{{"md5sum":"{md5[index]}","filesize":{sizes[index] * 4},'
                f'"play_length":{seconds[index]},"sdkfileid":"{sdk[index]}"}}}}'
            )
    return bodies


def _send_lines(writer: ArchiveWriter, plan: MonthPlan, numbers: np.ndarray, ms: np.ndarray) -> list[str]:
    batch = plan.messages
    ids, rooms, owners, admins = writer.sender_ids, writer.rooms, writer.owner_ids, writer.admin_ids
    bodies = _bodies(writer, plan, numbers)
    owner_sender = writer.owner_sender
    lines = []
    for number, when, sender, group, body in zip(
        numbers.tolist(), ms.tolist(), batch.sender.tolist(), batch.group.tolist(), bodies, strict=True
    ):
        to = admins[group] if sender == owner_sender[group] else owners[group]
        lines.append(
            f'{{"msgid":"{number}_{when}","action":"send","from":"{ids[sender]}","tolist":["{to}"],'
            f'"roomid":"{rooms[group]}","msgtime":{when},"msgtype":"{body}'
        )
    return lines


def _recall_lines(
    writer: ArchiveWriter, plan: MonthPlan, numbers: np.ndarray, ms: np.ndarray, month: Month
) -> tuple[list[str], np.ndarray]:
    batch, recalled = plan.messages, plan.recalled
    when = np.minimum(
        ms[recalled] + 5_000 + numbers[recalled].astype(np.int64) % 100_000, month.end_ts * 1000 - 1
    )
    own = writer.msgid_numbers(month, batch.size + recalled.size)[batch.size :]
    lines = [
        f'{{"msgid":"{own_id}_{at}","action":"recall","from":"{writer.sender_ids[int(batch.sender[index])]}",'
        f'"tolist":["{writer.owner_ids[int(batch.group[index])]}"],"roomid":"{writer.rooms[int(batch.group[index])]}",'
        f'"msgtime":{at},"msgtype":"revoke","revoke":{{"pre_msgid":"{numbers[index]}_{ms[index]}"}}}}'
        for own_id, at, index in zip(own.tolist(), when.tolist(), recalled.tolist(), strict=True)
    ]
    return lines, when


def _agree_and_switch_lines(
    writer: ArchiveWriter, month: Month, first_seq: int
) -> tuple[list[str], list[int]]:
    """Consent (``agree``) records of members who consented this month, and two ``switch`` records."""
    population = writer.context.population
    consent = population.members.consent_ts
    consenting = np.flatnonzero(
        (consent >= max(month.start_ts, population.period.start_ts)) & (consent < month.end_ts)
    )
    numbers = writer.msgid_numbers(month, first_seq + consenting.size + 2)[first_seq:]
    home = np.zeros(len(population.members.ids), dtype=np.int64)
    home[population.memberships.member[::-1]] = population.memberships.group[::-1]
    lines, times = [], []
    for number, member in zip(numbers[: consenting.size].tolist(), consenting.tolist(), strict=True):
        at = int(consent[member]) * 1000 + number % 1000
        member_id = population.members.ids[member]
        lines.append(
            f'{{"msgid":"{number}_{at}","action":"send","from":"{member_id}","tolist":["{writer.owner_ids[int(home[member])]}"],'
            f'"roomid":"","msgtime":{at},"msgtype":"agree","agree":{{"userid":"{member_id}","agree_time":{at}}}}}'
        )
        times.append(at)
    for number in numbers[consenting.size :].tolist():
        at = month.start_ts * 1000 + number % ((month.end_ts - month.start_ts) * 1000)
        user = population.staff.userids[number % len(population.staff.userids)]
        lines.append(f'{{"msgid":"{number}_{at}","action":"switch","time":{at},"user":"{user}"}}')
        times.append(at)
    return lines, times


def write_month(writer: ArchiveWriter, month: Month, directory: Path) -> MonthResult:
    """Plan, render and write one month file sorted by time; returns its counts."""
    plan = plan_month(writer.context, month)
    batch = plan.messages
    numbers = writer.msgid_numbers(month, batch.size)
    ms = batch.time * 1000 + (numbers % np.uint64(1000)).astype(np.int64)
    lines = _send_lines(writer, plan, numbers, ms)
    recall_lines, recall_times = _recall_lines(writer, plan, numbers, ms, month)
    extra_lines, extra_times = _agree_and_switch_lines(writer, month, batch.size + plan.recalled.size)
    all_lines = lines + recall_lines + extra_lines
    times = np.concatenate([ms, recall_times, np.asarray(extra_times, dtype=np.int64)])
    order = np.argsort(times, kind="stable")
    path = directory / f"messages-{month.label}.jsonl"
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write("\n".join([all_lines[index] for index in order.tolist()]))
        handle.write("\n")
    incident = [f"{numbers[index]}_{ms[index]}" for index in plan.incident_messages.tolist()]
    return MonthResult(month.label, path, len(all_lines), incident)
