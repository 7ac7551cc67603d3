"""Who is in the demo brand: staff, groups, members, memberships and the social graph.

The social graph grows by preferential attachment inside each group (every newcomer links
to two earlier members with probability proportional to their degree), so a minority of
early, well-connected members become hubs: they speak most and attract most replies and
@-mentions. Churners lose activity and fall silent before they leave (or stay silent).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from groupops.simulate._calendar import DAY, Period
from groupops.simulate._ids import url_safe_ids

__all__ = ["KINDS", "NEVER", "Groups", "Members", "Memberships", "Population", "Staff", "build_population"]

KINDS = ("brand_official", "core_user", "distributor")
KIND_SHARES = np.asarray([0.28, 0.42, 0.31])  # plan §1.2 (sums to 1.01; normalised)
NEVER = 2**62
BRAND = "栖木"

_OPERATORS = [
    ("zhangsan", "张三"),
    ("lisi", "李四"),
    ("wangwu", "王五"),
    ("chenjing", "陈静"),
    ("liuyang", "刘洋"),
]
_CS_NAMES = ["小禾", "安安", "七七", "阿青", "糖糖", "木子", "可可", "一一", "晴晴", "小鹿", "橙子", "米粒"]
_CITIES = ["杭州", "上海", "成都", "广州", "武汉", "南京", "西安", "长沙", "重庆", "郑州", "苏州", "深圳"]
_REGIONS = [
    ("广东", 11.0), ("浙江", 9.0), ("江苏", 8.0), ("山东", 6.0), ("河南", 5.5), ("四川", 5.5), ("上海", 5.0),
    ("北京", 4.5), ("湖北", 4.5), ("湖南", 4.0), ("福建", 4.0), ("安徽", 3.5), ("河北", 3.5), ("陕西", 3.0),
    ("重庆", 3.0), ("江西", 2.5), ("辽宁", 2.5), ("广西", 2.5), ("云南", 2.0), ("天津", 2.0), ("山西", 1.5),
    ("黑龙江", 1.5), ("吉林", 1.0), ("贵州", 1.5), ("内蒙古", 1.0), ("新疆", 1.0), ("甘肃", 1.0), ("海南", 0.8),
]  # fmt: skip
_AGE_BANDS = [("18-25", 0.68), ("26-30", 0.15), ("31-40", 0.11), ("41-50", 0.04), ("51+", 0.02)]
_TAGS = [
    "学生",
    "通勤",
    "小个子",
    "梨形身材",
    "微胖",
    "宝妈",
    "学生党",
    "职场新人",
    "运动",
    "复古风",
    "极简风",
    "甜美风",
]
_NAME_HEADS = ["小", "阿", "大", "", "", "", "Miss", "是", "一只"]
_NAME_CORES = [
    "美", "青", "柚子", "桃桃", "可乐", "momo", "Lily", "安安", "鱼", "橙子", "七七", "一一", "糖", "Coco", "Yuki",
    "晴天", "夏天", "栗子", "奶茶", "团子", "木木", "西西", "甜甜", "Ann", "鹿", "兔", "芒果", "布丁", "薄荷", "Vivi",
    "雪梨", "米粒", "小熊", "阿狸", "Zoe", "丸子", "果冻", "云朵", "星星", "月亮", "Kiki", "豆豆", "橘子", "饭团",
]  # fmt: skip
_NAME_TAILS = ["", "", "", "酱", "呀", "🌸", "✨", "_", "2000", "03", "的衣橱", "不吃香菜", "🍑", "er"]


@dataclass
class Staff:
    """Internal accounts: operators own groups, customer service (CS) answer; the robot posts."""

    userids: list[str]
    names: list[str]
    displays: list[str]
    roles: list[str]
    robot_id: str


@dataclass
class Groups:
    chat_ids: list[str]
    kinds: np.ndarray  # index into KINDS
    names: list[str]
    owners: np.ndarray  # staff index
    admins: list[list[int]]  # staff indices (CS)
    create_ts: np.ndarray
    notices: list[str]


@dataclass
class Members:
    ids: list[str]
    names: list[str]
    unionids: list[str]
    genders: list[str]
    age_bands: list[str]
    regions: list[str]
    tags: list[str]
    followers: np.ndarray
    consent_ts: np.ndarray
    activity: np.ndarray  # expected messages per present day
    attractiveness: np.ndarray  # weight as a reply / mention target
    degree: np.ndarray
    hub: np.ndarray
    koc_tier: list[str]  # head | waist | tail | ""
    spammer: np.ndarray
    churn_ts: np.ndarray  # NEVER when not churned
    silent_from_ts: np.ndarray  # no message at or after this time (NEVER when not churned)
    left: np.ndarray  # churned by leaving every group (else silent churn)


@dataclass
class Memberships:
    member: np.ndarray
    group: np.ndarray
    join_ts: np.ndarray
    leave_ts: np.ndarray  # NEVER while still in the group
    join_scene: np.ndarray
    invitor: list[str]  # "" when not reported
    nickname: list[str]  # group nickname, "" when none


@dataclass
class Population:
    period: Period
    staff: Staff
    groups: Groups
    members: Members
    memberships: Memberships

    def display_name(self, membership: int) -> str:
        """The name others see in the group: group nickname, else the WeChat name."""
        nickname = self.memberships.nickname[membership]
        return nickname or self.members.names[int(self.memberships.member[membership])]


def _kind_counts(groups: int) -> np.ndarray:
    """Largest-remainder split of ``groups`` over the plan's kind shares."""
    quota = KIND_SHARES / KIND_SHARES.sum() * groups
    counts = np.floor(quota).astype(np.int64)
    for index in np.argsort(-(quota - counts), kind="stable")[: groups - int(counts.sum())]:
        counts[index] += 1
    return counts


def _build_staff(rng: np.random.Generator, group_count: int) -> Staff:
    cs_count = int(np.clip(group_count // 5, 2, len(_CS_NAMES)))
    userids = [userid for userid, _ in _OPERATORS] + [f"CS{index + 1:02d}" for index in range(cs_count)]
    names = [name for _, name in _OPERATORS] + [f"客服{_CS_NAMES[index]}" for index in range(cs_count)]
    roles = ["operator"] * len(_OPERATORS) + ["cs"] * cs_count
    displays = [f"{BRAND}-{name}" for name in names]
    robot = url_safe_ids(rng, "wb", 1, 26)[0]
    return Staff(userids, names, displays, roles, robot)


def _group_name(kind: int, serial: int, city: str) -> str:
    if kind == 0:
        return f"{BRAND}官方福利群{serial}群" if serial % 2 else f"{BRAND}品牌福利群·{city}"
    if kind == 1:
        return f"{BRAND}核心会员群{serial}群" if serial % 2 else f"{BRAND}穿搭交流群·{city}"
    return f"{BRAND}分销代理群{serial}群" if serial % 2 else f"{BRAND}{city}代理群"


_NOTICES = [
    f"欢迎来到{BRAND}！每天9点打卡领积分，周五抽奖；禁止发广告和外链，违者移出群聊。",
    "群内专享价以小程序为准；尺码问题@客服，工作时间9:00-22:00。",
    "代理须知：素材每日更新，拿货价请私聊运营，一件代发48小时内发货。",
]


def _build_groups(rng: np.random.Generator, period: Period, members: int, staff: Staff) -> Groups:
    count = int(np.clip(members // 120, 10, 200))
    kinds = np.repeat(np.arange(3), _kind_counts(count))
    rng.shuffle(kinds)
    operators = [index for index, role in enumerate(staff.roles) if role == "operator"]
    cs = [index for index, role in enumerate(staff.roles) if role == "cs"]
    serials = np.zeros(3, dtype=np.int64)
    names = []
    for kind in kinds:
        serials[kind] += 1
        names.append(_group_name(int(kind), int(serials[kind]), _CITIES[int(rng.integers(len(_CITIES)))]))
    created_during = rng.random(count) < 0.15
    before = period.start_ts - rng.integers(30, 500, size=count) * DAY
    during = period.start_ts + (rng.random(count) * 0.6 * period.days * DAY).astype(np.int64)
    create_ts = np.where(created_during, during, before) + rng.integers(9 * 3600, 20 * 3600, size=count)
    owners = np.asarray([operators[index % len(operators)] for index in range(count)])
    admins = [sorted({cs[int(rng.integers(len(cs)))], cs[index % len(cs)]}) for index in range(count)]
    return Groups(
        chat_ids=url_safe_ids(rng, "wr", count, 30),
        kinds=kinds,
        names=names,
        owners=owners,
        admins=admins,
        create_ts=create_ts,
        notices=[_NOTICES[2] if kind == 2 else _NOTICES[int(rng.integers(2))] for kind in kinds],
    )


def _member_names(rng: np.random.Generator, count: int) -> list[str]:
    """Distinct WeChat-style nicknames (no spaces, ``@``, ``：`` or ``」``, so they quote and @ cleanly)."""
    seen: set[str] = set()
    names = []
    for _ in range(count):
        head = _NAME_HEADS[int(rng.integers(len(_NAME_HEADS)))]
        core = _NAME_CORES[int(rng.integers(len(_NAME_CORES)))]
        tail = _NAME_TAILS[int(rng.integers(len(_NAME_TAILS)))]
        name = head + core + tail
        suffix = 2
        while name in seen:
            name = f"{head}{core}{tail}{suffix}"
            suffix += 1
        seen.add(name)
        names.append(name)
    return names


def _membership_arrays(
    rng: np.random.Generator, period: Period, groups: Groups, member_count: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Home group for everyone, a second (non-distributor) group for about a fifth; join times."""
    kind_weight = np.asarray([1.5, 1.0, 0.45])[groups.kinds]
    home = rng.choice(kind_weight.size, size=member_count, p=kind_weight / kind_weight.sum())
    open_groups = np.flatnonzero(groups.kinds != 2)
    other = open_groups[rng.integers(open_groups.size, size=member_count)]
    second = (rng.random(member_count) < 0.22) & (other != home)
    member = np.concatenate([np.arange(member_count), np.flatnonzero(second)])
    group = np.concatenate([home, other[second]])
    create = groups.create_ts[group]
    floor_ts = np.maximum(create, period.start_ts)
    joins_during = (rng.random(member.size) < 0.3) | (create >= period.start_ts)
    before = create + (rng.random(member.size) * (period.start_ts - create)).astype(np.int64)
    span = np.maximum(period.end_ts - DAY - floor_ts, 3600)
    during = floor_ts + (rng.random(member.size) * span).astype(np.int64)
    join = np.where(joins_during, during, before)
    order = np.lexsort((member, join, group))
    return member[order], group[order], join[order]


def _preferential_attachment(
    rng: np.random.Generator, member: np.ndarray, group: np.ndarray, member_count: int
) -> tuple[np.ndarray, np.ndarray]:
    """Degree per member and, per membership, the first member it attached to (-1 for none)."""
    degree = np.zeros(member_count, dtype=np.int64)
    first_target = np.full(member.size, -1, dtype=np.int64)
    draws = rng.random((member.size, 2))
    endpoints: list[int] = []
    previous_group = -1
    for position, (who, where) in enumerate(zip(member.tolist(), group.tolist(), strict=True)):
        if where != previous_group:
            endpoints, previous_group = [], where
        if endpoints:
            targets = [endpoints[int(draw * len(endpoints))] for draw in draws[position]]
            targets = [target for target in dict.fromkeys(targets) if target != who]
            for target in targets:
                degree[target] += 1
                degree[who] += 1
            if targets:
                first_target[position] = targets[0]
            endpoints.extend(targets)
            endpoints.extend([who] * (len(targets) + 1))
        else:
            endpoints.append(who)
    return degree, first_target


def _followers_and_tiers(
    rng: np.random.Generator, attractiveness: np.ndarray, eligible: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """Followers on other platforms: a few head (>50k), waist (10k–50k) and tail (1k–10k) KOCs."""
    count = attractiveness.size
    followers = np.minimum(rng.lognormal(np.log(120), 1.1, size=count), 990).astype(np.int64)
    tiers = [""] * count
    sizes = [max(1, round(0.003 * count)), max(2, round(0.015 * count)), max(4, round(0.05 * count))]
    weights = attractiveness**0.7 * eligible
    chosen = rng.choice(count, size=sum(sizes), replace=False, p=weights / weights.sum())
    bounds = {"head": (50_000, 900_000), "waist": (10_000, 49_999), "tail": (1_000, 9_999)}
    start = 0
    for tier, size in zip(("head", "waist", "tail"), sizes, strict=True):
        low, high = bounds[tier]
        for index in chosen[start : start + size]:
            tiers[int(index)] = tier
            followers[index] = int(np.exp(rng.uniform(np.log(low), np.log(high))))
        start += size
    return followers, tiers


def _demographics(rng: np.random.Generator, count: int) -> tuple[list[str], list[str], list[str], list[str]]:
    genders = rng.choice(["female", "male", "unknown"], size=count, p=[0.87, 0.11, 0.02]).tolist()
    band_names = [band for band, _ in _AGE_BANDS]
    bands = rng.choice(band_names, size=count, p=[share for _, share in _AGE_BANDS]).tolist()
    region_weights = np.asarray([weight for _, weight in _REGIONS])
    region_index = rng.choice(len(_REGIONS), size=count, p=region_weights / region_weights.sum())
    regions = [_REGIONS[int(index)][0] for index in region_index]
    tags = []
    for band in bands:
        pool = [tag for tag in _TAGS if not (tag in ("学生", "学生党") and band != "18-25")]
        pool = [tag for tag in pool if not (tag == "宝妈" and band == "18-25")]
        picked = rng.choice(len(pool), size=int(rng.integers(1, 4)), replace=False)
        tags.append(";".join(pool[int(index)] for index in sorted(picked)))
    return genders, bands, regions, tags


_LURKER_SHARE = 0.7
_LURKER_ACTIVITY = 0.01  # a lurker's rate relative to a regular's


def _activity(rng: np.random.Generator, degree: np.ndarray, hub: np.ndarray, mean_rate: float) -> np.ndarray:
    """Messages per present day: lognormal, boosted by degree; most members (70%) mostly lurk
    (潜水), so a minority of regulars write most of the chat, as in real customer groups."""
    count = degree.size
    lurker = (rng.random(count) < _LURKER_SHARE) & ~hub
    base = rng.lognormal(0.0, 1.0, size=count) * (1.0 + degree / max(degree.mean(), 1e-9)) ** 1.2
    base = np.where(lurker, base * _LURKER_ACTIVITY, base)
    return np.asarray(base / base.mean() * mean_rate)


def _churn(
    rng: np.random.Generator, period: Period, eligible: np.ndarray, first_join: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Churn time, silence start and whether they left; leavers go quiet 7 days before leaving."""
    count = eligible.size
    probability = min(0.35, 1 - 0.95 ** (period.days / 30))
    low = np.maximum(period.start_ts, first_join) + 10 * DAY
    high = period.end_ts - DAY
    churned = eligible & (rng.random(count) < probability) & (low < high)
    churn_ts = np.where(churned, low + (rng.random(count) * (high - low)).astype(np.int64), NEVER)
    left = churned & (rng.random(count) < 0.75)
    silent_from = np.where(left, churn_ts - 7 * DAY, churn_ts)
    return churn_ts, silent_from, left


def _nicknames(
    rng: np.random.Generator, memberships: Memberships, names: list[str], kinds: np.ndarray
) -> None:
    """About 30% of members set a group nickname like ``杭州-160-小美`` (always containing their name)."""
    wants = rng.random(memberships.member.size) < 0.3
    cities = rng.integers(len(_CITIES), size=wants.size)
    heights = rng.integers(150, 176, size=wants.size)
    for position in np.flatnonzero(wants):
        name = names[int(memberships.member[position])]
        city = _CITIES[int(cities[position])]
        kind = int(kinds[int(memberships.group[position])])
        if kind == 2:
            memberships.nickname[position] = f"代理-{name}-{city}"
        elif kind == 1:
            memberships.nickname[position] = f"{city}-{int(heights[position])}-{name}"
        else:
            memberships.nickname[position] = f"{name}-{city}"


def _invitors(
    rng: np.random.Generator, scenes: np.ndarray, first_target: np.ndarray, group: np.ndarray, groups: Groups,
    staff: Staff, member_ids: list[str],
) -> list[str]:  # fmt: skip
    """Who invited: the staff owner, or (member-to-member 裂变) the member they attached to."""
    invitors = []
    by_member = rng.random(scenes.size) < 0.5
    for position, scene in enumerate(scenes.tolist()):
        if scene == 3:
            invitors.append("")
        elif by_member[position] and first_target[position] >= 0:
            invitors.append(member_ids[int(first_target[position])])
        else:
            invitors.append(staff.userids[int(groups.owners[int(group[position])])])
    return invitors


def build_population(rng: np.random.Generator, period: Period, member_count: int) -> Population:
    """Staff, groups, members and memberships with the social graph, KOCs and churn."""
    staff_rng, group_rng, member_rng = rng.spawn(3)
    staff = _build_staff(staff_rng, max(10, member_count // 120))
    groups = _build_groups(group_rng, period, member_count, staff)
    member, group, join = _membership_arrays(member_rng, period, groups, member_count)
    degree, first_target = _preferential_attachment(member_rng, member, group, member_count)
    hub = np.zeros(member_count, dtype=bool)
    hub[np.argsort(-degree, kind="stable")[: max(3, round(0.04 * member_count))]] = True
    attractiveness = (degree + 1.0) ** 1.5
    activity = _activity(member_rng, degree, hub, mean_rate=0.84)
    spammer = (member_rng.random(member_count) < 0.015) & ~hub
    activity[spammer] = 0.25
    followers, tiers = _followers_and_tiers(member_rng, attractiveness, ~spammer)
    koc = np.asarray([tier != "" for tier in tiers])
    activity[koc] *= 1.5
    first_join = np.full(member_count, NEVER, dtype=np.int64)
    np.minimum.at(first_join, member, join)
    churn_ts, silent_from, left = _churn(member_rng, period, ~hub & ~koc & ~spammer, first_join)
    leave = np.where(
        left[member], churn_ts[member] + member_rng.integers(0, 6 * 3600, size=member.size), NEVER
    )
    ids = url_safe_ids(member_rng, "wm", member_count, 26)
    names = _member_names(member_rng, member_count)
    scenes = member_rng.choice([1, 2, 3], size=member.size, p=[0.4, 0.2, 0.4])
    memberships = Memberships(
        member, group, join, leave, scenes,
        _invitors(member_rng, scenes, first_target, group, groups, staff, ids), [""] * member.size,
    )  # fmt: skip
    _nicknames(member_rng, memberships, names, groups.kinds)
    for position in np.flatnonzero(left[member]).tolist():
        memberships.nickname[position] = ""  # leavers are quoted by their WeChat name
    genders, bands, regions, tags = _demographics(member_rng, member_count)
    members = Members(
        ids=ids, names=names, unionids=url_safe_ids(member_rng, "o", member_count, 27), genders=genders,
        age_bands=bands, regions=regions, tags=tags, followers=followers,
        consent_ts=first_join + member_rng.integers(60, 600, size=member_count), activity=activity,
        attractiveness=attractiveness, degree=degree, hub=hub, koc_tier=tiers, spammer=spammer,
        churn_ts=churn_ts, silent_from_ts=silent_from, left=left,
    )  # fmt: skip
    return Population(period, staff, groups, members, memberships)
