"""Read a project's evidence from disk into a ProjectSnapshot. Never raises for bad content: every
missing or corrupt file becomes a typed Problem in the snapshot."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specflowd.project.roadmap import PhaseRow, parse_roadmap
from specflowd.project.taskfile import TasksDocument, parse_tasks

__all__ = ["Problem", "ProjectSnapshot", "SkillState", "read_project_snapshot"]

_FEATURE_DIR = re.compile(r"^(\d{3,})-")
STATE_FILE = Path(".specflow") / "orchestration-state.json"


@dataclass(slots=True, frozen=True)
class Problem:
    kind: str  # missing_file | corrupt_json | unreadable | bad_shape | parse_warning
    path: str
    message: str
    line: int | None = None


@dataclass(slots=True)
class SkillState:
    """What the skills report through ``.specflow/orchestration-state.json`` (read, never written)."""

    phase_number: str | None = None
    phase_name: str | None = None
    phase_branch: str | None = None
    phase_status: str | None = None
    has_user_gate: bool = False
    user_gate_status: str | None = None
    step_current: str | None = None
    step_status: str | None = None


@dataclass(slots=True)
class ProjectSnapshot:
    root: Path
    feature_dir: Path | None
    artifacts: dict[str, bool]
    tasks_path: Path | None
    tasks_text: str | None
    tasks: TasksDocument | None
    skill: SkillState | None
    roadmap: list[PhaseRow]
    problems: list[Problem] = field(default_factory=list)

    @property
    def roadmap_phase(self) -> PhaseRow | None:
        number = self.skill.phase_number if self.skill else None
        if number is None and self.feature_dir is not None:
            match = _FEATURE_DIR.match(self.feature_dir.name)
            number = match.group(1) if match else None
        return next((row for row in self.roadmap if number and row.number == number), None)

    @property
    def user_gate(self) -> bool:
        phase = self.roadmap_phase
        return bool((self.skill and self.skill.has_user_gate) or (phase and phase.user_gate))


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _read_state(root: Path, problems: list[Problem]) -> SkillState | None:
    path = root / STATE_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem("unreadable", str(path), str(exc)))
        return None
    except ValueError as exc:
        problems.append(Problem("corrupt_json", str(path), f"not valid JSON: {exc}"))
        return None
    orchestration = document.get("orchestration") if isinstance(document, dict) else None
    if not isinstance(orchestration, dict):
        problems.append(Problem("bad_shape", str(path), 'no "orchestration" object'))
        return None
    raw_phase, raw_step = orchestration.get("phase"), orchestration.get("step")
    phase: dict[str, Any] = raw_phase if isinstance(raw_phase, dict) else {}
    step: dict[str, Any] = raw_step if isinstance(raw_step, dict) else {}
    return SkillState(
        phase_number=_str(phase.get("number")),
        phase_name=_str(phase.get("name")),
        phase_branch=_str(phase.get("branch")),
        phase_status=_str(phase.get("status")),
        has_user_gate=bool(phase.get("hasUserGate")),
        user_gate_status=_str(phase.get("userGateStatus")),
        step_current=_str(step.get("current")),
        step_status=_str(step.get("status")),
    )


def _feature_dir(root: Path, skill: SkillState | None) -> Path | None:
    specs = root / "specs"
    if not specs.is_dir():
        return None
    candidates = sorted(
        (d for d in specs.iterdir() if d.is_dir() and _FEATURE_DIR.match(d.name)),
        key=lambda d: int(_FEATURE_DIR.match(d.name).group(1)),  # type: ignore[union-attr]
    )
    if skill is not None:
        if skill.phase_branch and (specs / skill.phase_branch).is_dir():
            return specs / skill.phase_branch
        if skill.phase_number:
            for directory in candidates:
                if directory.name.split("-", 1)[0].lstrip("0") == skill.phase_number.lstrip("0"):
                    return directory
    return candidates[-1] if candidates else None


def read_project_snapshot(root: Path) -> ProjectSnapshot:
    problems: list[Problem] = []
    if not root.is_dir():
        problems.append(Problem("missing_file", str(root), "project directory does not exist"))
    skill = _read_state(root, problems)
    feature = _feature_dir(root, skill)
    artifacts = {name: bool(feature and (feature / f"{name}.md").is_file()) for name in ("spec", "plan", "tasks")}
    artifacts["checklists"] = bool(feature and (feature / "checklists").is_dir())
    tasks_text: str | None = None
    tasks_doc: TasksDocument | None = None
    tasks_path = feature / "tasks.md" if feature else None
    if feature is None:
        problems.append(Problem("missing_file", str(root / "specs"), "no feature directory specs/NNNN-*"))
    elif tasks_path is not None and tasks_path.is_file():
        try:
            tasks_text = tasks_path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            problems.append(Problem("unreadable", str(tasks_path), str(exc)))
        else:
            tasks_doc = parse_tasks(tasks_text)
            problems += [Problem("parse_warning", str(tasks_path), w.message, w.line) for w in tasks_doc.warnings]
    roadmap: list[PhaseRow] = []
    try:
        roadmap = parse_roadmap((root / "ROADMAP.md").read_text(encoding="utf-8", errors="replace"))
    except FileNotFoundError:
        pass
    except OSError as exc:
        problems.append(Problem("unreadable", str(root / "ROADMAP.md"), str(exc)))
    return ProjectSnapshot(root, feature, artifacts, tasks_path, tasks_text, tasks_doc, skill, roadmap, problems)
