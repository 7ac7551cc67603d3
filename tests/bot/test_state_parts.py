"""The state stored in parts: the row plus one entry per element of its growing collections."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from groupops.bot._codec import EncodedState, GroupStateEncoder, decode_group_state
from groupops.bot.core import RECENT_EVENT_IDS_KEPT, Event, GroupBotState, GroupProfile, handle_event
from groupops.bot.service import BotService
from groupops.store.models.bot import BotGroupState, BotGroupStateEntry
from groupops.store.workspace import Workspace

SHANGHAI = ZoneInfo("Asia/Shanghai")
GROUP = "wrPartsGroup"
MORNING = datetime(2024, 6, 3, 10, 0, tzinfo=SHANGHAI)
TEXTS = ["签到", "我的积分", "加我微信 vx123 兼职", "<script>alert(1)</script>", "'; DROP TABLE x;--", "签到"]


class _Store:
    """What the service does with :class:`EncodedState`, in memory: rows per (path, key) in insert order."""

    def __init__(self) -> None:
        self.text = ""
        self.rows: dict[tuple[str, str], str] = {}

    def write(self, encoded: EncodedState) -> None:
        self.text = encoded.text
        for path in encoded.resets:
            self.rows = {key: value for key, value in self.rows.items() if key[0] != path}
        for path, key in encoded.deletes:
            del self.rows[(path, key)]
        for path, key, value in encoded.upserts:
            self.rows[(path, key)] = value

    def read(self) -> GroupBotState:
        entries = [(path, key, value) for (path, key), value in self.rows.items()]
        return decode_group_state(GROUP, json.loads(self.text), entries=entries)


def _event(number: int) -> Event:
    when = MORNING + timedelta(days=number // 40, minutes=number % 40)
    member = f"wm{number % 37:03d}"
    return Event(f"e{number}", "message", GROUP, when, member_id=member, text=TEXTS[number % len(TEXTS)])


def test_parts_rebuild_every_state_including_the_sliding_window_of_event_ids() -> None:
    profile = GroupProfile(group_id=GROUP, quiet_hours="")
    encoder, store, state = GroupStateEncoder(), _Store(), GroupBotState(GROUP)
    for number in range(RECENT_EVENT_IDS_KEPT + 150):
        state = handle_event(state, _event(number), profile).state
        store.write(encoder.encode_parts(state))
        if number % 97 == 0 or number > RECENT_EVENT_IDS_KEPT:
            assert store.read() == state
    assert len(state.recent_event_ids) == RECENT_EVENT_IDS_KEPT
    assert sum(1 for path, _ in store.rows if path == "recent_event_ids") == RECENT_EVENT_IDS_KEPT


def test_a_write_costs_what_changed_not_the_size_of_the_group() -> None:
    profile = GroupProfile(group_id=GROUP, quiet_hours="")
    encoder, state = GroupStateEncoder(), GroupBotState(GROUP)
    for number in range(300):
        event = Event(f"j{number}", "message", GROUP, MORNING, member_id=f"wm{number:04d}", text="签到")
        state = handle_event(state, event, profile).state
        first = encoder.encode_parts(state)
    assert first.resets == [] and len(first.text) < 2000  # the row holds markers, not the members
    state = handle_event(
        state, Event("late", "message", GROUP, MORNING, member_id="wmLate", text="签到"), profile
    ).state
    encoded = encoder.encode_parts(state)
    assert len(encoded.upserts) <= 3 and encoded.deletes == []
    assert {path for path, _, _ in encoded.upserts} <= {
        "checkin.members",
        "group_rules.recent_messages",
        "recent_event_ids",
    }


def test_a_fresh_encoder_replaces_every_part() -> None:
    profile = GroupProfile(group_id=GROUP, quiet_hours="")
    state = GroupBotState(GROUP)
    for number in range(20):
        state = handle_event(state, _event(number), profile).state
    encoded = GroupStateEncoder().encode_parts(state)
    assert "recent_event_ids" in encoded.resets and "checkin.members" in encoded.resets
    store = _Store()
    store.rows[("checkin.members", '"wmGhost"')] = "{}"  # left over from an older write
    store.write(encoded)
    assert store.read() == state


def test_the_service_stores_parts_and_a_new_service_reads_them_back(workspace: Workspace) -> None:
    first = BotService(workspace.database, workspace.settings)
    for number in range(60):
        first.handle(_event(number))
    with workspace.database.session() as session:
        row = session.get(BotGroupState, GROUP)
        entries = session.scalar(select(func.count()).select_from(BotGroupStateEntry))
    assert row is not None and '"__t":"entries"' in json.dumps(row.state, separators=(",", ":"))
    assert entries and entries > 60
    restarted = BotService(workspace.database, workspace.settings)
    assert restarted.state_of(GROUP) == first._cache[GROUP].state
    result = restarted.handle(_event(60))  # a fresh encoder rewrites the parts once
    assert not result.duplicate
    assert BotService(workspace.database, workspace.settings).state_of(GROUP) == restarted._cache[GROUP].state
    assert restarted.handle(_event(10)).duplicate  # the stored recent ids still catch a replay


def test_a_state_row_from_before_the_parts_still_loads(workspace: Workspace) -> None:
    profile = GroupProfile(group_id=GROUP, quiet_hours="")
    state = GroupBotState(GROUP)
    for number in range(12):
        state = handle_event(state, _event(number), profile).state
    with workspace.database.session() as session:
        whole = json.loads(GroupStateEncoder().encode(state))
        session.add(BotGroupState(group_id=GROUP, state=whole, version=3))
    service = BotService(workspace.database, workspace.settings)
    assert service.state_of(GROUP) == state
    assert not service.handle(_event(12)).duplicate
    assert BotService(workspace.database, workspace.settings).state_of(GROUP) == service._cache[GROUP].state


def test_a_stored_state_with_a_ledger_loads_without_it(workspace: Workspace) -> None:
    record = (
        '{"__t":"dc","c":"groupops.bot.skills.checkin:MemberCheckIn","v":{"display_name":"A",'
        '"last_day":{"__t":"date","v":"2024-06-02"},"streak":2,"longest_streak":2,"total_days":2,'
        '"points_balance":10}}'
    )
    entry = (
        '{"__t":"dc","c":"groupops.bot.skills.checkin:PointsLedgerEntry","v":{"entry_id":"x:checkin",'
        '"member_id":"wm001","day":{"__t":"date","v":"2024-06-02"},"points":5,"reason":"checkin",'
        '"balance_after":10}}'
    )
    state = {
        "group_id": GROUP,
        "skill_states": {
            "checkin": {
                "__t": "dc",
                "c": "groupops.bot.skills.checkin:CheckInState",
                "v": {
                    "members": {"__t": "entries", "p": "checkin.members", "k": "map"},
                    "ledger": {"__t": "entries", "p": "checkin.ledger", "k": "tuple"},
                },
            }
        },
        "recent_event_ids": [],
    }
    with workspace.database.session() as session:
        session.add(BotGroupState(group_id=GROUP, state=state, version=1))
        session.add(
            BotGroupStateEntry(group_id=GROUP, path="checkin.members", entry_key='"wm001"', value=record)
        )
        for index in range(3):
            session.add(
                BotGroupStateEntry(group_id=GROUP, path="checkin.ledger", entry_key=str(index), value=entry)
            )
    service = BotService(workspace.database, workspace.settings)
    loaded = service.state_of(GROUP).skill_states["checkin"]
    assert not hasattr(loaded, "ledger") and loaded.members["wm001"].points_balance == 10
    day_three = MORNING.replace(day=3)
    result = service.handle(Event("e-new", "message", GROUP, day_three, member_id="wm001", text="签到"))
    record_after = BotService(workspace.database, workspace.settings).state_of(GROUP).skill_states["checkin"]
    assert result.enqueued and record_after.members["wm001"].streak == 3
    assert record_after.members["wm001"].recent_days == 0b11
