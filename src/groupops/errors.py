"""The named exceptions of GroupOps.

GroupOpsError                 base of everything the library raises on purpose
├── ConfigurationError        a setting or file the user controls is wrong
├── InputFormatError          a whole input cannot be read (wrong kind, encoding, header)
├── StoreError                the operational store or the warehouse refused an operation
├── NotFoundError             a named member, group, user or item does not exist
└── PermissionDeniedError     the acting user's role may not do this
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "GroupOpsError",
    "InputFormatError",
    "NotFoundError",
    "PermissionDeniedError",
    "StoreError",
]


class GroupOpsError(Exception):
    """Base class of the errors GroupOps raises deliberately; the CLI prints them and exits 1."""


class ConfigurationError(GroupOpsError):
    """A setting, mapping or rule file is invalid; the message says what to fix."""


class InputFormatError(GroupOpsError):
    """An input file as a whole cannot be read (unknown encoding, missing columns, wrong kind)."""


class StoreError(GroupOpsError):
    """The operational store or the warehouse could not complete an operation."""


class NotFoundError(GroupOpsError):
    """The requested object does not exist."""


class PermissionDeniedError(GroupOpsError):
    """The acting user's role does not allow the operation."""
