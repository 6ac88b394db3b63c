"""Project status and orchestration preview, built from a snapshot. Pure: the results of the
``projects.status`` and ``orchestrate.preview`` RPC methods (pydantic models, JSON-serialisable).

Preview rules
- design runs unless ``skip_design`` or spec.md, plan.md and tasks.md all exist;
- analyze runs unless ``skip_analyze``;
- implement runs the batch plan (task ids per batch); with no tasks.md yet it runs on what design writes;
  with zero batches it does not run, and that is never read as "tasks done" (see ``planner``);
- verify always runs; merge runs only with ``auto_merge`` and no USER GATE, else it waits (the engine and the
  preview ask the same ``domain.gate.merge_wait_reason``; a passing ``userGateStatus`` left by an earlier
  phase does not count).

Status rules
- ``cli_next_action`` is what ``specflow status`` says (its ``nextAction``, same order of rules);
- ``next_action`` is specflowd's sentence; with no phase open (after ``phase close``) it is ``start_phase``
  with the next phase, and the missing feature directory is no problem then.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from specflowd.admission.units import QueuePosition
from specflowd.domain.config import OrchestrationConfig, Step
from specflowd.domain.forecast import PhaseForecast
from specflowd.domain.gate import merge_wait_reason
from specflowd.domain.prompts import batch_prompt, step_prompt, system_prompt
from specflowd.project.planner import BatchPlan, plan_batches
from specflowd.project.problems import Problem
from specflowd.project.snapshot import ProjectSnapshot
from specflowd.project.tasks import TaskState

__all__ = ["BatchView", "HeldTask", "OrchestrationPreview", "ProblemView", "ProjectStatus", "StepPlan",
           "TaskCounts", "build_preview", "build_project_status", "build_status", "plan_for"]  # fmt: skip

ProblemView = Problem  # the RPC shape of a problem is the snapshot's Problem


class TaskCounts(BaseModel):
    total: int = 0
    done: int = 0
    open: int = 0
    blocked: int = 0
    deferred: int = 0


class ProjectStatus(BaseModel):
    project: str
    feature: str | None
    tasks_path: str | None
    phase_number: str | None
    phase_name: str | None
    phase_status: str | None
    step: str | None
    step_status: str | None
    tasks: TaskCounts
    current_section: str | None  # heading of the first section with open tasks
    artifacts: dict[str, bool]
    user_gate: bool
    user_gate_status: str | None
    next_action: str
    cli_next_action: str = Field(
        description="what `specflow status` says next: start_phase, run_design, run_analyze, continue_implement, "
        "run_verify, awaiting_user_gate, ready_to_merge, archive_phase or fix_health"
    )
    next_phase: str | None = Field(None, description="the phase `specflow phase open` would open next (NNNN Name)")
    problems: list[Problem]
    queued: QueuePosition | None = Field(
        None, description="the project's agent run waiting in the run scheduler's queue, if one is (daemon only)"
    )


class BatchView(BaseModel):
    index: int
    name: str
    task_ids: list[str]
    phase_number: int | None = None


class HeldTask(BaseModel):
    id: str
    state: str  # blocked | deferred
    reason: str | None = None


class StepPlan(BaseModel):
    step: Step
    runs: bool
    reason: str


class PromptView(BaseModel):
    step: Step
    batch_index: int | None = None
    prompt: str


class OrchestrationPreview(BaseModel):
    project: str
    feature: str | None
    steps: list[StepPlan]
    batches: list[BatchView]
    summary: str
    all_done: bool  # tasks exist and none is open or blocked; zero batches alone never means done
    held: list[HeldTask]
    user_gate: bool
    warnings: list[str]
    budget: dict[str, float]
    config: OrchestrationConfig
    prompts: list[PromptView] = []  # the exact prompt of every run the plan starts (heals depend on the failure)
    system_prompt: str = Field("", description="appended to the system prompt of every run (--append-system-prompt)")
    forecast: PhaseForecast | None = Field(None, description="expected cost and duration (docs/forecast.md)")


def _counts(snapshot: ProjectSnapshot) -> TaskCounts:
    if snapshot.tasks is None:
        return TaskCounts()
    c = snapshot.tasks.counts()
    return TaskCounts(total=c["total"], done=c["done"], open=c["open"], blocked=c["blocked"], deferred=c["deferred"])


def plan_for(snapshot: ProjectSnapshot, batch_size_fallback: int) -> BatchPlan | None:
    return plan_batches(snapshot.tasks, batch_size_fallback) if snapshot.tasks is not None else None


def _current_section(snapshot: ProjectSnapshot) -> str | None:
    doc = snapshot.tasks
    if doc is None:
        return None
    by_id = doc.by_id()
    for section in doc.sections:
        if any(by_id[i].state is TaskState.OPEN for i in section.task_ids):
            return section.heading
    return None


def _next_phase(snapshot: ProjectSnapshot) -> str | None:
    """The phase to open next: the state file's ``next_phase`` (written by ``phase close``), else the first
    ROADMAP row not started (what ``phase open`` without a number takes)."""
    if snapshot.skill is not None and snapshot.skill.next_phase:
        return snapshot.skill.next_phase
    row = next((r for r in snapshot.roadmap if r.status == "not_started"), None)
    return f"{row.number} {row.name}".strip() if row is not None else None


def cli_next_action(snapshot: ProjectSnapshot, counts: TaskCounts) -> str:
    """``specflow status``'s ``nextAction`` from the same evidence (docs/specflow-cli.md, status)."""
    skill = snapshot.skill
    if skill is None:
        return "fix_health"  # no (readable) state file: the CLI reports NO_STATE
    if skill.step_current not in (None, *(s.value for s in Step)):
        return "fix_health"  # an unknown step fails the CLI's schema: it then reads no state at all
    if not skill.phase_status or skill.phase_status == "not_started":
        return "start_phase"
    if skill.phase_status == "complete":
        return "archive_phase"
    step = skill.step_current or "design"
    if step == "design":
        return "run_analyze" if all(snapshot.artifacts.get(n) for n in ("spec", "plan", "tasks")) else "run_design"
    if step == "analyze":
        return "run_analyze"
    if step == "implement":
        return "run_verify" if counts.total > 0 and counts.done == counts.total else "continue_implement"
    if step == "verify":
        return "awaiting_user_gate" if snapshot.user_gate else "ready_to_merge"
    return "continue_implement"


def _next_action(snapshot: ProjectSnapshot, counts: TaskCounts, plan: BatchPlan | None) -> str:
    if snapshot.skill is not None and not snapshot.phase_open:
        upcoming = _next_phase(snapshot)
        return "start_phase: no phase is open; open " + (
            f"the next one, {upcoming} (`specflow phase open`)" if upcoming else "one (`specflow phase open`)"
        )
    missing = [name for name in ("spec", "plan", "tasks") if not snapshot.artifacts.get(name)]
    if snapshot.feature_dir is None or missing:
        return f"design: {', '.join(missing) or 'feature directory'} missing (/flow.design)"
    if plan is not None and plan.batches:
        return f'implement: {counts.open} open tasks, next batch "{plan.batches[0].name}"'
    if counts.total == 0:
        return "tasks.md lists no tasks: check it (or run /flow.design)"
    if counts.blocked:
        return f"resolve {counts.blocked} blocked task(s) before verify"
    skill = snapshot.skill
    if skill and skill.step_current == "verify" and skill.step_status == "complete":
        return "merge: waiting for the user's confirmation" if snapshot.user_gate else "merge (/flow.merge)"
    return "verify (/flow.verify)"


def build_project_status(snapshot: ProjectSnapshot) -> ProjectStatus:
    counts = _counts(snapshot)
    plan = plan_for(snapshot, 15)  # only the first batch's name is used: the fallback size does not matter
    skill = snapshot.skill
    roadmap = snapshot.roadmap_phase
    return ProjectStatus(
        project=str(snapshot.root),
        feature=snapshot.feature_dir.name if snapshot.feature_dir else None,
        tasks_path=str(snapshot.tasks_path) if snapshot.tasks_path else None,
        phase_number=snapshot.phase_number,
        phase_name=(skill.phase_name if skill else None) or (roadmap.name if roadmap else None),
        phase_status=(skill.phase_status if skill else None) or (roadmap.status if roadmap else None),
        step=skill.step_current if skill else None,
        step_status=skill.step_status if skill else None,
        tasks=counts,
        current_section=_current_section(snapshot),
        artifacts=snapshot.artifacts,
        user_gate=snapshot.user_gate,
        user_gate_status=skill.user_gate_status if skill else None,
        next_action=_next_action(snapshot, counts, plan),
        cli_next_action=cli_next_action(snapshot, counts),
        next_phase=_next_phase(snapshot),
        problems=list(snapshot.problems),
    )


build_status = build_project_status  # earlier name, still used by callers


def _design_step(snapshot: ProjectSnapshot, config: OrchestrationConfig) -> StepPlan:
    have_all = all(snapshot.artifacts.get(n) for n in ("spec", "plan", "tasks"))
    if config.skip_design:
        return StepPlan(step=Step.DESIGN, runs=False, reason="skipped (--skip-design)")
    if have_all:
        return StepPlan(step=Step.DESIGN, runs=False, reason="spec.md, plan.md and tasks.md exist")
    missing = [f"{n}.md" for n in ("spec", "plan", "tasks") if not snapshot.artifacts.get(n)]
    return StepPlan(step=Step.DESIGN, runs=True, reason=f"writes {', '.join(missing)}")


def _implement_step(plan: BatchPlan | None) -> StepPlan:
    if plan is None:
        reason = "batches are planned from tasks.md once design has written it"
    elif plan.batches:
        reason = f"Detected {plan.summary}"
    elif plan.all_done:
        reason = "all tasks are already done"
    else:
        reason = plan.summary
    return StepPlan(step=Step.IMPLEMENT, runs=plan is None or bool(plan.batches), reason=reason)


def _merge_step(snapshot: ProjectSnapshot, config: OrchestrationConfig) -> StepPlan:
    # an orchestration that has not started has seen no gate confirmed during it: gate_passed=False
    current = snapshot.skill.user_gate_status if snapshot.skill else None
    why = merge_wait_reason(snapshot.user_gate, False, config.auto_merge, current)
    if why is not None and snapshot.user_gate and config.auto_merge and "does not count" not in why:
        why += "; auto-merge once it is"
    return StepPlan(step=Step.MERGE, runs=why is None, reason=why or "auto-merge")


def _gate_warnings(snapshot: ProjectSnapshot) -> list[str]:
    skill = snapshot.skill
    if skill is None or skill.has_user_gate == snapshot.user_gate:
        return []
    row = "has" if snapshot.user_gate else "has no"
    return [
        f"the state file says hasUserGate={str(skill.has_user_gate).lower()} but the phase's ROADMAP row {row} "
        "USER GATE: following the ROADMAP, as `specflow status` does"
    ]


def build_preview(snapshot: ProjectSnapshot, config: OrchestrationConfig) -> OrchestrationPreview:
    plan = plan_for(snapshot, config.batch_size_fallback)
    warnings = list(plan.warnings) if plan else []
    warnings += [p.describe() for p in snapshot.problems]
    warnings += _gate_warnings(snapshot)
    steps = [
        _design_step(snapshot, config),
        StepPlan(
            step=Step.ANALYZE,
            runs=not config.skip_analyze,
            reason="skipped (--skip-analyze)" if config.skip_analyze else "checks spec/plan/tasks consistency",
        ),
        _implement_step(plan),
        StepPlan(step=Step.VERIFY, runs=True, reason="runs when every task is done"),
        _merge_step(snapshot, config),
    ]
    return OrchestrationPreview(
        project=str(snapshot.root),
        feature=snapshot.feature_dir.name if snapshot.feature_dir else None,
        steps=steps,
        batches=[
            BatchView(index=b.index, name=b.name, task_ids=b.task_ids, phase_number=b.phase_number)
            for b in (plan.batches if plan else [])
        ],
        summary=plan.summary if plan else "no tasks.md yet",
        all_done=plan.all_done if plan else False,
        held=[HeldTask(id=i, state=s, reason=r) for i, s, r in (plan.held if plan else [])],
        user_gate=snapshot.user_gate,
        warnings=warnings,
        budget=config.budget.model_dump(),
        config=config,
        prompts=_prompts(steps, plan),
        system_prompt=system_prompt(config.additional_context),
    )


def _prompts(steps: list[StepPlan], plan: BatchPlan | None) -> list[PromptView]:
    out: list[PromptView] = []
    for step in steps:
        if step.step == Step.IMPLEMENT:
            out += [
                PromptView(
                    step=Step.IMPLEMENT,
                    batch_index=b.index,
                    prompt=batch_prompt(b.name, b.task_ids, in_section=b.section is not None),
                )
                for b in (plan.batches if plan else [])
            ]
        elif step.runs or step.step == Step.MERGE:  # merge runs on `specflowctl merge` without auto_merge
            out.append(PromptView(step=step.step, prompt=step_prompt(step.step)))
    return out
