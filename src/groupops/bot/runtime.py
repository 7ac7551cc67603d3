"""``groupops bot serve``: the callback receiver, the scheduler and the outbox worker.

Two layouts. :func:`serve_app` with ``writer_process=True`` (the default of ``bot serve``) gives
the web process's app; it starts a writer process holding the applier, the worker and the
scheduler (:mod:`groupops.bot.writer` says why). :class:`BotRuntime` is everything in one
process (``bot serve --single-process``, the tests, embedding).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI

from groupops.bot.outbox import OutboxPolicy, OutboxRouting, OutboxWorker
from groupops.bot.receiver import (
    ArchiveFetcher,
    CallbackEndpoint,
    CallbackFastPath,
    CallbackProcessor,
    DirectoryArchiveFetcher,
    wecom_callback_router,
)
from groupops.bot.scheduler import BotScheduler
from groupops.bot.service import BotService
from groupops.bot.writer import CallbackHost, WriterClient
from groupops.config import Settings
from groupops.errors import ConfigurationError
from groupops.store.workspace import Workspace
from groupops.wecom.client import WeComClient
from groupops.wecom.senders import ConsoleSender, MassSendSender, RobotSender, Sender

__all__ = [
    "BotRuntime",
    "ServeOptions",
    "build_senders",
    "freeze_startup_heap",
    "load_robot_keys",
    "serve_app",
]

log = logging.getLogger(__name__)

WRITER_START_SECONDS = 120.0  # importing and warming up the writer process takes a few seconds
WRITER_RESTART_MAX_SECONDS = 30.0  # longest wait between two failed restarts of the writer process


def load_robot_keys(path: Path) -> dict[str, str]:
    """``group id → robot webhook key`` from a YAML mapping (``"*"`` = every other group)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConfigurationError(f"robot key file {path} cannot be read: {error}") from error
    if not isinstance(data, dict) or not all(isinstance(v, str) and v for v in data.values()):
        raise ConfigurationError(f"robot key file {path} must map group ids to webhook keys")
    return {str(key): value for key, value in data.items()}


class _KeysWithDefault(dict[str, str]):
    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key) or super().get("*", default)


def build_senders(
    workspace: Workspace, robot_keys: Mapping[str, str], owners: Mapping[str, str] | None = None
) -> dict[str, Sender]:
    """The senders from the settings: robot (when keys are given), mass send (with a secret), console."""
    settings = workspace.settings
    client = WeComClient(
        settings.wecom_corp_id,
        settings.wecom_contact_secret,
        base_url=settings.wecom_api_base,
        robot_messages_per_minute=settings.robot_messages_per_minute,
        max_rate_limit_wait_seconds=0.0,
    )
    senders: dict[str, Sender] = {"console": ConsoleSender()}
    if robot_keys:
        senders["robot"] = RobotSender(client, _KeysWithDefault(robot_keys))
    if owners:
        senders["mass_send"] = MassSendSender(client, owners)
    return senders


FULL_COLLECTION_EVERY = 100  # generation-1 collections between two full ones (Python's default: 10)


def freeze_startup_heap() -> None:
    """Move every object alive now (modules, skills, models) out of the collector's sight, and
    make full collections rarer.

    A full (generation 2) collection otherwise walks the whole heap of the imported libraries
    and stops every thread for ~100 ms a few times a minute, which is the tail of the callback
    latency; after :func:`gc.freeze` it walks only what the server made since. That still grows
    with the bot's cached group states (20–50 ms every few seconds at 1,000 callbacks a second),
    so a full collection waits for ``FULL_COLLECTION_EVERY`` younger ones instead of 10: garbage
    in reference cycles that survived two collections is freed later; nothing else changes.
    """
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


def _callback_app(
    workspace: Workspace,
    endpoint: CallbackEndpoint,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    health: Callable[[], dict[str, str]],
) -> FastAPI:
    """The bot's app: the callback at ``/wecom/callback`` (its ``POST`` answered by
    :class:`CallbackFastPath` before routing) and ``health`` at ``/healthz``."""
    app = FastAPI(title="GroupOps bot", lifespan=lifespan)
    app.include_router(wecom_callback_router(workspace, endpoint=endpoint), prefix="/wecom/callback")
    app.add_middleware(CallbackFastPath, endpoint=endpoint, path="/wecom/callback")
    app.get("/healthz")(health)
    return app


@dataclass
class BotRuntime:
    """The receiver app plus background scheduler and outbox worker, started and stopped together."""

    workspace: Workspace
    senders: Mapping[str, Sender]
    routing: OutboxRouting = field(default_factory=OutboxRouting)
    archive_inbox: Path | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.service = BotService(self.workspace.database, self.workspace.settings, routing=self.routing)
        fetcher: ArchiveFetcher | None = (
            DirectoryArchiveFetcher(self.archive_inbox) if self.archive_inbox else None
        )
        self.processor = CallbackProcessor(self.workspace, service=self.service, fetcher=fetcher)
        self.scheduler = BotScheduler(self.workspace, self.service)
        budget = max(1, self.workspace.settings.robot_messages_per_minute)
        policy = OutboxPolicy(deferral_spacing_seconds=60.0 / budget)
        self.worker = OutboxWorker(self.workspace.database, self.senders, policy=policy)
        self.service.on_enqueued = self.worker.wake  # the worker starts on new rows at once
        self.service.outbox_slots = self.worker.reserve_slot  # a spent robot's rows queue at their slots

    def app(self) -> FastAPI:
        """A FastAPI app with the callback at ``/wecom/callback`` and ``/healthz``; starts the jobs.

        The callback ``POST`` is answered by :class:`CallbackFastPath` before routing.
        """

        @asynccontextmanager
        async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
            self.start()
            try:
                yield
            finally:
                self.stop()

        def health() -> dict[str, str]:
            return {"status": "ok"}

        return _callback_app(
            self.workspace, CallbackEndpoint(self.workspace, processor=self.processor), lifespan, health
        )

    def start(self) -> None:
        """Start the outbox worker thread and the scheduler."""
        self._stop.clear()
        self.worker.warm_up()  # before serving, and before the heap is frozen
        thread = threading.Thread(
            target=self.worker.run_forever, args=(self._stop,), daemon=True, name="outbox"
        )
        thread.start()
        self._threads.append(thread)
        self.scheduler.start()
        freeze_startup_heap()

    def stop(self) -> None:
        """Stop the scheduler and let the worker finish its current item."""
        self.scheduler.shutdown()
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()


@dataclass(frozen=True)
class ServeOptions:
    """What ``bot serve`` is given (picklable: the writer process builds its part from it)."""

    settings: Settings
    robot_keys: Mapping[str, str] = field(default_factory=dict)
    archive_inbox: Path | None = None


def serve_app(options: ServeOptions, *, writer_process: bool = True) -> FastAPI:
    """The app ``bot serve`` runs: with a writer process (default), or all in this process."""
    if not writer_process:
        workspace = Workspace(options.settings)
        senders = build_senders(workspace, options.robot_keys)
        return BotRuntime(workspace, senders, archive_inbox=options.archive_inbox).app()
    return _SplitServer(options).app()


class _SplitServer:
    """The web process: verify, decrypt, forward to the writer process, answer with its answer.

    A watchdog thread restarts the writer process when it dies (its exit code is logged;
    restarts that keep failing wait up to ``WRITER_RESTART_MAX_SECONDS`` between tries).
    Meanwhile callbacks are answered 500, so WeCom retries them.
    """

    def __init__(self, options: ServeOptions) -> None:
        self.options = options
        self.workspace = Workspace(options.settings)  # settings and crypto only: no writes here
        self._directory = ""
        self._process: Any = None
        self._control: Any = None  # our end of the pipe to the writer: "ready" comes, "stop" goes
        self._stopping = threading.Event()
        self._serving = False  # a writer process is up and ``client`` reaches it
        self._watchdog: threading.Thread | None = None
        self.client: WriterClient | None = None

    def app(self) -> FastAPI:
        @asynccontextmanager
        async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
            self._start()
            try:
                yield
            finally:
                self._stopping.set()
                if self._watchdog is not None:
                    self._watchdog.join(timeout=WRITER_START_SECONDS)  # a restart under way finishes first
                if self.client is not None:
                    await self.client.close()
                self._stop_writer()

        def health() -> dict[str, str]:
            alive = self._serving and self._process is not None and self._process.is_alive()
            return {"status": "ok" if alive else "writer process down", "writer": "up" if alive else "down"}

        return _callback_app(
            self.workspace, CallbackEndpoint(self.workspace, forward=self._forward), lifespan, health
        )

    async def _forward(self, plain: str) -> tuple[int, str]:
        client = self.client
        if client is None:
            raise ConfigurationError("the bot's writer process has not been started")
        return await client.answer(plain)

    def _start(self) -> None:
        """Start the writer process (its start-up errors are raised here) and its watchdog."""
        self._stopping.clear()
        self._launch()
        freeze_startup_heap()  # this process's full collections then walk only what it made since
        self._watchdog = threading.Thread(target=self._watch, daemon=True, name="writer-watchdog")
        self._watchdog.start()

    def _launch(self) -> None:
        """Start a writer process and wait until it listens."""
        self._directory = tempfile.mkdtemp(prefix="groupops-bot-")  # private (0700): the socket lives here
        socket_path = os.path.join(self._directory, "writer.sock")
        context = multiprocessing.get_context("spawn")
        # a pipe, not multiprocessing events: an event's lock left held by a killed process hangs its setter
        self._control, child_end = context.Pipe()
        self._process = context.Process(
            target=_writer_main,
            args=(self.options, socket_path, child_end, os.getpid()),
            name="groupops-bot-writer",
            daemon=True,
        )
        self._process.start()
        child_end.close()
        waited = 0.0
        while not _said_ready(self._control, 0.2):
            waited += 0.2
            if not self._process.is_alive() or waited >= WRITER_START_SECONDS:
                self._stop_writer()
                raise ConfigurationError("the bot's writer process did not start (its log above says why)")
        self.client = WriterClient(socket_path)
        self._serving = True
        log.info("bot writer process %d is serving on %s", self._process.pid, socket_path)

    def _watch(self) -> None:
        """Restart the writer process whenever it dies, until the server stops."""
        pause = 1.0
        while not self._stopping.wait(1.0):
            if self._process is not None and self._process.is_alive():
                pause = 1.0
                continue
            code = self._process.exitcode if self._process is not None else None
            log.error("the bot's writer process stopped (exit code %s); starting a new one", code)
            self._stop_writer()
            try:
                self._launch()
            except ConfigurationError:
                log.exception(
                    "the bot's writer process could not be restarted; trying again in %.0f s", pause
                )
                if self._stopping.wait(pause):
                    return
                pause = min(WRITER_RESTART_MAX_SECONDS, pause * 2)

    def _stop_writer(self) -> None:
        self._serving = False
        if self._control is not None:
            with contextlib.suppress(OSError, EOFError):  # a writer already gone cannot be told
                self._control.send("stop")
            self._control.close()
            self._control = None
        if self._process is not None:
            self._process.join(timeout=30)
            if self._process.is_alive():
                log.warning("the bot's writer process did not stop in 30 s; terminating it")
                self._process.terminate()
                self._process.join(timeout=10)
        if self._directory:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = ""


def _said_ready(control: Any, seconds: float) -> bool:
    """Whether the writer process said "ready" within ``seconds`` (False also when it is gone)."""
    try:
        return bool(control.poll(seconds)) and control.recv() == "ready"
    except (OSError, EOFError):
        return False


def _writer_main(options: ServeOptions, socket_path: str, control: Any, parent: int) -> None:
    """The writer process: applier, outbox worker and scheduler, serving the forwarded callbacks."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s:     [writer] %(name)s: %(message)s")
    logging.getLogger("groupops").setLevel(logging.INFO)  # libraries' info (a line per HTTP call) is noise
    workspace = Workspace(options.settings)
    try:
        senders = build_senders(workspace, options.robot_keys)
        runtime = BotRuntime(workspace, senders, archive_inbox=options.archive_inbox)
        host = CallbackHost(runtime.processor, socket_path)
        runtime.start()
        host.start()
        control.send("ready")
        try:
            while not control.poll(1.0):  # "stop", or the end of the pipe when the web process is gone
                if os.getppid() != parent:  # the web process is gone: nobody can reach us
                    log.warning("the web process %d is gone; the writer process stops", parent)
                    break
        finally:
            host.stop()
            runtime.stop()
    finally:
        workspace.close()
