"""Adapters from what the readers return (project snapshot, run record) to decide()'s evidence. Pure."""

from __future__ import annotations

from datetime import UTC, datetime

from specflowd.domain.evidence import ProjectEvidence, RunEvidence, SectionEvidence, SkillStep, TaskState
from specflowd.project.snapshot import ProjectSnapshot
from specflowd.runner.records import RunRecord
from specflowd.vocabulary import RunStatus

__all__ = ["missing_run_evidence", "project_evidence", "run_evidence"]


def _ignored(snapshot: ProjectSnapshot) -> list[str]:
    """Each task-looking line the SpecFlow CLI does not read, as ``specs/…/tasks.md:N: why: text``."""
    doc, path = snapshot.tasks, snapshot.tasks_path
    if doc is None or path is None:
        return []
    try:
        shown = path.relative_to(snapshot.root)
    except ValueError:
        shown = path
    return [f"{shown}:{w.line}: {w.message}: {w.text}" for w in doc.ignored]


def project_evidence(snapshot: ProjectSnapshot) -> ProjectEvidence:
    doc = snapshot.tasks
    skill = snapshot.skill
    return ProjectEvidence(
        spec=snapshot.artifacts.get("spec", False),
        plan=snapshot.artifacts.get("plan", False),
        tasks=snapshot.artifacts.get("tasks", False),
        task_states={t.id: TaskState(t.state.value) for t in doc.tasks} if doc else {},
        sections=[SectionEvidence(heading=s.heading, task_ids=list(s.task_ids)) for s in doc.sections] if doc else [],
        skill_step=SkillStep(current=skill.step_current, index=skill.step_index, status=skill.step_status)
        if skill
        else None,
        phase_number=skill.phase_number if skill else None,
        phase_status=skill.phase_status if skill else None,
        phase_branch=skill.phase_branch if skill else None,
        git_branch=snapshot.git_branch,
        user_gate=snapshot.user_gate,
        user_gate_status=skill.user_gate_status if skill else None,
        last_error=skill.last_error if skill else None,
        problems=[f"{p.path}: {p.message}" for p in snapshot.problems if p.kind != "parse_warning"],
        unparsed_open=[f"line {w.line}: {w.text.strip()} ({w.message})" for w in doc.warnings if w.may_be_open]
        if doc
        else [],
        ignored_lines=_ignored(snapshot),
    )


def _reset_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            return datetime.fromtimestamp(float(text), UTC)
        except ValueError:
            return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _last_messages(record: RunRecord) -> list[str]:
    """The run's last text; before it, for a run that completed (its error is not quoted to a heal), what the
    sandbox refused, so that a heal of its open tasks does not try that again."""
    messages = [record.last_text] if record.last_text else []
    if record.sandbox_denials and record.status == RunStatus.COMPLETED:
        messages.insert(0, "The sandbox refused: " + "; ".join(record.sandbox_denials))
    return messages


def run_evidence(record: RunRecord) -> RunEvidence:
    return RunEvidence(
        run_id=record.run_id,
        step=record.step,
        batch_index=int(record.batch) if record.batch is not None and str(record.batch).isdigit() else None,
        attempt=record.attempt,
        status=RunStatus(record.status.value),
        final=record.final,
        error=record.error,
        stderr_tail=record.stderr_tail or "",
        last_messages=_last_messages(record),
        cost_usd=record.cost_usd,
        rate_limit_reset=_reset_time(record.rate_limit_reset),
        questions=list(record.questions),
        message=record.outcome_detail,
        continuations=record.continuations,
        loop=record.loop,
    )


def missing_run_evidence(run_id: str) -> RunEvidence:
    """The record names a run the runner has no directory for: the daemon stopped between persisting the
    decision and creating the run. Nothing ran (and the id is never started later): not_started, so the
    engine gives its attempt back."""
    return RunEvidence(
        run_id=run_id,
        status=RunStatus.NOT_STARTED,
        final=True,
        error="the run was recorded but never started (specflowd stopped before exec)",
    )
