"""Small builders for domain tests: records, evidence, and a driver that applies transitions until a wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from specflowd.domain.actions import Action, Heal, SpawnBatch, SpawnStep, is_wait
from specflowd.domain.config import OrchestrationConfig, Step
from specflowd.domain.decide import decide
from specflowd.domain.evidence import ProjectEvidence, RunEvidence, SectionEvidence, SkillStep, TaskState
from specflowd.domain.observe import observe_project
from specflowd.domain.record import Observed, OrchestrationRecord, new_record
from specflowd.domain.transitions import apply, observe_run
from specflowd.vocabulary import RunStatus

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)

O, D, B, F = TaskState.OPEN, TaskState.DONE, TaskState.BLOCKED, TaskState.DEFERRED  # noqa: E741


def record(
    step: Step = Step.DESIGN, phase: str | None = "0042", *, gate_at_start: str | None = None, **config: Any
) -> OrchestrationRecord:
    """A record the engine has observed once (``gate_at_start``: userGateStatus then)."""
    r = new_record(
        id="orch-1", project_path="/p", config=OrchestrationConfig(**config), now=NOW, phase_number=phase
    )
    r.step = step
    r.observed = Observed(user_gate_at_start=gate_at_start)
    return r


def project(
    tasks: dict[str, TaskState] | None = None,
    sections: list[tuple[str, list[str]]] | None = None,
    *,
    artifacts: bool = True,
    skill: tuple[str, str] | None = None,
    phase: str | None = "0042",
    phase_status: str | None = "in_progress",
    user_gate: bool = False,
    gate_status: str | None = None,
    last_error: str | None = None,
    ignored: list[str] | None = None,
) -> ProjectEvidence:
    tasks = tasks if tasks is not None else {}
    if sections is None:
        sections = [("Phase 1: All", list(tasks))] if tasks else []
    return ProjectEvidence(
        spec=artifacts,
        plan=artifacts,
        tasks=artifacts,
        task_states=tasks,
        sections=[SectionEvidence(heading=h, task_ids=ids) for h, ids in sections],
        skill_step=SkillStep(current=skill[0], status=skill[1]) if skill else None,
        phase_number=phase,
        phase_status=phase_status,
        user_gate=user_gate,
        user_gate_status=gate_status,
        last_error=last_error,
        ignored_lines=ignored or [],
    )


def ended(r: OrchestrationRecord, status: RunStatus = RunStatus.COMPLETED, **kw: Any) -> RunEvidence:
    assert r.current_run_id is not None
    return RunEvidence(run_id=r.current_run_id, status=status, final=True, **kw)


def live(r: OrchestrationRecord, status: RunStatus = RunStatus.RUNNING, **kw: Any) -> RunEvidence:
    assert r.current_run_id is not None
    return RunEvidence(run_id=r.current_run_id, status=status, final=False, **kw)


def spawn(r: OrchestrationRecord, p: ProjectEvidence, now: datetime = NOW) -> tuple[OrchestrationRecord, Action]:
    """Drive with no run until a spawn is decided; return the record with that run current."""
    r, action = drive(r, p, None, now)
    assert isinstance(action, SpawnStep | SpawnBatch | Heal), action
    return r, action


def drive(
    r: OrchestrationRecord, p: ProjectEvidence, run: RunEvidence | None, now: datetime = NOW, limit: int = 50
) -> tuple[OrchestrationRecord, Action]:
    """What the engine does: observe, decide, apply; repeat through transitions; stop at the first wait."""
    for _ in range(limit):
        if run is not None:
            r = observe_run(r, run, now)
        r = observe_project(r, p, now).record
        action = decide(r, p, run, now)
        r = apply(r, action, now)
        if is_wait(action):
            return r, action
        if r.current_run_id is None:
            run = None
    raise AssertionError("no wait within the limit: a transition loop")
