"""The one tasks.md grammar (the SpecFlow CLI's): every real sample, the CLI's counts, each tricky line shape."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from specflowd.project.tasks import TaskState, WarningKind, checked_ids, parse_tasks
from tests.project.samples import TASK_SAMPLES

# deliberately loose: anything a reader takes for a task line (any bullet, any indentation, a one-to-three
# character checkbox holding a state character or followed by a T-number)
LOOSE_TASK_LINE = re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]*\[(?:[ xXbB~-]|[^\]]{0,3}\].*[Tt][0-9])")


def sample_files() -> list[Path]:
    files = sorted(TASK_SAMPLES.glob("*.md"))
    assert len(files) >= 13, f"samples missing under {TASK_SAMPLES}"
    return files


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.name)
def test_every_task_looking_line_is_a_task_or_named(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    doc = parse_tasks(text)
    loose = {n for n, line in enumerate(text.splitlines(), 1) if LOOSE_TASK_LINE.match(line)}
    warned = {w.line for w in doc.warnings}
    tasks = {t.line for t in doc.tasks} | {t.line for t in doc.duplicates}
    assert tasks | warned == loose and not tasks & {w.line for w in doc.ignored}
    assert len({t.id for t in doc.tasks}) == len(doc.tasks)
    counts = doc.counts()
    assert counts["total"] == sum(counts[s.value] for s in TaskState)


# `specflow status --json` on each sample (docs/specflow-cli.md: tasksCompleted/tasksTotal)
CLI_COUNTS = [
    ("1048-workflow-foundation.tasks.md", 20, 20),
    ("1057-orchestration-simplification.tasks.md", 123, 123),
    ("fixture-sample-tasks.md", 11, 25),
    ("fixture-tasks-edge-cases.md", 5, 23),
    ("fixture-tasks-minimal.md", 1, 3),
    ("template-tasks.md", 0, 28),
]


@pytest.mark.parametrize(("name", "done", "total"), CLI_COUNTS, ids=[c[0] for c in CLI_COUNTS])
def test_counts_equal_the_specflow_cli(name: str, done: int, total: int) -> None:
    counts = parse_tasks((TASK_SAMPLES / name).read_text(encoding="utf-8")).counts()
    assert (counts["done"], counts["total"]) == (done, total)


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


def test_template_placeholder_ids_are_named_not_tasks() -> None:
    doc = parse_tasks((TASK_SAMPLES / "template-tasks.md").read_text(encoding="utf-8"))
    assert [t.id for t in doc.tasks] == [f"T{n:03d}" for n in range(1, 29)]
    assert len(doc.warnings) == 15 and all(w.message.startswith("no task id") for w in doc.warnings)


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
- [ ]T003 no space after the box (after T001)
- [x]  T004 two spaces (Requires T001, T002)
- [b] T005 blocked (blocked: waiting for API keys)
- [B] T006 blocked upper
## Phase 2 - Core
- [~] T007 deferred tilde
- [-] T008 deferred dash
- [ ] [P] [US3] T011a id not first (depends on T003)
- [ ] Fix T012 bug [V] [FR-002]
- [ ] **T013** bold, T012 mentioned after T007
```
- [ ] T014 inside a fence counts
```
## Notes
  - [ ] T020 indented
* [ ] T021 star bullet
1. [ ] T022 numbered
-[ ] T023 tight
- [  ] T024 two-space box
- [ ] T1000 four digits
- [ ] t025 lower t
- [ ] T026A upper suffix
- [ ] no id here
- [ ] T001 duplicate
- [?] T027 unknown state
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
    assert t["T003"].subgroup == "Group A" and t["T003"].depends_on == ["T001"] and t["T003"].line == 7
    assert t["T004"].depends_on == ["T001", "T002"] and t["T004"].state is TaskState.DONE
    assert t["T005"].state is TaskState.BLOCKED and t["T005"].blocked_reason == "waiting for API keys"
    assert t["T006"].state is TaskState.BLOCKED and t["T006"].blocked_reason is None
    assert t["T007"].state is TaskState.DEFERRED and t["T008"].state is TaskState.DEFERRED
    assert t["T007"].subgroup is None  # a new ## section ends the ### group
    a = t["T011a"]
    assert a.parallel and a.story == "US3" and a.depends_on == ["T003"] and a.section == 1
    fix = t["T012"]
    assert fix.verification and fix.tags == ["FR-002"] and fix.description.startswith("Fix bug")
    # "mentioned after T007" reads as a dependency (keyword + id run), exactly as `specflow next` reads it
    assert t["T013"].depends_on == ["T007"] and t["T013"].description.startswith("bold")
    assert t["T014"].line == 18  # no fence awareness, as the CLI
    assert doc.sections[1].task_ids == ["T007", "T008", "T011a", "T012", "T013", "T014"]
    ignored = {w.line: w.message for w in doc.ignored}
    assert set(ignored) == {21, 22, 23, 24, 25, 26, 27, 28, 29, 31}
    assert ignored[21].startswith("indented")
    assert ignored[22].startswith("`*` bullet") and ignored[23].startswith("numbered list item")
    assert ignored[24].startswith("no space between `-` and `[`")
    assert ignored[25].startswith("checkbox `[  ]`") and ignored[31].startswith("checkbox `[?]`")
    assert ignored[26].startswith("`T1000` is not a task id") and ignored[27].startswith("`t025` is not a task id")
    assert ignored[28].startswith("`T026A` is not a task id") and ignored[29].startswith("no task id")
    (dup,) = [w for w in doc.warnings if w.kind is WarningKind.DUPLICATE]
    assert dup.line == 30 and "duplicate task id T001 (first on line 4)" in dup.message
    assert t["T001"].line == 4  # the first occurrence is the task; the duplicate line still counts, as in the CLI
    assert doc.counts() == {"open": 7, "done": 3, "blocked": 2, "deferred": 2, "total": 14}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("- [ ] T010 wire it (depends on T012)", ["T012"]),
        ("- [ ] T010 wire it, after T007", ["T007"]),
        ("- [ ] T010 wire it (requires T003, T004)", ["T003", "T004"]),
        ("- [ ] T010 wire it (After T004)", ["T004"]),
        ("- [ ] T010 wire it (Requires T003 and T004)", ["T003"]),  # the run stops at "and"
        ("- [ ] T010 wire it (after T002a)", ["T002"]),  # … and at a suffix letter
        ("- [ ] T010 [depends: T001] wire it", []),
        ("- [ ] T010 wire it (Depends on: T011)", []),
        ("- [ ] T010 wire it (blocked by T002)", []),
        ("- [ ] T010 wire it after the review", []),
        ("- [ ] T010 update docs for T011", []),
        ("- [ ] T010 thereafter T011", ["T011"]),  # no word boundary before the keyword, as in the CLI
    ],
)
def test_dependency_forms(line: str, expected: list[str]) -> None:
    (task,) = parse_tasks(line).tasks
    assert task.id == "T010" and task.depends_on == expected


def test_the_first_id_on_the_line_is_the_tasks_even_in_a_dependency_phrase() -> None:
    (task,) = parse_tasks("- [ ] (after T001) T002 second").tasks
    assert task.id == "T001"  # as `specflow status` reads it; `mark T002` would be refused


def test_ids_follow_the_cli() -> None:
    doc = parse_tasks("- [ ] T011a a\n- [ ] T1000 b\n- [ ] T12345z c\n- [ ] T011 d\n- [ ] T015A e\n")
    assert [t.id for t in doc.tasks] == ["T011a", "T011"]
    assert [(w.line, w.message.split(" ")[0]) for w in doc.warnings] == [(2, "`T1000`"), (3, "`T12345z`"), (5, "`T015A`")]


def test_tight_and_plus_bullets_are_ignored() -> None:
    doc = parse_tasks("-[ ] T001 tight\n+ [x] T002 plus\n")
    assert doc.tasks == [] and [w.box_state for w in doc.ignored] == [TaskState.OPEN, TaskState.DONE]


def test_too_short_id_is_named() -> None:
    doc = parse_tasks("- [ ] T01 short\n")
    assert doc.tasks == [] and [w.line for w in doc.warnings] == [1]


def test_fenced_code_blocks_count_like_in_the_cli() -> None:
    doc = parse_tasks("## A\n```\n- [ ] T001 example\n```\n- [ ] T002 real\n")
    assert [t.id for t in doc.tasks] == ["T001", "T002"]


def test_crlf_task_lines_are_not_read_by_the_cli() -> None:
    doc = parse_tasks("## A\r\n- [x] T001 one\r\n- [ ] T002 two (after T001)\r\n- [ ] T003 last")
    assert [t.id for t in doc.tasks] == ["T003"] and doc.sections[0].heading == "A"
    assert [w.line for w in doc.ignored] == [2, 3] and "carriage return" in doc.ignored[0].message


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


def test_multi_character_unknown_box_with_an_id_is_named() -> None:
    doc = parse_tasks("- [xx] T001 a\n- [US1] T002 b\n- [P] legend only\n")
    assert doc.tasks == []
    assert [(w.line, w.box_state, w.message.split(" is not")[0]) for w in doc.warnings] == [
        (1, None, "checkbox `[xx]`"),
        (2, None, "checkbox `[US1]`"),
    ]


def test_blocked_reason_forms() -> None:
    doc = parse_tasks("- [b] T001 a (Blocked: needs  key)\n- [B] T002 b [BLOCKED: upstream outage]\n- [b] T003 c BLOCKED: no\n")
    assert [t.blocked_reason for t in doc.tasks] == ["needs  key", "upstream outage", None]
