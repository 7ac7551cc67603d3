"""The kinds and statuses of operator tasks (dependency-free: the CLI's help text needs them)."""

__all__ = ["LISTED_TASK_KINDS", "TASK_KINDS", "TASK_STATUSES"]

TASK_KINDS = ("care", "winback", "koc_invite", "vip_care")
TASK_STATUSES = ("open", "done", "skipped")
LISTED_TASK_KINDS = (*TASK_KINDS, "takedown")  # takedown tasks come from the legal review, not the generator
