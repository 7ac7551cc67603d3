"""The roles a GroupOps user can have (a dependency-free module: the CLI's help text needs it)."""

__all__ = ["ROLES"]

ROLES = ("admin", "manager", "operator", "reviewer", "cs", "viewer")
