"""Project status and orchestration preview, built from a snapshot (pure): the results of
``projects.status`` and ``orchestrate.preview``."""

from __future__ import annotations

from pydantic import BaseModel

from specflowd.domain.config import OrchestrationConfig, Step
from specflowd.project.batching import BatchPlan, plan_batches
from specflowd.project.reader import ProjectSnapshot

__all__ = ["BatchView", "OrchestrationPreview", "ProblemView", "ProjectStatus", "StepPlan", "TaskCounts",
           "build_preview", "build_status", "plan_for"]  # fmt: skip


class TaskCounts(BaseModel):
    total: int = 0
    done: int = 0
    open: int = 0
    blocked: int = 0
    deferred: int = 0


class ProblemView(BaseModel):
    kind: str
    path: str
    message: str
    line: int | None = None


class ProjectStatus(BaseModel):
    project: str
    feature: str | None
    phase_number: str | None
    phase_name: str | None
    phase_status: str | None
    step: str | None
    step_status: str | None
    tasks: TaskCounts
    current_section: str | None
    artifacts: dict[str, bool]
    user_gate: bool
    next_action: str
    problems: list[ProblemView]


class BatchView(BaseModel):
    index: int
    name: str
    task_ids: list[str]
    phase_number: int | None = None


class StepPlan(BaseModel):
    step: Step
    runs: bool
    reason: str


class OrchestrationPreview(BaseModel):
    project: str
    feature: str | None
    steps: list[StepPlan]
    batches: list[BatchView]
    summary: str
    held: list[dict[str, str | None]]
    warnings: list[str]
    budget: dict[str, float]
    config: OrchestrationConfig


def _counts(snapshot: ProjectSnapshot) -> TaskCounts:
    if snapshot.tasks is None:
        return TaskCounts()
    c = snapshot.tasks.counts()
    return TaskCounts(total=c["total"], done=c["done"], open=c["open"], blocked=c["blocked"], deferred=c["deferred"])


def plan_for(snapshot: ProjectSnapshot, batch_size_fallback: int) -> BatchPlan | None:
    return plan_batches(snapshot.tasks, batch_size_fallback) if snapshot.tasks is not None else None


def _problems(snapshot: ProjectSnapshot) -> list[ProblemView]:
    return [ProblemView(kind=p.kind, path=p.path, message=p.message, line=p.line) for p in snapshot.problems]


def _next_action(snapshot: ProjectSnapshot, counts: TaskCounts, plan: BatchPlan | None) -> str:
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


def build_status(snapshot: ProjectSnapshot) -> ProjectStatus:
    counts = _counts(snapshot)
    plan = plan_for(snapshot, 15)
    skill = snapshot.skill
    roadmap = snapshot.roadmap_phase
    return ProjectStatus(
        project=str(snapshot.root),
        feature=snapshot.feature_dir.name if snapshot.feature_dir else None,
        phase_number=(skill.phase_number if skill else None) or (roadmap.number if roadmap else None),
        phase_name=(skill.phase_name if skill else None) or (roadmap.name if roadmap else None),
        phase_status=(skill.phase_status if skill else None) or (roadmap.status if roadmap else None),
        step=skill.step_current if skill else None,
        step_status=skill.step_status if skill else None,
        tasks=counts,
        current_section=plan.batches[0].name if plan and plan.batches else None,
        artifacts=snapshot.artifacts,
        user_gate=snapshot.user_gate,
        next_action=_next_action(snapshot, counts, plan),
        problems=_problems(snapshot),
    )


def build_preview(snapshot: ProjectSnapshot, config: OrchestrationConfig) -> OrchestrationPreview:
    plan = plan_for(snapshot, config.batch_size_fallback)
    warnings = list(plan.warnings) if plan else []
    warnings += [f"{p.path}:{p.line}: {p.message}" if p.line else f"{p.path}: {p.message}" for p in snapshot.problems]
    have_all = all(snapshot.artifacts.get(n) for n in ("spec", "plan", "tasks"))
    steps = [
        StepPlan(
            step=Step.DESIGN,
            runs=not config.skip_design and not have_all,
            reason="skipped (--skip-design)"
            if config.skip_design
            else ("spec.md, plan.md and tasks.md exist" if have_all else "creates the missing design artifacts"),
        ),
        StepPlan(
            step=Step.ANALYZE,
            runs=not config.skip_analyze,
            reason="skipped (--skip-analyze)" if config.skip_analyze else "checks spec/plan/tasks consistency",
        ),
    ]
    if plan is None:
        implement = "batches are planned from tasks.md once design has written it"
    elif plan.batches:
        implement = f"Detected {plan.summary}"
    elif plan.all_done:
        implement = "all tasks are already done"
    else:
        implement = plan.summary
    steps.append(StepPlan(step=Step.IMPLEMENT, runs=plan is None or bool(plan.batches), reason=implement))
    steps.append(StepPlan(step=Step.VERIFY, runs=True, reason="runs when every task is done"))
    if snapshot.user_gate:
        merge_reason = "USER GATE phase: stops after verify for your confirmation"
    elif config.auto_merge:
        merge_reason = "auto-merge"
    else:
        merge_reason = "waits for `specflowctl merge` (no --auto-merge)"
    steps.append(StepPlan(step=Step.MERGE, runs=config.auto_merge and not snapshot.user_gate, reason=merge_reason))
    return OrchestrationPreview(
        project=str(snapshot.root),
        feature=snapshot.feature_dir.name if snapshot.feature_dir else None,
        steps=steps,
        batches=[
            BatchView(index=b.index, name=b.name, task_ids=b.task_ids, phase_number=b.phase_number)
            for b in plan.batches
        ]
        if plan
        else [],
        summary=plan.summary if plan else "no tasks.md yet",
        held=[{"id": i, "state": s, "reason": r} for i, s, r in plan.held] if plan else [],
        warnings=warnings,
        budget=config.budget.model_dump(),
        config=config,
    )
