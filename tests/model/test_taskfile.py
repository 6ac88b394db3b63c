"""The tasks.md grammar: real samples, hand-checked counts, and every tricky shape."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from specflowd.project.taskfile import TaskState, checked_ids, parse_tasks

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "specflow-samples" / "tasks"  # copies of shared/reference
LOOSE_TASK_LINE = re.compile(r"^\s*[-*+]\s+\[.\]")


def sample_files() -> list[Path]:
    files = sorted(SAMPLES.glob("*.md"))
    assert files, f"no samples under {SAMPLES}"
    return files


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.name)
def test_every_sample_loses_no_task_line(path: Path) -> None:
    text = path.read_text()
    doc = parse_tasks(text)
    checkbox_lines = {i for i, line in enumerate(text.splitlines(), 1) if LOOSE_TASK_LINE.match(line)}
    accounted = {t.line for t in doc.tasks} | {w.line for w in doc.warnings}
    legend = {i for i in checkbox_lines - accounted if not re.search(r"T\d{3,}", text.splitlines()[i - 1])}
    assert checkbox_lines - legend == accounted, "every checkbox line with an id is a task or a warning"
    assert len({t.id for t in doc.tasks}) == len(doc.tasks)


@pytest.mark.parametrize(
    ("name", "total", "done", "open_", "deferred", "sections"),
    [
        ("fixture-tasks-edge-cases.md", 23, 5, 16, 2, 7),
        ("fixture-sample-tasks.md", 25, 11, 13, 1, 11),
        ("fixture-tasks-minimal.md", 3, 1, 2, 0, 0),
        ("1057-orchestration-simplification.tasks.md", 123, 123, 0, 0, 17),
    ],
)
def test_hand_checked_counts(name: str, total: int, done: int, open_: int, deferred: int, sections: int) -> None:
    doc = parse_tasks((SAMPLES / name).read_text())
    counts = doc.counts()
    assert (counts["total"], counts["done"], counts["open"], counts["deferred"]) == (total, done, open_, deferred)
    assert len(doc.sections) == sections


def test_edge_case_file_details() -> None:
    doc = parse_tasks((SAMPLES / "fixture-tasks-edge-cases.md").read_text())
    tasks = doc.by_id()
    assert tasks["T005"].depends_on == ["T004"]
    assert tasks["T006"].depends_on == ["T004", "T005"]
    assert tasks["T007"].story == "US2" and tasks["T007"].tags == ["P1", "FR-001"]
    assert tasks["T008a"].subgroup == "Sub-tasks demonstration"
    assert tasks["T008b"].parallel
    assert tasks["T018"].verification
    assert doc.sections[tasks["T009"].section].heading == "Deferred Items"  # type: ignore[index]
    assert doc.title == "Edge Cases Collection"


DOC = """# Tasks: Shapes
- [ ] T000 before any section
## Phase 1: Setup ✅ COMPLETE
- [x] T001 done lower
- [X] T002 done upper
  - [ ] T003 indented
* [ ] T004 star bullet
- [b] T005 blocked (blocked: waiting for API keys)
- [B] T006 blocked upper
- [~] T007 deferred tilde
- [-] T008 deferred dash
## Phase 2 - Core
### Group A
- [ ] **T011a** bold id with suffix [P] [US3] [V] [FR-002]
- [ ] T1000 four digits (depends on T011a)
- [ ] [P] T012 id not first, after T1000
- [ ] T013 requires T003, T004 and T012
- [ ] T014 tag form [depends: T013, T012]
- [ ] T015 blocked by T014
- [ ] Checkbox without an id (depends on T001)
- [ ] T001 duplicate id
- [?] T016 unknown state
- [P] legend line, not a task
```
- [ ] T099 inside a code fence
```
## Notes
Some prose mentioning T012.
"""


def test_tricky_shapes() -> None:
    doc = parse_tasks(DOC)
    t = doc.by_id()
    assert t["T000"].section is None and t["T000"].line == 2
    assert doc.sections[0].heading == "Phase 1: Setup ✅ COMPLETE" and doc.sections[0].phase_number == 1
    assert doc.sections[1].heading == "Phase 2 - Core" and doc.sections[1].phase_number == 2
    assert doc.sections[2].phase_number is None
    assert [t[i].state for i in ("T001", "T002", "T003", "T004")] == [
        TaskState.DONE, TaskState.DONE, TaskState.OPEN, TaskState.OPEN,
    ]  # fmt: skip
    assert t["T003"].indent == 2
    assert t["T005"].state is TaskState.BLOCKED and t["T005"].blocked_reason == "waiting for API keys"
    assert t["T006"].state is TaskState.BLOCKED
    assert t["T007"].state is TaskState.DEFERRED and t["T008"].state is TaskState.DEFERRED
    assert "T011" not in t and "T100" not in t  # never truncated
    a = t["T011a"]
    assert (a.parallel, a.story, a.verification, a.tags, a.subgroup) == (True, "US3", True, ["FR-002"], "Group A")
    assert a.description == "bold id with suffix [FR-002]"
    assert t["T1000"].depends_on == ["T011a"]
    assert t["T012"].parallel and t["T012"].depends_on == ["T1000"]
    assert t["T013"].depends_on == ["T003", "T004", "T012"]
    assert t["T014"].depends_on == ["T013", "T012"]
    assert t["T015"].depends_on == ["T014"]
    assert "T099" not in t
    warned = {w.line: w.message for w in doc.warnings}
    assert "without a task id" in warned[20]
    assert "duplicate task id T001" in warned[21] and t["T001"].line == 4
    assert "unknown checkbox state" in warned[22]
    assert 23 not in warned  # "- [P] legend" is no task and no warning
    assert doc.counts() == {"open": 9, "done": 2, "blocked": 2, "deferred": 2, "total": 15}


def test_checked_ids_reports_each_state() -> None:
    states = checked_ids(DOC, ["T001", "T003", "T011a", "T999"])
    assert states == {"T001": TaskState.DONE, "T003": TaskState.OPEN, "T011a": TaskState.OPEN, "T999": None}


def test_empty_and_garbage_input_never_raise() -> None:
    assert parse_tasks("").tasks == []
    doc = parse_tasks("\x00\ufeff## \n- [\n- []\n* [x]\n#\n")
    assert doc.tasks == []
