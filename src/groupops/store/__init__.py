"""Storage: the operational SQL store (SQLAlchemy) and the Parquet fact warehouse."""

from groupops.store.database import Database, create_store_engine, upgrade_schema
from groupops.store.warehouse import CommitResult, StagedImport, Warehouse, new_duckdb_connection

__all__ = [
    "CommitResult",
    "Database",
    "StagedImport",
    "Warehouse",
    "create_store_engine",
    "new_duckdb_connection",
    "upgrade_schema",
]
