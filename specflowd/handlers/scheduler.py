"""scheduler.* : the run queue as it stands — groups, queued runs with their positions, running slots,
rate-limit gates (docs/scheduler.md)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from specflowd.admission.units import GroupView, WaitReason
from specflowd.protocol.rpc import EmptyParams, Message, Router
from specflowd.services.context import Call
from specflowd.services.scheduling import RunScheduler

router: Router[Call] = Router()


class QueuedRun(Message):
    run_id: str
    project: str = Field(description="the project's path")
    orchestration: str | None = Field(description="null for a standalone run")
    kind: str = Field(description="step | batch | heal | resume | run")
    group: str
    priority: int
    position: int = Field(description="1 = admitted next in its group")
    queued_in_group: int
    reason: WaitReason = Field(description="slot (every slot taken) | paused (limit 0) | rate_limit")
    until: datetime | None = Field(description="the rate-limit reset it waits for")
    enqueued_at: datetime


class RunningSlot(Message):
    run_id: str
    project: str
    orchestration: str | None
    kind: str
    group: str
    started: bool = Field(description="false: admitted, its run is starting")


class RateLimitGate(Message):
    account: str
    until: datetime


class SchedulerStatus(Message):
    account: str = Field(description="the account key this daemon's agents run with (docs/scheduler.md#accounts)")
    groups: list[GroupView]
    queue: list[QueuedRun] = Field(description="per group (by name), in admission order")
    running: list[RunningSlot]
    gates: list[RateLimitGate] = Field(description="rate-limit waits in force")
    problem: str | None = Field(description="scheduler.json could not be read or written")


def scheduler_status(scheduler: RunScheduler) -> SchedulerStatus:
    queue = [
        QueuedRun(
            run_id=unit.id,
            project=unit.project,
            orchestration=unit.orchestration,
            kind=unit.kind,
            group=position.group,
            priority=unit.priority,
            position=position.position,
            queued_in_group=position.queued_in_group,
            reason=position.reason,
            until=position.until,
            enqueued_at=position.enqueued_at,
        )
        for unit, position in scheduler.queue()
    ]
    running = [
        RunningSlot(
            run_id=u.id, project=u.project, orchestration=u.orchestration, kind=u.kind, group=u.group, started=started
        )
        for u, started in scheduler.running()
    ]
    gates = [RateLimitGate(account=a, until=until) for a, until in sorted(scheduler.gates().items())]
    return SchedulerStatus(
        account=scheduler.account,
        groups=scheduler.groups(),
        queue=queue,
        running=running,
        gates=gates,
        problem=scheduler.problem,
    )


@router.method(
    "scheduler.status", params=EmptyParams, result=SchedulerStatus, summary="The run queue, slots and rate-limit gates"
)
async def status(call: Call, _: EmptyParams) -> SchedulerStatus:
    return scheduler_status(call.services.scheduler)
