"""The batch planner, including the empty-plan rule."""

from __future__ import annotations

from specflowd.project.batching import PREAMBLE_BATCH, plan_batches
from specflowd.project.taskfile import parse_tasks


def plan(text: str, size: int = 15):  # type: ignore[no-untyped-def]
    return plan_batches(parse_tasks(text), size)


def test_one_batch_per_section_with_open_tasks_in_file_order() -> None:
    p = plan("## Phase 1: A\n- [x] T001 a\n## Phase 2: B\n- [ ] T002 b\n- [ ] T003 c\n## C\n- [ ] T004 d\n## Notes\n")
    assert [(b.name, b.task_ids) for b in p.batches] == [("Phase 2: B", ["T002", "T003"]), ("C", ["T004"])]
    assert p.summary == "2 batches from tasks.md sections (3 tasks)"
    assert not p.fallback and not p.all_done and p.batches[0].phase_number == 2


def test_dependencies_order_tasks_within_a_batch() -> None:
    p = plan("## S\n- [ ] T001 needs T003 (depends on T003)\n- [ ] T002 free\n- [ ] T003 base\n")
    assert p.batches[0].task_ids == ["T002", "T003", "T001"]
    assert p.warnings == []


def test_cycle_keeps_file_order_with_warning() -> None:
    p = plan("## S\n- [ ] T001 (after T002)\n- [ ] T002 (after T001)\n")
    assert p.batches[0].task_ids == ["T001", "T002"]
    assert any("cycle" in w for w in p.warnings)


def test_unknown_and_later_dependencies_warn() -> None:
    p = plan("## A\n- [ ] T001 (depends on T777)\n- [ ] T002 (depends on T003)\n## B\n- [ ] T003 x\n")
    assert any("unknown task T777" in w for w in p.warnings)
    assert any("T002 depends on T003, which is scheduled in a later batch" in w for w in p.warnings)


def test_blocked_and_deferred_are_held_not_scheduled() -> None:
    p = plan("## A\n- [ ] T001 a\n- [b] T002 (blocked: keys)\n- [~] T003 later\n")
    assert p.batches[0].task_ids == ["T001"]
    assert p.held == [("T002", "blocked", "keys"), ("T003", "deferred", None)]


def test_fallback_only_when_no_section_holds_a_task() -> None:
    text = "# Tasks\n## Notes\n" + "".join(f"- [ ] T{i:03d} t\n" for i in range(1, 8)).replace("## Notes\n", "")
    text = "# Tasks\n" + "".join(f"- [ ] T{i:03d} t\n" for i in range(1, 8)) + "## Notes\nprose\n"
    p = plan(text, size=3)
    assert [b.name for b in p.batches] == ["Batch 1", "Batch 2", "Batch 3"]
    assert [len(b.task_ids) for b in p.batches] == [3, 3, 1]
    assert p.fallback and p.summary == "3 batches by fallback sizing (7 tasks)"
    assert p.warnings[0] == "no sections with tasks: 3-task batches"


def test_preamble_tasks_lead_when_sections_exist() -> None:
    p = plan("- [ ] T001 early\n## A\n- [ ] T002 a\n")
    assert [b.name for b in p.batches] == [PREAMBLE_BATCH, "A"]


def test_empty_plan_never_means_done() -> None:
    none = plan("# Tasks\n## A\nno tasks here\n")
    assert none.batches == [] and none.no_tasks and not none.all_done and none.summary == "No tasks in tasks.md"
    done = plan("## A\n- [x] T001 a\n")
    assert done.batches == [] and done.all_done and done.summary == "No open tasks"
    blocked = plan("## A\n- [x] T001 a\n- [b] T002 b\n")
    assert blocked.batches == [] and not blocked.all_done
    assert blocked.summary == "No open tasks (1 blocked or deferred)"
