"""``.specflow/orchestration-state.json`` (written by the skills, read-only here). Pure: text in, a
SkillState (or None) plus problems out; other keys of the file are tolerated and ignored."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict

from specflowd.project.problems import Problem, ProblemKind

__all__ = ["SkillState", "StateRead", "parse_state"]


class SkillState(BaseModel):
    """What the skills report: the phase they work on and their step (their completion signal)."""

    model_config = ConfigDict(frozen=True)

    phase_number: str | None = None
    phase_name: str | None = None
    phase_branch: str | None = None
    phase_status: str | None = None
    has_user_gate: bool = False
    user_gate_status: str | None = None
    step_current: str | None = None
    step_index: int | None = None
    step_status: str | None = None
    # ``orchestration.lastError``: written by /flow.orchestrate on errors; kept by the CLI at every write
    last_error: str | None = None
    # ``orchestration.next_phase`` (set by ``phase close``): "NNNN Name"
    next_phase: str | None = None


class StateRead(BaseModel):
    skill: SkillState | None
    problems: list[Problem]


def _str(value: Any) -> str | None:
    # phase numbers appear both as "1058" and 1058; keep the text form
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_state(text: str, path: str) -> StateRead:
    """``path`` only labels problems. Invalid JSON -> ``corrupt_json``; no ``orchestration`` object ->
    ``bad_shape``; a missing or wrongly typed ``phase``/``step`` gives empty fields, not a problem."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        return StateRead(skill=None, problems=[Problem(kind=ProblemKind.CORRUPT_JSON, path=path,
                                                         message=f"not valid JSON: {exc}")])  # fmt: skip
    orchestration = document.get("orchestration") if isinstance(document, dict) else None
    if not isinstance(orchestration, dict):
        problem = Problem(kind=ProblemKind.BAD_SHAPE, path=path, message='no "orchestration" object')
        return StateRead(skill=None, problems=[problem])
    raw_phase, raw_step = orchestration.get("phase"), orchestration.get("step")
    phase: dict[str, Any] = raw_phase if isinstance(raw_phase, dict) else {}
    step: dict[str, Any] = raw_step if isinstance(raw_step, dict) else {}
    raw_next = orchestration.get("next_phase")
    next_phase = None
    if isinstance(raw_next, dict) and raw_next.get("number") is not None:
        next_phase = " ".join(str(x) for x in (raw_next.get("number"), raw_next.get("name")) if x is not None)
    skill = SkillState(
        phase_number=_str(phase.get("number")),
        phase_name=_str(phase.get("name")),
        phase_branch=_str(phase.get("branch")),
        phase_status=_str(phase.get("status")),
        has_user_gate=phase.get("hasUserGate") is True,
        user_gate_status=_str(phase.get("userGateStatus")),
        step_current=_str(step.get("current")),
        step_index=_int(step.get("index")),
        step_status=_str(step.get("status")),
        last_error=_str(orchestration.get("lastError")) or None,
        next_phase=next_phase,
    )
    return StateRead(skill=skill, problems=[])
