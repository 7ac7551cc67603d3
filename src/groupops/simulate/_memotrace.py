"""Personal-WeChat distributor groups exported by WeChatMsg / MemoTrace (CSV, UTF-8 with BOM).

Columns ``localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,
NickName,Sender``: Type 1 text, 3 image (``<msg><img …/></msg>``), 49/57 quote (appmsg XML with
``refermsg``), 10000 system lines such as ``"小美"邀请"阿青"加入了群聊``. ``IsSender`` is 1 for
the exporting account (the brand's distributor lead).
"""

from __future__ import annotations

import csv
from html import escape
from pathlib import Path

import numpy as np

from groupops.simulate._calendar import LOCAL_OFFSET, Period
from groupops.simulate._commerce import times_of_day
from groupops.simulate._ids import random_tokens
from groupops.simulate._phrases import PhrasePools
from groupops.simulate._population import BRAND

__all__ = ["MEMOTRACE_COLUMNS", "write_memotrace_groups"]

MEMOTRACE_COLUMNS = [
    "localId", "TalkerId", "Type", "SubType", "IsSender", "CreateTime", "Status", "StrContent", "StrTime",
    "Remark", "NickName", "Sender",
]  # fmt: skip
_LOWER = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8)
_NICKS = [
    "小美",
    "阿青",
    "Lily",
    "桃子",
    "果果",
    "可可",
    "安琪",
    "大橙子",
    "晴天",
    "MIA",
    "小鱼",
    "豆豆",
    "雪儿",
    "阿珍",
]
_TEXT_POOLS = [
    ("member.distributor_talk", 0.35), ("member.product_question", 0.15), ("member.logistics_question", 0.12),
    ("member.greeting", 0.12), ("member.chitchat", 0.1), ("member.praise", 0.08), ("member.complaint", 0.04),
    ("member.size_question", 0.04),
]  # fmt: skip


def _str_time(timestamp: int) -> str:
    return str(np.datetime64(timestamp + LOCAL_OFFSET, "s")).replace("T", " ")


class _Room:
    """One exported chatroom: its people and the rows being written."""

    def __init__(self, rng: np.random.Generator, period: Period, size: int, talker_id: int) -> None:
        self.rng, self.period, self.talker_id = rng, period, talker_id
        self.wxids = ["wxid_" + token for token in random_tokens(rng, size + 1, 14, _LOWER)]
        self.names = [f"{BRAND}代理团队长"] + [
            f"{_NICKS[i % len(_NICKS)]}{'' if i < len(_NICKS) else i}" for i in range(size)
        ]
        joined_during = rng.random(size + 1) < 0.3
        joined_during[0] = False
        self.join = np.where(
            joined_during, period.start_ts + (rng.random(size + 1) * period.days * 86_400).astype(np.int64), 0
        )
        self.rows: list[
            tuple[int, int, int, int, str, int]
        ] = []  # time, type, subtype, sender, content, order

    def add(self, time: int, kind: int, subtype: int, sender: int, content: str) -> None:
        self.rows.append((time, kind, subtype, sender, content, len(self.rows)))


def _fill_room(room: _Room, pools: PhrasePools) -> None:
    rng, period = room.rng, room.period
    people = len(room.wxids)
    for person in np.flatnonzero(room.join > 0).tolist():
        inviter = 0 if rng.random() < 0.6 else int(rng.integers(1, people))
        room.add(
            int(room.join[person]),
            10000,
            0,
            -1,
            f'"{room.names[inviter]}"邀请"{room.names[person]}"加入了群聊',
        )
    rates = rng.lognormal(-0.9, 1.0, size=people)
    rates[0] = 3.0
    counts = rng.poisson(rates * period.days)
    senders = np.repeat(np.arange(people), counts)
    days = rng.integers(0, period.days, size=senders.size)
    times = period.start_ts + days * 86_400 + times_of_day(rng, senders.size)
    keep = times >= np.maximum(room.join[senders], period.start_ts)
    senders, times = senders[keep], times[keep]
    names, weights = zip(*_TEXT_POOLS, strict=True)
    pool_index = rng.choice(len(names), size=senders.size, p=np.asarray(weights) / sum(weights))
    kinds = rng.random(senders.size)
    order = np.argsort(times, kind="stable")
    last_text: tuple[int, str] | None = None
    for position in order.tolist():
        sender, time = int(senders[position]), int(times[position])
        pool = pools.raw[pools.index(names[int(pool_index[position])])]
        text = pool[int(rng.integers(len(pool)))]
        if kinds[position] < 0.12:
            md5 = "".join(random_tokens(rng, 1, 32, np.frombuffer(b"0123456789abcdef", dtype=np.uint8)))
            room.add(
                time,
                3,
                0,
                sender,
                f'<?xml version="1.0"?><msg><img length="{int(rng.integers(30_000, 900_000))}" md5="{md5}" /></msg>',
            )
        elif kinds[position] < 0.22 and last_text is not None and last_text[0] != sender:
            room.add(time, 49, 57, sender, _quote_xml(room, last_text, text))
        else:
            room.add(time, 1, 0, sender, text)
            last_text = (sender, text)


def _quote_xml(room: _Room, quoted: tuple[int, str], reply: str) -> str:
    who, text = quoted
    return (
        f'<msg><appmsg appid="" sdkver="0"><title>{escape(reply)}</title><type>57</type><refermsg><type>1</type>'
        f"<chatusr>{room.wxids[who]}</chatusr><displayname>{escape(room.names[who])}</displayname>"
        f"<content>{escape(text)}</content></refermsg></appmsg></msg>"
    )


def _write_room(room: _Room, path: Path) -> None:
    rows = sorted(room.rows)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(MEMOTRACE_COLUMNS)
        for local_id, (time, kind, subtype, sender, content, _) in enumerate(rows, start=1):
            own = sender == 0
            name = "" if sender < 0 else room.names[sender]
            wxid = "" if sender < 0 else room.wxids[sender]
            writer.writerow([local_id, room.talker_id, kind, subtype, int(own), time, 2 if own else 4, content,
                             _str_time(time), "", name, wxid])  # fmt: skip


def write_memotrace_groups(
    rng: np.random.Generator, period: Period, members: int, pools: PhrasePools, directory: Path
) -> list[Path]:
    """1–3 distributor groups (more for bigger brands), one CSV per ``<digits>@chatroom``."""
    directory.mkdir(parents=True, exist_ok=True)
    count = 1 + int(members >= 1000) + int(members >= 10_000)
    paths = []
    for index in range(count):
        room = _Room(rng, period, int(min(120, 20 + members // 100) * rng.uniform(0.7, 1.0)), 20 + index)
        _fill_room(room, pools)
        path = directory / f"{int(rng.integers(10**10, 10**11))}@chatroom.csv"
        _write_room(room, path)
        paths.append(path)
    return paths
