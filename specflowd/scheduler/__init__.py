"""The run scheduler: groups with parallel limits, a fair queue across projects, one rate-limit gate per
account (docs/scheduler.md). Pure; the daemon service that persists it and starts admitted runs comes next."""

from specflowd.scheduler.models import (
    DEFAULT_ACCOUNT,
    DEFAULT_GROUP,
    DEFAULT_LIMIT,
    GroupView,
    QueuePosition,
    Snapshot,
    Unit,
    WaitReason,
)
from specflowd.scheduler.queue import Scheduler

__all__ = [
    "DEFAULT_ACCOUNT",
    "DEFAULT_GROUP",
    "DEFAULT_LIMIT",
    "GroupView",
    "QueuePosition",
    "Scheduler",
    "Snapshot",
    "Unit",
    "WaitReason",
]
