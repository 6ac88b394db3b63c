"""Property tests: generated tasks.md documents round-trip through the grammar and the planner."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from specflowd.project.batching import plan_batches
from specflowd.project.taskfile import TaskState, parse_tasks

BOXES = {
    " ": TaskState.OPEN,
    "x": TaskState.DONE,
    "X": TaskState.DONE,
    "b": TaskState.BLOCKED,
    "~": TaskState.DEFERRED,
    "-": TaskState.DEFERRED,
}
DEP_FORMS = ["(depends on {})", "(after {})", "(requires {})", "[depends: {}]"]


@dataclass
class Gen:
    id: str
    box: str
    section: int | None
    deps: list[str]


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, list[Gen], int]:
    n_sections = draw(st.integers(0, 5))
    n_tasks = draw(st.integers(0, 40))
    numbers = draw(st.lists(st.integers(1, 20000), min_size=n_tasks, max_size=n_tasks, unique=True))
    suffixes = draw(st.lists(st.sampled_from(["", "", "", "a", "b"]), min_size=n_tasks, max_size=n_tasks))
    ids = [f"T{n:03d}{s}" for n, s in zip(numbers, suffixes, strict=True)]
    gens: list[Gen] = []
    for i, task_id in enumerate(ids):
        section = draw(st.one_of(st.none(), st.integers(0, n_sections - 1))) if n_sections else None
        earlier = ids[:i]
        deps = draw(st.lists(st.sampled_from(earlier), max_size=2, unique=True)) if earlier else []
        gens.append(Gen(task_id, draw(st.sampled_from(sorted(BOXES))), section, deps))
    # tasks without a section must come first (before the first ##); others grouped by section in order
    ordered = sorted(gens, key=lambda g: -1 if g.section is None else g.section)
    lines = ["# Tasks: generated", ""]
    current: int | None = None
    for g in ordered:
        while g.section is not None and (current is None or current < g.section):
            current = 0 if current is None else current + 1
            lines.append(f"## Phase {current + 1}: Section {current}")
        indent = draw(st.sampled_from(["", "  ", "\t"]))
        bullet = draw(st.sampled_from(["-", "*"]))
        markers = draw(st.sampled_from(["", "[P] ", "[US2] ", "[P] [V] "]))
        dep_text = " ".join(draw(st.sampled_from(DEP_FORMS)).format(d) for d in g.deps)
        lines.append(f"{indent}{bullet} [{g.box}] {g.id} {markers}do thing {dep_text}".rstrip())
    if current is None:
        current = -1
    for extra in range(current + 1, n_sections):
        lines.append(f"## Phase {extra + 1}: Empty {extra}")
    return "\n".join(lines) + "\n", gens, n_sections


@settings(max_examples=150, deadline=None)
@given(documents())
def test_every_generated_task_is_found_once_with_its_fields(case: tuple[str, list[Gen], int]) -> None:
    text, gens, _ = case
    doc = parse_tasks(text)
    assert doc.warnings == []
    found = doc.by_id()
    assert len(doc.tasks) == len(gens) == len(found)
    for g in gens:
        task = found[g.id]
        assert task.state is BOXES[g.box]
        assert task.depends_on == g.deps
        expected_section = None if g.section is None else g.section
        assert task.section == expected_section


@settings(max_examples=150, deadline=None)
@given(documents(), st.integers(1, 10))
def test_batches_cover_exactly_the_open_tasks_once_respecting_dependencies(
    case: tuple[str, list[Gen], int], size: int
) -> None:
    text, gens, _ = case
    plan = plan_batches(parse_tasks(text), size)
    scheduled = [task_id for batch in plan.batches for task_id in batch.task_ids]
    open_ids = {g.id for g in gens if BOXES[g.box] is TaskState.OPEN}
    assert sorted(scheduled) == sorted(open_ids)
    assert len(scheduled) == len(set(scheduled))
    # deps were drawn from earlier ids only, so they are acyclic: an open dependency in the same batch comes first
    position = {task_id: (b.index, i) for b in plan.batches for i, task_id in enumerate(b.task_ids)}
    for g in gens:
        if g.id not in position:
            continue
        for dep in g.deps:
            if dep in position and position[dep][0] == position[g.id][0]:
                assert position[dep][1] < position[g.id][1]
    assert (plan.batches == []) == (not open_ids)
    assert plan.all_done == (bool(gens) and all(BOXES[g.box] in (TaskState.DONE, TaskState.DEFERRED) for g in gens))
