"""The one tasks.md grammar: every real sample, hand-checked counts, and each tricky line shape."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from specflowd.project.tasks import TaskState, checked_ids, parse_tasks
from tests.project.samples import TASK_SAMPLES

# deliberately loose: any bullet, any one-to-three-char checkbox, a T-id with three or more digits anywhere
LOOSE_TASK_LINE = re.compile(r"^\s*[-*+]\s*\[[^\]]{0,3}\].*\bT\d{3,}")


def sample_files() -> list[Path]:
    files = sorted(TASK_SAMPLES.glob("*.md"))
    assert len(files) >= 13, f"samples missing under {TASK_SAMPLES}"
    return files


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.name)
def test_every_sample_parses_with_no_task_lost(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    doc = parse_tasks(text)
    loose = {n for n, line in enumerate(text.splitlines(), 1) if LOOSE_TASK_LINE.match(line)}
    warned = {w.line for w in doc.warnings}
    assert len(doc.tasks) == len(loose - warned)
    assert {t.line for t in doc.tasks} == loose - warned
    assert len({t.id for t in doc.tasks}) == len(doc.tasks)
    counts = doc.counts()
    assert counts["total"] == sum(counts[s.value] for s in TaskState)


# counted by reading the files (ids listed per file in the comments)
@pytest.mark.parametrize(
    ("name", "total", "done", "open_", "deferred", "sections"),
    [
        # T001-T020, every box [x]; 8 Phase sections + Progress Dashboard + Dependencies
        ("1048-workflow-foundation.tasks.md", 20, 20, 0, 0, 10),
        # T001:-T017: (colon after the id), all [x]; Sections A-D
        ("1051-questions-notifications.tasks.md", 17, 17, 0, 0, 4),
        # T001-T020 + T008a/b/c; done T001-T004, T020; deferred T009, T010
        ("fixture-tasks-edge-cases.md", 23, 5, 16, 2, 7),
        # T001-T022 + T011a/b/c; done T001-T008, T019-T021; deferred T022; dashboard "✅ T001" lines are no tasks
        ("fixture-sample-tasks.md", 25, 11, 13, 1, 11),
        # three tasks before any ## heading
        ("fixture-tasks-minimal.md", 3, 1, 2, 0, 0),
    ],
)
def test_hand_checked_counts(name: str, total: int, done: int, open_: int, deferred: int, sections: int) -> None:
    doc = parse_tasks((TASK_SAMPLES / name).read_text(encoding="utf-8"))
    c = doc.counts()
    assert (c["total"], c["done"], c["open"], c["deferred"], c["blocked"]) == (total, done, open_, deferred, 0)
    assert len(doc.sections) == sections


def test_template_placeholder_ids_are_warnings_not_tasks() -> None:
    doc = parse_tasks((TASK_SAMPLES / "template-tasks.md").read_text(encoding="utf-8"))
    assert [t.id for t in doc.tasks] == [f"T{n:03d}" for n in range(1, 29)]
    assert len(doc.warnings) == 15 and all("without a task id" in w.message for w in doc.warnings)


def test_sample_details() -> None:
    doc = parse_tasks((TASK_SAMPLES / "fixture-sample-tasks.md").read_text(encoding="utf-8"))
    t = doc.by_id()
    assert {"T011", "T011a", "T011b", "T011c"} <= t.keys()
    assert t["T009"].depends_on == ["T007"] and t["T015"].depends_on == ["T012", "T013"]
    assert t["T018"].depends_on == ["T016"]
    assert t["T016"].tags == ["P1", "FR-002"] and t["T016"].story == "US2"
    assert doc.sections[0].heading == "Progress Dashboard"
    setup = doc.sections[t["T001"].section]  # type: ignore[index]
    assert setup.heading == "Phase 1: Setup (Shared Infrastructure) ✅ COMPLETE" and setup.phase_number == 1
    assert t["T011a"].subgroup == "Sub-tasks for Parser"


TRICKY = """\
- [ ] T000 before any section
# Tasks: Tricky
## Phase 1: Setup ✅ COMPLETE
- [x] T001 done lower
- [X] T002 done upper
### Group A
  - [ ] T003 indented (after T001)
* [ ] T004 star bullet (requires T001, T002)
\t- [b] T005 blocked (blocked: waiting for API keys)
- [B] T006 blocked upper
## Phase 2 - Core
- [~] T007 deferred tilde
- [-] T008 deferred dash
- [ ] [P] [US3] T011a id not first [depends: T003]
- [ ] T1000 [V] [FR-002] four digits (depends on T011a)
- [ ] T1001 **bold** text, T1000 mentioned after T007
## Notes
- [ ] no id here
- [ ] T001 duplicate
- [?] T020 unknown state
- [P] tasks = parallel (legend, not a task)
"""


def test_tricky_shapes() -> None:
    doc = parse_tasks(TRICKY)
    t = doc.by_id()
    assert doc.title == "Tricky"
    assert [s.heading for s in doc.sections] == ["Phase 1: Setup ✅ COMPLETE", "Phase 2 - Core", "Notes"]
    assert [s.phase_number for s in doc.sections] == [1, 2, None]
    assert t["T000"].section is None and t["T000"].line == 1
    assert [t[i].state for i in ("T001", "T002")] == [TaskState.DONE] * 2
    assert t["T003"].indent == 2 and t["T003"].subgroup == "Group A" and t["T003"].depends_on == ["T001"]
    assert t["T003"].line == 7
    assert t["T004"].depends_on == ["T001", "T002"] and t["T004"].line == 8
    assert t["T005"].state is TaskState.BLOCKED and t["T005"].blocked_reason == "waiting for API keys"
    assert t["T006"].state is TaskState.BLOCKED and t["T006"].blocked_reason is None
    assert t["T007"].state is TaskState.DEFERRED and t["T008"].state is TaskState.DEFERRED
    assert t["T007"].subgroup is None  # a new ## section ends the ### group
    a = t["T011a"]
    assert a.parallel and a.story == "US3" and a.depends_on == ["T003"] and a.section == 1
    big = t["T1000"]
    assert big.verification and big.tags == ["FR-002"] and big.depends_on == ["T011a"]
    assert "four digits" in big.description and "T1000" not in big.description
    assert t["T1001"].depends_on == ["T007"]  # "T1000 mentioned" is no dependency phrase
    assert t["T1001"].description.startswith("bold text")
    assert doc.sections[1].task_ids == ["T007", "T008", "T011a", "T1000", "T1001"]
    warned = {w.line: w.message for w in doc.warnings}
    assert set(warned) == {18, 19, 20}
    assert "without a task id" in warned[18]
    assert "duplicate task id T001 (first on line 4)" in warned[19]
    assert "unknown checkbox state [?]" in warned[20]
    assert t["T001"].line == 4  # the first occurrence wins
    assert doc.counts() == {"open": 6, "done": 2, "blocked": 2, "deferred": 2, "total": 12}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("- [ ] T010 wire it (depends on T012)", ["T012"]),
        ("- [ ] T010 wire it, after T007", ["T007"]),
        ("- [ ] T010 wire it (requires T003, T004)", ["T003", "T004"]),
        ("- [ ] T010 wire it (Requires T003 and T004)", ["T003", "T004"]),
        ("- [ ] T010 [depends: T001] wire it", ["T001"]),
        ("- [ ] T010 [depends: T001, T002a] wire it", ["T001", "T002a"]),
        ("- [ ] T010 wire it (Depends on: T1000)", ["T1000"]),
        ("- [ ] T010 wire it (blocked by T002)", ["T002"]),
        ("- [ ] T010 wire it after the review", []),
        ("- [ ] T010 update docs for T011", []),
    ],
)
def test_dependency_forms(line: str, expected: list[str]) -> None:
    (task,) = parse_tasks(line).tasks
    assert task.id == "T010" and task.depends_on == expected


def test_dependency_phrase_before_the_id_does_not_steal_it() -> None:
    (task,) = parse_tasks("- [ ] (after T001) T002 second").tasks
    assert task.id == "T002" and task.depends_on == ["T001"]


def test_ids_are_never_truncated() -> None:
    doc = parse_tasks("- [ ] T011a a\n- [ ] T1000 b\n- [ ] T12345z c\n- [ ] T011 d\n")
    assert [t.id for t in doc.tasks] == ["T011a", "T1000", "T12345z", "T011"]
    assert doc.warnings == []


def test_bullet_without_space_and_plus_bullet() -> None:
    doc = parse_tasks("-[ ] T001 tight\n+ [x] T002 plus\n")
    assert [(t.id, t.state) for t in doc.tasks] == [("T001", TaskState.OPEN), ("T002", TaskState.DONE)]


def test_too_short_id_is_a_warning() -> None:
    doc = parse_tasks("- [ ] T01 short\n")
    assert doc.tasks == [] and [w.line for w in doc.warnings] == [1]


def test_fenced_code_blocks_are_examples_not_tasks() -> None:
    doc = parse_tasks("## A\n```\n- [ ] T001 example\n```\n- [ ] T002 real\n")
    assert [t.id for t in doc.tasks] == ["T002"] and doc.tasks[0].line == 5


def test_crlf_line_endings() -> None:
    doc = parse_tasks("## A\r\n- [x] T001 one\r\n- [ ] T002 two (after T001)\r\n")
    t = doc.by_id()
    assert t["T002"].depends_on == ["T001"] and t["T002"].line == 3 and t["T001"].state is TaskState.DONE
    assert doc.sections[0].heading == "A"


def test_checked_ids_reports_each_state() -> None:
    text = "- [x] T001 a\n- [ ] T002 b\n- [b] T003 c\n- [~] T004 d\nT005 is mentioned only\n"
    assert checked_ids(text, ["T001", "T002", "T003", "T004", "T005"]) == {
        "T001": TaskState.DONE,
        "T002": TaskState.OPEN,
        "T003": TaskState.BLOCKED,
        "T004": TaskState.DEFERRED,
        "T005": None,
    }


def test_empty_and_garbage_input_never_raise() -> None:
    for text in ("", "\n\n", "###", "- [", "- [ ]", "## \n- [x]\n", "\x00\ufeff# T\n* [ ] T001"):
        doc = parse_tasks(text)
        assert doc.counts()["total"] == len(doc.tasks)


def test_line_with_only_a_dependency_has_no_id_of_its_own() -> None:
    doc = parse_tasks("## A\n- [ ] (after T001) tidy up\n")
    assert doc.tasks == [] and [(w.line, "without a task id" in w.message) for w in doc.warnings] == [(2, True)]


def test_multi_character_unknown_box_with_an_id_warns() -> None:
    doc = parse_tasks("- [xx] T001 a\n- [US1] T002 b\n- [P] legend only\n")
    assert doc.tasks == []
    assert [(w.line, w.message) for w in doc.warnings] == [
        (1, "unknown checkbox state [xx]"),
        (2, "unknown checkbox state [US1]"),
    ]


def test_blocked_reason_forms() -> None:
    doc = parse_tasks("- [b] T001 a (Blocked: needs  key)\n- [B] T002 b BLOCKED: upstream outage\n")
    assert [t.blocked_reason for t in doc.tasks] == ["needs  key", "upstream outage"]
