"""What the engine notes about the project between decisions (pure): which run ticked each task, the USER
GATE's value against its baseline, and the tasks.md lines the SpecFlow CLI ignores.

``observe_project`` runs before every decision (and once at start, which sets the baselines). It returns the
new record plus what is worth a decision-log line: ids ticked by a run that was not asked for them
(``specflow mark T001`` ticks every line *mentioning* T001, ``mark T007`` also T007a), ignored lines not seen
before, a changed ``userGateStatus``.

Attribution: an id that turns done is credited to the run current at that moment (``current_run_id``; the
engine observes before judging a run that ended, so a run's own ticks are always seen while it is current),
or to no run when none is (the user, another tool). Agents, editors and ``specflow mark`` rewrite tasks.md in
place (truncate, then write), so a reading can be of a half-written file whose later lines are missing: a
reading that loses done ids is not taken as the truth until the next one confirms it (until then they still
count as done, ``unconfirmed_lost``), and an id that turns done again keeps the credit it had first (its tick,
or none for an id done at the baseline: ``reopened``) — never credited to whichever run is current then.

Task states are read only while the phase's tasks.md is there and belongs to the orchestration's phase: once
``phase close`` has archived it, ``done_ids`` keeps what was last seen (the completed orchestration's progress
comes from it, never from a missing file). The first reading of tasks.md is the baseline: ids done then were
done before this orchestration (or written done by design) and are credited to no run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from specflowd.domain.evidence import ProjectEvidence, TaskState
from specflowd.domain.record import TERMINAL_STATUSES, Observed, OrchestrationRecord, RunKind, Tick

__all__ = ["Observation", "done_ids", "observe_project", "run_label", "unasked_ticks"]


@dataclass(frozen=True)
class Observation:
    record: OrchestrationRecord
    unasked: list[tuple[str, Tick]] = field(default_factory=list)  # new ticks by a run not asked for them
    new_ignored: list[str] = field(default_factory=list)
    gate_change: tuple[str | None, str | None] | None = None  # (before, after)

    @property
    def worth_logging(self) -> bool:
        return bool(self.unasked or self.new_ignored or self.gate_change)


def run_label(record: OrchestrationRecord, run_id: str | None) -> str:
    """Who a tick is credited to, for people."""
    ref = record.runs.get(run_id) if run_id else None
    if run_id is None:
        return "outside any run (by hand or another tool)"
    if ref is None:
        return f"run {run_id[:8]}"
    if ref.kind in (RunKind.BATCH, RunKind.HEAL) and ref.batch_index is not None:
        batch = record.batch(ref.batch_index)
        name = f" '{batch.name}'" if batch is not None else ""
        what = "heal of batch" if ref.kind == RunKind.HEAL else "batch"
        return f"{what} {ref.batch_index + 1}{name} (run {run_id[:8]})"
    return f"{ref.step.value} run {run_id[:8]}"


def unasked_ticks(record: OrchestrationRecord) -> list[tuple[str, Tick]]:
    """Every id that turned done in a run not asked for it (or outside any run), in tick order."""
    if record.observed is None:
        return []
    return sorted(((i, t) for i, t in record.observed.ticks.items() if not t.asked), key=lambda pair: pair[1].at)


def done_ids(record: OrchestrationRecord) -> list[str] | None:
    """The ids known done from the record alone; None for a record the engine never observed."""
    return list(record.observed.done_ids) if record.observed is not None else None


def _follow_ticks(
    record: OrchestrationRecord, observed: Observed, done_now: list[str], now: datetime
) -> list[tuple[str, Tick]]:
    """Fold one reading of tasks.md into ``observed`` (a copy of the last observation): credit the ids that
    turned done, hold back the ids this reading lost until the next confirms it. The new unasked ticks."""
    done_set = set(done_now)
    lost = [i for i in observed.done_ids if i not in done_set]
    held = set(observed.unconfirmed_lost)
    known = set(observed.done_ids) | set(observed.ticks)
    unasked: list[tuple[str, Tick]] = []
    for task_id in done_now:
        if task_id in known:
            continue
        if task_id in observed.reopened:  # done again: the credit it had first
            first = observed.reopened.pop(task_id)
            if first is not None:
                observed.ticks[task_id] = first
            continue
        run_id = record.current_run_id
        ref = record.runs.get(run_id) if run_id else None
        asked = ref is not None and task_id in ref.task_ids
        tick = Tick(run_id=run_id, asked=asked, by=run_label(record, run_id), at=now)
        observed.ticks[task_id] = tick
        if not tick.asked:
            unasked.append((task_id, tick))
    for task_id in lost:
        if task_id in held:  # lost in two readings in a row: it is open (or gone) now
            observed.reopened[task_id] = observed.ticks.pop(task_id, None)
    observed.unconfirmed_lost = [i for i in lost if i not in held]
    observed.done_ids = done_now + observed.unconfirmed_lost
    return unasked


def observe_project(record: OrchestrationRecord, project: ProjectEvidence, now: datetime) -> Observation:
    if record.status in TERMINAL_STATUSES:
        return Observation(record)
    first = record.observed is None
    before = record.observed or Observed(user_gate_at_start=project.user_gate_status)
    observed = before.model_copy(deep=True)
    unasked: list[tuple[str, Tick]] = []
    gate_change = None
    if not first and project.user_gate_status != before.user_gate_at_start and not before.user_gate_changed:
        observed.user_gate_changed = True
        gate_change = (before.user_gate_at_start, project.user_gate_status)
    other_phase = record.phase_number is not None and project.phase_number not in (None, record.phase_number)
    if project.tasks and not other_phase:
        done_now = [t for t, s in project.task_states.items() if s is TaskState.DONE]
        if before.tasks_seen:
            unasked = _follow_ticks(record, observed, done_now, now)
        else:
            observed.done_ids = done_now
        observed.tasks_seen = True
    new_ignored = [line for line in project.ignored_lines if line not in before.ignored_lines]
    observed.ignored_lines = list(project.ignored_lines)
    if not first and observed == before:
        return Observation(record)
    new = record.model_copy(deep=True)
    new.observed = observed
    new.updated_at = now
    return Observation(new, unasked, new_ignored, gate_change)
