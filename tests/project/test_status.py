"""projects.status and orchestrate.preview builders over snapshots of tmp_path projects."""

from __future__ import annotations

import json

from specflowd.domain.config import Budget, OrchestrationConfig, Step
from specflowd.project.snapshot import read_project_snapshot
from specflowd.project.status import build_preview, build_project_status
from tests.project.conftest import TASKS, ProjectBuilder


def test_status_of_a_project_mid_implement(project: ProjectBuilder) -> None:
    project.feature("0020-core", "spec", "plan", tasks=TASKS + "- [b] T004 d (blocked: key)\n- [~] T005 e\n")
    project.state(number="0020", branch="0020-core", name="Core Feature", status="in_progress")
    project.roadmap()
    status = build_project_status(read_project_snapshot(project.root))
    assert (status.phase_number, status.phase_name, status.phase_status) == ("0020", "Core Feature", "in_progress")
    assert (status.step, status.step_status) == ("design", "not_started")
    assert status.tasks.model_dump() == {"total": 5, "done": 1, "open": 2, "blocked": 1, "deferred": 1}
    assert status.current_section == "Phase 2: Core"
    assert status.feature == "0020-core" and status.tasks_path is not None
    assert status.user_gate and status.user_gate_status == "confirmed"  # the sample state's hasUserGate
    assert status.next_action == 'implement: 2 open tasks, next batch "Phase 2: Core"'
    json.dumps(status.model_dump(mode="json"))  # an RPC result


def test_status_falls_back_to_the_roadmap_row(project: ProjectBuilder) -> None:
    project.feature("0030-api", "spec", "plan", tasks="## A\n- [x] T001 a\n")
    project.roadmap()
    status = build_project_status(read_project_snapshot(project.root))
    assert (status.phase_number, status.phase_name, status.phase_status) == ("0030", "API: v2 Endpoints", "not_started")
    assert status.step is None and status.current_section is None and status.user_gate
    assert status.next_action == "verify (/flow.verify)"


def test_next_action_variants(project: ProjectBuilder) -> None:
    feature = project.feature("0010-x", "spec")
    assert build_project_status(read_project_snapshot(project.root)).next_action.startswith("design: plan, tasks")
    (feature / "plan.md").write_text("p")
    (feature / "tasks.md").write_text("## A\nno tasks\n")
    assert "lists no tasks" in build_project_status(read_project_snapshot(project.root)).next_action
    (feature / "tasks.md").write_text("## A\n- [x] T001 a\n- [b] T002 b\n")
    assert build_project_status(read_project_snapshot(project.root)).next_action.startswith("resolve 1 blocked")


def test_problems_reach_the_status(project: ProjectBuilder) -> None:
    project.write_state("{not json")
    status = build_project_status(read_project_snapshot(project.root))
    kinds = [p["kind"] for p in status.model_dump(mode="json")["problems"]]
    assert kinds == ["corrupt_json", "missing_file"]
    assert status.next_action.startswith("design: spec, plan, tasks")


def test_preview_full_project(project: ProjectBuilder) -> None:
    project.feature("0010-x", "spec", "plan", tasks=TASKS + "- [~] T004 later\n")
    config = OrchestrationConfig(budget=Budget(per_batch=3.0, total=20.0))
    preview = build_preview(read_project_snapshot(project.root), config)
    steps = {s.step: s for s in preview.steps}
    assert [s.step for s in preview.steps] == [Step.DESIGN, Step.ANALYZE, Step.IMPLEMENT, Step.VERIFY, Step.MERGE]
    assert not steps[Step.DESIGN].runs and "exist" in steps[Step.DESIGN].reason
    assert steps[Step.ANALYZE].runs and steps[Step.IMPLEMENT].runs and steps[Step.VERIFY].runs
    assert steps[Step.IMPLEMENT].reason == "Detected 1 batch from tasks.md sections (2 tasks)"
    assert not steps[Step.MERGE].runs and "waits for merge" in steps[Step.MERGE].reason
    assert [(b.name, b.task_ids) for b in preview.batches] == [("Phase 2: Core", ["T002", "T003"])]
    assert [(h.id, h.state) for h in preview.held] == [("T004", "deferred")]
    assert preview.budget["per_batch"] == 3.0 and preview.budget["total"] == 20.0
    assert preview.warnings == [] and not preview.all_done and not preview.user_gate
    json.dumps(preview.model_dump(mode="json"))


def test_preview_skip_flags_auto_merge_and_missing_design(project: ProjectBuilder) -> None:
    project.feature("0010-x", "spec")
    snap = read_project_snapshot(project.root)
    preview = build_preview(snap, OrchestrationConfig(auto_merge=True, skip_analyze=True))
    steps = {s.step: s for s in preview.steps}
    assert steps[Step.DESIGN].runs and steps[Step.DESIGN].reason == "writes plan.md, tasks.md"
    assert not steps[Step.ANALYZE].runs and steps[Step.IMPLEMENT].runs and steps[Step.MERGE].runs
    assert preview.batches == [] and preview.summary == "no tasks.md yet"
    skipped = build_preview(snap, OrchestrationConfig(skip_design=True))
    assert not {s.step: s for s in skipped.steps}[Step.DESIGN].runs


def test_preview_user_gate_fallback_sizing_and_parse_warnings(project: ProjectBuilder) -> None:
    tasks = "# Tasks: flat\n" + "".join(f"- [ ] T{n:03d} t\n" for n in range(1, 31)) + "- [ ] no id\n"
    project.feature("0030-api", "spec", "plan", tasks=tasks)
    project.roadmap()
    preview = build_preview(read_project_snapshot(project.root), OrchestrationConfig(auto_merge=True))
    steps = {s.step: s for s in preview.steps}
    assert preview.user_gate and not steps[Step.MERGE].runs and "USER GATE" in steps[Step.MERGE].reason
    assert [b.name for b in preview.batches] == ["Batch 1", "Batch 2"]
    assert preview.summary == "2 batches by fallback sizing (30 tasks)"
    assert preview.warnings[0] == "no sections with tasks: 15-task batches"
    assert any(w.endswith("tasks.md:32: checkbox line without a task id (T### expected)") for w in preview.warnings)


def test_preview_when_every_task_is_done(project: ProjectBuilder) -> None:
    project.feature("0010-x", "spec", "plan", tasks="## A\n- [x] T001 a\n")
    preview = build_preview(read_project_snapshot(project.root), OrchestrationConfig())
    implement = {s.step: s for s in preview.steps}[Step.IMPLEMENT]
    assert not implement.runs and implement.reason == "all tasks are already done" and preview.all_done
    project.feature("0011-y", "spec", "plan", tasks="## A\nnothing\n")
    empty = build_preview(read_project_snapshot(project.root), OrchestrationConfig())
    assert empty.batches == [] and not empty.all_done and empty.summary == "No tasks in tasks.md"
