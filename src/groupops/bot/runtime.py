"""``groupops bot serve`` in one process: the callback receiver, the scheduler and the outbox worker."""

from __future__ import annotations

import gc
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
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
from groupops.errors import ConfigurationError
from groupops.store.workspace import Workspace
from groupops.wecom.client import WeComClient
from groupops.wecom.senders import ConsoleSender, MassSendSender, RobotSender, Sender

__all__ = ["BotRuntime", "build_senders", "freeze_startup_heap", "load_robot_keys"]


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


def freeze_startup_heap() -> None:
    """Move every object alive now (modules, skills, models) out of the collector's sight.

    A full (generation 2) collection otherwise walks the whole heap of the imported libraries
    and stops every thread for ~100 ms a few times a minute, which is the tail of the callback
    latency; after :func:`gc.freeze` it walks only what the server made since.
    """
    gc.collect()
    gc.freeze()


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

        app = FastAPI(title="GroupOps bot", lifespan=lifespan)
        endpoint = CallbackEndpoint(self.workspace, processor=self.processor)
        app.include_router(wecom_callback_router(self.workspace, endpoint=endpoint), prefix="/wecom/callback")
        app.add_middleware(CallbackFastPath, endpoint=endpoint, path="/wecom/callback")

        @app.get("/healthz")
        def health() -> dict[str, str]:
            return {"status": "ok"}

        return app

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
