"""The bot's writer process: the store writes of ``groupops bot serve`` in a process of their own.

One Python process runs one thread at a time. Serving WeCom's callbacks and applying them in
the same process makes the HTTP event loop (reading, verifying, decrypting) and the group-commit
applier (bot core, state, outbox, commit) take turns on one core, and at about 1,000 callbacks a
second the applier is busy all the time and queues build up behind it. So ``bot serve`` runs two
processes by default:

- the **web process** (uvicorn) verifies, decrypts and reads each callback and forwards the
  decrypted XML over a local Unix socket (in a private temporary directory);
- the **writer process** runs the :class:`~groupops.bot.receiver.CallbackProcessor`, the outbox
  worker and the scheduler; its :class:`CallbackHost` applies the messages that arrived together
  as one batch (one transaction) and answers each forwarded callback once that transaction has
  committed (or with the refusal / error the in-process path would give). The web process
  answers WeCom with that.

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
import selectors
import socket
import struct
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from groupops.bot.receiver import CallbackProcessor, answer_other, pull_archive_quietly, refusal
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
class _Peer:
    """One connection from a web process: bytes read so far, answers not yet sent."""

    def __init__(self, connection: socket.socket) -> None:
        self.connection = connection
        self.received = bytearray()
        self.answers: list[bytes] = []
        self.lock = threading.Lock()  # the pool's threads answer too

    def frames(self) -> list[dict[str, Any]]:
        """The complete frames received so far (a partial one stays buffered)."""
        frames, data, offset = [], self.received, 0
        while len(data) - offset >= _HEADER.size:
            (length,) = _HEADER.unpack_from(data, offset)
            if length > MAX_FRAME_BYTES:
                raise ValueError(f"frame of {length} bytes is over the {MAX_FRAME_BYTES}-byte limit")
            if len(data) - offset - _HEADER.size < length:
                break
            message = json.loads(bytes(data[offset + _HEADER.size : offset + _HEADER.size + length]))
            if not isinstance(message, dict):
                raise ValueError("a frame must hold a JSON object")
            frames.append(message)
            offset += _HEADER.size + length
        del data[:offset]
        return frames

    def answer(self, request_id: int, status: int, text: str) -> None:
        with self.lock:
            self.answers.append(_frame({"id": request_id, "status": status, "text": text}))

    def flush(self) -> None:
        """Send the waiting answers in one write."""
        with self.lock:
            answers, self.answers = self.answers, []
            if not answers:
                return
            try:
                self.connection.sendall(b"".join(answers))
            except OSError:  # the web process went away; WeCom will retry those callbacks
                log.warning("%d callback answers could not be sent back to the web process", len(answers))


class CallbackHost:
    """Serves forwarded callbacks on a Unix socket; each is answered after its commit.

    One thread reads every connection and applies the group text messages that arrived
    together as one batch (:meth:`BotService.apply_now`, one transaction), then sends each
    connection its answers in one write; the messages that arrive meanwhile form the next
    batch. Other callbacks go to a small thread pool, so a slow one never holds up the
    messages behind it.
    """

    def __init__(self, processor: CallbackProcessor, socket_path: str, *, threads: int = 4) -> None:
        self.processor, self.socket_path = processor, socket_path
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="writer-callback")
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._running = False

    def start(self) -> None:
        """Listen on ``socket_path`` (only its owner may connect) and serve in a thread."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.socket_path)
        os.chmod(self.socket_path, 0o600)
        listener.listen(16)
        self._listener, self._running = listener, True
        self._thread = threading.Thread(target=self._serve, args=(listener,), daemon=True, name="writer-host")
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, close the connections, finish the pool's work."""
        self._running = False
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._pool.shutdown(wait=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)

    def _serve(self, listener: socket.socket) -> None:
        peers: dict[socket.socket, _Peer] = {}
        with selectors.DefaultSelector() as selector:
            selector.register(listener, selectors.EVENT_READ)
            try:
                while self._running:
                    ready = selector.select(timeout=0.2)
                    arrived: list[tuple[_Peer, dict[str, Any]]] = []
                    for key, _ in ready:
                        if key.fileobj is listener:
                            connection, _ = listener.accept()
                            peers[connection] = _Peer(connection)
                            selector.register(connection, selectors.EVENT_READ)
                            continue
                        peer = peers[cast(socket.socket, key.fileobj)]
                        try:
                            data = peer.connection.recv(1 << 16)
                            if not data:
                                raise ConnectionError("closed by the web process")
                            peer.received += data
                            arrived.extend((peer, frame) for frame in peer.frames())
                        except (OSError, ValueError) as error:
                            if not isinstance(error, ConnectionError):
                                log.warning("closing a forwarding connection: %s", error)
                            selector.unregister(peer.connection)
                            del peers[peer.connection]
                            peer.connection.close()
                    if arrived:
                        self._answer(arrived)
                        for peer in {peer for peer, _ in arrived}:
                            peer.flush()
            finally:
                for peer in peers.values():
                    peer.connection.close()
                listener.close()

    def _answer(self, arrived: list[tuple[_Peer, dict[str, Any]]]) -> None:
        """Apply the arrived group messages as one batch; answer the unreadable; pool the rest."""
        batch: list[tuple[_Peer, int, Any]] = []
        for peer, frame in arrived:
            try:
                request_id, plain = int(frame["id"]), str(frame["xml"])
            except (KeyError, TypeError, ValueError):
                log.warning("a forwarded frame without id and xml was dropped")
                continue
            try:
                prepared = self.processor.prepare_message(plain)
            except (InputFormatError, ConfigurationError) as error:
                status, text = refusal(error)
                peer.answer(request_id, status, text)
                continue
            except Exception as error:  # as the one-process path: 500 (WeCom retries), and keep serving
                log.exception("WeCom callback failed")
                peer.answer(request_id, 500, f"callback failed: {error}")
                continue
            if prepared is None:
                self._pool.submit(self._other, peer, request_id, plain)
            else:
                batch.append((peer, request_id, prepared))
        if not batch:
            return
        outcomes = self.processor.service.apply_now([prepared for _, _, prepared in batch])
        for (peer, request_id, (_, journal)), outcome in zip(batch, outcomes, strict=True):
            if not isinstance(outcome, BaseException):
                peer.answer(request_id, 200, "success")
                continue
            try:
                self.processor.record_failure(journal.outcome, outcome)
            except Exception:
                log.exception("the failure of a WeCom callback could not be recorded")
            log.error("WeCom callback failed: %s", outcome)
            peer.answer(request_id, 500, f"callback failed: {outcome}")

    def _other(self, peer: _Peer, request_id: int, plain: str) -> None:
        status, text, pull = answer_other(self.processor, plain)
        peer.answer(request_id, status, text)
        peer.flush()
        if pull:
            pull_archive_quietly(self.processor)


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
