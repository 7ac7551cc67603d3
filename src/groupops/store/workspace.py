"""A workspace: one data directory's settings, operational store and warehouse, opened together."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy.orm import Session

from groupops.config import Settings
from groupops.store.database import Database
from groupops.store.models import AuditLog
from groupops.store.warehouse import Warehouse

__all__ = ["Workspace", "record_audit"]


@dataclass
class Workspace:
    """Everything a command needs to read or write one brand's data."""

    settings: Settings
    _database: Database | None = field(default=None, repr=False)

    @cached_property
    def database(self) -> Database:
        self.settings.data.mkdir(parents=True, exist_ok=True)
        return self._database or Database(self.settings.sqlalchemy_url)

    @cached_property
    def warehouse(self) -> Warehouse:
        return Warehouse(self.settings.warehouse_dir)

    def close(self) -> None:
        if "database" in self.__dict__:
            self.database.dispose()


def record_audit(
    session: Session, actor: str, action: str, target_type: str, target_id: str, **detail: Any
) -> AuditLog:
    """Add an audit-log row in ``session`` (committed with the change it describes)."""
    entry = AuditLog(
        actor=actor, action=action, target_type=target_type, target_id=str(target_id), detail=detail
    )
    session.add(entry)
    return entry
