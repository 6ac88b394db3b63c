"""The one tasks.md grammar: the SpecFlow CLI's (docs/specflow-cli.md). Pure: text in, a TasksDocument out;
never raises on content.

A line is a task exactly when the CLI reads it as one (so ``specflow status``, ``mark`` and ``next`` see the
same tasks as specflowd):
- it starts in column 0 with ``- [c]`` (one space between ``-`` and ``[``), ``c`` one of `` `` (open),
  ``x``/``X`` (done), ``b``/``B`` (blocked), ``~``/``-`` (deferred);
- the rest of the line holds the word ``T`` + exactly three digits + an optional lowercase letter
  (``T011a``); the first such word is the task's id, wherever it stands (``- [ ] Fix T006 bug`` → T006);
- the rest of the line holds no carriage return (the CLI splits on ``\\n`` and a trailing ``\\r`` defeats its
  line pattern: CRLF files have no tasks for it).
No fence awareness (a task line inside a fenced block counts). ``## `` opens a section (verbatim heading;
``Phase N:`` gives a phase number), ``### `` is a sub-group (no section), the first ``# `` is the title. Tasks
before the first ``##`` count in totals but belong to no section. Dependencies are the CLI's: "depends on",
"after" or "requires" (any case) followed by a run of ``T``/digits/commas/spaces; the ids in that run.

Every other line that *looks* like a task (a checkbox bullet with a known box character, or any checkbox
bullet with a ``T``-number) is ignored by the CLI and therefore never scheduled here: it becomes a warning
naming the line and why (indented, ``*`` bullet, ``T1000``, ``1. [ ]``, ``-[ ]``, ``- [  ]``, CRLF, no id).
A second line with an id already seen is a task for the CLI too (``mark`` ticks both): it counts in the
totals and is reported as a duplicate. A legend line (``- [P] tasks = …``: unknown box, no T-number) is prose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "Section",
    "Task",
    "TaskDetails",
    "TaskState",
    "TasksDocument",
    "TasksWarning",
    "WarningKind",
    "checked_ids",
    "parse_tasks",
]


class TaskState(StrEnum):
    OPEN = "open"
    DONE = "done"
    BLOCKED = "blocked"
    DEFERRED = "deferred"


class WarningKind(StrEnum):
    IGNORED = "ignored"  # looks like a task, the SpecFlow CLI does not read it: never scheduled
    DUPLICATE = "duplicate"  # a task for the CLI whose id an earlier line already has


_BOX = {" ": TaskState.OPEN, "x": TaskState.DONE, "X": TaskState.DONE, "b": TaskState.BLOCKED,
        "B": TaskState.BLOCKED, "~": TaskState.DEFERRED, "-": TaskState.DEFERRED}  # fmt: skip

# the CLI's id: a word (ASCII word boundaries, as in JavaScript) T + exactly three digits + [a-z]?
_ID_RE = re.compile(r"\bT[0-9]{3}[a-z]?\b", re.ASCII)
# anything a reader would take for a task number: T1000, T015A, t014, T01 (for the warning's wording)
_ID_LIKE = re.compile(r"(?<![A-Za-z0-9])[Tt][0-9]+[A-Za-z]*\b")
# the CLI's dependency phrase; case-insensitive, so its run also takes a lowercase t (as in JavaScript)
_DEPS = re.compile(r"(?:depends on|after|requires)\s+([T0-9,\s]+)", re.IGNORECASE)
_DEP_ID = re.compile(r"T[0-9]{3}[a-z]?")
_BLOCKED_REASON = re.compile(r"[\[(]blocked:\s*([^\])]+)[\])]", re.IGNORECASE)
_TAG = re.compile(r"\[([^\[\]]{1,40})\]")
_US = re.compile(r"\[US(\d+)\]")
_MARKER = re.compile(r"\[(?:P|V|US\d+)\]")
_PHASE = re.compile(r"^Phase\s+(\d+)\s*(?::|-|–|—)", re.I)
_LINE_BREAKS = ("\r", "\u2028", "\u2029")  # JavaScript's `.` stops at these: the CLI's line pattern fails


@dataclass(slots=True, frozen=True)
class TaskDetails:
    description: str
    parallel: bool
    verification: bool
    story: str | None
    tags: tuple[str, ...]
    blocked_reason: str | None


class Task:
    """One task line. Identity, state, place and dependencies are parsed eagerly (the planner needs them);
    the descriptive details (markers, tags, description, blocked reason) on first use."""

    __slots__ = ("_details", "_id_span", "depends_on", "id", "line", "section", "state", "subgroup", "text")

    def __init__(
        self,
        id: str,
        state: TaskState,
        line: int,
        section: int | None,
        text: str = "",
        id_span: tuple[int, int] = (0, 0),
        subgroup: str | None = None,
        depends_on: list[str] | None = None,
    ) -> None:
        self.id = id
        self.state = state
        self.line = line
        self.section = section  # index into TasksDocument.sections; None = before the first ##
        self.subgroup = subgroup
        self.depends_on = depends_on or []
        self.text = text  # the line after the checkbox
        self._id_span = id_span
        self._details: TaskDetails | None = None

    def __repr__(self) -> str:
        return f"Task({self.id!r}, {self.state.value}, line={self.line}, section={self.section})"

    @property
    def details(self) -> TaskDetails:
        if self._details is None:
            self._details = _details(self.text, self._id_span, self.state)
        return self._details

    @property
    def description(self) -> str:
        return self.details.description

    @property
    def parallel(self) -> bool:
        return self.details.parallel

    @property
    def verification(self) -> bool:
        return self.details.verification

    @property
    def story(self) -> str | None:
        return self.details.story

    @property
    def tags(self) -> list[str]:
        return list(self.details.tags)

    @property
    def blocked_reason(self) -> str | None:
        return self.details.blocked_reason


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
    # the checkbox state of the warned line; None when the checkbox character is unknown. An open (or
    # unknown) line the CLI does not read may be unfinished work: the planner never calls such a file done
    box_state: TaskState | None = None
    kind: WarningKind = WarningKind.IGNORED

    @property
    def may_be_open(self) -> bool:
        return self.box_state is None or self.box_state is TaskState.OPEN


@dataclass(slots=True)
class TasksDocument:
    title: str | None
    sections: list[Section]
    tasks: list[Task]  # one per id (the first line wins), in file order
    warnings: list[TasksWarning]
    duplicates: list[Task] = field(default_factory=list)  # later lines with an id already seen (the CLI counts them)

    def by_id(self) -> dict[str, Task]:
        return {t.id: t for t in self.tasks}

    def counts(self) -> dict[str, int]:
        """Per line, as ``specflow status`` counts them (a duplicate id's line counts again)."""
        result = {state.value: 0 for state in TaskState}
        for task in self.tasks:
            result[task.state.value] += 1
        for task in self.duplicates:
            result[task.state.value] += 1
        result["total"] = len(self.tasks) + len(self.duplicates)
        return result

    @property
    def ignored(self) -> list[TasksWarning]:
        return [w for w in self.warnings if w.kind is WarningKind.IGNORED]


def _dependencies(rest: str, id_span: tuple[int, int]) -> list[str]:
    """The CLI reads dependencies in the description, i.e. the line after the box with a *leading* id removed."""
    lowered = rest.lower()  # hot path: most lines have no dependency phrase (a literal search is fast)
    if "after" not in lowered and "requires" not in lowered and "depends on" not in lowered:
        return []
    description = rest[id_span[1] :] if not rest[: id_span[0]].strip() else rest
    deps: list[str] = []
    for match in _DEPS.finditer(description):
        deps.extend(_DEP_ID.findall(match.group(1)))
    return list(dict.fromkeys(deps))


def _details(rest: str, id_span: tuple[int, int], state: TaskState) -> TaskDetails:
    tags: list[str] = []
    if "[" in rest:
        for raw_tag in _TAG.findall(rest):
            tag = raw_tag.strip()
            if tag not in ("P", "V") and not _US.fullmatch(f"[{tag}]") and not _ID_RE.fullmatch(tag):
                tags.append(tag)
    story = _US.search(rest)
    reason = None
    if state is TaskState.BLOCKED and (found := _BLOCKED_REASON.search(rest)):
        reason = found.group(1).strip() or None
    description = rest[: id_span[0]] + rest[id_span[1] :]
    if "[" in description:
        description = _MARKER.sub("", description)
    description = " ".join(description.replace("**", "").split())
    return TaskDetails(description, "[P]" in rest, "[V]" in rest, f"US{story.group(1)}" if story else None,
                       tuple(tags), reason)  # fmt: skip


def _why_ignored(lead: str, bullet: str, gap: str, box: str, rest: str) -> str | None:
    """Why the CLI does not read a checkbox line as a task; None when it does."""
    if lead:
        return "indented: the SpecFlow CLI reads only task lines starting in column 0"
    if bullet != "-":
        what = "numbered list item" if bullet[0].isdigit() else f"`{bullet}` bullet"
        return f"{what}: the SpecFlow CLI reads only `- [ ]` lines"
    if gap != " ":
        return ("no space between `-` and `[`" if not gap else "`-` and `[` not separated by exactly one space") + (
            ": the SpecFlow CLI reads only `- [ ]` lines"
        )
    if box not in _BOX:
        return f"checkbox `[{box}]` is not one of `[ ]` `[x]` `[X]` `[b]` `[B]` `[~]` `[-]`"
    if any(mark in rest for mark in _LINE_BREAKS):
        return "the line ends with a carriage return (CRLF): the SpecFlow CLI reads no task on it"
    if _ID_RE.search(rest) is None:
        like = _ID_LIKE.search(rest)
        if like is not None:
            return f"`{like.group(0)}` is not a task id (T + exactly three digits, optional lowercase letter)"
        return "no task id (T + exactly three digits, optional lowercase letter)"
    return None


# headings, and every checkbox bullet in any form (the CLI's and the ones it ignores)
_LINE = re.compile(
    r"^(?:(?P<hashes>\#{1,3})[ \t]+(?P<heading>[^\n]*)"
    r"|(?P<lead>[ \t]*)(?P<bullet>[-*+]|\d{1,9}[.)])(?P<gap>[ \t]*)\[(?P<box>[^\]\n]{0,3})\](?P<rest>[^\n]*))",
    re.M,
)


def parse_tasks(text: str) -> TasksDocument:
    """One pass of one multiline regex over the text: only headings and checkbox lines reach Python."""
    title: str | None = None
    sections: list[Section] = []
    tasks: list[Task] = []
    duplicates: list[Task] = []
    warnings: list[TasksWarning] = []
    seen: dict[str, int] = {}
    subgroup: str | None = None
    section_index: int | None = None
    line = 1
    position = 0
    count = text.count
    id_search = _ID_RE.search
    for match in _LINE.finditer(text):
        start = match.start()
        line += count("\n", position, start)
        position = start
        hashes, heading, lead, bullet, gap, box, rest = match.groups()
        if hashes is not None:
            heading = heading.strip()
            if hashes == "###":
                subgroup = heading
            elif hashes == "##":
                if heading:
                    phase = _PHASE.match(heading)
                    sections.append(Section(heading, line, int(phase.group(1)) if phase else None))
                    section_index = len(sections) - 1
                    subgroup = None
            elif title is None:
                title = heading[6:].strip() if heading.lower().startswith("tasks:") else heading
            continue
        state = _BOX.get(box)
        found = None
        if (
            not lead and bullet == "-" and gap == " " and state is not None
            and "\r" not in rest and "\u2028" not in rest and "\u2029" not in rest
        ):  # fmt: skip
            found = id_search(rest)  # a line the CLI reads, if it holds an id
        if found is None or state is None:
            if state is None and _ID_LIKE.search(rest) is None:
                continue  # a legend line ("- [P] tasks = …"), not a task-looking one
            why = _why_ignored(lead, bullet, gap, box, rest)
            warnings.append(TasksWarning(line, why or "not read by the SpecFlow CLI", match.group(0).strip(), state))
            continue
        span = found.span()
        task = Task(found.group(0), state, line, section_index, rest, span, subgroup, _dependencies(rest, span))
        if task.id in seen:
            duplicates.append(task)
            warnings.append(
                TasksWarning(
                    line,
                    f"duplicate task id {task.id} (first on line {seen[task.id]}); "
                    f"`specflow mark {task.id}` ticks both",
                    match.group(0).strip(),
                    state,
                    WarningKind.DUPLICATE,
                )
            )
            continue
        seen[task.id] = line
        tasks.append(task)
        if section_index is not None:
            sections[section_index].task_ids.append(task.id)
    return TasksDocument(title, sections, tasks, warnings, duplicates)


def checked_ids(text: str, ids: list[str]) -> dict[str, TaskState | None]:
    """The state of each of ``ids`` in ``text`` (None = not found): the evidence for batch confirmation."""
    states = {t.id: t.state for t in parse_tasks(text).tasks}
    return {task_id: states.get(task_id) for task_id in ids}
