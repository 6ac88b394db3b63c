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
    # the sample state says hasUserGate, the ROADMAP row of 0020 has no USER GATE: the row wins, as in the CLI
    assert not status.user_gate and status.user_gate_status == "confirmed"
    assert status.next_action == 'implement: 2 open tasks, next batch "Phase 2: Core"'
    assert status.cli_next_action == "run_analyze"  # step design with spec, plan and tasks: what `specflow status` says
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
    assert not steps[Step.MERGE].runs and "merge waits for `specflowctl merge`" in steps[Step.MERGE].reason
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
    assert any(
        w.endswith("tasks.md:32: not a task for the SpecFlow CLI, never scheduled (no task id (T + exactly three "
                   "digits, optional lowercase letter)): - [ ] no id")
        for w in preview.warnings
    )  # fmt: skip


def test_preview_when_every_task_is_done(project: ProjectBuilder) -> None:
    project.feature("0010-x", "spec", "plan", tasks="## A\n- [x] T001 a\n")
    preview = build_preview(read_project_snapshot(project.root), OrchestrationConfig())
    implement = {s.step: s for s in preview.steps}[Step.IMPLEMENT]
    assert not implement.runs and implement.reason == "all tasks are already done" and preview.all_done
    project.feature("0011-y", "spec", "plan", tasks="## A\nnothing\n")
    empty = build_preview(read_project_snapshot(project.root), OrchestrationConfig())
    assert empty.batches == [] and not empty.all_done and empty.summary == "No tasks in tasks.md"


def test_status_after_phase_close_says_start_phase_without_a_problem(project: ProjectBuilder) -> None:
    """`phase close` moved specs/0020-* into .specify/archive/ and reset the state (the real sample)."""
    project.roadmap()
    project.state()  # number/name/branch null, status not_started, next_phase 1060
    status = build_project_status(read_project_snapshot(project.root))
    assert status.problems == [] and status.feature is None
    assert status.cli_next_action == "start_phase" and status.next_phase == "1060 Stats & Operations"
    assert status.next_action == "start_phase: no phase is open; open the next one, 1060 Stats & Operations (`specflow phase open`)"
    document = json.loads((project.root / ".specflow" / "orchestration-state.json").read_text())
    document["orchestration"]["next_phase"] = None
    project.write_state(json.dumps(document))
    assert build_project_status(read_project_snapshot(project.root)).next_phase == "0030 API: v2 Endpoints"  # ROADMAP


def test_cli_next_action_follows_specflow_status(project: ProjectBuilder) -> None:
    project.feature("0020-core", "spec", "plan", tasks="## A\n- [x] T001 a\n- [ ] T002 b\n")
    project.roadmap()

    def cli(**step: object) -> str:
        document = project.state(number="0020", status="in_progress")
        document["orchestration"]["step"].update(step)
        project.write_state(json.dumps(document))
        return build_project_status(read_project_snapshot(project.root)).cli_next_action

    assert cli(current="analyze") == "run_analyze"
    assert cli(current="implement") == "continue_implement"
    assert cli(current="verify", status="failed") == "ready_to_merge"  # step.status is ignored, as in the CLI
    assert cli(current="merge") == "continue_implement"
    assert cli(current="verified") == "fix_health"
    (project.root / "specs" / "0020-core" / "tasks.md").write_text("## A\n- [x] T001 a\n- [x] T002 b\n")
    assert cli(current="implement") == "run_verify"
    project.state(number="0020", status="complete")
    assert build_project_status(read_project_snapshot(project.root)).cli_next_action == "archive_phase"


def test_preview_merge_waits_as_the_engine_decides(project: ProjectBuilder) -> None:
    """The phase 0030 has a USER GATE in its ROADMAP row; the state file carries userGateStatus over."""
    project.feature("0030-api", "spec", "plan", tasks="## A\n- [ ] T001 a\n")
    project.roadmap()

    def merge(status: str | None, **config: bool) -> str:
        project.state(number="0030", status="in_progress", userGateStatus=status, hasUserGate=True)
        preview = build_preview(read_project_snapshot(project.root), OrchestrationConfig(**config))
        step = {s.step: s for s in preview.steps}[Step.MERGE]
        assert not step.runs
        return step.reason

    assert "does not count" in merge("confirmed", auto_merge=True)  # left over from an earlier phase
    assert "does not count" in merge("skipped")
    pending = merge("pending", auto_merge=True)
    assert "(/flow.verify asks)" in pending and pending.endswith("auto-merge once it is")
    project.state(number="0020", status="in_progress", hasUserGate=True)  # 0020's ROADMAP row has no gate
    preview = build_preview(read_project_snapshot(project.root), OrchestrationConfig(auto_merge=True))
    assert {s.step: s for s in preview.steps}[Step.MERGE].runs
    assert any("hasUserGate=true but the phase's ROADMAP row has no USER GATE" in w for w in preview.warnings)


def test_preview_prompts_are_shell_safe_and_the_context_goes_to_the_system_prompt(project: ProjectBuilder) -> None:
    project.feature("0010-x", tasks="- [ ] T000 pre\n## Phase 1: Setup\n- [ ] T001 a\n- [ ] T002 b\n")
    config = OrchestrationConfig(additional_context='Use "uv"; never $(pip)')
    preview = build_preview(read_project_snapshot(project.root), config)
    steps = [p.prompt for p in preview.prompts if p.batch_index is None]
    assert [p.split(" ")[0] for p in steps] == ["/flow.design", "/flow.analyze", "/flow.verify", "/flow.merge"]
    for prompt in steps:  # /flow.merge pastes $ARGUMENTS into a shell test: one short plain sentence
        assert "\n" not in prompt and len(prompt) < 160 and not set(prompt) & set("\"'`$\\")
        assert "uv" not in prompt
    assert preview.system_prompt.endswith('Use "uv"; never $(pip)') and "needs_input" in preview.system_prompt
    batches = {p.batch_index: p.prompt for p in preview.prompts if p.batch_index is not None}
    assert batches[0].startswith('/flow.implement Execute only "Tasks before the first section": T000.')
    assert "`specflow next` never offers them" in batches[0]
    assert batches[1].startswith('/flow.implement Execute only the "Phase 1: Setup" section: T001, T002.')
    assert "`specflow mark <id>`" in batches[1] and "never edit a checkbox" in batches[1]
