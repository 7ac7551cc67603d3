"""The writer process protocol (host and client on a real Unix socket) and ``bot serve``'s two processes."""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
import struct
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from groupops.bot.receiver import CallbackProcessor
from groupops.bot.runtime import ServeOptions, serve_app
from groupops.bot.service import BotService
from groupops.bot.writer import MAX_FRAME_BYTES, CallbackHost, WriterClient, WriterUnavailableError
from groupops.config import Settings
from groupops.store.models.bot import CallbackEventLog, OutboxItem
from groupops.store.workspace import Workspace

from .test_receiver import (
    AES_KEY,
    CORP_ID,
    TOKEN,
    _chat_change,
    _membership_facts,
    _post,
    _text_message,
)

with warnings.catch_warnings():  # this Starlette asks for httpx2 and warns when it uses httpx
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        data=tmp_path / "data",
        wecom_token=TOKEN,
        wecom_aes_key=AES_KEY,
        wecom_corp_id=CORP_ID,
        quiet_hours="",
    )


@pytest.fixture
def hosted(tmp_path: Path) -> Iterator[tuple[Workspace, str]]:
    """A workspace whose processor is served by a :class:`CallbackHost` on a socket in tmp_path."""
    workspace = Workspace(_settings(tmp_path))
    processor = CallbackProcessor(workspace, service=BotService(workspace.database, workspace.settings))
    path = str(tmp_path / "w.sock")
    host = CallbackHost(processor, path)
    host.start()
    yield workspace, path
    host.stop()
    workspace.close()


def _count(workspace: Workspace, model: type) -> int:
    with workspace.database.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_forwarded_callbacks_are_answered_after_their_commit(hosted: tuple[Workspace, str]) -> None:
    workspace, path = hosted

    async def scenario() -> list[tuple[int, str]]:
        client = WriterClient(path)
        answers = await asyncio.gather(
            *(
                client.answer(_text_message(f"20{number:03d}", "签到", sender=f"wm{number}"))
                for number in range(40)
            ),
            client.answer(_text_message("20000", "签到", sender="wm0")),  # WeCom's retry of the first
            client.answer(_chat_change("add_member", "wmNewcomer")),  # not a message: the host's pool
            client.answer("<xml><MsgType>text</MsgType>"),  # unreadable
        )
        await client.close()
        return answers

    answers = asyncio.run(scenario())
    assert answers[:41] == [(200, "success")] * 41
    assert answers[41] == (200, "success")
    assert answers[42][0] == 400 and answers[42][1].startswith("unreadable callback")
    assert _count(workspace, OutboxItem) == 40 + 1  # 40 check-in replies and one welcome
    assert _count(workspace, CallbackEventLog) == 41  # the retry changed nothing
    assert [fact["member_id"] for fact in _membership_facts(workspace)] == ["wmNewcomer"]


def test_oversize_and_broken_frames_close_the_connection_not_the_host(hosted: tuple[Workspace, str]) -> None:
    _, path = hosted
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
        raw.connect(path)
        raw.sendall(struct.pack(">I", MAX_FRAME_BYTES + 1))
        raw.settimeout(10)
        assert raw.recv(16) == b""  # refused: the host hung up
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
        raw.connect(path)
        raw.sendall(struct.pack(">I", 5) + b"[1,2]")  # JSON, but not an object
        raw.settimeout(10)
        assert raw.recv(16) == b""

    async def still_serving() -> tuple[int, str]:
        client = WriterClient(path)
        try:
            return await client.answer(_text_message("30001", "签到"))
        finally:
            await client.close()

    assert asyncio.run(still_serving()) == (200, "success")


def test_an_unreachable_writer_is_an_error_the_endpoint_answers_500(tmp_path: Path) -> None:
    async def ask() -> tuple[int, str]:
        return await WriterClient(str(tmp_path / "nobody.sock")).answer(_text_message("1", "签到"))

    with pytest.raises(WriterUnavailableError, match="not reachable"):
        asyncio.run(ask())


def test_bot_serve_runs_the_writer_process_and_answers_through_it(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    app = serve_app(ServeOptions(settings), writer_process=True)
    with TestClient(app) as client:
        assert client.get("/healthz").json() == {"status": "ok", "writer": "up"}
        assert _post(client, _text_message("40001", "签到")) == (200, "success")
        assert _post(client, _text_message("40001", "签到")) == (200, "success")  # retry
        assert _post(client, "<xml><MsgType>text</MsgType>")[0] == 400  # unreadable
    workspace = Workspace(settings)
    try:
        with workspace.database.session() as session:
            texts = list(session.scalars(select(OutboxItem.payload)))
        assert len(texts) == 1 and "签到成功" in texts[0]["text"]
    finally:
        workspace.close()


def test_a_killed_writer_process_is_restarted_and_callbacks_go_through_again(tmp_path: Path) -> None:
    import os
    import signal
    import time

    settings = _settings(tmp_path)
    app = serve_app(ServeOptions(settings), writer_process=True)
    with TestClient(app) as client:
        assert _post(client, _text_message("50001", "签到")) == (200, "success")
        writers = [
            child for child in multiprocessing.active_children() if child.name == "groupops-bot-writer"
        ]
        assert len(writers) == 1
        victim = writers[0].pid
        assert victim, "the writer process has no pid"
        os.kill(victim, signal.SIGKILL)
        writers[0].join(timeout=10)
        status, _ = _post(client, _text_message("50002", "签到", sender="wmSecond"))
        assert status == 500  # nobody to apply it: WeCom will retry
        deadline = time.monotonic() + 60
        while client.get("/healthz").json()["writer"] != "up" or not [
            child for child in multiprocessing.active_children() if child.name == "groupops-bot-writer"
        ]:
            assert time.monotonic() < deadline, "the writer process was not restarted"
            time.sleep(0.2)
        assert _post(client, _text_message("50002", "签到", sender="wmSecond")) == (
            200,
            "success",
        )  # the retry
    workspace = Workspace(settings)
    try:
        assert _count(workspace, OutboxItem) == 2
    finally:
        workspace.close()


def test_an_unexpected_error_reading_a_callback_is_a_500_and_the_host_keeps_serving(
    hosted: tuple[Workspace, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, path = hosted
    original = CallbackProcessor.prepare_message

    def failing(self: CallbackProcessor, plain: str) -> object:
        if "boom" in plain:
            raise RuntimeError("boom")
        return original(self, plain)

    monkeypatch.setattr(CallbackProcessor, "prepare_message", failing)

    async def scenario() -> list[tuple[int, str]]:
        client = WriterClient(path)
        try:
            first = await client.answer(_text_message("60001", "boom"))
            second = await client.answer(_text_message("60002", "签到"))
            return [first, second]
        finally:
            await client.close()

    assert asyncio.run(scenario()) == [(500, "callback failed: boom"), (200, "success")]
