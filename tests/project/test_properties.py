"""Property tests: generated tasks.md documents go through the grammar and the planner without loss."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from specflowd.project.planner import PREAMBLE_BATCH, plan_batches
from specflowd.project.tasks import TaskState, parse_tasks

BOXES = {
    " ": TaskState.OPEN,
    "x": TaskState.DONE,
    "X": TaskState.DONE,
    "b": TaskState.BLOCKED,
    "B": TaskState.BLOCKED,
    "~": TaskState.DEFERRED,
    "-": TaskState.DEFERRED,
}
SINGLE_DEP = ["(depends on {})", "(after {})", "[depends: {}]", "(requires {})"]
MULTI_DEP = ["(requires {})", "(depends on {})", "[depends: {}]"]
# descriptions with dependency keywords or id-like text that are no dependency phrase
DESCRIPTIONS = ["do thing", "run after lunch", "requires care", "blocked by nobody", "update T-rex docs",
                "fix `T12` typo", "thereafter T", "**bold** and `code`"]  # fmt: skip
PROSE = ["", "**Purpose**: something", "> note with T-ids like T99999 in prose", "| a | b |"]


@dataclass
class Gen:
    id: str
    box: str
    section: int | None  # None: before the first ##
    deps: list[str]


def heading(index: int, style: int) -> str:
    return [f"Phase {index + 1}: Part {index}", f"Phase {index + 1} - Part {index} ✅ COMPLETE", f"Part {index}"][style]


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, list[Gen], list[str]]:
    n_sections = draw(st.integers(0, 5))
    n_tasks = draw(st.integers(0, 30))
    numbers = draw(st.lists(st.integers(0, 12000), min_size=n_tasks, max_size=n_tasks, unique=True))
    ids = [f"T{n:03d}{draw(st.sampled_from(['', '', 'a', 'z']))}" for n in numbers]
    gens: list[Gen] = []
    for task_id in ids:
        section = draw(st.one_of(st.none(), st.integers(0, n_sections - 1))) if n_sections else None
        others = [i for i in ids if i != task_id]
        # any other task, earlier or later: cycles and forward references happen
        deps = draw(st.lists(st.sampled_from(others), max_size=3, unique=True)) if others else []
        gens.append(Gen(task_id, draw(st.sampled_from(sorted(BOXES))), section, deps))
    ordered = sorted(gens, key=lambda g: -1 if g.section is None else g.section)  # stable: keeps draw order
    headings = [heading(i, draw(st.integers(0, 2))) for i in range(n_sections)]
    lines = ["# Tasks: generated", ""]
    current = -1
    for g in ordered:
        while g.section is not None and current < g.section:
            current += 1
            lines += [f"## {headings[current]}", draw(st.sampled_from(PROSE))]
        if draw(st.booleans()):
            lines.append(f"### Group {len(lines)}")
        indent = draw(st.sampled_from(["", "  ", "    ", "\t"]))
        bullet = draw(st.sampled_from(["-", "*"]))
        before, after = draw(st.sampled_from([("", ""), ("", "[P] "), ("[P] ", ""), ("[US2] ", "[V] [FR-002] ")]))
        if len(g.deps) > 1 and draw(st.booleans()):
            dep_text = draw(st.sampled_from(MULTI_DEP)).format(", ".join(g.deps))
        else:
            dep_text = " ".join(draw(st.sampled_from(SINGLE_DEP)).format(d) for d in g.deps)
        description = draw(st.sampled_from(DESCRIPTIONS))
        lines.append(f"{indent}{bullet} [{g.box}] {before}{g.id} {after}{description} {dep_text}".rstrip())
        lines.append(draw(st.sampled_from(PROSE)))
    for extra in range(current + 1, n_sections):
        lines += [f"## {headings[extra]}", "prose only"]
    return "\n".join(lines) + "\n", gens, headings


@settings(max_examples=150, deadline=None)
@given(documents())
def test_every_generated_task_is_found_once_with_its_fields(case: tuple[str, list[Gen], list[str]]) -> None:
    text, gens, headings = case
    doc = parse_tasks(text)
    assert doc.warnings == []
    found = doc.by_id()
    assert len(doc.tasks) == len(gens) == len(found)
    assert [s.heading for s in doc.sections] == headings
    lines = text.splitlines()
    for g in gens:
        task = found[g.id]
        assert task.state is BOXES[g.box]
        assert task.section == g.section
        assert task.depends_on == g.deps
        assert g.id in lines[task.line - 1] and f"[{g.box}]" in lines[task.line - 1]


def _acyclic(ids: list[str], deps: dict[str, list[str]]) -> bool:
    inside = set(ids)
    state: dict[str, int] = {}

    def visit(node: str) -> bool:  # depth-first search for a back edge
        state[node] = 1
        for dep in deps[node]:
            if dep in inside and (state.get(dep) == 1 or (dep not in state and not visit(dep))):
                return False
        state[node] = 2
        return True

    return all(node in state or visit(node) for node in ids)


@settings(max_examples=150, deadline=None)
@given(documents(), st.integers(1, 8))
def test_batches_cover_exactly_the_open_tasks_once_respecting_dependencies(
    case: tuple[str, list[Gen], list[str]], fallback_size: int
) -> None:
    text, gens, headings = case
    plan = plan_batches(parse_tasks(text), fallback_size)
    scheduled = [task_id for batch in plan.batches for task_id in batch.task_ids]
    open_ids = {g.id for g in gens if BOXES[g.box] is TaskState.OPEN}
    assert len(scheduled) == len(set(scheduled)) and set(scheduled) == open_ids
    assert all(batch.task_ids for batch in plan.batches)
    held = {task_id for task_id, _, _ in plan.held}
    assert held == {g.id for g in gens if BOXES[g.box] in (TaskState.BLOCKED, TaskState.DEFERRED)}
    deps = {g.id: g.deps for g in gens}
    sectioned = any(g.section is not None for g in gens)
    assert plan.fallback == (bool(open_ids) and not sectioned)
    if sectioned:
        section_of = {g.id: g.section for g in gens}
        for batch in plan.batches:
            sections = {section_of[i] for i in batch.task_ids}
            assert len(sections) == 1
            (section,) = sections
            assert batch.name == (PREAMBLE_BATCH if section is None else headings[section])
        groups = [b.task_ids for b in plan.batches]
    else:
        assert all(len(b.task_ids) <= fallback_size for b in plan.batches)
        groups = [scheduled]  # fallback chunks are cut from one ordering of all open tasks
    for ids in groups:
        if _acyclic(ids, deps):
            position = {task_id: i for i, task_id in enumerate(ids)}
            for task_id in ids:
                assert all(position[d] < position[task_id] for d in deps[task_id] if d in position)
        else:
            assert any("cycle" in w for w in plan.warnings)
    assert (plan.batches == []) == (not open_ids)
    assert plan.all_done == (bool(gens) and all(BOXES[g.box] in (TaskState.DONE, TaskState.DEFERRED) for g in gens))
