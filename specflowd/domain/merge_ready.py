"""What ``/flow.merge`` checks before it acts, checked by specflowd before it starts the skill.

The real skill reads ``specflow status --json`` and refuses ("run `/flow.verify` first") unless the step says
``verify`` / ``complete``; it refuses on ``main`` / ``master``; it reads ``specflow check --json`` and refuses
unless the implement gate passed. A merge started while one of these fails only earns the refusal, and a
retry earns the same one: the orchestration stops instead, naming the check that failed and what to run.
Pure: the branch and the task states come in the evidence, the CLI's gate verdict as a ``GateCheck``.
"""

from __future__ import annotations

from dataclasses import dataclass

from specflowd.domain.actions import NeedsAttention
from specflowd.domain.config import Step
from specflowd.domain.evidence import ProjectEvidence, TaskState
from specflowd.domain.record import AttentionKind, RecoveryOption

__all__ = ["PROTECTED_BRANCHES", "GateCheck", "gate_stop", "merge_blocked", "merge_blockers", "verify_passed"]

# /flow.merge: "Cannot merge from main branch"
PROTECTED_BRANCHES = frozenset({"main", "master"})
_SHOWN_IDS = 8
_RETRY = "then `specflowctl recover retry <project>`"


@dataclass(frozen=True)
class GateCheck:
    """``specflow check --gate implement`` as run in the project: passed = exit 0."""

    passed: bool
    via: str  # the command line
    output: str  # what it printed


def verify_passed(project: ProjectEvidence) -> bool:
    """The state file says what /flow.verify writes when it passes, and what /flow.merge requires."""
    step = project.skill_step
    return step is not None and step.current == Step.VERIFY.value and (step.status or "").lower() == "complete"


def _ids(ids: list[str]) -> str:
    shown = ", ".join(ids[:_SHOWN_IDS])
    return shown + (f" and {len(ids) - _SHOWN_IDS} more" if len(ids) > _SHOWN_IDS else "")


def merge_blockers(project: ProjectEvidence) -> list[str]:
    """Each check /flow.merge would refuse on, as a sentence naming what to run; empty when merge may start.

    The implement gate is judged here by the task states (every task done, as the CLI counts them); where the
    SpecFlow CLI is installed its own verdict is asked as well before the run starts (``gate_stop``)."""
    found: list[str] = []
    if not verify_passed(project):
        step = project.skill_step
        said = f"{step.current}/{step.status}" if step is not None else "no step"
        found.append(
            f"the state file says step {said}, and /flow.merge runs only after a passed verify (verify/complete): "
            "run /flow.verify"
        )
    if project.git_branch in PROTECTED_BRANCHES:
        target = f" ({project.phase_branch})" if project.phase_branch else ""
        found.append(
            f"the project is on branch {project.git_branch}, and /flow.merge cannot merge from it: "
            f"check out the phase branch{target}"
        )
    not_done = [t for t, s in project.task_states.items() if s != TaskState.DONE]
    if not_done:
        deferred = [t for t in not_done if project.task_states[t] == TaskState.DEFERRED]
        why = f"{len(not_done)} task(s) not done ({_ids(not_done)})" + (
            f", {len(deferred)} of them deferred [~]" if deferred else ""
        )
        found.append(f"the implement gate fails: {why}: finish them (or remove them from tasks.md)")
    return found


def merge_blocked(project: ProjectEvidence) -> NeedsAttention | None:
    """The stop to record instead of starting /flow.merge, or None when every check passes."""
    found = merge_blockers(project)
    if not found:
        return None
    return NeedsAttention(
        attention_kind=AttentionKind.MERGE_BLOCKED,
        reason="merge not started: " + "; ".join(found) + f"; {_RETRY}",
        step=Step.MERGE,
        options=[RecoveryOption.RETRY, RecoveryOption.ABORT],
        context={
            "checks": found,
            "step": project.skill_step.model_dump() if project.skill_step else None,
            "branch": project.git_branch,
        },
    )


def gate_stop(gate: GateCheck | None) -> NeedsAttention | None:
    """The stop to record when the SpecFlow CLI's implement gate fails (None: it passed, or no CLI to ask)."""
    if gate is None or gate.passed:
        return None
    output = gate.output.strip()
    return NeedsAttention(
        attention_kind=AttentionKind.MERGE_BLOCKED,
        reason=f"merge not started: `{gate.via}` fails, and /flow.merge refuses without a passed implement gate"
        + (f" ({output.splitlines()[0][:200]})" if output else "")
        + f": finish the open tasks; {_RETRY}",
        step=Step.MERGE,
        options=[RecoveryOption.RETRY, RecoveryOption.ABORT],
        context={"command": gate.via, "output": output[-2000:]},
    )
