"""The batch planner. Pure: a TasksDocument in, a BatchPlan out.

Rules
- One batch per ``##`` section that has open tasks, named by its heading, in file order.
- Open tasks written before the first ``##`` (when there are sections) form a leading batch named
  "Tasks before the first section", so they are never lost.
- Only when no section holds any task: fixed-size chunks ("Batch 1", …) of ``batch_size_fallback``.
- Within a batch, tasks follow their dependencies when those are acyclic (a stable topological order: file
  order wherever dependencies allow); a cycle keeps file order and warns; unknown dependency ids warn; a
  dependency on an open task of a later batch warns.
- Blocked and deferred tasks are never scheduled; they are reported in ``held``.
- The empty-plan rule: zero batches means "nothing to schedule", never "implement is done". Only
  ``all_done`` (at least one task, none open or blocked, and no open-looking line that failed to parse) says
  the tasks are done; a document without tasks is ``no_tasks``. Callers confirm a batch against the ids it
  named (``tasks.checked_ids``), never by an empty batch list.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection
from dataclasses import dataclass, field

from specflowd.project.tasks import Task, TasksDocument, TaskState

__all__ = ["PREAMBLE_BATCH", "Batch", "BatchPlan", "plan_batches"]

PREAMBLE_BATCH = "Tasks before the first section"


@dataclass(slots=True)
class Batch:
    index: int
    name: str
    task_ids: list[str]
    section: int | None  # index into TasksDocument.sections; None for preamble/fallback batches
    phase_number: int | None = None


@dataclass(slots=True)
class BatchPlan:
    batches: list[Batch]
    held: list[tuple[str, str, str | None]]  # (task id, state, reason) of blocked/deferred tasks
    warnings: list[str]
    summary: str
    fallback: bool
    total: int
    open: int
    done: int
    no_tasks: bool = False
    all_done: bool = False
    open_ids: list[str] = field(default_factory=list)


def _order(tasks: list[Task], known: Collection[str], warnings: list[str], batch_name: str) -> list[str]:
    """Stable topological order inside one batch (Kahn with file position as priority).

    Fast path: when every in-batch dependency points to an earlier line (the usual way tasks.md is
    written), file order already is that order."""
    position = {t.id: i for i, t in enumerate(tasks)}
    forward = False
    for index, task in enumerate(tasks):
        for dep in task.depends_on:
            where = position.get(dep)
            if where is None:
                if dep not in known:
                    warnings.append(f"{task.id} depends on unknown task {dep}")
            elif where >= index:
                forward = True
    if not forward:
        return list(position)
    indegree = dict.fromkeys(position, 0)
    followers: dict[str, list[str]] = {t.id: [] for t in tasks}
    for task in tasks:
        for dep in task.depends_on:
            if dep in position:
                indegree[task.id] += 1
                followers[dep].append(task.id)
    ready = [(position[i], i) for i, d in indegree.items() if d == 0]
    heapq.heapify(ready)
    ordered: list[str] = []
    while ready:
        _, task_id = heapq.heappop(ready)
        ordered.append(task_id)
        for follower in followers[task_id]:
            indegree[follower] -= 1
            if indegree[follower] == 0:
                heapq.heappush(ready, (position[follower], follower))
    if len(ordered) != len(tasks):
        cyclic = sorted((i for i, d in indegree.items() if d > 0), key=position.__getitem__)
        warnings.append(f'dependency cycle in "{batch_name}" ({", ".join(cyclic)}): keeping file order')
        return [t.id for t in tasks]
    return ordered


def plan_batches(doc: TasksDocument, batch_size_fallback: int = 15) -> BatchPlan:
    if batch_size_fallback < 1:
        raise ValueError("batch_size_fallback must be at least 1")
    warnings: list[str] = []
    states = {t.id: t.state for t in doc.tasks}
    known = states.keys()
    open_tasks: list[Task] = []
    held: list[tuple[str, str, str | None]] = []
    done = 0
    open_state, done_state = TaskState.OPEN, TaskState.DONE
    for t in doc.tasks:  # one pass, identity comparisons: this runs over every task of the file
        if t.state is open_state:
            open_tasks.append(t)
        elif t.state is done_state:
            done += 1
        else:
            held.append((t.id, t.state.value, t.blocked_reason))
    sectioned = any(s.task_ids for s in doc.sections)
    groups: list[tuple[str, int | None, list[Task]]] = []
    if sectioned:
        preamble = [t for t in open_tasks if t.section is None]
        if preamble:
            groups.append((PREAMBLE_BATCH, None, preamble))
        by_section: dict[int, list[Task]] = {}
        for task in open_tasks:
            if task.section is not None:
                by_section.setdefault(task.section, []).append(task)
        groups += [(doc.sections[i].heading, i, tasks) for i, tasks in sorted(by_section.items())]
    elif open_tasks:
        ordered_ids = _order(open_tasks, known, warnings, "all tasks")
        by_id = {t.id: t for t in open_tasks}
        ordered = [by_id[i] for i in ordered_ids]
        for start in range(0, len(ordered), batch_size_fallback):
            groups.append(
                (f"Batch {start // batch_size_fallback + 1}", None, ordered[start : start + batch_size_fallback])
            )
    batches: list[Batch] = []
    batch_of: dict[str, int] = {}
    for name, section, tasks in groups:
        ids = _order(tasks, known, warnings, name) if sectioned else [t.id for t in tasks]
        index = len(batches)
        phase = doc.sections[section].phase_number if section is not None else None
        batches.append(Batch(index, name, ids, section, phase))
        for task_id in ids:
            batch_of[task_id] = index
    for task in open_tasks:
        for dep in task.depends_on:
            if dep in batch_of and batch_of[dep] > batch_of[task.id]:
                warnings.append(f"{task.id} depends on {dep}, which is scheduled in a later batch")
            elif (dep_state := states.get(dep)) is TaskState.BLOCKED or dep_state is TaskState.DEFERRED:
                warnings.append(f"{task.id} depends on {dep}, which is {states[dep].value}")
    unsettled = sum(1 for w in doc.warnings if w.may_be_open)
    if unsettled and not open_tasks:
        warnings.append(f"{unsettled} open-looking task line(s) could not be parsed: not treating the tasks as done")
    fallback = bool(batches) and not sectioned
    if fallback:
        warnings.insert(0, f"no sections with tasks: {batch_size_fallback}-task batches")
    count = sum(len(b.task_ids) for b in batches)
    if not doc.tasks:
        summary = "No tasks in tasks.md"
    elif not batches:
        summary = "No open tasks" + (f" ({len(held)} blocked or deferred)" if held else "")
    else:
        plural = "batch" if len(batches) == 1 else "batches"
        how = "by fallback sizing" if fallback else "from tasks.md sections"
        summary = f"{len(batches)} {plural} {how} ({count} tasks)"
    return BatchPlan(
        batches=batches,
        held=held,
        warnings=warnings,
        summary=summary,
        fallback=fallback,
        total=len(doc.tasks),
        open=len(open_tasks),
        done=done,
        no_tasks=not doc.tasks,
        all_done=bool(doc.tasks) and not open_tasks and not unsettled and not any(s == "blocked" for _, s, _ in held),
        open_ids=[t.id for t in open_tasks],
    )
