"""The batch planner: sections, preamble, fallback sizing, dependency order, held tasks, the empty-plan rule."""

from __future__ import annotations

import pytest

from specflowd.project.planner import PREAMBLE_BATCH, plan_batches
from specflowd.project.tasks import parse_tasks
from tests.project.samples import TASK_SAMPLES


def test_one_batch_per_section_with_open_tasks_in_file_order() -> None:
    doc = parse_tasks(
        "# Tasks: x\n## Progress Dashboard\n| a | b |\n## Phase 1: Setup\n- [x] T001 a\n"
        "## Phase 2: Core\n- [ ] T002 b\n### Sub\n- [ ] T003 c\n## Phase 3 - Polish ✅\n- [ ] T004 d\n## Notes\n"
    )
    plan = plan_batches(doc, 15)
    assert [(b.name, b.task_ids, b.phase_number) for b in plan.batches] == [
        ("Phase 2: Core", ["T002", "T003"], 2),
        ("Phase 3 - Polish ✅", ["T004"], 3),
    ]
    assert [b.index for b in plan.batches] == [0, 1]
    assert plan.summary == "2 batches from tasks.md sections (3 tasks)"
    assert not plan.fallback and not plan.all_done and plan.warnings == []


def test_dependencies_order_tasks_within_a_batch() -> None:
    doc = parse_tasks("## A\n- [ ] T001 a (after T003)\n- [ ] T002 b\n- [ ] T003 c (depends on T002)\n")
    assert plan_batches(doc, 15).batches[0].task_ids == ["T002", "T003", "T001"]


def test_done_dependencies_do_not_constrain() -> None:
    doc = parse_tasks("## A\n- [ ] T002 b (after T001)\n- [x] T001 a\n")
    plan = plan_batches(doc, 15)
    assert plan.batches[0].task_ids == ["T002"] and plan.warnings == []


def test_cycle_keeps_file_order_with_warning() -> None:
    doc = parse_tasks("## A\n- [ ] T001 a (after T002)\n- [ ] T002 b (after T001)\n- [ ] T003 c\n")
    plan = plan_batches(doc, 15)
    assert plan.batches[0].task_ids == ["T001", "T002", "T003"]
    assert any("cycle" in w and "T001" in w and "T002" in w for w in plan.warnings)


def test_unknown_and_later_and_held_dependencies_warn() -> None:
    doc = parse_tasks(
        "## A\n- [ ] T001 a (after T999)\n- [ ] T002 b (after T003)\n- [ ] T004 d (after T005)\n"
        "## B\n- [ ] T003 c\n- [b] T005 e\n"
    )
    warnings = plan_batches(doc, 15).warnings
    assert any("T001" in w and "unknown task T999" in w for w in warnings)
    assert any("T002 depends on T003" in w and "later batch" in w for w in warnings)
    assert any("T004 depends on T005" in w and "blocked" in w for w in warnings)


def test_blocked_and_deferred_are_held_not_scheduled() -> None:
    doc = parse_tasks("## A\n- [ ] T001 a\n- [b] T002 b (blocked: no key)\n- [~] T003 c\n- [-] T004 d\n")
    plan = plan_batches(doc, 15)
    assert plan.batches[0].task_ids == ["T001"]
    assert plan.held == [("T002", "blocked", "no key"), ("T003", "deferred", None), ("T004", "deferred", None)]


def test_fallback_only_when_no_section_holds_a_task() -> None:
    text = "# Tasks: flat\n" + "".join(f"- [ ] T{n:03d} t\n" for n in range(1, 31)) + "## Notes\nprose\n"
    plan = plan_batches(parse_tasks(text), 15)
    assert plan.fallback and plan.summary == "2 batches by fallback sizing (30 tasks)"
    assert [b.name for b in plan.batches] == ["Batch 1", "Batch 2"]
    assert [len(b.task_ids) for b in plan.batches] == [15, 15]
    assert plan.warnings[0] == "no sections with tasks: 15-task batches"
    odd = plan_batches(parse_tasks(text), 7)
    assert [len(b.task_ids) for b in odd.batches] == [7, 7, 7, 7, 2]


def test_fallback_respects_dependencies_across_chunks() -> None:
    doc = parse_tasks("- [ ] T001 a (after T003)\n- [ ] T002 b\n- [ ] T003 c\n")
    plan = plan_batches(doc, 2)
    assert [b.task_ids for b in plan.batches] == [["T002", "T003"], ["T001"]]


def test_preamble_tasks_form_a_leading_batch_when_sections_exist() -> None:
    doc = parse_tasks("- [ ] T001 early\n- [x] T002 early done\n## Phase 1: A\n- [ ] T003 a\n")
    plan = plan_batches(doc, 15)
    assert [(b.name, b.task_ids) for b in plan.batches] == [(PREAMBLE_BATCH, ["T001"]), ("Phase 1: A", ["T003"])]
    assert plan.batches[0].section is None


def test_empty_plan_never_means_done() -> None:
    nothing = plan_batches(parse_tasks("# Tasks: none\n## A\nprose\n"), 15)
    assert nothing.batches == [] and nothing.no_tasks and not nothing.all_done
    assert nothing.summary == "No tasks in tasks.md"
    done = plan_batches(parse_tasks("## A\n- [x] T001 a\n- [~] T002 later\n"), 15)
    assert done.batches == [] and done.all_done and done.summary == "No open tasks (1 blocked or deferred)"
    stuck = plan_batches(parse_tasks("## A\n- [x] T001 a\n- [b] T002 stuck\n"), 15)
    assert stuck.batches == [] and not stuck.all_done and not stuck.no_tasks
    garbled = plan_batches(parse_tasks("## A\n- [ ] no ids at all\n"), 15)
    assert garbled.batches == [] and not garbled.all_done


def test_single_batch_summary_and_bad_size() -> None:
    plan = plan_batches(parse_tasks("## A\n- [ ] T001 a\n"), 15)
    assert plan.summary == "1 batch from tasks.md sections (1 tasks)"
    with pytest.raises(ValueError, match="at least 1"):
        plan_batches(parse_tasks(""), 0)


def test_sample_plan() -> None:
    doc = parse_tasks((TASK_SAMPLES / "fixture-sample-tasks.md").read_text(encoding="utf-8"))
    plan = plan_batches(doc, 15)
    assert [b.name for b in plan.batches] == [
        "Phase 2: Core Implementation",
        "Phase 3: User Story 1 - Auth Command (Priority: P1)",
        "Phase 4: User Story 2 - API Integration (Priority: P2)",
    ]
    assert plan.batches[0].task_ids == ["T009", "T010", "T011", "T011a", "T011b", "T011c"]
    assert plan.held == [("T022", "deferred", None)]
    assert plan.summary == "3 batches from tasks.md sections (13 tasks)"


def test_unparsed_open_looking_lines_keep_all_done_false() -> None:
    for text in ("## A\n- [x] T001 a\n- [ ] forgot the id\n", "## A\n- [x] T001 a\n- [?] T002 b\n",
                 "## A\n- [x] T001 a\n- [ ] T001 again\n"):  # fmt: skip
        plan = plan_batches(parse_tasks(text), 15)
        assert plan.batches == [] and not plan.all_done, text
        assert any("could not be parsed" in w for w in plan.warnings)
    settled = plan_batches(parse_tasks("## A\n- [x] T001 a\n- [x] done without id\n"), 15)
    assert settled.all_done and settled.warnings == []
