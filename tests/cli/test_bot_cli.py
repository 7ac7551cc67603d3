"""``groupops bot console`` as a scripted session, and the ``bot`` help texts."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from groupops.bot.skills.draws import verify_draw
from groupops.cli import app
from groupops.config import Settings
from groupops.store.models.bot import BotDraw, BotMemberState, BotPoll, OutboxItem
from groupops.store.workspace import Workspace

runner = CliRunner()

SCRIPT = "\n".join(
    [
        "/join 安娜",
        "/checkin",
        "/poll",
        "B",
        "/as wmBella 贝拉",
        "/checkin",
        "A",
        "/as wmAnna 安娜",
        "/poll close",
        "/draw",
        "羽绒服可以机洗吗？",
        "加我微信 vx123456 兼职日结，躺赚",
        "/quit",
        "this line is never read",
    ]
)


def _outbox(data: Path) -> list[OutboxItem]:
    workspace = Workspace(Settings(data=data))
    try:
        with workspace.database.session() as session:
            return list(session.scalars(select(OutboxItem).order_by(OutboxItem.id)))
    finally:
        workspace.close()


def test_scripted_console_session_shows_every_skill(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = runner.invoke(
        app,
        ["bot", "console", "--data", str(data), "--group", "wrConsole", "--member", "wmAnna"],
        input=SCRIPT + "\n",
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "欢迎 @安娜" in out and "个人信息告知" in out  # welcome with the PIPL notice
    assert "签到成功 +5 积分" in out and "points +5 for wmAnna" in out  # check-in
    assert "今日穿搭小投票" in out  # the poll opens
    poll_results = "穿搭小投票结果" in out or "absolute" in out  # sent, or held back by the compliance check
    assert poll_results
    assert "开奖" in out and "随机种子" in out  # the reveal with its seed
    assert re.search(r"draw console-\S+ verified from the published record: valid", out)
    assert "吊牌" in out  # FAQ answer (washing a down jacket)
    assert "温馨提醒" in out and "禁止发布广告" in out  # spam warning
    assert "this line is never read" not in out

    workspace = Workspace(Settings(data=data))
    try:
        with workspace.database.session() as session:
            poll = session.scalars(select(BotPoll)).one()
            draw = session.scalars(select(BotDraw)).one()
            members = {row.member_id: row for row in session.scalars(select(BotMemberState))}
    finally:
        workspace.close()
    assert poll.closed and sum(poll.counts) == 2
    assert draw.status == "revealed" and draw.seed_revealed
    assert verify_draw(
        draw_id=draw.draw_id,
        commitment=draw.commitment,
        seed=draw.seed_revealed,
        eligible_member_ids=["wmAnna", "wmBella"],
        eligible_hash=draw.eligible_hash or "",
        quantity=draw.quantity,
        winners=draw.winners,
    ).valid
    assert members["wmAnna"].points_balance == 5 and members["wmAnna"].rule_warnings == 1
    items = _outbox(data)
    assert all(item.status in ("sent", "dead") for item in items)
    blocked = [item for item in items if item.status == "dead"]
    assert all((item.last_error or "").startswith("blocked by the compliance check") for item in blocked)


def test_console_json_lines_are_machine_readable(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["bot", "console", "--data", str(tmp_path / "d"), "--group", "wrJson", "--json"],
        input="/checkin\n<script>alert(1)</script>\n\n/quit\n",
    )
    assert result.exit_code == 0, result.output
    turns = [json.loads(line) for line in result.stdout.splitlines()]
    assert [turn["input"] for turn in turns] == ["/checkin", "<script>alert(1)</script>", "/quit"]
    assert [action["kind"] for action in turns[0]["actions"]] == ["award_points", "send_text"]
    assert turns[0]["sent"] == 1 and turns[1]["actions"] == []


def test_console_refuses_a_bad_group_and_needs_one(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["bot", "console", "--data", str(tmp_path / "d")], input="/quit\n")
    assert missing.exit_code == 2
    too_long = runner.invoke(
        app, ["bot", "console", "--data", str(tmp_path / "d"), "--group", "g" * 200], input=""
    )
    assert too_long.exit_code == 1 and "1 to 128" in too_long.output


def test_help_texts_document_the_helpers() -> None:
    console_help = runner.invoke(app, ["bot", "console", "--help"], terminal_width=200)
    assert console_help.exit_code == 0
    for helper in ("/join", "/checkin", "/poll", "/draw", "/quit"):
        assert helper in console_help.output
    serve_help = runner.invoke(app, ["bot", "serve", "--help"], terminal_width=200)
    assert serve_help.exit_code == 0 and "--robot-keys" in serve_help.output and "--port" in serve_help.output
