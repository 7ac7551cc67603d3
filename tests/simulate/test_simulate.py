"""The demo brand generator: formats, determinism and the planted signals."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter, defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from groupops.errors import ConfigurationError
from groupops.simulate import DemoManifest, default_start, generate_demo_brand
from groupops.simulate._phrases import json_escape

MEMBERS, DAYS, SEED = 300, 21, 5
QUOTE = re.compile(r"^「([^：」\n]{1,64})：([\s\S]*?)」\n(?:- ?){4,}-?\n([\s\S]*)$")
MENTION = re.compile(r"@([^\s@\u2005]{1,32})")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoManifest:
    return generate_demo_brand(tmp_path_factory.mktemp("demo") / "raw", members=MEMBERS, days=DAYS, seed=SEED)


@pytest.fixture(scope="module")
def truth(demo: DemoManifest) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(demo.truth_path.read_text("utf-8"))
    return loaded


@pytest.fixture(scope="module")
def messages(demo: DemoManifest) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in demo.paths("wecom-archive")
        for line in path.read_text("utf-8").splitlines()
    ]


@pytest.fixture(scope="module")
def snapshots(demo: DemoManifest) -> list[dict[str, Any]]:
    return [json.loads(path.read_text("utf-8")) for path in demo.paths("wecom-groups")]


def _csv(path: Path, encoding: str = "utf-8") -> list[dict[str, str]]:
    with path.open(encoding=encoding, newline="") as handle:
        return list(csv.DictReader(handle))


def _names_by_room(
    snapshots: list[dict[str, Any]], members: list[dict[str, str]]
) -> dict[str, dict[str, str]]:
    """Display name → userid per room: current member list, plus WeChat names of anyone (leavers)."""
    everyone = {row["name"]: row["external_userid"] for row in members}
    rooms = {}
    for snapshot in snapshots:
        chat = snapshot["group_chat"]
        names = dict(everyone)
        for entry in chat["member_list"]:
            names[entry["name"]] = entry["userid"]
            if entry.get("group_nickname"):
                names[entry["group_nickname"]] = entry["userid"]
        rooms[chat["chat_id"]] = names
    return rooms


def test_manifest_lists_every_kind_in_import_order(demo: DemoManifest) -> None:
    kinds = [kind for kind, _ in demo.entries()]
    assert kinds == ["products", "wecom-groups", "members", "memotrace", "wecom-archive", "orders", "events"]
    for _, paths in demo.entries():
        assert paths and all(path.is_file() and path.is_relative_to(demo.out_dir) for path in paths)
    assert demo.truth_path == demo.out_dir.parent / "simulation" / "truth.json"
    assert [path.name for path in demo.paths("wecom-archive")] == ["messages-2026-10.jsonl"]


def test_default_period_ends_on_the_last_day_of_october_2026() -> None:
    assert default_start(61) == date(2026, 9, 1)
    assert default_start(1) == date(2026, 10, 31)


def test_every_archive_line_is_official_json_sorted_by_time(
    messages: list[dict[str, Any]], demo: DemoManifest
) -> None:
    assert len(messages) > MEMBERS * DAYS * 0.4
    times = [message.get("msgtime", message.get("time")) for message in messages]
    assert times == sorted(times)
    assert len({message["msgid"] for message in messages}) == len(messages)
    types = Counter(message.get("msgtype", "switch") for message in messages)
    assert {"text", "image", "emotion", "link", "weapp", "voice", "revoke", "agree", "switch"} <= set(types)
    assert types["text"] > len(messages) / 2
    for message in messages:
        assert re.fullmatch(r"\d+_\d{13}", message["msgid"])
        if message["action"] == "switch":
            assert set(message) == {"msgid", "action", "time", "user"}
            continue
        assert message["msgtype"] in message
        assert isinstance(message["tolist"], list) and isinstance(message["msgtime"], int)
        if message["action"] == "recall":
            assert message["msgtype"] == "revoke" and message["revoke"]["pre_msgid"]


def test_recalls_point_at_earlier_messages_of_the_same_sender(messages: list[dict[str, Any]]) -> None:
    by_id = {message["msgid"]: message for message in messages}
    recalls = [message for message in messages if message["action"] == "recall"]
    for recall in recalls:
        original = by_id[recall["revoke"]["pre_msgid"]]
        assert original["from"] == recall["from"] and original["msgtime"] < recall["msgtime"]


def test_group_snapshots_have_the_plan_kinds_and_the_api_shape(snapshots: list[dict[str, Any]]) -> None:
    kinds = Counter(snapshot["groupops_kind"] for snapshot in snapshots)
    shares = {kind: count / len(snapshots) for kind, count in kinds.items()}
    assert abs(shares["brand_official"] - 0.28) < 0.1
    assert abs(shares["core_user"] - 0.42) < 0.1
    assert abs(shares["distributor"] - 0.31) < 0.1
    for snapshot in snapshots:
        assert snapshot["errcode"] == 0 and snapshot["errmsg"] == "ok"
        chat = snapshot["group_chat"]
        assert chat["chat_id"].startswith("wr") and isinstance(chat["create_time"], int)
        keyword = {"brand_official": "福利群", "core_user": ("会员群", "交流群"), "distributor": "代理群"}
        assert any(word in chat["name"] for word in keyword[snapshot["groupops_kind"]])
        external = [entry for entry in chat["member_list"] if entry["type"] == 2]
        assert all(re.fullmatch(r"wm[A-Za-z0-9_-]{26}", entry["userid"]) for entry in external)
        assert chat["owner"] in {entry["userid"] for entry in chat["member_list"] if entry["type"] == 1}
        assert all(entry["join_scene"] in (1, 2, 3) for entry in chat["member_list"])


def test_members_have_the_z_generation_skew_and_koc_tiers(demo: DemoManifest, truth: dict[str, Any]) -> None:
    rows = _csv(demo.paths("members")[0])
    assert len(rows) == MEMBERS
    young = sum(row["age_band"] == "18-25" for row in rows) / len(rows)
    assert 0.55 < young < 0.8
    followers = {row["external_userid"]: int(row["followers"]) for row in rows}
    bounds = {"head": (50_000, 10**7), "waist": (10_000, 50_000), "tail": (1_000, 10_000)}
    for tier, (low, high) in bounds.items():
        assert truth["koc_tiers"][tier]
        assert all(low <= followers[member] < high for member in truth["koc_tiers"][tier])
    assert len({row["region"] for row in rows}) > 10
    assert all(datetime.fromisoformat(row["consent_time"]).utcoffset() is not None for row in rows)


def test_products_have_label_fields_and_a_few_defects(demo: DemoManifest, truth: dict[str, Any]) -> None:
    rows = _csv(demo.paths("products")[0])
    assert 60 <= len(rows) <= 150 and len({row["sku"] for row in rows}) == len(rows)
    defects = truth["label_defects"]
    assert 0.03 <= len(defects) / len(rows) <= 0.08
    clean = [row for row in rows if row["sku"] not in defects]
    assert all(re.fullmatch(r"\d{2,3}/\d{2}[A-Z]?", row["size_spec"]) for row in clean)
    assert all(re.fullmatch(r"(GB/T|FZ/T) \d{4,5}(\.\d)?-\d{4}", row["product_standard"]) for row in clean)
    assert all(row["safety_category"] in ("A类", "B类", "C类") for row in clean)
    broken = [row for row in rows if row["sku"] in defects]
    assert all(
        not row["fibre_composition"] or not row["safety_category"] or not row["care_instructions"]
        or "3%" in row["fibre_composition"] or row["size_spec"] == "均码" or "-" not in row["product_standard"]
        for row in broken
    )  # fmt: skip


def test_memotrace_files_are_wechatmsg_csv_with_bom(demo: DemoManifest) -> None:
    for path in demo.paths("memotrace"):
        assert re.fullmatch(r"\d+@chatroom\.csv", path.name)
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")
        rows = _csv(path, "utf-8-sig")
        assert list(rows[0]) == [
            "localId", "TalkerId", "Type", "SubType", "IsSender", "CreateTime", "Status", "StrContent",
            "StrTime", "Remark", "NickName", "Sender",
        ]  # fmt: skip
        types = Counter(row["Type"] for row in rows)
        assert {"1", "3"} <= set(types)
        assert [int(row["localId"]) for row in rows] == list(range(1, len(rows) + 1))
        system = [row for row in rows if row["Type"] == "10000"]
        assert all(re.fullmatch(r'"[^"]+"邀请"[^"]+"加入了群聊', row["StrContent"]) for row in system)


def _member_ids(demo: DemoManifest) -> set[str]:
    return {row["external_userid"] for row in _csv(demo.paths("members")[0])}


def test_orders_reference_members_and_products(demo: DemoManifest, truth: dict[str, Any]) -> None:
    orders = _csv(demo.paths("orders")[0])
    members = _member_ids(demo)
    skus = {row["sku"] for row in _csv(demo.paths("products")[0])}
    assert orders and all(row["sku"] in skus for row in orders)
    assert all(row["member_id"] in members or row["member_id"].startswith("shop-customer-") for row in orders)
    assert {row["status"] for row in orders} <= {"paid", "refunded", "partially_refunded", "cancelled"}
    for row in orders:
        placed = datetime.fromisoformat(row["placed_at"])
        assert placed.utcoffset() is not None and placed.utcoffset().total_seconds() == 8 * 3600  # type: ignore[union-attr]
        assert (row["paid_at"] == "") == (row["status"] == "cancelled")
        assert float(row["unit_price"]) > 0 and int(row["quantity"]) >= 1
    refunded = [row for row in orders if float(row["refund_amount"]) > 0]
    assert refunded and all(row["status"] in ("refunded", "partially_refunded") for row in refunded)
    incident = truth["incident"]
    bad = [row for row in orders if row["sku"] == incident["sku"] and row["member_id"] in incident["members"]]
    assert len(bad) >= len(incident["members"])


def test_the_store_also_sells_to_shoppers_outside_the_groups(demo: DemoManifest) -> None:
    orders = _csv(demo.paths("orders")[0])
    members = _member_ids(demo)
    outside = [row for row in orders if row["member_id"] not in members]
    by_order = {row["order_id"]: row["member_id"] in members for row in orders}
    assert len(by_order) == len({row["order_id"] for row in orders})
    member_share = sum(by_order.values()) / len(by_order)
    assert 1 / 8 < member_share < 1 / 4  # 5 outside orders per member order
    assert outside and {row["channel"] for row in outside} == {"store", "live"}
    assert [row["placed_at"] for row in orders] == sorted(row["placed_at"] for row in orders)


def test_pay_events_align_with_paid_order_lines(demo: DemoManifest) -> None:
    orders = _csv(demo.paths("orders")[0])
    events = _csv(demo.paths("events")[0])
    members = _member_ids(demo)
    paid = Counter(
        (row["member_id"], row["sku"], row["paid_at"])
        for row in orders
        if row["paid_at"] and row["member_id"] in members  # the shop's events cover group members only
    )
    pays = Counter(
        (row["member_id"], row["sku"], row["occurred_at"]) for row in events if row["event"] == "pay"
    )
    assert pays == paid
    kinds = Counter(row["event"] for row in events)
    assert set(kinds) == {"view", "favorite", "add_to_cart", "pay", "share"}
    assert 0.08 < kinds["favorite"] / kinds["view"] < 0.3
    assert 0.18 < kinds["pay"] / kinds["add_to_cart"] < 0.45
    assert len({row["event_id"] for row in events}) == len(events)


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    first = generate_demo_brand(tmp_path / "a" / "raw", members=120, days=9, seed=3)
    second = generate_demo_brand(tmp_path / "b" / "raw", members=120, days=9, seed=3)
    other = generate_demo_brand(tmp_path / "c" / "raw", members=120, days=9, seed=4)
    for (_, left), (_, right) in zip(first.entries(), second.entries(), strict=True):
        assert [path.name for path in left] == [path.name for path in right]
        assert all(a.read_bytes() == b.read_bytes() for a, b in zip(left, right, strict=True))
    assert first.truth_path.read_bytes() == second.truth_path.read_bytes()
    assert first.paths("wecom-archive")[0].read_bytes() != other.paths("wecom-archive")[0].read_bytes()


def test_quote_and_mention_names_resolve_to_group_members(
    demo: DemoManifest, messages: list[dict[str, Any]], snapshots: list[dict[str, Any]]
) -> None:
    rooms = _names_by_room(snapshots, _csv(demo.paths("members")[0]))
    quotes = mentions = 0
    for message in messages:
        content = message.get("text", {}).get("content", "")
        if not message.get("roomid") or not content:
            continue
        match = QUOTE.match(content)
        if match:
            quotes += 1
            assert match.group(1) in rooms[message["roomid"]], match.group(1)
            content = match.group(3)
        for name in MENTION.findall(content):
            mentions += 1
            assert name in rooms[message["roomid"]], name
    assert quotes > 50 and mentions > 50


def _received(
    demo: DemoManifest, messages: list[dict[str, Any]], snapshots: list[dict[str, Any]]
) -> Counter[str]:
    rooms = _names_by_room(snapshots, _csv(demo.paths("members")[0]))
    received: Counter[str] = Counter()
    for message in messages:
        content = message.get("text", {}).get("content", "")
        match = QUOTE.match(content)
        if match:
            received[rooms[message["roomid"]][match.group(1)]] += 1
            content = match.group(3)
        for name in MENTION.findall(content):
            received[rooms[message["roomid"]][name]] += 1
    return received


def test_hubs_receive_more_quotes_and_mentions(
    demo: DemoManifest, truth: dict[str, Any], messages: list[dict[str, Any]], snapshots: list[dict[str, Any]]
) -> None:
    received = _received(demo, messages, snapshots)
    hubs = set(truth["hubs"])
    others = [
        row["external_userid"] for row in _csv(demo.paths("members")[0]) if row["external_userid"] not in hubs
    ]
    hub_mean = sum(received[member] for member in hubs) / len(hubs)
    other_mean = sum(received[member] for member in others) / len(others)
    assert hub_mean > 3 * other_mean
    spoken = Counter(message["from"] for message in messages if message["action"] == "send")
    assert sum(spoken[member] for member in hubs) / len(hubs) > 3 * sum(spoken[m] for m in others) / len(
        others
    )


def test_churned_members_fall_silent_and_leavers_leave(
    truth: dict[str, Any], messages: list[dict[str, Any]], snapshots: list[dict[str, Any]]
) -> None:
    assert truth["churned"]
    last_said: dict[str, int] = defaultdict(int)
    for message in messages:
        if message["action"] == "send" and message.get("roomid"):
            last_said[message["from"]] = max(last_said[message["from"]], message["msgtime"])
    in_groups = {entry["userid"] for snapshot in snapshots for entry in snapshot["group_chat"]["member_list"]}
    for churned in truth["churned"]:
        silent_from = datetime.fromisoformat(churned["silent_from"]).timestamp() * 1000
        assert last_said.get(churned["member_id"], 0) < silent_from
        if churned["left_group"]:
            assert churned["member_id"] not in in_groups
    assert any(churned["member_id"] in last_said for churned in truth["churned"])


def test_incident_is_a_burst_of_complaints_about_one_sku(
    truth: dict[str, Any], messages: list[dict[str, Any]]
) -> None:
    incident = truth["incident"]
    by_id = {message["msgid"]: message for message in messages}
    complaints = [by_id[msgid] for msgid in incident["complaint_msgids"]]
    assert len(complaints) >= 3
    day = date.fromisoformat(incident["date"])
    for message in complaints:
        content = message["text"]["content"]
        assert incident["cause"] in content or "客服" in content
        local_day = datetime.fromtimestamp(
            message["msgtime"] / 1000, datetime.fromisoformat("2026-01-01T00:00:00+08:00").tzinfo
        ).date()
        assert 0 <= (local_day - day).days <= 2
    assert (
        sum(incident["product_name"] in message["text"]["content"] for message in complaints)
        >= len(complaints) - 1
    )


def test_chat_has_the_plan_content(messages: list[dict[str, Any]]) -> None:
    texts = [message["text"]["content"] for message in messages if message.get("msgtype") == "text"]
    joined = "\n".join(texts)
    for phrase in ("打卡", "穿什么码", "发货", "全网最低价", "起球", "选", "参与", "加V", "不贵"):
        assert phrase in joined, phrase
    hours = Counter(
        datetime.fromtimestamp(m["msgtime"] / 1000 + 8 * 3600).hour for m in messages if "msgtime" in m
    )
    assert hours[21] > 3 * hours[4] and hours[12] > 2 * hours[6]


def test_staff_answer_most_questions_within_minutes(messages: list[dict[str, Any]]) -> None:
    by_quote: dict[tuple[str, str], int] = {}  # the latest asking of a question text in a room
    delays = []
    for message in sorted(messages, key=lambda message: message.get("msgtime", message.get("time", 0))):
        content = message.get("text", {}).get("content", "")
        if message.get("from", "wm").startswith("wm") and (
            "穿什么码" in content or "什么时候发货" in content
        ):
            by_quote[(message["roomid"], content)] = message["msgtime"]
        match = QUOTE.match(content)
        if match and not message["from"].startswith("wm") and (message["roomid"], match.group(2)) in by_quote:
            delays.append(message["msgtime"] - by_quote[(message["roomid"], match.group(2))])
    assert delays
    assert sum(delay < 15 * 60_000 for delay in delays) / len(delays) > 0.4


@pytest.mark.parametrize(("members", "days"), [(0, 10), (-5, 10), (100, 0), (100, 100_000), (10, 10)])
def test_bad_sizes_are_refused(tmp_path: Path, members: int, days: int) -> None:
    with pytest.raises(ConfigurationError):
        generate_demo_brand(tmp_path / "raw", members=members, days=days)
    assert not (tmp_path / "raw").exists()


def test_stale_month_files_of_an_earlier_run_are_removed(tmp_path: Path) -> None:
    archive = tmp_path / "raw" / "wecom" / "archive"
    archive.mkdir(parents=True)
    (archive / "messages-1999-01.jsonl").write_text("{}\n", encoding="utf-8")
    (archive / "notes.txt").write_text("mine", encoding="utf-8")
    manifest = generate_demo_brand(tmp_path / "raw", members=60, days=3, start=date(2026, 1, 30))
    assert sorted(path.name for path in archive.iterdir()) == [
        "messages-2026-01.jsonl",
        "messages-2026-02.jsonl",
        "notes.txt",
    ]
    assert manifest.paths("wecom-archive") == sorted(archive.glob("messages-*.jsonl"))


@pytest.mark.parametrize(
    "hostile",
    [
        '"引号"\\反斜杠',
        "<script>alert(1)</script>",
        "'; DROP TABLE messages; --",
        "换\n行\t\u2028",
        "\x00\x1f",
    ],
)
def test_json_escape_round_trips_hostile_text(hostile: str) -> None:
    assert json.loads('"' + json_escape(hostile) + '"') == hostile


def test_progress_reports_every_step(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    generate_demo_brand(
        tmp_path / "raw", members=50, days=5, progress=lambda done, total: calls.append((done, total))
    )
    assert calls[-1][0] == calls[-1][1] and [done for done, _ in calls] == list(range(1, len(calls) + 1))


def test_two_worker_processes_write_the_same_bytes_as_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import groupops.simulate as simulate

    sequential = generate_demo_brand(tmp_path / "one" / "raw", members=80, days=40, seed=9)
    monkeypatch.setattr(simulate, "_PARALLEL_FROM_MESSAGES", 0)
    parallel = generate_demo_brand(tmp_path / "two" / "raw", members=80, days=40, seed=9)
    assert len(parallel.paths("wecom-archive")) >= 2
    for (_, left), (_, right) in zip(sequential.entries(), parallel.entries(), strict=True):
        assert all(a.read_bytes() == b.read_bytes() for a, b in zip(left, right, strict=True))
