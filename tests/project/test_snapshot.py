"""The snapshot reader on tmp_path projects: feature resolution, artifacts, state, roadmap, problems."""

from __future__ import annotations

from pathlib import Path

from specflowd.project.problems import ProblemKind
from specflowd.project.snapshot import read_project_snapshot
from tests.project.conftest import TASKS, ProjectBuilder


def test_highest_numbered_feature_without_state_file(project: ProjectBuilder) -> None:
    project.feature("0003-old", "spec")
    project.feature("0010-current", "spec", "plan", "checklists", tasks=TASKS)
    project.feature("0009-other")
    (project.root / "specs" / "notes").mkdir()  # not a feature directory
    snap = read_project_snapshot(project.root)
    assert snap.feature_dir == project.root / "specs" / "0010-current"
    assert snap.artifacts == {"spec": True, "plan": True, "tasks": True, "checklists": True}
    assert snap.tasks_path == snap.feature_dir / "tasks.md" and snap.tasks_text == TASKS
    assert snap.tasks is not None and [t.id for t in snap.tasks.tasks] == ["T001", "T002", "T003"]
    assert snap.skill is None and snap.problems == [] and snap.phase_number == "0010"


def test_numeric_order_not_text_order(project: ProjectBuilder) -> None:
    project.feature("0999-a")
    project.feature("1000-b")
    project.feature("099-c")
    assert read_project_snapshot(project.root).feature_dir == project.root / "specs" / "1000-b"


def test_state_branch_selects_the_feature(project: ProjectBuilder) -> None:
    project.feature("0009-other", "spec")
    project.feature("0010-current", "spec", "plan", tasks=TASKS)
    project.state(number="0009", branch="0009-other", name="Other", hasUserGate=False)
    snap = read_project_snapshot(project.root)
    assert snap.feature_dir == project.root / "specs" / "0009-other"
    assert snap.artifacts == {"spec": True, "plan": False, "tasks": False, "checklists": False}
    assert snap.tasks is None and snap.tasks_path is None
    assert snap.skill is not None and snap.skill.phase_name == "Other" and snap.skill.step_current == "design"


def test_state_number_selects_the_feature_when_branch_is_unknown(project: ProjectBuilder) -> None:
    project.feature("0009-other")
    project.feature("0010-current")
    project.state(number=9, branch="renamed-branch")
    assert read_project_snapshot(project.root).feature_dir == project.root / "specs" / "0009-other"


def test_sample_state_with_null_phase_falls_back_to_highest(project: ProjectBuilder) -> None:
    project.feature("0009-other")
    project.feature("0010-current")
    project.state()  # the real sample: phase number/branch null after "phase close"
    snap = read_project_snapshot(project.root)
    assert snap.feature_dir == project.root / "specs" / "0010-current"
    # the sample's hasUserGate is true, but there is no ROADMAP row: the CLI then reads no gate
    assert not snap.user_gate and not snap.phase_open


def test_roadmap_row_and_user_gate(project: ProjectBuilder) -> None:
    project.feature("0030-api", "spec", "plan", tasks=TASKS)
    project.roadmap()
    snap = read_project_snapshot(project.root)
    row = snap.roadmap_phase
    assert row is not None and row.name == "API: v2 Endpoints" and row.status == "not_started"
    assert snap.user_gate and snap.skill is None


def test_corrupt_state_json_is_a_problem(project: ProjectBuilder) -> None:
    project.feature("0010-current", "spec", "plan", tasks=TASKS)
    project.write_state('{"orchestration": {"phase": ')
    snap = read_project_snapshot(project.root)
    assert [p.kind for p in snap.problems] == [ProblemKind.CORRUPT_JSON]
    assert snap.problems[0].path.endswith("orchestration-state.json")
    assert snap.skill is None and snap.tasks is not None  # the rest is still read


def test_unreadable_state_file_is_a_problem(project: ProjectBuilder) -> None:
    (project.root / ".specflow" / "orchestration-state.json").mkdir(parents=True)  # a directory, not a file
    snap = read_project_snapshot(project.root)
    kinds = [p.kind for p in snap.problems]
    assert ProblemKind.UNREADABLE in kinds and ProblemKind.MISSING_FILE in kinds  # and no specs/


def test_missing_project_and_missing_specs(tmp_path: Path, project: ProjectBuilder) -> None:
    gone = read_project_snapshot(tmp_path / "does-not-exist")
    assert [(p.kind, p.path) for p in gone.problems] == [(ProblemKind.MISSING_FILE, str(tmp_path / "does-not-exist"))]
    assert gone.feature_dir is None and gone.roadmap == []
    empty = read_project_snapshot(project.root)
    assert [p.kind for p in empty.problems] == [ProblemKind.MISSING_FILE]
    assert empty.problems[0].message == "no feature directory specs/NNNN-*"
    assert not any(empty.artifacts.values())


def test_parse_warnings_become_problems_with_lines(project: ProjectBuilder) -> None:
    project.feature("0010-x", tasks="## A\n- [ ] no id here\n- [ ] T001 ok\n- [ ] T001 again\n")
    snap = read_project_snapshot(project.root)
    assert [(p.kind, p.line) for p in snap.problems] == [(ProblemKind.PARSE_WARNING, 2), (ProblemKind.PARSE_WARNING, 4)]
    assert "tasks.md:4: duplicate task id T001 (first on line 3); `specflow mark T001` ticks both" in (
        snap.problems[1].describe()
    )
    assert snap.problems[0].describe().endswith(
        "tasks.md:2: not a task for the SpecFlow CLI, never scheduled (no task id (T + exactly three digits, "
        "optional lowercase letter)): - [ ] no id here"
    )


def test_invalid_utf8_in_tasks_is_replaced_not_fatal(project: ProjectBuilder) -> None:
    feature = project.feature("0010-x")
    (feature / "tasks.md").write_bytes(b"## A\n- [ ] T001 caf\xe9\n")
    snap = read_project_snapshot(project.root)
    assert snap.tasks is not None and [t.id for t in snap.tasks.tasks] == ["T001"] and snap.problems == []
