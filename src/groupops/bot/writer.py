"""The bot's writer process: the store writes of ``groupops bot serve`` in a process of their own.

One Python process runs one thread at a time. Serving WeCom's callbacks and applying them in
the same process makes the HTTP event loop (reading, verifying, decrypting) and the group-commit
applier (bot core, state, outbox, commit) take turns on one core, and at about 1,000 callbacks a
second the applier is busy all the time and queues build up behind it. So ``bot serve`` runs two
processes by default:

- the **web process** (uvicorn) verifies, decrypts and reads each callback and forwards the
  decrypted XML over a local Unix socket (in a private temporary directory);
- the **writer process** runs the :class:`~groupops.bot.receiver.CallbackProcessor` with its
  group-commit applier, the outbox worker and the scheduler, and answers each forwarded callback
  once the transaction holding it has committed (or with the refusal / error the in-process
  path would give). The web process answers WeCom with that.

Every write to the operational store by the bot happens in the writer process, so SQLite's one
writer is coordinated by the in-process lock as before. The protocol is private to the two
processes: frames of a 4-byte big-endian length and a JSON object, ``{"id", "xml"}`` one way and
``{"id", "status", "text"}`` back; replies may come out of order. When the writer process is
gone, the web process answers 500 (WeCom retries) and reconnects on the next callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import socket
import struct
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from groupops.bot.receiver import (
    CallbackProcessor,
    SubmittedCallback,
    answer_other,
    pull_archive_quietly,
    refusal,
)
from groupops.bot.service import ServiceResult
from groupops.errors import ConfigurationError, InputFormatError

__all__ = ["CallbackHost", "WriterClient", "WriterUnavailableError"]

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">I")
MAX_FRAME_BYTES = 4 * 1024 * 1024  # far above a callback (WeCom's XML is capped well below this)


class WriterUnavailableError(ConnectionError):
    """The writer process cannot be reached (not started, stopped, or the connection broke)."""


def _frame(message: dict[str, Any]) -> bytes:
    data = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return _HEADER.pack(len(data)) + data


# --- the writer process's side ------------------------------------------------------------------
class CallbackHost:
    """Serves forwarded callbacks on a Unix socket; each is answered after its commit.

    Group text messages go to the processor's group-commit applier without waiting (the answer
    is sent from the applier's completion callback); other callbacks and failure records run in
    a small thread pool, so a slow one never holds up the messages behind it.
    """

    def __init__(self, processor: CallbackProcessor, socket_path: str, *, threads: int = 4) -> None:
        self.processor, self.socket_path = processor, socket_path
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="writer-callback")
        self._listener: socket.socket | None = None
        self._connections: set[socket.socket] = set()
        self._guard = threading.Lock()

    def start(self) -> None:
        """Listen on ``socket_path`` (only its owner may connect) and accept in a thread."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.socket_path)
        os.chmod(self.socket_path, 0o600)
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, daemon=True, name="writer-accept").start()

    def stop(self) -> None:
        """Stop accepting, close the connections, finish the pool's work."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._guard:
            connections, self._connections = self._connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._pool.shutdown(wait=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)

    def _accept(self) -> None:
        while (listener := self._listener) is not None:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with self._guard:
                self._connections.add(connection)
            threading.Thread(
                target=self._serve, args=(connection,), daemon=True, name="writer-connection"
            ).start()

    def _serve(self, connection: socket.socket) -> None:
        send_lock = threading.Lock()

        def reply(request_id: int, status: int, text: str) -> None:
            frame = _frame({"id": request_id, "status": status, "text": text})
            try:
                with send_lock:
                    connection.sendall(frame)
            except OSError:  # the web process went away; WeCom will retry the callback
                log.warning("a callback answer could not be sent back to the web process")

        reader = connection.makefile("rb")
        try:
            while (request := _read_frame(reader)) is not None:
                self._dispatch(int(request["id"]), str(request["xml"]), reply)
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("closing a forwarding connection: %s", error)
        finally:
            with self._guard:
                self._connections.discard(connection)
            reader.close()
            connection.close()

    def _dispatch(self, request_id: int, plain: str, reply: Callable[[int, int, str], None]) -> None:
        try:
            submitted = self.processor.submit(plain)
        except (InputFormatError, ConfigurationError) as error:
            status, text, _ = refusal(error)
            reply(request_id, status, text)
            return
        except Exception as error:
            log.exception("WeCom callback failed")
            reply(request_id, 500, f"callback failed: {error}")
            return
        if submitted is None:
            self._pool.submit(self._other, request_id, plain, reply)
            return
        submitted.future.add_done_callback(
            lambda future: self._message_done(request_id, submitted, future, reply)
        )

    def _message_done(
        self,
        request_id: int,
        submitted: SubmittedCallback,
        future: Future[ServiceResult],
        reply: Callable[[int, int, str], None],
    ) -> None:
        """In the applier's thread after the commit: answer, or record the failure in the pool."""
        error = future.exception()
        if error is None:
            reply(request_id, 200, "success")
            return
        self._pool.submit(self._failed, request_id, submitted, error, reply)

    def _failed(
        self,
        request_id: int,
        submitted: SubmittedCallback,
        error: BaseException,
        reply: Callable[[int, int, str], None],
    ) -> None:
        try:
            self.processor.record_failure(submitted.outcome, error)
        except Exception:
            log.exception("the failure of a WeCom callback could not be recorded")
        log.error("WeCom callback failed: %s", error)
        reply(request_id, 500, f"callback failed: {error}")

    def _other(self, request_id: int, plain: str, reply: Callable[[int, int, str], None]) -> None:
        status, text, pull = answer_other(self.processor, plain)
        reply(request_id, status, text)
        if pull:
            pull_archive_quietly(self.processor)


def _read_frame(reader: Any) -> dict[str, Any] | None:
    """The next frame's object; None at a clean end of the stream."""
    header = reader.read(_HEADER.size)
    if not header:
        return None
    if len(header) < _HEADER.size:
        raise ValueError("the stream ended inside a frame header")
    (length,) = _HEADER.unpack(header)
    if length > MAX_FRAME_BYTES:
        raise ValueError(f"frame of {length} bytes is over the {MAX_FRAME_BYTES}-byte limit")
    data = reader.read(length)
    if len(data) < length:
        raise ValueError("the stream ended inside a frame")
    message = json.loads(data)
    if not isinstance(message, dict):
        raise ValueError("a frame must hold a JSON object")
    return message


# --- the web process's side ---------------------------------------------------------------------
class WriterClient:
    """Forwards decrypted callbacks to the writer process from one event loop; many in flight."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[tuple[int, str]]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._connecting: asyncio.Lock | None = None

    async def answer(self, plain: str) -> tuple[int, str]:
        """The writer's answer to ``plain``: (HTTP status, body)."""
        writer = await self._connection()
        request_id = next(self._ids)
        waiter: asyncio.Future[tuple[int, str]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = waiter
        try:
            writer.write(_frame({"id": request_id, "xml": plain}))
            return await waiter
        finally:
            self._pending.pop(request_id, None)

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await writer.wait_closed()

    async def _connection(self) -> asyncio.StreamWriter:
        if self._writer is not None and not self._writer.is_closing():
            return self._writer
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._writer is None or self._writer.is_closing():
                try:
                    reader, writer = await asyncio.open_unix_connection(
                        self.socket_path, limit=MAX_FRAME_BYTES + _HEADER.size
                    )
                except OSError as error:
                    raise WriterUnavailableError(
                        f"the bot's writer process is not reachable at {self.socket_path}: {error}"
                    ) from error
                self._writer = writer
                asyncio.get_running_loop().create_task(self._read_answers(reader, writer))
            return self._writer

    async def _read_answers(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        problem: BaseException = WriterUnavailableError("the bot's writer process closed the connection")
        try:
            while True:
                header = await reader.readexactly(_HEADER.size)
                (length,) = _HEADER.unpack(header)
                if length > MAX_FRAME_BYTES:
                    raise ValueError(f"answer frame of {length} bytes is over the limit")
                message = json.loads(await reader.readexactly(length))
                waiter = self._pending.get(int(message["id"]))
                if waiter is not None and not waiter.done():
                    waiter.set_result((int(message["status"]), str(message["text"])))
        except asyncio.IncompleteReadError:
            pass
        except (OSError, ValueError, KeyError, TypeError) as error:
            problem = WriterUnavailableError(f"the connection to the bot's writer process broke: {error}")
        finally:
            if self._writer is writer:
                self._writer = None
            writer.close()
            for waiter in list(self._pending.values()):
                if not waiter.done():
                    waiter.set_exception(problem)
