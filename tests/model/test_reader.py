"""The project snapshot reader: feature dir resolution, artifacts, roadmap, state, and bad files."""

from __future__ import annotations

import json
from pathlib import Path

from specflowd.domain.config import OrchestrationConfig
from specflowd.project.reader import read_project_snapshot
from specflowd.project.roadmap import parse_roadmap
from specflowd.project.view import build_preview, build_status

REF = Path(__file__).resolve().parents[1] / "fixtures" / "specflow-samples"  # copies of shared/reference


def make_project(root: Path, *, state: object | None = None, tasks: str | None = "## A\n- [ ] T001 a\n") -> Path:
    for name in ("0003-old", "0010-current", "0009-other"):
        (root / "specs" / name).mkdir(parents=True)
    feature = root / "specs" / "0010-current"
    (feature / "spec.md").write_text("# spec")
    (feature / "plan.md").write_text("# plan")
    if tasks is not None:
        (feature / "tasks.md").write_text(tasks)
    if state is not None:
        (root / ".specflow").mkdir()
        (root / ".specflow" / "orchestration-state.json").write_text(
            state if isinstance(state, str) else json.dumps(state)
        )
    return root


def test_highest_numbered_feature_without_state(tmp_path: Path) -> None:
    snap = read_project_snapshot(make_project(tmp_path))
    assert snap.feature_dir is not None and snap.feature_dir.name == "0010-current"
    assert snap.artifacts == {"spec": True, "plan": True, "tasks": True, "checklists": False}
    assert snap.skill is None and snap.problems == []
    assert snap.tasks is not None and [t.id for t in snap.tasks.tasks] == ["T001"]


def test_state_file_phase_selects_the_feature(tmp_path: Path) -> None:
    state = json.loads((REF / "state" / "orchestration-state.json").read_text())
    state["orchestration"]["phase"].update(number="0009", branch="0009-other", hasUserGate=True)
    snap = read_project_snapshot(make_project(tmp_path, state=state))
    assert snap.feature_dir is not None and snap.feature_dir.name == "0009-other"
    assert snap.skill is not None and snap.skill.step_current == "design" and snap.skill.has_user_gate
    assert snap.artifacts["tasks"] is False and snap.user_gate


def test_corrupt_state_and_missing_things_are_problems(tmp_path: Path) -> None:
    snap = read_project_snapshot(make_project(tmp_path, state="{ nope", tasks=None))
    kinds = {p.kind for p in snap.problems}
    assert "corrupt_json" in kinds
    assert snap.skill is None and snap.tasks is None
    status = build_status(snap)
    assert status.next_action.startswith("design")
    assert any(p.kind == "corrupt_json" for p in status.problems)
    empty = read_project_snapshot(tmp_path / "missing")
    assert {p.kind for p in empty.problems} == {"missing_file"}


def test_state_file_with_wrong_shape(tmp_path: Path) -> None:
    snap = read_project_snapshot(make_project(tmp_path, state=[1, 2]))
    assert [p.kind for p in snap.problems] == ["bad_shape"]


def test_parse_warnings_surface_with_line_numbers(tmp_path: Path) -> None:
    snap = read_project_snapshot(make_project(tmp_path, tasks="## A\n- [ ] no id here\n- [ ] T001 ok\n"))
    assert [(p.kind, p.line) for p in snap.problems] == [("parse_warning", 2)]


def test_roadmap_samples() -> None:
    rows = parse_roadmap((REF / "roadmap" / "roadmap-edge-cases.md").read_text())
    by_number = {r.number: r for r in rows}
    assert by_number["0010"].status == "complete" and by_number["0020"].status == "in_progress"
    assert by_number["0030"].user_gate and not by_number["0040"].user_gate
    assert by_number["0011"].name == "Hotfix: Critical Bug"
    assert [by_number[n].status for n in ("2010", "2020", "2030", "2040", "2050")] == [
        "complete", "in_progress", "not_started", "blocked", "complete",
    ]  # fmt: skip
    own = parse_roadmap((REF / "roadmap" / "specflow-own-ROADMAP.md").read_text())
    assert len(own) > 10 and all(r.number.isdigit() for r in own)


def test_preview_steps_and_user_gate(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    (root / "ROADMAP.md").write_text(
        "| Phase | Name | Status | Verification Gate |\n|---|---|---|---|\n"
        "| 0010 | Current | 🔄 | **USER GATE**: ok |\n"
    )
    snap = read_project_snapshot(root)
    preview = build_preview(snap, OrchestrationConfig(auto_merge=True))
    steps = {s.step.value: s for s in preview.steps}
    assert not steps["design"].runs and steps["analyze"].runs and steps["implement"].runs
    assert not steps["merge"].runs and "USER GATE" in steps["merge"].reason
    assert preview.batches[0].task_ids == ["T001"]
    skipped = build_preview(snap, OrchestrationConfig(skip_analyze=True, batch_size_fallback=3))
    assert not {s.step.value: s for s in skipped.steps}["analyze"].runs
