"""Read a project's evidence from disk into a ProjectSnapshot (the only module here that does I/O).

Never raises for bad content or missing files: each becomes a typed Problem in the snapshot. Parsing is
delegated to the pure parsers (tasks, state, roadmap); this module only chooses files and reads them.

Feature directory: ``specs/<orchestration.phase.branch>`` when that directory exists, else the
``specs/NNNN-*`` directory whose number equals ``orchestration.phase.number``, else the highest-numbered
``specs/NNNN-*`` directory.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, InstanceOf

from specflowd.project.problems import Problem, ProblemKind
from specflowd.project.roadmap import PhaseRow, parse_roadmap
from specflowd.project.state import SkillState, parse_state
from specflowd.project.tasks import TasksDocument, TasksWarning, WarningKind, parse_tasks

__all__ = ["ARTIFACTS", "STATE_FILE", "ProjectSnapshot", "read_git_branch", "read_project_snapshot"]

_FEATURE_DIR = re.compile(r"^(\d{3,})-")
STATE_FILE = Path(".specflow") / "orchestration-state.json"
ARTIFACTS = ("spec", "plan", "tasks", "checklists")


class ProjectSnapshot(BaseModel):
    """Everything specflowd knows about a project at one moment, problems included."""

    model_config = ConfigDict(frozen=True)

    root: Path
    feature_dir: Path | None
    artifacts: dict[str, bool]  # spec, plan, tasks (files) and checklists (directory)
    tasks_path: Path | None  # the raw tasks.md path (exists iff artifacts["tasks"])
    tasks_text: str | None
    # the parsed document is kept as is (an isinstance check only: no per-task validation)
    tasks: InstanceOf[TasksDocument] | None
    skill: SkillState | None
    roadmap: list[PhaseRow]
    git_branch: str | None = None  # the checked-out branch (None: not a git checkout, or a detached HEAD)
    problems: list[Problem] = []

    @property
    def phase_number(self) -> str | None:
        """The active phase number: the state file's, else the feature directory's NNNN prefix."""
        if self.skill is not None and self.skill.phase_number:
            return self.skill.phase_number
        if self.feature_dir is not None:
            match = _FEATURE_DIR.match(self.feature_dir.name)
            return match.group(1) if match else None
        return None

    @property
    def roadmap_phase(self) -> PhaseRow | None:
        number = self.phase_number
        if not number:
            return None
        return next((row for row in self.roadmap if _same_number(row.number, number)), None)

    @property
    def user_gate(self) -> bool:
        """``USER GATE`` in the status or gate cell of the phase's ROADMAP row: where the SpecFlow CLI reads
        ``hasUserGate`` (the state file's own ``hasUserGate`` is a copy made by ``phase open`` and can be stale)."""
        phase = self.roadmap_phase
        return phase is not None and phase.user_gate

    @property
    def phase_open(self) -> bool:
        """Whether a phase is open, as ``specflow status`` decides it (a number, and a status other than
        not_started). A project without a state file is not a CLI-managed one: its feature directory decides."""
        return _phase_open(self.skill)


def _phase_open(skill: SkillState | None) -> bool:
    if skill is None:
        return True
    return bool(skill.phase_number) and (skill.phase_status or "not_started") != "not_started"


def _same_number(a: str, b: str) -> bool:
    # "0080" in ROADMAP vs 80 in a state file
    return a.lstrip("0") == b.lstrip("0")


def _read_text(path: Path, problems: list[Problem], *, required: bool) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        if required:
            problems.append(Problem(kind=ProblemKind.MISSING_FILE, path=str(path), message="file does not exist"))
        return None
    except OSError as exc:
        problems.append(Problem(kind=ProblemKind.UNREADABLE, path=str(path), message=str(exc)))
        return None


def _feature_dir(root: Path, skill: SkillState | None) -> Path | None:
    specs = root / "specs"
    try:
        numbered = [(int(m.group(1)), d) for d in specs.iterdir() if d.is_dir() and (m := _FEATURE_DIR.match(d.name))]
    except OSError:
        return None
    numbered.sort(key=lambda pair: (pair[0], pair[1].name))
    if skill is not None:
        if skill.phase_branch and (specs / skill.phase_branch).is_dir():
            return specs / skill.phase_branch
        if skill.phase_number and skill.phase_number.isdigit():
            wanted = int(skill.phase_number)
            for number, directory in numbered:
                if number == wanted:
                    return directory
    return numbered[-1][1] if numbered else None


def _describe(warning: TasksWarning) -> str:
    if warning.kind is WarningKind.IGNORED:
        return f"not a task for the SpecFlow CLI, never scheduled ({warning.message}): {warning.text}"
    return f"{warning.message}: {warning.text}"


def read_git_branch(root: Path) -> str | None:
    """The branch checked out where ``root`` lies, read from ``.git/HEAD`` of ``root`` or its nearest parent
    that has one (a worktree's ``.git`` file is followed): a file read instead of a ``git`` process, since
    every decision reads the snapshot."""
    top = next((d for d in (root, *root.parents) if (d / ".git").exists()), None)
    if top is None:
        return None
    dot_git = top / ".git"
    try:
        if dot_git.is_file():
            pointer = dot_git.read_text(encoding="utf-8").strip()
            if not pointer.startswith("gitdir:"):
                return None
            git_dir = Path(pointer.removeprefix("gitdir:").strip())
            dot_git = git_dir if git_dir.is_absolute() else top / git_dir
        head = (dot_git / "HEAD").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return head.removeprefix("ref: refs/heads/") if head.startswith("ref: refs/heads/") else None


def read_project_snapshot(project_root: Path) -> ProjectSnapshot:
    root = project_root
    problems: list[Problem] = []
    if not root.is_dir():
        problems.append(
            Problem(kind=ProblemKind.MISSING_FILE, path=str(root), message="project directory does not exist")
        )
    skill: SkillState | None = None
    state_path = root / STATE_FILE
    state_text = _read_text(state_path, problems, required=False)  # a project the skills never ran in
    if state_text is not None:
        state = parse_state(state_text, str(state_path))
        skill = state.skill
        problems += state.problems
    feature = _feature_dir(root, skill)
    artifacts = {name: feature is not None and (feature / f"{name}.md").is_file() for name in ARTIFACTS[:3]}
    artifacts["checklists"] = feature is not None and (feature / "checklists").is_dir()
    tasks_path = feature / "tasks.md" if feature is not None else None
    tasks_text: str | None = None
    tasks_doc: TasksDocument | None = None
    if feature is None:
        # after `phase close` (specs archived, no phase open) no feature directory is expected
        if root.is_dir() and _phase_open(skill):
            problems.append(Problem(kind=ProblemKind.MISSING_FILE, path=str(root / "specs"),
                                    message="no feature directory specs/NNNN-*"))  # fmt: skip
    elif tasks_path is not None and artifacts["tasks"]:
        tasks_text = _read_text(tasks_path, problems, required=True)
        if tasks_text is not None:
            tasks_doc = parse_tasks(tasks_text)
            problems += [
                Problem(kind=ProblemKind.PARSE_WARNING, path=str(tasks_path), message=_describe(w), line=w.line)
                for w in tasks_doc.warnings
            ]
    roadmap_text = _read_text(root / "ROADMAP.md", problems, required=False)  # optional file
    roadmap = parse_roadmap(roadmap_text) if roadmap_text is not None else []
    return ProjectSnapshot(
        root=root,
        feature_dir=feature,
        artifacts=artifacts,
        tasks_path=tasks_path if artifacts["tasks"] else None,
        tasks_text=tasks_text,
        tasks=tasks_doc,
        skill=skill,
        roadmap=roadmap,
        git_branch=read_git_branch(root),
        problems=problems,
    )
