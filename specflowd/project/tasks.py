"""The one tasks.md grammar. Pure: text in, a TasksDocument out; never raises on content.

Shapes understood (see docs/project-model.md and the real samples under tests/fixtures/specflow-samples):
- ``# Tasks: <title>``; ``## `` headings are sections (verbatim text; ``Phase N:`` / ``Phase N -`` gives a
  phase number; status suffixes such as "✅ COMPLETE" are kept in the heading); ``### `` are sub-groups.
- Task lines: optional indentation, ``-``, ``*`` or ``+`` bullet (space after it optional), checkbox
  ``[ ]`` open, ``[x]``/``[X]`` done, ``[b]``/``[B]`` blocked, ``[~]``/``[-]`` deferred.
- The id ``T\\d{3,}[a-z]?`` (``T011a``, ``T1000`` intact) may stand anywhere in the line; the task's id is
  the first one outside a dependency phrase.
- Markers ``[P]``, ``[US<n>]``, ``[V]``; other bracket tags (``[FR-002]``) are kept.
- Dependencies: "depends on T012", "after T007", "requires T003, T004", "blocked by T002",
  ``[depends: T001]``; blocked reasons as ``(blocked: reason)`` or ``BLOCKED: reason``.
- Tasks before the first ``##`` belong to no section (``section is None``).
- Fenced code blocks are examples and skipped.
A line that looks like a task but does not parse (checkbox without id, unknown checkbox state of up to three
characters such as ``[?]`` on a line with an id, duplicate id) becomes a warning with its line number;
nothing is dropped silently. A legend line (``- [P] tasks = …``, no id) is prose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["Section", "Task", "TaskDetails", "TaskState", "TasksDocument", "TasksWarning", "checked_ids", "parse_tasks"]


class TaskState(StrEnum):
    OPEN = "open"
    DONE = "done"
    BLOCKED = "blocked"
    DEFERRED = "deferred"


_BOX = {" ": TaskState.OPEN, "x": TaskState.DONE, "X": TaskState.DONE, "b": TaskState.BLOCKED,
        "B": TaskState.BLOCKED, "~": TaskState.DEFERRED, "-": TaskState.DEFERRED}  # fmt: skip

_ID = r"T\d{3,}[a-z]?"
_ID_CANDIDATE = re.compile(r"T\d{3}")
_ID_RE = re.compile(rf"(?<![\w-])({_ID})(?![\w])")
_ID_LIST = rf"{_ID}(?:\s*(?:,|&|\band\b|\bor\b)\s*{_ID})*"
_TAG = re.compile(r"\[([^\[\]]{1,40})\]")
_BLOCKED_REASON = re.compile(r"\(\s*blocked\s*:\s*([^)]*)\)|\bBLOCKED\s*:\s*(.+)$", re.I)
_PHASE = re.compile(r"^Phase\s+(\d+)\s*(?::|-|–|—)", re.I)
_US = re.compile(r"^US\d+$")


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
    the descriptive details (markers, tags, description, blocked reason) on first use: same grammar,
    but a 10 000-task file is planned without paying for them."""

    __slots__ = ("_details", "_id_span", "depends_on", "id", "indent", "line", "section", "state", "subgroup", "text")

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
        indent: int = 0,
    ) -> None:
        self.id = id
        self.state = state
        self.line = line
        self.section = section  # index into TasksDocument.sections; None = before the first ##
        self.subgroup = subgroup
        self.depends_on = depends_on or []
        self.indent = indent
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
    # unknown) line that did not parse may be unfinished work: the planner never calls such a file done
    box_state: TaskState | None = None

    @property
    def may_be_open(self) -> bool:
        return self.box_state is None or self.box_state is TaskState.OPEN


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


# the keywords a dependency phrase starts with, searched in the lower-cased line: alternatives that all
# start with a literal let the regex engine skip ahead, which the case-insensitive phrase regex cannot
_DEP_KEYWORD = re.compile(r"depend|after|requires|blocked|deps")


def _make_task(rest: str, state: TaskState, line: int, section: int | None, subgroup: str | None,
               indent: int) -> Task | None:  # fmt: skip
    """Build the task of one checkbox line, or None when the line has no id of its own.

    Hot path (10 000-line files): a line with a single id and no dependency keyword before it cannot carry
    dependencies (a phrase needs an id after its keyword), so the dependency regex only runs otherwise.
    """
    first = _ID_RE.search(rest)
    if first is None:
        return None
    # `T\d{3}` has a literal prefix the regex engine scans for quickly, unlike the precise id pattern
    if _ID_CANDIDATE.search(rest, first.end()) is None and (
        first.start() == 0 or _DEP_KEYWORD.search(rest[: first.start()].lower()) is None
    ):
        return Task(first.group(1), state, line, section, rest, first.span(), subgroup, [], indent)
    keyword = _DEP_KEYWORD.search(rest.lower())
    if keyword is None:
        return Task(first.group(1), state, line, section, rest, first.span(), subgroup, [], indent)
    deps: list[str] = []
    spans: list[tuple[int, int]] = []
    # start near the first keyword (a tag opens a few characters before it: "[ depends:")
    for match in _DEPS.finditer(rest, max(0, keyword.start() - 8)):
        spans.append(match.span())
        deps.extend(_ID_RE.findall(match.group(1) or match.group(2)))
    own: re.Match[str] | None = first
    if spans and any(start <= first.start() < end for start, end in spans):
        # the first id belongs to a phrase: the task's id is the first one outside every phrase
        own = next(
            (m for m in _ID_RE.finditer(rest) if not any(start <= m.start() < end for start, end in spans)), None
        )
        if own is None:
            return None
    assert own is not None
    task_id = own.group(1)
    if len(deps) > 1:
        deps = list(dict.fromkeys(deps))
    if task_id in deps:
        deps.remove(task_id)
    return Task(task_id, state, line, section, rest, own.span(), subgroup, deps, indent)


def _details(rest: str, id_span: tuple[int, int], state: TaskState) -> TaskDetails:
    parallel = verification = False
    story: str | None = None
    tags: list[str] = []
    if "[" in rest:
        for raw_tag in _TAG.findall(rest):
            tag = raw_tag.strip()
            if tag == "P":
                parallel = True
            elif tag == "V":
                verification = True
            elif _US.match(tag):
                story = tag
            elif not _ID_RE.fullmatch(tag) and not _DEP_TAG_TEXT.match(tag):
                tags.append(tag)
    reason = None
    if state is TaskState.BLOCKED:
        found = _BLOCKED_REASON.search(rest)
        if found:
            reason = (found.group(1) or found.group(2) or "").strip() or None
    description = rest[: id_span[0]] + rest[id_span[1] :]
    if "[" in description:
        description = _MARKER.sub("", description)
    description = " ".join(description.replace("**", "").split())
    return TaskDetails(description, parallel, verification, story, tuple(tags), reason)


_LINE = re.compile(
    r"^(?:(?P<fence>[ \t]*(?:```|~~~))"
    r"|(?P<hashes>\#{1,3})[ \t]+(?P<heading>[^\n]*)"
    r"|(?P<indent>[ \t]*)[-*+][ \t]*\[(?P<box>[^\]\n]{0,3})\][ \t]*(?P<rest>[^\n]*))",
    re.M,
)


def parse_tasks(text: str) -> TasksDocument:
    """One pass of one multiline regex over the text: only headings, fences and checkbox lines reach Python."""
    title: str | None = None
    sections: list[Section] = []
    tasks: list[Task] = []
    warnings: list[TasksWarning] = []
    seen: dict[str, int] = {}
    subgroup: str | None = None
    in_fence = False
    section_index: int | None = None
    line = 1
    position = 0
    count = text.count
    for match in _LINE.finditer(text):
        start = match.start()
        line += count("\n", position, start)
        position = start
        fence, hashes, heading, indent, box, rest = match.groups()
        if fence is not None:
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        if hashes is not None:
            heading = heading.strip()
            if hashes == "###":
                subgroup = heading
            elif hashes == "##":
                phase = _PHASE.match(heading)
                sections.append(Section(heading, line, int(phase.group(1)) if phase else None))
                section_index = len(sections) - 1
                subgroup = None
            elif title is None:
                title = heading[6:].strip() if heading.lower().startswith("tasks:") else heading
            continue
        state = _BOX.get(box)
        if rest.endswith("\r"):
            rest = rest[:-1]
        if state is None:
            if _ID_RE.search(rest):  # a task line with a state we do not know; legend lines ("- [P] = …") are not
                warnings.append(TasksWarning(line, f"unknown checkbox state [{box}]", match.group(0).strip()))
            continue
        task = _make_task(rest, state, line, section_index, subgroup, len(indent.expandtabs(4)) if indent else 0)
        if task is None:
            warnings.append(
                TasksWarning(line, "checkbox line without a task id (T### expected)", match.group(0).strip(), state)
            )
            continue
        if task.id in seen:
            warnings.append(
                TasksWarning(
                    line,
                    f"duplicate task id {task.id} (first on line {seen[task.id]})",
                    match.group(0).strip(),
                    state,
                )
            )
            continue
        seen[task.id] = line
        tasks.append(task)
        if section_index is not None:
            sections[section_index].task_ids.append(task.id)
    return TasksDocument(title, sections, tasks, warnings)


def checked_ids(text: str, ids: list[str]) -> dict[str, TaskState | None]:
    """The state of each of ``ids`` in ``text`` (None = not found): the evidence for batch confirmation."""
    states = {t.id: t.state for t in parse_tasks(text).tasks}
    return {task_id: states.get(task_id) for task_id in ids}
