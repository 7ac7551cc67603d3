"""GroupOps: operations platform for apparel brands selling through WeCom / WeChat groups."""

from groupops.errors import GroupOpsError

__all__ = ["GroupOpsError", "__version__"]
__version__ = "0.1.0"
