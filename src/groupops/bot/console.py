"""A terminal chat with the bot: a person types as a member and sees what the bot does.

Everything goes the real way — bot service, store, outbox, compliance check — with the
console sender instead of WeCom. Lines starting with ``/`` are helpers:

    /join [NAME]        join the group as the current member (welcome)
    /as ID [NAME]       speak as another member from now on
    /checkin            check in (same as typing 签到)
    /poll [open|close]  open the day's outfit poll, or close it and show the results
    /draw               announce a draw (rules + seed commitment), then reveal and verify it
    /help               list the helpers
    /quit               leave
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from groupops.bot.core import Action, Event
from groupops.bot.outbox import OutboxRouting, OutboxWorker, WorkerReport
from groupops.bot.service import BotService
from groupops.bot.skills.draws import new_draw_seed, verify_draw
from groupops.errors import InputFormatError
from groupops.store.models import Group
from groupops.store.models.base import utc_now
from groupops.store.workspace import Workspace
from groupops.wecom.senders import ConsoleSender

__all__ = ["CONSOLE_HELP", "ConsoleSession", "ConsoleTurn", "run_console"]

CONSOLE_HELP = __doc__.split("helpers:", 1)[1].strip() if __doc__ else ""
MAX_INPUT_CHARS = 4000


@dataclass
class ConsoleTurn:
    """What one typed line did: the bot's actions and the lines shown for them."""

    input: str
    actions: list[Action] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    delivery: WorkerReport = field(default_factory=WorkerReport)
    quit: bool = False

    def to_json(self) -> dict[str, Any]:
        """The turn as JSON (``--json`` output of the console)."""
        return {
            "input": self.input,
            "actions": [
                {
                    "kind": a.kind,
                    "skill": a.skill,
                    "text": a.text,
                    "member_id": a.member_id,
                    "data": _plain(a.data),
                }
                for a in self.actions
            ],
            "lines": self.lines,
            "sent": self.delivery.sent,
            "blocked": self.delivery.blocked,
        }


def _plain(value: Any) -> Any:
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


class _Capture:
    """Collects what the console sender prints."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, text: str) -> int:
        self.lines.extend(line for line in text.splitlines() if line)
        return len(text)

    def flush(self) -> None:
        return None


class ConsoleSession:
    """One member's chat with the bot in one group."""

    def __init__(
        self,
        workspace: Workspace,
        group_id: str,
        member_id: str = "wm-console",
        member_name: str = "",
        *,
        respect_quiet_hours: bool = False,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if not group_id.strip() or len(group_id) > 128:
            raise InputFormatError("the group id must have 1 to 128 characters")
        self.workspace, self.group_id = workspace, group_id
        self.member_id, self.member_name = member_id, member_name or member_id
        self._clock = clock
        self._session_id = uuid.uuid4().hex[:8]
        self._counter = itertools.count(1)
        overrides = {} if respect_quiet_hours else {group_id: {"quiet_hours": ""}}
        routing = OutboxRouting(group_channel="console", private_channel="console", admin_channel="console")
        self.service = BotService(
            workspace.database, workspace.settings, routing=routing, profile_overrides=overrides
        )
        self._capture = _Capture()
        sender = ConsoleSender(self._capture)  # type: ignore[arg-type]
        self.worker = OutboxWorker(workspace.database, {"console": sender}, clock=clock)
        self._ensure_group()

    def _ensure_group(self) -> None:
        with self.workspace.database.session() as session:
            if session.get(Group, self.group_id) is None:
                session.add(Group(id=self.group_id, name="", kind="core_user", admins=[], source="console"))

    def _event(self, kind: str, when: datetime | None = None, **fields: Any) -> Event:
        event_id = f"console-{self._session_id}-{next(self._counter)}"
        return Event(event_id, kind, self.group_id, when or self._clock(), **fields)  # type: ignore[arg-type]

    def _say(self, text: str) -> Event:
        return self._event("message", member_id=self.member_id, member_name=self.member_name, text=text)

    def handle_line(self, line: str) -> ConsoleTurn:
        """Run one typed line (a helper or a message) and deliver what the bot queued."""
        text = line.strip()[:MAX_INPUT_CHARS]
        turn = ConsoleTurn(text)
        if not text:
            return turn
        command, _, rest = text.partition(" ")
        if command == "/quit":
            turn.quit = True
        elif command == "/help":
            turn.lines.append(CONSOLE_HELP)
        elif command == "/as":
            self._switch_member(rest, turn)
        elif command == "/draw":
            self._draw(turn)
        else:
            self._run(self._event_for(command, rest, text), turn)
        return turn

    def _event_for(self, command: str, rest: str, text: str) -> Event:
        if command == "/join":
            self.member_name = rest.strip() or self.member_name
            return self._event("member_joined", member_id=self.member_id, member_name=self.member_name)
        if command == "/checkin":
            return self._say("签到")
        if command == "/poll":
            job = "poll_close" if rest.strip() == "close" else "poll_open"
            return self._event("scheduled", job=job)
        return self._say(text)

    def _switch_member(self, rest: str, turn: ConsoleTurn) -> None:
        member_id, _, name = rest.strip().partition(" ")
        if not member_id:
            turn.lines.append("usage: /as MEMBER_ID [NAME]")
            return
        self.member_id, self.member_name = member_id[:128], (name.strip() or member_id)[:64]
        turn.lines.append(f"· now speaking as {self.member_name} ({self.member_id})")

    def _run(self, event: Event, turn: ConsoleTurn) -> None:
        result = self.service.handle(event)
        turn.actions.extend(result.actions)
        turn.lines.extend(_describe(action) for action in result.actions if _describe(action))
        report = self.worker.run_until_idle()
        turn.delivery.add(report)
        turn.lines.extend(self._capture.lines)
        self._capture.lines.clear()
        for key, why in report.problems:
            turn.lines.append(f"✗ not sent ({key[:12]}…): {why[:300]}")

    def _draw(self, turn: ConsoleTurn) -> None:
        now = self._clock()
        draw_id = f"console-{self._session_id}-{next(self._counter)}"
        draw_at = now + timedelta(minutes=1)
        payload = {
            "draw_id": draw_id,
            "title": "体验抽奖",
            "prize_name": "10 元无门槛代金券",
            "prize_kind": "代金券",
            "prize_value_yuan": "10",
            "quantity": 1,
            "draw_at": draw_at.isoformat(),
            "entry_conditions": "今天在群内签到的群成员",
            "organizer": "本群运营团队",
            "period_start": now.astimezone(ZoneInfo(self.workspace.settings.timezone)).date().isoformat(),
            "seed": new_draw_seed(),
        }
        self._run(self._event("scheduled", job="draw_announce", payload=payload), turn)
        self._run(self._event("scheduled", draw_at, job="draw_reveal", payload={"draw_id": draw_id}), turn)
        record = next((a.data for a in turn.actions if a.kind == "publish_draw_record"), None)
        if record is not None:
            check = verify_draw(
                draw_id=str(record["draw_id"]),
                commitment=str(record["commitment"]),
                seed=str(record["seed"]),
                eligible_member_ids=list(record["eligible_member_ids"]),
                eligible_hash=str(record["eligible_hash"]),
                quantity=int(record["quantity"]),
                winners=list(record["winners"]),
            )
            verdict = "valid" if check.valid else "INVALID: " + "; ".join(check.problems)
            turn.lines.append(f"· draw {draw_id} verified from the published record: {verdict}")


def _describe(action: Action) -> str:
    data = action.data
    if action.kind == "award_points":
        points = sum(int(entry.get("points", 0)) for entry in data.get("entries", ()))
        return f"· points +{points} for {action.member_id} (balance {data.get('balance')})"
    if action.kind == "open_ticket":
        return f"· customer-service ticket opened for {action.member_id} (answer due in {data.get('sla_minutes')} min)"
    if action.kind == "publish_draw_record":
        return f"· draw record published: {len(data.get('eligible_member_ids', ()))} eligible, winners {data.get('winners')}"
    if action.kind == "remove_member":
        return f"· removal of {action.member_id} requested (policy)"
    return ""


def run_console(session: ConsoleSession, lines: TextIO, emit: Callable[[ConsoleTurn], None]) -> int:
    """Feed ``lines`` to ``session`` until EOF or ``/quit``; returns the number of turns."""
    turns = 0
    for line in lines:
        turn = session.handle_line(line)
        if turn.input:
            turns += 1
            emit(turn)
        if turn.quit:
            break
    return turns
