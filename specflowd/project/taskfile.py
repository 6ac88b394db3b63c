"""The one tasks.md grammar. Pure: text in, a TasksDocument out; never raises on content.

Shapes understood (see shared/reference/README.md and the real samples):
- ``# Tasks: <title>``; ``## `` headings are sections (verbatim text; ``Phase N:`` / ``Phase N -`` gives a
  phase number; status suffixes such as "✅ COMPLETE" are kept in the heading); ``### `` are sub-groups.
- Task lines: optional indentation, ``-`` or ``*`` bullet, checkbox ``[ ]`` open, ``[x]``/``[X]`` done,
  ``[b]``/``[B]`` blocked, ``[~]``/``[-]`` deferred; the id ``T\\d{3,}[a-z]?`` (``T011a``, ``T1000`` intact)
  anywhere in the line, except inside a dependency phrase; markers ``[P]``, ``[US<n>]``, ``[V]`` and other
  bracket tags (kept); dependencies as "depends on T012", "after T007", "requires T003, T004",
  "blocked by T002" or ``[depends: T001]``; blocked reasons as ``(blocked: reason)``.
- Tasks before the first ``##`` belong to no section (``section is None``).
- Fenced code blocks are skipped.
A line that looks like a task but does not parse (checkbox without id, unknown checkbox state, duplicate
id) becomes a warning with its line number; nothing is dropped silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["Section", "Task", "TaskState", "TasksDocument", "TasksWarning", "checked_ids", "parse_tasks"]


class TaskState(StrEnum):
    OPEN = "open"
    DONE = "done"
    BLOCKED = "blocked"
    DEFERRED = "deferred"


_BOX = {" ": TaskState.OPEN, "x": TaskState.DONE, "X": TaskState.DONE, "b": TaskState.BLOCKED,
        "B": TaskState.BLOCKED, "~": TaskState.DEFERRED, "-": TaskState.DEFERRED}  # fmt: skip

_ID = r"T\d{3,}[a-z]?"
_CHECKBOX_LINE = re.compile(r"^(?P<indent>[ \t]*)[-*+][ \t]+\[(?P<box>[^\]]?)\][ \t]*(?P<rest>.*)$")
_ID_RE = re.compile(rf"(?<![\w-])({_ID})(?![\w])")
_ID_LIST = rf"{_ID}(?:\s*(?:,|&|\band\b|\bor\b)\s*{_ID})*"
_TAG = re.compile(r"\[([^\[\]]{1,40})\]")
_BLOCKED_REASON = re.compile(r"\(\s*blocked\s*:\s*([^)]*)\)|\bBLOCKED\s*:\s*(.+)$", re.I)
_PHASE = re.compile(r"^Phase\s+(\d+)\s*(?::|-|–|—)", re.I)
_US = re.compile(r"^US\d+$")


@dataclass(slots=True)
class Task:
    id: str
    state: TaskState
    description: str
    line: int
    section: int | None  # index into TasksDocument.sections; None = before the first ##
    subgroup: str | None = None
    parallel: bool = False
    verification: bool = False
    story: str | None = None
    tags: list[str] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)
    blocked_reason: str | None = None
    indent: int = 0


@dataclass(slots=True)
class Section:
    heading: str
    line: int
    phase_number: int | None
    task_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class TasksWarning:
    line: int
    message: str
    text: str


@dataclass(slots=True)
class TasksDocument:
    title: str | None
    sections: list[Section]
    tasks: list[Task]
    warnings: list[TasksWarning]

    def by_id(self) -> dict[str, Task]:
        return {t.id: t for t in self.tasks}

    def counts(self) -> dict[str, int]:
        result = {state.value: 0 for state in TaskState}
        for task in self.tasks:
            result[task.state.value] += 1
        result["total"] = len(self.tasks)
        return result


_DEPS = re.compile(
    rf"\[\s*(?:depends|deps|after|requires)\s*:\s*({_ID_LIST})\s*\]"
    rf"|\b(?:depends\s+on|dependent\s+on|after|requires|blocked\s+by)\s*:?\s*({_ID_LIST})",
    re.I,
)
_MARKER = re.compile(r"\[(?:P|V|US\d+)\]")
_DEP_TAG_TEXT = re.compile(r"^(?:depends|deps|after|requires)\s*:", re.I)


def _may_have_deps(rest: str) -> bool:
    low = rest.lower()
    return "depend" in low or "after" in low or "requires" in low or "blocked" in low or "deps" in low


def _make_task(rest: str, box: str, state: TaskState, line: int, section: int | None, subgroup: str | None,
               indent: int) -> Task | None:  # fmt: skip
    """Build the task of one checkbox line, or None when the line has no id of its own.

    Hot path (10 000-line files): a line with a single id cannot carry dependencies, so the dependency
    regex only runs when a second id is present.
    """
    ids = _ID_RE.findall(rest)
    if not ids:
        return None
    deps: list[str] = []
    if len(ids) == 1 and not _may_have_deps(rest):
        task_id = ids[0]
        id_start = rest.find(task_id)
        id_end = id_start + len(task_id)
    else:
        spans: list[tuple[int, int]] = []
        for match in _DEPS.finditer(rest):
            spans.append(match.span())
            deps.extend(_ID_RE.findall(match.group(1) or match.group(2)))
        task_id = None
        id_start = id_end = 0
        for match in _ID_RE.finditer(rest):
            if not any(start <= match.start() < end for start, end in spans):
                task_id, id_start, id_end = match.group(1), match.start(), match.end()
                break
        if task_id is None:
            return None
        deps = [d for d in dict.fromkeys(deps) if d != task_id]
    task = Task(id=task_id, state=state, description="", line=line, section=section, subgroup=subgroup,
                indent=indent, depends_on=deps)  # fmt: skip
    if "[" in rest:
        for tag in _TAG.findall(rest):
            tag = tag.strip()
            if tag == "P":
                task.parallel = True
            elif tag == "V":
                task.verification = True
            elif _US.match(tag):
                task.story = tag
            elif not _ID_RE.fullmatch(tag) and not _DEP_TAG_TEXT.match(tag):
                task.tags.append(tag)
    if box in "bB":
        reason = _BLOCKED_REASON.search(rest)
        if reason:
            task.blocked_reason = (reason.group(1) or reason.group(2) or "").strip() or None
    description = rest[:id_start] + rest[id_end:]
    if "[" in description:
        description = _MARKER.sub("", description)
    task.description = " ".join(description.replace("**", "").split())
    return task


def parse_tasks(text: str) -> TasksDocument:
    title: str | None = None
    sections: list[Section] = []
    tasks: list[Task] = []
    warnings: list[TasksWarning] = []
    seen: dict[str, int] = {}
    subgroup: str | None = None
    in_fence = False
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.lstrip()
        if stripped.startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        if in_fence or not stripped:
            continue
        first = stripped[0]
        if first == "#":
            if stripped.startswith("### "):
                subgroup = stripped[4:].strip()
            elif stripped.startswith("## "):
                heading = stripped[3:].strip()
                phase = _PHASE.match(heading)
                sections.append(Section(heading, number, int(phase.group(1)) if phase else None))
                subgroup = None
            elif stripped.startswith("# ") and title is None:
                title = stripped[2:].strip()
                if title.lower().startswith("tasks:"):
                    title = title[6:].strip()
            continue
        if first not in "-*+" or "[" not in stripped[:6]:
            continue
        match = _CHECKBOX_LINE.match(raw)
        if match is None:
            continue
        box = match.group("box")
        state = _BOX.get(box)
        rest = match.group("rest")
        if state is None:
            if _ID_RE.search(rest):  # a task line with a state we do not know; legend lines ("- [P] = …") are not
                warnings.append(TasksWarning(number, f"unknown checkbox state [{box}]", raw.strip()))
            continue
        section_index = len(sections) - 1 if sections else None
        indent = len(match.group("indent").expandtabs(4))
        task = _make_task(rest, box, state, number, section_index, subgroup, indent)
        if task is None:
            warnings.append(TasksWarning(number, "checkbox line without a task id (T### expected)", raw.strip()))
            continue
        if task.id in seen:
            warnings.append(
                TasksWarning(number, f"duplicate task id {task.id} (first on line {seen[task.id]})", raw.strip())
            )
            continue
        seen[task.id] = number
        tasks.append(task)
        if section_index is not None:
            sections[section_index].task_ids.append(task.id)
    return TasksDocument(title, sections, tasks, warnings)


def checked_ids(text: str, ids: list[str]) -> dict[str, TaskState | None]:
    """The state of each of ``ids`` in ``text`` (None = not found): the evidence for batch confirmation."""
    states = {t.id: t.state for t in parse_tasks(text).tasks}
    return {task_id: states.get(task_id) for task_id in ids}
