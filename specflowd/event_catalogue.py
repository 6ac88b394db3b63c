"""Every event the daemon publishes, and its payload: one pydantic model per payload (the event catalogue).

After ``events.subscribe`` a connection receives ``{"jsonrpc": "2.0", "method": "event", "params": {"type",
"project", "data", "time"}}``; ``data`` is one of the payloads below, and each payload class lists in
``TYPES`` the event types it is published under. Events are emitted through one function,
``EventBus.emit(project, payload)`` (services/events.py), which takes the type from the payload, so an event
cannot be published with a payload that does not match its type (the one exception, ``events.lost``, is sent
by the bus to a single subscriber that fell behind instead of being published). ``rpc.discover`` publishes
this catalogue (``x-events``: every type with the JSON schema of its payload), generated from these models.

**One key for the orchestration id: ``orchestration``**, in every payload that names one (the run events'
too: a run started by an orchestration names it, a standalone run has ``null``) — the key error data and
``questions.answer`` already use. A run is named by ``run_id``.

This module imports only the two vocabularies: the runner, the engine, the daemon and the handlers all emit
through it, and the runner may not know the orchestration's domain. Statuses and steps are the orchestration
vocabulary's (specflowd/orchestration_vocabulary.py); the other words payloads carry (decision labels, the
scheduler's wait reasons) are spelled out here as literals, and tests hold them equal to the domain's action
set and the scheduler's enum.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from specflowd.orchestration_vocabulary import ORCHESTRATION_STATUSES, STEPS
from specflowd.vocabulary import WAIT_REASONS, Question, RunStatus, ToolLoop

__all__ = [
    "ACTION_KINDS",
    "BATCH_ACTION_KINDS",
    "CATALOGUE",
    "CONTROL_LABELS",
    "NOTE_LABELS",
    "ORCHESTRATION_STATUSES",
    "STEPS",
    "BatchDecision",
    "DaemonStarted",
    "DaemonStopping",
    "Decision",
    "DecisionLabel",
    "EventPayload",
    "EventsLost",
    "OrchestrationProblem",
    "OrchestrationStarted",
    "QuestionAsked",
    "RegistryChanged",
    "RegistryProblem",
    "RunFinished",
    "RunProgress",
    "RunStarted",
    "RunWarning",
    "SchedulerAdmitted",
    "SchedulerGroup",
    "SchedulerQueued",
    "SchedulerRateLimited",
    "StatusChanged",
]

# The orchestration vocabulary's words, built from its tuples: pydantic validates them, rpc.discover publishes
# their enums. (mypy cannot read a Literal built at run time: to it they are str, which the emitters pass anyway.)
# Why a run waits in the scheduler's queue is the vocabulary's WaitReason, built the same way.
if TYPE_CHECKING:
    OrchestrationStatusName = str
    StepName = str
    WaitReasonName = str
else:
    OrchestrationStatusName = Literal[ORCHESTRATION_STATUSES]
    StepName = Literal[STEPS]
    WaitReasonName = Literal[WAIT_REASONS]
# every action decide() can return (domain/actions.py): published as orchestration.<kind>
ActionKind = Literal[
    "wait", "spawn_step", "spawn_batch", "heal", "finish_batch", "advance", "replan", "wait_for_answers",
    "wait_for_merge", "wait_for_user_gate", "wait_rate_limit", "resume_run", "pause", "needs_attention",
    "complete", "fail",
]  # fmt: skip
# the actions that may name a batch: also published as batch.<kind> when they do
BatchActionKind = Literal["spawn_batch", "heal", "finish_batch", "needs_attention"]
# the user's verbs and the engine's own changes of a record (not decide()'s actions)
ControlLabel = Literal[
    "paused", "resumed", "cancelled", "merge_requested", "went_back", "recovered", "answered", "resume_failed",
    "not_started",
]  # fmt: skip
# findings that change no status: logged and published so followers see them
NoteLabel = Literal["warning", "unasked_ticks"]
DecisionLabel = Literal[ActionKind, ControlLabel, NoteLabel]

ACTION_KINDS: tuple[str, ...] = get_args(ActionKind)
BATCH_ACTION_KINDS: tuple[str, ...] = get_args(BatchActionKind)
CONTROL_LABELS: tuple[str, ...] = get_args(ControlLabel)
NOTE_LABELS: tuple[str, ...] = get_args(NoteLabel)


class EventPayload(BaseModel):
    """The ``data`` of one event. ``TYPES``: every event type published with this payload."""

    # built on first use: most payloads are never sent while the daemon starts (see protocol.rpc.Message)
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    TYPES: ClassVar[tuple[str, ...]] = ()

    def event_type(self) -> str:
        """The type this payload is published under (one of ``TYPES``)."""
        (only,) = self.TYPES
        return only

    def coalesce_key(self) -> str | None:
        """Events with the same key supersede each other: a subscriber that has not been sent the older one
        yet gets only the newer (progress snapshots). None: every event is delivered."""
        return None


# -- the daemon and the registry -----------------------------------------------------------------------------


class DaemonStarted(EventPayload):
    """The daemon is serving (sent to nobody in practice: no connection exists yet; listeners and hooks see it)."""

    TYPES = ("daemon.started",)
    pid: int
    version: str


class DaemonStopping(EventPayload):
    """The daemon stops (a signal or ``daemon.shutdown``); agent runs live on and are re-adopted at the next start."""

    TYPES = ("daemon.stopping",)
    reason: str = Field(description="SIGTERM, SIGINT or daemon.shutdown")


class EventsLost(EventPayload):
    """Sent to one subscriber only: it fell so far behind (``--event-queue`` events unread) that the events
    queued for it were dropped. The events after this one are delivered again; what was missed is not: read
    the state again (``orchestrate.status``, ``runs.get``, ``daemon.status``) and go on from there."""

    TYPES = ("events.lost",)
    dropped: int = Field(description="events this subscriber will never receive")
    since: str = Field(description="ISO time of the first dropped event")


class RegistryChanged(EventPayload):
    """Projects were registered or unregistered (by an RPC or by another tool editing registry.json)."""

    TYPES = ("registry.changed",)
    added: list[str] = Field(description="registry ids")
    removed: list[str] = Field(description="registry ids")


class RegistryProblem(EventPayload):
    """registry.json cannot be read or is invalid; the daemon keeps the last good registry."""

    TYPES = ("registry.problem",)
    problem: str


# -- orchestrations -----------------------------------------------------------------------------------------


class OrchestrationProblem(EventPayload):
    """An orchestration record on disk cannot be loaded (corrupt, from a newer daemon); it is left untouched."""

    TYPES = ("orchestration.problem",)
    orchestration: str
    problem: str


class OrchestrationStarted(EventPayload):
    """An orchestration was created (``orchestrate.start``)."""

    TYPES = ("orchestration.started",)
    orchestration: str
    config: dict[str, Any] = Field(description="the OrchestrationConfig it runs with")


class StatusChanged(EventPayload):
    """The orchestration's status changed, by a decision or a user verb; followers stop on a final or waiting
    status."""

    TYPES = ("orchestration.status",)
    orchestration: str
    status: OrchestrationStatusName
    before: OrchestrationStatusName
    step: StepName
    reason: str = Field(description="why: the decision's or the verb's reason")


class Decision(EventPayload):
    """One line of the decision log, published as ``orchestration.<action>``: every action decide() returns
    (applied), every user verb and engine change (``paused`` … ``not_started``), and the findings
    ``warning`` and ``unasked_ticks`` (docs/orchestration.md#decision-log)."""

    TYPES = tuple(f"orchestration.{label}" for label in (*ACTION_KINDS, *CONTROL_LABELS, *NOTE_LABELS))
    orchestration: str
    action: DecisionLabel
    reason: str
    status: OrchestrationStatusName = Field(description="the orchestration's status after it")
    step: StepName = Field(description="the orchestration's step after it")
    batch_index: int | None = Field(None, description="the batch the action names, if any")
    run_id: str | None = Field(None, description="the run the action starts, continues or concerns, if any")

    def event_type(self) -> str:
        return f"orchestration.{self.action}"


class BatchDecision(EventPayload):
    """The same decision again as ``batch.<action>`` when it names a batch (spawn, heal, finish, a stop on it)."""

    TYPES = tuple(f"batch.{kind}" for kind in BATCH_ACTION_KINDS)
    orchestration: str
    action: BatchActionKind
    reason: str
    status: OrchestrationStatusName
    step: StepName
    batch_index: int
    run_id: str | None = None

    def event_type(self) -> str:
        return f"batch.{self.action}"


# -- agent runs ---------------------------------------------------------------------------------------------


class RunStarted(EventPayload):
    """An agent process started: a run's first invocation, or a continuation of its session (answers, a rate
    limit, a stale stop)."""

    TYPES = ("run.started",)
    run_id: str
    orchestration: str | None = Field(description="the orchestration that started it; null for a standalone run")
    step: str = Field(description="the step or skill, e.g. implement, heal, verify")
    batch: str | None = Field(description="the batch index, as text, for batch and heal runs")
    attempt: int
    continuation: int = Field(description="0 = the first invocation, N = the N-th continuation")
    pid: int
    started_at: str | None = Field(description="ISO time the run first started")
    budget_usd: float = Field(description="the run's cap")


class RunProgress(EventPayload):
    """A live run made progress (at most 2 per second per run). Each is a snapshot: a subscriber that has not
    been sent the previous one yet gets only the newest."""

    TYPES = ("run.progress",)
    run_id: str
    orchestration: str | None
    step: str
    batch: str | None
    started_at: str | None
    budget_usd: float
    cost_usd: float
    cost_is_estimate: bool = Field(description="an estimate from token usage until the CLI's own total arrives")
    turns: int
    tool_calls: int
    last_tool: str | None
    last_text: str | None
    model: str | None

    def coalesce_key(self) -> str:
        return f"run.progress:{self.run_id}"


class RunFinished(EventPayload):
    """A run's process ended (or a restart found it ended); ``status`` is its outcome (never waiting_input:
    that is ``question.asked``)."""

    TYPES = ("run.finished",)
    run_id: str
    orchestration: str | None
    step: str
    batch: str | None
    attempt: int
    status: RunStatus
    detail: str | None
    error: str | None
    cost_usd: float
    rate_limit_reset: str | None = Field(description="when a rate limit resets (ISO time or epoch), if known")
    loop: ToolLoop | None = Field(None, description="status looping: the tool call(s) the run repeated")


class RunWarning(EventPayload):
    """Something the user should know about a run that is not a failure, e.g. the /flow.* skill is not installed."""

    TYPES = ("run.warning",)
    run_id: str
    orchestration: str | None
    message: str


class QuestionAsked(EventPayload):
    """A run ended asking questions (``waiting_input``); answer with ``questions.answer``."""

    TYPES = ("question.asked",)
    run_id: str
    orchestration: str | None
    step: str
    message: str | None
    questions: list[Question]


# -- the run scheduler (docs/scheduler.md) -------------------------------------------------------------------


class SchedulerQueued(EventPayload):
    """An agent run (a batch, step, heal, continuation or standalone run) must wait for a slot of its group, for
    its group to be resumed (limit 0) or for its account's rate limit to reset; sent when it joins the queue."""

    TYPES = ("scheduler.queued",)
    run_id: str
    orchestration: str | None = Field(description="null for a standalone run")
    group: str
    position: int = Field(description="1 = admitted next in its group")
    reason: WaitReasonName
    until: str | None = Field(description="ISO time of the rate-limit reset it waits for, if that is the reason")


class SchedulerAdmitted(EventPayload):
    """A queued run got its slot: its orchestration decides again and starts it (standalone: it starts)."""

    TYPES = ("scheduler.admitted",)
    run_id: str
    orchestration: str | None
    group: str
    waited_s: float = Field(description="seconds it waited in the queue")


class SchedulerRateLimited(EventPayload):
    """A run reported a rate limit: new admissions for its account wait until ``until`` (sent once per wait,
    again only when a later reset extends it). Running agents are not disturbed."""

    TYPES = ("scheduler.rate_limited",)
    account: str = Field(description="the account key (docs/scheduler.md#accounts)")
    until: str = Field(description="ISO time the wait ends")
    run_id: str = Field(description="the run that reported it")
    orchestration: str | None


class SchedulerGroup(EventPayload):
    """A group was added, its limit changed, or it was removed (``limit`` null; its queued runs moved to
    ``default``)."""

    TYPES = ("scheduler.group",)
    group: str
    limit: int | None
    moved: list[str] = Field(default_factory=list, description="run ids moved to default by a removal")


PAYLOADS: tuple[type[EventPayload], ...] = (
    DaemonStarted,
    DaemonStopping,
    EventsLost,
    RegistryChanged,
    RegistryProblem,
    OrchestrationProblem,
    OrchestrationStarted,
    StatusChanged,
    Decision,
    BatchDecision,
    RunStarted,
    RunProgress,
    RunFinished,
    RunWarning,
    QuestionAsked,
    SchedulerQueued,
    SchedulerAdmitted,
    SchedulerRateLimited,
    SchedulerGroup,
)

# every event type -> its payload model (what rpc.discover publishes as x-events)
CATALOGUE: dict[str, type[EventPayload]] = {t: model for model in PAYLOADS for t in model.TYPES}
