"""Property tests: generated tasks.md documents go through the grammar and the planner without loss."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from specflowd.project.planner import PREAMBLE_BATCH, plan_batches
from specflowd.project.tasks import TaskState, WarningKind, parse_tasks

BOXES = {
    " ": TaskState.OPEN,
    "x": TaskState.DONE,
    "X": TaskState.DONE,
    "b": TaskState.BLOCKED,
    "B": TaskState.BLOCKED,
    "~": TaskState.DEFERRED,
    "-": TaskState.DEFERRED,
}
# the SpecFlow CLI's dependency phrases (a run of T/digits/commas/spaces after the keyword)
SINGLE_DEP = ["(depends on {})", "(after {})", "(Requires {})", "(After {})"]
MULTI_DEP = ["(requires {})", "(depends on {})", "Requires {}"]
# descriptions with dependency keywords or id-like text that are no dependency phrase
DESCRIPTIONS = ["do thing", "run after lunch", "requires care", "blocked by nobody", "update T-rex docs",
                "fix `T12` typo", "thereafter T", "**bold** and `code`", "[depends: T999] bracket tags are no deps"]  # fmt: skip
PROSE = ["", "**Purpose**: something", "> note with T-ids like T99999 in prose", "| a | b |"]
# task-looking lines the CLI does not read: (template, the checkbox the line shows; None = unknown box)
DECOYS: list[tuple[str, TaskState | None]] = [
    ("  - [ ] {id} indented", TaskState.OPEN),
    ("    - [x] {id} indented done", TaskState.DONE),
    ("* [ ] {id} star bullet", TaskState.OPEN),
    ("+ [x] {id} plus bullet", TaskState.DONE),
    ("1. [ ] {id} numbered", TaskState.OPEN),
    ("-[ ] {id} tight", TaskState.OPEN),
    ("- [  ] {id} two spaces", None),
    ("- [?] {id} unknown box", None),
    ("- [ ] T1{n:03d} four digits", TaskState.OPEN),
    ("- [ ] t{n:03d} lower t", TaskState.OPEN),
    ("- [x] T{n:03d}A upper suffix", TaskState.DONE),
    ("- [ ] TXXX template placeholder", TaskState.OPEN),
]


# The strategies drawn per task, built once: a strategy built afresh on every draw is validated afresh
# (about a third of these tests' time); the documents drawn are the same.
BOX_CHARS = st.sampled_from(sorted(BOXES))
DECOY_LINES = st.sampled_from(DECOYS)
MARKERS = st.sampled_from([("", ""), ("", "[P] "), ("[P] ", ""), ("[US2] ", "[V] [FR-002] ")])
MULTI_DEP_PHRASES = st.sampled_from(MULTI_DEP)
SINGLE_DEP_PHRASES = st.sampled_from(SINGLE_DEP)
DESCRIPTION_TEXTS = st.sampled_from(DESCRIPTIONS)
PROSE_LINES = st.sampled_from(PROSE)


@dataclass
class Gen:
    id: str
    box: str
    section: int | None  # None: before the first ##
    deps: list[str]  # as written
    expected_deps: list[str] = field(default_factory=list)  # as the CLI reads them (a run stops at a suffix)


def heading(index: int, style: int) -> str:
    return [f"Phase {index + 1}: Part {index}", f"Phase {index + 1} - Part {index} ✅ COMPLETE", f"Part {index}"][style]


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, list[Gen], list[str], dict[int, TaskState | None]]:
    """A tasks.md of CLI task lines in sections, with decoy lines the CLI ignores (line number → their box)."""
    n_sections = draw(st.integers(0, 5))
    n_tasks = draw(st.integers(0, 30))
    numbers = draw(st.lists(st.integers(0, 899), min_size=n_tasks, max_size=n_tasks, unique=True))
    ids = [f"T{n:03d}{draw(st.sampled_from(['', '', 'a', 'z']))}" for n in numbers]
    gens: list[Gen] = []
    for task_id in ids:
        section = draw(st.one_of(st.none(), st.integers(0, n_sections - 1))) if n_sections else None
        others = [i for i in ids if i != task_id]
        # any other task, earlier or later: cycles and forward references happen
        deps = draw(st.lists(st.sampled_from(others), max_size=3, unique=True)) if others else []
        gens.append(Gen(task_id, draw(BOX_CHARS), section, deps))
    ordered = sorted(gens, key=lambda g: -1 if g.section is None else g.section)  # stable: keeps draw order
    headings = [heading(i, draw(st.integers(0, 2))) for i in range(n_sections)]
    lines = ["# Tasks: generated", ""]
    decoys: dict[int, TaskState | None] = {}
    current = -1

    def decoy() -> None:
        template, box = draw(DECOY_LINES)
        n = draw(st.integers(900, 999))
        lines.append(template.format(id=f"T{n:03d}", n=n))
        decoys[len(lines)] = box

    for g in ordered:
        while g.section is not None and current < g.section:
            current += 1
            lines += [f"## {headings[current]}", draw(PROSE_LINES)]
        if draw(st.booleans()):
            lines.append(f"### Group {len(lines)}")
        if draw(st.integers(0, 3)) == 0:
            decoy()
        before, after = draw(MARKERS)
        if len(g.deps) > 1 and draw(st.booleans()):
            dep_text = draw(MULTI_DEP_PHRASES).format(", ".join(g.deps))
            # the CLI's run of T/digits/commas/spaces ends at a suffix letter: `requires T001a, T002` → T001
            read = list(itertools.takewhile(lambda d: len(d) == 4, g.deps))
            read += [g.deps[len(read)][:4]] if len(read) < len(g.deps) else []
        else:
            dep_text = " ".join(draw(SINGLE_DEP_PHRASES).format(d) for d in g.deps)
            read = [d[:4] for d in g.deps]  # `(after T001a)` reads as T001
        g.expected_deps = list(dict.fromkeys(read))
        description = draw(DESCRIPTION_TEXTS)
        lines.append(f"- [{g.box}] {before}{g.id} {after}{description} {dep_text}".rstrip())
        lines.append(draw(PROSE_LINES))
    for extra in range(current + 1, n_sections):
        lines += [f"## {headings[extra]}", "prose only"]
    if draw(st.booleans()):
        decoy()
    return "\n".join(lines) + "\n", gens, headings, decoys


@settings(max_examples=150, deadline=None)
@given(documents())
def test_every_generated_task_is_found_once_with_its_fields(
    case: tuple[str, list[Gen], list[str], dict[int, TaskState | None]],
) -> None:
    text, gens, headings, decoys = case
    doc = parse_tasks(text)
    found = doc.by_id()
    assert len(doc.tasks) == len(gens) == len(found)
    assert [s.heading for s in doc.sections] == headings
    lines = text.splitlines()
    for g in gens:
        task = found[g.id]
        assert task.state is BOXES[g.box]
        assert task.section == g.section
        assert task.depends_on == g.expected_deps
        assert g.id in lines[task.line - 1] and f"[{g.box}]" in lines[task.line - 1]
    # every decoy is named (line and why), none is a task
    assert {w.line: w.box_state for w in doc.warnings} == decoys
    assert all(w.kind is WarningKind.IGNORED and w.message for w in doc.warnings)
    assert not {t.line for t in doc.tasks} & decoys.keys()


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
    case: tuple[str, list[Gen], list[str], dict[int, TaskState | None]], fallback_size: int
) -> None:
    text, gens, headings, decoys = case
    plan = plan_batches(parse_tasks(text), fallback_size)
    scheduled = [task_id for batch in plan.batches for task_id in batch.task_ids]
    open_ids = {g.id for g in gens if BOXES[g.box] is TaskState.OPEN}
    assert len(scheduled) == len(set(scheduled)) and set(scheduled) == open_ids
    assert all(batch.task_ids for batch in plan.batches)
    held = {task_id for task_id, _, _ in plan.held}
    assert held == {g.id for g in gens if BOXES[g.box] in (TaskState.BLOCKED, TaskState.DEFERRED)}
    deps = {g.id: g.expected_deps for g in gens}
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
    open_decoy = any(box in (None, TaskState.OPEN) for box in decoys.values())  # a line the CLI ignores may be work
    settled = all(BOXES[g.box] in (TaskState.DONE, TaskState.DEFERRED) for g in gens)
    assert plan.all_done == (bool(gens) and settled and not open_decoy)
