"""Data shapes of the run scheduler: what is queued (Unit), what a caller is told about it (QueuePosition,
GroupView) and the persisted form (Snapshot). No I/O, no clock."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from specflowd.vocabulary import WaitReason

__all__ = [
    "DEFAULT_ACCOUNT",
    "DEFAULT_GROUP",
    "DEFAULT_LIMIT",
    "GROUP_NAME",
    "MAX_LIMIT",
    "GroupView",
    "QueuePosition",
    "QueuedEntry",
    "Snapshot",
    "Unit",
    "WaitReason",
]

DEFAULT_GROUP = "default"
# Two agents at once: each Claude Code process holds ~250-400 MB and all of them share one account's rate
# limit; two keep a second project moving while one waits on tools, without several sessions racing for
# the same rate budget. Settable per group (docs/scheduler.md).
DEFAULT_LIMIT = 2
MAX_LIMIT = 64
DEFAULT_ACCOUNT = "default"
GROUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class Unit(BaseModel):
    """One agent run waiting for (or holding) a slot: a batch, a step, a heal or a standalone run.

    ``id`` is the run id the engine decided (deterministic per spawn), so deciding again after a restart
    names the same unit and keeps its place. ``project`` is the fairness key, ``account`` the rate-limit gate
    it waits behind. Higher ``priority`` is admitted first."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    project: str = Field(min_length=1)
    group: str = DEFAULT_GROUP
    priority: int = 0
    account: str = DEFAULT_ACCOUNT
    orchestration: str | None = None
    kind: str = Field("run", description="batch | step | heal | resume | run (informational)")


class QueuedEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    unit: Unit
    enqueued_at: datetime


class QueuePosition(BaseModel):
    unit_id: str
    group: str
    position: int = Field(ge=1, description="1 = admitted next in its group")
    queued_in_group: int
    reason: WaitReason
    until: datetime | None = Field(None, description="the rate-limit reset it waits for")
    limit: int
    running: int
    enqueued_at: datetime


class GroupView(BaseModel):
    name: str
    limit: int
    running: int
    queued: int

    @property
    def paused(self) -> bool:
        return self.limit == 0


class Snapshot(BaseModel):
    """What survives a restart: groups, the queue in admission order, the rate-limit gates. The order alone
    rebuilds the fair queue exactly (each project's first appearance is its turn, the rest its FIFO).
    Running units are not in it: after a restart the daemon re-adopts live runs and reports each with
    ``AdmissionQueue.adopt`` (a run that died meanwhile must not hold a slot)."""

    model_config = ConfigDict(extra="forbid")

    version: int = 1
    groups: dict[str, int]
    queued: list[QueuedEntry] = Field(default_factory=list, description="per group (by name), admission order")
    gates: dict[str, datetime] = Field(default_factory=dict)
