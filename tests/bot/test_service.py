"""The bot service: state persisted across instances, one transaction per event, projections."""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from groupops.bot.core import Event
from groupops.bot.service import BotService
from groupops.bot.skills.draws import new_draw_seed, verify_draw
from groupops.errors import StoreError
from groupops.store.models import Group
from groupops.store.models.bot import BotDraw, BotGroupState, BotMemberState, BotPoll, OutboxItem
from groupops.store.models.ops import Ticket
from groupops.store.workspace import Workspace

SHANGHAI = ZoneInfo("Asia/Shanghai")
GROUP = "wrServiceGroup"
MORNING = datetime(2024, 6, 3, 10, 0, tzinfo=SHANGHAI)


def _say(event_id: str, member: str, text: str, when: datetime = MORNING) -> Event:
    return Event(event_id, "message", GROUP, when, member_id=member, member_name=member, text=text)


def _job(event_id: str, job: str, when: datetime, payload: dict[str, object] | None = None) -> Event:
    return Event(event_id, "scheduled", GROUP, when, job=job, payload=payload or {})


def _outbox_count(workspace: Workspace) -> int:
    with workspace.database.session() as session:
        return int(session.scalar(select(func.count()).select_from(OutboxItem)) or 0)


def _member(workspace: Workspace, member_id: str) -> BotMemberState:
    with workspace.database.session() as session:
        row = session.scalar(select(BotMemberState).where(BotMemberState.member_id == member_id))
        assert row is not None
        return row


def test_state_survives_a_new_service_and_replays_do_nothing(workspace: Workspace) -> None:
    first = BotService(workspace.database, workspace.settings)
    result = first.handle(_say("m1", "wmAnna", "签到"))
    assert result.enqueued == 1 and not result.duplicate
    restarted = BotService(workspace.database, workspace.settings)
    again = restarted.handle(_say("m2", "wmAnna", "签到", MORNING + timedelta(hours=1)))
    assert "今天已经签到过" in again.actions[0].text
    assert restarted.handle(_say("m1", "wmAnna", "签到")).duplicate
    assert _outbox_count(workspace) == 2
    tomorrow = restarted.handle(_say("m3", "wmAnna", "签到", MORNING + timedelta(days=1)))
    assert "已连续 2 天" in tomorrow.actions[-1].text
    row = _member(workspace, "wmAnna")
    assert (row.points_balance, row.checkin_streak, row.checkin_days) == (10, 2, 2)
    assert [entry["reason"] for entry in row.points_ledger] == ["checkin", "checkin"]
    assert row.last_checkin_on is not None and row.last_checkin_on.isoformat() == "2024-06-04"


def test_concurrent_events_of_one_group_lose_no_update(workspace: Workspace) -> None:
    services = [BotService(workspace.database, workspace.settings) for _ in range(3)]  # like 3 processes
    errors: list[BaseException] = []

    def check_in(number: int) -> None:
        try:
            services[number % 3].handle(_say(f"c{number}", f"wm{number:03d}", "签到"))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=check_in, args=(number,)) for number in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    state = BotService(workspace.database, workspace.settings).state_of(GROUP)
    assert len(state.skill_states["checkin"].members) == 24
    assert _outbox_count(workspace) == 24
    with workspace.database.session() as session:
        assert session.scalar(select(BotGroupState.version)) == 24


def test_profile_comes_from_the_stored_group_and_overrides(sqlite_workspace: Workspace) -> None:
    with sqlite_workspace.database.session() as session:
        session.add(Group(id=GROUP, name="轻衣官方群", kind="brand_official", admins=["admin-li"]))
    service = BotService(
        sqlite_workspace.database,
        sqlite_workspace.settings,
        profile_overrides={GROUP: {"brand_name": "轻衣"}},
    )
    with sqlite_workspace.database.session() as session:
        profile = service.profile_for(session, GROUP)
    assert (profile.kind, profile.admin_ids, profile.brand_name) == ("brand_official", ("admin-li",), "轻衣")
    assert profile.quiet_hours == sqlite_workspace.settings.quiet_hours


def test_unanswerable_question_opens_a_ticket_and_rule_breaks_count(sqlite_workspace: Workspace) -> None:
    service = BotService(sqlite_workspace.database, sqlite_workspace.settings)
    service.handle(_say("q1", "wmAsker", "你们老板的星座是什么？"))
    with sqlite_workspace.database.session() as session:
        ticket = session.get(Ticket, "q1")
        assert ticket is not None and ticket.kind == "question" and ticket.status == "open"
        assert ticket.response_due_at - ticket.opened_at == timedelta(minutes=15)
    assert _member(sqlite_workspace, "wmAsker").faq_tickets_opened == 1
    service.handle(_say("s1", "wmSpam", "加我微信 vx888 兼职日结"))
    service.handle(_say("s2", "wmSpam", "高仿包包 加v", MORNING + timedelta(minutes=5)))
    spam = _member(sqlite_workspace, "wmSpam")
    assert spam.rule_warnings == 2 and spam.last_warning_at is not None
    with sqlite_workspace.database.session() as session:
        kinds = [row.payload["kind"] for row in session.scalars(select(OutboxItem).order_by(OutboxItem.id))]
    assert kinds.count("notify_admins") == 1


def test_draw_and_poll_projections(workspace: Workspace) -> None:
    service = BotService(workspace.database, workspace.settings)
    for number, member in enumerate(("wmA", "wmB", "wmC")):
        service.handle(_say(f"ck{number}", member, "签到"))
    seed = new_draw_seed()
    draw_at = MORNING + timedelta(hours=8)
    announce = {
        "draw_id": "weekly-2024-W23",
        "title": "每周代金券抽奖",
        "prize_name": "20 元代金券",
        "prize_kind": "代金券",
        "prize_value_yuan": "20",
        "quantity": 2,
        "draw_at": draw_at.isoformat(),
        "entry_conditions": "本周签到",
        "organizer": "轻衣社群",
        "seed": seed,
    }
    service.handle(_job("d1", "draw_announce", MORNING, announce))
    with workspace.database.session() as session:
        row = session.scalars(select(BotDraw)).one()
        assert (row.status, row.seed_revealed) == ("announced", None)
        assert row.commitment == hashlib.sha256(seed.encode()).hexdigest()
    service.handle(_job("d2", "draw_reveal", draw_at, {"draw_id": "weekly-2024-W23"}))
    with workspace.database.session() as session:
        row = session.scalars(select(BotDraw)).one()
    assert (row.status, row.seed_revealed, row.eligible_count) == ("revealed", seed, 3)
    assert verify_draw(
        draw_id=row.draw_id,
        commitment=row.commitment,
        seed=seed,
        eligible_member_ids=["wmA", "wmB", "wmC"],
        eligible_hash=row.eligible_hash or "",
        quantity=2,
        winners=row.winners,
    ).valid

    service.handle(
        _job(
            "p1",
            "poll_open",
            MORNING + timedelta(hours=2),
            {"question": "选哪件？", "options": ["卫衣", "衬衫"]},
        )
    )
    service.handle(_say("v1", "wmA", "B"))
    service.handle(_say("v2", "wmB", "选b"))
    service.handle(_say("v3", "wmC", "A"))
    service.handle(_job("p2", "poll_close", MORNING + timedelta(hours=10)))
    with workspace.database.session() as session:
        poll = session.scalars(select(BotPoll)).one()
    assert (poll.question, poll.counts, poll.closed) == ("选哪件？", [1, 2], True)


def test_tampered_state_rows_are_refused(sqlite_workspace: Workspace) -> None:
    service = BotService(sqlite_workspace.database, sqlite_workspace.settings)
    service.handle(_say("m1", "wmAnna", "签到"))
    with sqlite_workspace.database.session() as session:
        row = session.get(BotGroupState, GROUP)
        assert row is not None
        row.state = {"skill_states": {"checkin": {"__t": "dc", "c": "os:system", "v": {}}}}
    with pytest.raises(StoreError, match="may not be loaded"):
        BotService(sqlite_workspace.database, sqlite_workspace.settings).state_of(GROUP)
