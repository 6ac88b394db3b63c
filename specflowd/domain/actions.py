"""The closed set of actions decide() can return (a discriminated union on ``kind``).

Two families: *transitions* (the engine applies them and decides again at once) and *waits* (the engine
applies them and then sleeps until an event wakes it); each class says which with ``waits``. Spawn actions
carry a run id derived from the orchestration id and its spawn counter, so the same decision can never start
two different runs. The set is declared once, as the ``Action`` union; ``ACTION_TYPES`` is read from it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from specflowd.domain.config import Step
from specflowd.domain.record import AttentionKind, RecoveryOption
from specflowd.vocabulary import Question, ToolLoop

__all__ = [
    "ACTION_ADAPTER",
    "ACTION_TYPES",
    "Action",
    "Advance",
    "Complete",
    "Fail",
    "FinishBatch",
    "Heal",
    "HealContext",
    "NeedsAttention",
    "Pause",
    "PlannedBatch",
    "Replan",
    "ResumeRun",
    "SpawnBatch",
    "SpawnStep",
    "Wait",
    "WaitForAnswers",
    "WaitForMerge",
    "WaitForUserGate",
    "WaitRateLimit",
    "is_wait",
]


class _Action(BaseModel):
    # built on first use: a start decides only what its orchestrations need (see protocol.rpc.Message)
    model_config = ConfigDict(defer_build=True)

    # After a waiting action the engine sleeps until an event wakes it; after any other it decides again at
    # once. Spawns wait too: the next decision needs the run's evidence. Waiting is the default because a
    # new action that forgot to say so then makes the engine sleep rather than spin.
    waits: ClassVar[bool] = True

    reason: str = ""


class Wait(_Action):
    kind: Literal["wait"] = "wait"


class SpawnStep(_Action):
    kind: Literal["spawn_step"] = "spawn_step"
    run_id: str
    step: Step
    attempt: int = Field(ge=1)
    budget_usd: float = Field(gt=0)
    model: str | None = None
    last_error: str | None = None


class SpawnBatch(_Action):
    kind: Literal["spawn_batch"] = "spawn_batch"
    run_id: str
    batch_index: int
    name: str
    task_ids: list[str]
    in_section: bool = True
    attempt: int = Field(ge=1)
    budget_usd: float = Field(gt=0)
    model: str | None = None


class HealContext(BaseModel):
    error: str | None = None
    stderr_tail: str = ""
    last_messages: list[str] = Field(default_factory=list)
    diagnosis: str | None = Field(None, description="optional helper diagnosis; the engine may fill it")
    loop: ToolLoop | None = Field(None, description="what the previous session repeated, when it was looping")


class Heal(_Action):
    kind: Literal["heal"] = "heal"
    run_id: str
    batch_index: int
    name: str
    remaining_ids: list[str]
    done_ids: list[str]
    in_section: bool = True
    attempt: int = Field(ge=1, description="heal attempt number of this batch")
    budget_usd: float = Field(gt=0)
    model: str | None = None
    context: HealContext = Field(default_factory=HealContext)


class FinishBatch(_Action):
    """The batch's run ended and every one of its ids is done."""

    kind: Literal["finish_batch"] = "finish_batch"
    waits: ClassVar[bool] = False
    batch_index: int
    healed: bool = False
    without_run: bool = Field(False, description="the batch never ran: other runs (or the user) ticked all its ids")


class Advance(_Action):
    kind: Literal["advance"] = "advance"
    waits: ClassVar[bool] = False
    from_step: Step
    to_step: Step
    skipped: bool = Field(False, description="from_step did not run (config or evidence made it unneeded)")


class PlannedBatch(BaseModel):
    index: int
    name: str
    task_ids: list[str]
    in_section: bool = Field(True, description="a ## section's tasks; False: tasks `specflow next` never offers")


class Replan(_Action):
    """Append batches for open tasks no batch covers yet (first plan, or tasks added between batches)."""

    kind: Literal["replan"] = "replan"
    waits: ClassVar[bool] = False
    batches: list[PlannedBatch]
    ignored_lines: list[str] = Field(
        default_factory=list, description="task-looking lines the SpecFlow CLI does not read: never scheduled"
    )


class WaitForAnswers(_Action):
    kind: Literal["wait_for_answers"] = "wait_for_answers"
    run_id: str | None = None
    questions: list[Question] = Field(default_factory=list)


class WaitForMerge(_Action):
    kind: Literal["wait_for_merge"] = "wait_for_merge"


class WaitForUserGate(_Action):
    kind: Literal["wait_for_user_gate"] = "wait_for_user_gate"


class WaitRateLimit(_Action):
    kind: Literal["wait_rate_limit"] = "wait_rate_limit"
    until: datetime
    run_id: str | None = Field(None, description="the run that hit the limit; None while already waiting")


class ResumeRun(_Action):
    """Continue a rate-limited (or stale) run's own session with ``--resume``: the same run id, its budget."""

    kind: Literal["resume_run"] = "resume_run"
    run_id: str
    cause: Literal["rate_limit", "stale"] = "rate_limit"


class Pause(_Action):
    """``pause --now`` stopped the current run: its batch or step is pending again, the orchestration paused."""

    kind: Literal["pause"] = "pause"
    run_id: str


class NeedsAttention(_Action):
    kind: Literal["needs_attention"] = "needs_attention"
    attention_kind: AttentionKind
    options: list[RecoveryOption] = Field(default_factory=lambda: list(RecoveryOption))
    step: Step | None = None
    batch_index: int | None = None
    context: dict[str, object] = Field(default_factory=dict)


class Complete(_Action):
    kind: Literal["complete"] = "complete"


class Fail(_Action):
    kind: Literal["fail"] = "fail"


Action = Annotated[
    Wait
    | SpawnStep
    | SpawnBatch
    | Heal
    | FinishBatch
    | Advance
    | Replan
    | WaitForAnswers
    | WaitForMerge
    | WaitForUserGate
    | WaitRateLimit
    | ResumeRun
    | Pause
    | NeedsAttention
    | Complete
    | Fail,
    Field(discriminator="kind"),
]

# Every member of the union, in declaration order.
ACTION_TYPES: tuple[type[_Action], ...] = get_args(get_args(Action)[0])

ACTION_ADAPTER: TypeAdapter[Action] = TypeAdapter(Action, config=ConfigDict(defer_build=True))  # built on first use


def is_wait(action: Action) -> bool:
    return action.waits
