"""A phase through the real engine in-process (tests/engine/fakes.py): steps in order, batches, healing, merge,
tasks added or mangled mid-phase, ticks a run was not asked for. The skills' state file and the USER GATE:
test_engine_skills.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from specflowctl.demo import DEMO_FEATURE, create_demo_project
from specflowd.domain.config import Step
from specflowd.domain.record import RecoveryOption
from specflowd.errors import AlreadyActive
from specflowd.event_catalogue import BatchDecision, Decision
from specflowd.project.snapshot import read_project_snapshot
from specflowd.vocabulary import RunStatus
from tests.engine.fakes import (
    AgentCall,
    FakeRuns,
    Ran,
    Script,
    complete,
    engine,
    fail,
    play_skill,
    tick,
)

pytestmark = pytest.mark.anyio

SPAWN_ACTIONS = ("spawn_batch", "spawn_step", "heal")
T016_LINE = "- [ ] T016 Colourise the output\n"  # the first task of "## Phase 4: Polish" (create_demo_project)


def demo(tmp_path: Path) -> Path:
    return create_demo_project(tmp_path / "demo")


def tasks_md(root: Path) -> Path:
    return root / "specs" / DEMO_FEATURE / "tasks.md"


def spawned(log: list[dict[str, object]]) -> list[str]:
    ids = [str(e["run_id"]) for e in log if e["action"] in SPAWN_ACTIONS]
    assert len(ids) == len(set(ids)), f"a run id was spawned twice: {ids}"
    return ids


async def test_a_whole_phase_runs_every_step_and_batch_in_order(tmp_path: Path) -> None:
    root = demo(tmp_path)
    async with engine(root) as h:
        await h.start(auto_merge=True)
        record = await h.status()
    assert record.status.value == "completed", record.attention
    assert [b.status.value for b in record.batches] == ["completed"] * 4
    assert tasks_md(root).read_text().count("- [x] T") == 20
    actions = h.actions()
    assert actions[0] == "start" and actions[-1] == "complete"
    assert actions.count("spawn_batch") == 4
    ids = spawned(h.log())
    assert [r.run_id for r in h.runs.started()] == ids
    assert [r.step for r in h.runs.started()] == ["analyze", "implement", "implement", "implement", "implement",
                                                   "verify", "merge"]  # fmt: skip
    assert record.totals.spent_usd == pytest.approx(0.07)
    # the running step was written into the state file before analyze, implement ×4 and verify, never before
    # merge: /flow.merge refuses unless the step still says verify/complete
    assert [step for _, step in h.skill_state.writes] == [Step.ANALYZE, *[Step.IMPLEMENT] * 4, Step.VERIFY]
    # events: every decision, batch decisions for the batches, one status change at the end
    types = h.event_types()
    assert "batch.spawn_batch" in types and "batch.finish_batch" in types
    assert types.count("orchestration.status") == 1 and types[-1] == "orchestration.status"
    finishes = [e.payload for e in h.events if isinstance(e.payload, BatchDecision) and e.payload.action == "finish_batch"]
    assert [p.batch_index for p in finishes] == [0, 1, 2, 3]
    spawns = [e.payload for e in h.events if isinstance(e.payload, Decision) and e.payload.action == "spawn_batch"]
    assert [p.run_id for p in spawns] == [r.run_id for r in h.runs.started("implement")]


async def test_a_second_start_is_refused_with_the_existing_id(tmp_path: Path) -> None:
    root = demo(tmp_path)
    async with engine(root, runs=FakeRuns(Script(lambda call: None))) as h:  # analyze hangs: stays active
        first = await h.start()
        await h.until(lambda: h.runs.started(), "analyze running")
        with pytest.raises(AlreadyActive) as refused:
            await h.orch.start(root, h.record().config)
        assert refused.value.code == -32003 and refused.value.to_data() == {"kind": "already_active", "orchestration": first}
        await h.orch.cancel(first)
        assert h.record().status.value == "cancelled"
        assert h.runs.cancels == [h.runs.started()[0].run_id]  # the running run was stopped


async def test_without_auto_merge_it_waits_for_merge_then_merges(tmp_path: Path) -> None:
    root = demo(tmp_path)
    async with engine(root) as h:
        await h.start(skip_analyze=True)
        waiting = await h.status("waiting_merge", "needs_attention")
        assert waiting.status.value == "waiting_merge"
        assert [r.step for r in h.runs.started()][-1] == "verify"  # merge did not run
        await h.orch.merge(h.orch_id)
        done = await h.status()
    assert done.status.value == "completed"
    assert h.runs.started()[-1].step == "merge"
    assert "merge_requested" in h.actions() and "wait_for_merge" in h.actions()


async def test_a_failed_batch_is_healed_with_a_diagnosis_in_its_prompt(tmp_path: Path) -> None:
    def core_fails_half_way_once(call: AgentCall) -> Ran:
        if "Core Components" in call.prompt and call.step == "implement" and not getattr(core_fails_half_way_once, "done", False):
            core_fails_half_way_once.done = True  # type: ignore[attr-defined]
            tick(call.root, call.task_ids[: len(call.task_ids) // 2])
            return Ran(RunStatus.FAILED, error="simulated failure: the test suite crashed")
        return play_skill(call)

    root = demo(tmp_path)
    async with engine(root, runs=FakeRuns(core_fails_half_way_once)) as h:
        await h.start(auto_merge=True)
        record = await h.status()
    assert record.status.value == "completed", record.attention
    core = next(b for b in record.batches if b.name == "Phase 2: Core Components")
    assert core.status.value == "healed" and core.heal_attempts == 1
    diagnosis = next(e for e in h.log() if e["action"] == "heal_diagnosis")
    assert diagnosis["source"] == "fallback" and "raw failure context" in diagnosis["reason"]
    (heal,) = h.runs.started("heal")
    assert "Phase 2: Core Components" in heal.prompts[0] and "T008" in heal.prompts[0]
    assert "simulated failure" in heal.prompts[0]  # the failure's context reaches the heal prompt


async def test_a_partial_batch_goes_to_healing_with_only_its_open_ids(tmp_path: Path) -> None:
    root = demo(tmp_path)
    # the first batch run "succeeds" but checks off only two of its four ids; later runs play their skill
    async with engine(root, runs=FakeRuns(Script(play_skill, complete(["T001", "T002"])))) as h:
        await h.start(auto_merge=True)  # analyze is played by the skill, then batch 1 by the script
        record = await h.status()
    assert record.status.value == "completed", record.attention
    assert [b.status.value for b in record.batches] == ["healed", "completed", "completed", "completed"]
    first = record.batches[0]
    assert first.name == "Phase 1: Setup" and first.task_ids == ["T001", "T002", "T003", "T004"]
    assert first.heal_attempts == 1
    log = h.log()
    (heal,) = [e for e in log if e["action"] == "heal"]
    assert "still open" in heal["reason"] and "2 of 4" in heal["reason"], heal["reason"]
    assert heal["detail"]["remaining_ids"] == ["T003", "T004"] and heal["detail"]["done_ids"] == ["T001", "T002"]
    assert [e["detail"]["batch_index"] for e in log if e["action"] == "spawn_batch"] == [0, 1, 2, 3]
    (heal_run,) = h.runs.started("heal")
    assert heal_run.run_id == heal["run_id"]
    prompt = heal_run.prompts[0]
    assert "Phase 1: Setup" in prompt

    def ids_after(label: str) -> list[str]:
        return re.findall(r"\bT\d{3}\b", next(x for x in prompt.splitlines() if x.startswith(label)))

    assert ids_after("Still open:") == ["T003", "T004"] and ids_after("Already done") == ["T001", "T002"]
    assert tasks_md(root).read_text().count("- [x] T") == 20
    spawned(log)


async def test_heal_exhausted_stops_for_the_user_then_retry_runs_the_batch_again(tmp_path: Path) -> None:
    root = demo(tmp_path)
    async with engine(root, runs=FakeRuns(Script(fail("tests failed"), fail("still failing")))) as h:
        await h.start(skip_analyze=True, auto_merge=True)
        stopped = await h.status("needs_attention")
        assert stopped.attention is not None and stopped.attention.kind.value == "heal_exhausted"
        assert set(stopped.attention.options) == {RecoveryOption.RETRY, RecoveryOption.SKIP, RecoveryOption.ABORT}
        assert [r.step for r in h.runs.started()] == ["implement", "heal"]  # one heal (max_heal_attempts 1), then stop
        assert "tests failed" in h.runs.started("heal")[0].prompts[0]
        await h.orch.recover(h.orch_id, RecoveryOption.RETRY)
        done = await h.status()
    assert done.status.value == "completed", done.attention
    assert [r.step for r in h.runs.started()][:3] == ["implement", "heal", "implement"]  # the batch ran again
    assert done.batches[0].status.value == "completed" and done.batches[0].attempts == 2
    assert "recovered" in h.actions()


async def test_heal_exhausted_then_abort_fails_the_orchestration(tmp_path: Path) -> None:
    root = demo(tmp_path)
    async with engine(root, runs=FakeRuns(Script(fail(), fail()))) as h:
        await h.start(skip_analyze=True)
        await h.status("needs_attention")
        await h.orch.recover(h.orch_id, RecoveryOption.ABORT)
        assert h.record().status.value == "failed"
    assert h.actions()[-1] == "recovered" and h.log()[-1]["reason"] == "recover: abort"


async def test_go_back_reruns_a_step(tmp_path: Path) -> None:
    root = demo(tmp_path)
    async with engine(root) as h:
        await h.start(skip_analyze=True)
        await h.status("waiting_merge")
        assert len(h.runs.started("verify")) == 1
        await h.orch.go_back(h.orch_id, Step.VERIFY)
        await h.until(lambda: len(h.runs.started("verify")) == 2 and h.record().status.value == "waiting_merge",
                      "verify again")  # fmt: skip
    assert h.record().step in (Step.VERIFY, Step.MERGE)
    assert "went_back" in h.actions()





def edit_tasks(root: Path, *, insert_after_t016: str = "", append: str = "") -> None:
    text = tasks_md(root).read_text()
    if insert_after_t016:
        assert text.count(T016_LINE) == 1, text
        text = text.replace(T016_LINE, T016_LINE + insert_after_t016)
    tasks_md(root).write_text(text + append)


async def test_tasks_added_mid_phase_get_their_own_batches(tmp_path: Path) -> None:
    root = demo(tmp_path)
    async with engine(root) as h:
        await h.start(pause_between_batches=True, skip_analyze=True, auto_merge=True)
        paused = await h.status("paused")
        assert [b.status.value for b in paused.batches] == ["completed", "pending", "pending", "pending"]
        # a new open task inside a section whose batch has not run yet, and a whole new section at the end
        edit_tasks(root, insert_after_t016="- [ ] T023 Add a `--json` flag to the list command\n",
                   append="\n## Phase 5: Extra\n\n- [ ] T021 Add an export command\n- [ ] T022 Document the export command\n")  # fmt: skip
        h.project.touch()
        await h.settled()
        assert len(h.record().batches) == 4  # paused: nothing is re-planned until resumed
        resumes = 0
        while (record := await h.status("paused", "completed", "needs_attention", "failed")).status.value == "paused":
            resumes += 1
            await h.orch.resume(h.orch_id)
            await h.until(lambda: h.record().status.value != "paused", "resumed")
    assert record.status.value == "completed", record.attention
    batches = [(b.index, b.name, b.task_ids, b.status.value) for b in record.batches]
    assert batches[:4] == [
        (0, "Phase 1: Setup", ["T001", "T002", "T003", "T004"], "completed"),
        (1, "Phase 2: Core Components", ["T005", "T006", "T007", "T008", "T009", "T010"], "completed"),
        (2, "Phase 3: User Story 1 - Due dates", ["T011", "T012", "T013", "T014", "T015"], "completed"),
        (3, "Phase 4: Polish", ["T016", "T017", "T018", "T019", "T020"], "completed"),
    ]
    # the added ids: one new batch per section in file order (T023's section comes before Phase 5)
    assert batches[4:] == [(4, "Phase 4: Polish", ["T023"], "completed"), (5, "Phase 5: Extra", ["T021", "T022"], "completed")]
    held = [t for b in record.batches for t in b.task_ids]
    assert len(held) == len(set(held)) == 23
    assert resumes == 5  # a pause after each batch but the last
    text = tasks_md(root).read_text()
    assert text.count("- [x] T") == 23 and "- [ ] " not in text
    log = h.log()
    replans = [e for e in log if e["action"] == "replan"]
    assert [e["reason"] for e in replans] == [
        "plan batches: 20 open task(s)",
        "add batches for tasks added to tasks.md: 3 open task(s)",
    ]
    assert replans[1]["detail"]["batches"] == [
        {"index": 4, "name": "Phase 4: Polish", "task_ids": ["T023"], "in_section": True},
        {"index": 5, "name": "Phase 5: Extra", "task_ids": ["T021", "T022"], "in_section": True},
    ]
    spawns = [e for e in log if e["action"] == "spawn_batch"]
    assert [e["detail"]["batch_index"] for e in spawns] == [0, 1, 2, 3, 4, 5]
    assert log.index(spawns[0]) < log.index(replans[1]) < log.index(spawns[1])  # re-planned with the first resume
    assert [e["detail"]["task_ids"] for e in spawns[4:]] == [["T023"], ["T021", "T022"]]
    assert len(spawned(log)) == 6 + 2  # six batches, verify, merge
    prompt = next(r for r in h.runs.started() if r.run_id == spawns[5]["run_id"]).prompts[0]
    assert '"Phase 5: Extra" section: T021, T022.' in prompt


async def test_malformed_task_lines_added_mid_phase_stop_before_verify(tmp_path: Path) -> None:
    root = demo(tmp_path)
    junk = [
        "- [ ] Add an import command\n",  # checkbox without a task id
        "- [ ] T005 Define the Todo model again\n",  # duplicate of an open id (the first, in Phase 2, wins)
        "- [?] T024 Decide on a licence\n",  # unknown checkbox state
    ]
    async with engine(root) as h:
        await h.start(pause_between_batches=True, skip_analyze=True, auto_merge=True)
        await h.status("paused")
        edit_tasks(root, insert_after_t016="".join(junk), append="\n## Phase 5: Extra\n\n- [ ] T021 Add an export command\n")
        # what projects.status shows (its problems are the snapshot's): each line named, with why
        problems = read_project_snapshot(root).problems
        messages = sorted(p.message for p in problems if p.kind == "parse_warning")
        assert len(messages) == 3, problems
        assert messages[0].startswith("duplicate task id T005 (first on line ")
        assert messages[1] == (
            "not a task for the SpecFlow CLI, never scheduled (checkbox `[?]` is not one of `[ ]` `[x]` `[X]` `[b]` "
            "`[B]` `[~]` `[-]`): - [?] T024 Decide on a licence"
        )
        assert messages[2] == (
            "not a task for the SpecFlow CLI, never scheduled (no task id (T + exactly three digits, optional "
            "lowercase letter)): - [ ] Add an import command"
        )
        while (stopped := await h.status("paused", "needs_attention", "completed")).status.value == "paused":
            await h.orch.resume(h.orch_id)
            await h.until(lambda: h.record().status.value != "paused", "resumed")
        assert stopped.status.value == "needs_attention" and stopped.step == Step.IMPLEMENT
        assert stopped.attention is not None and stopped.attention.kind.value == "tasks_unparsed"
        assert "3 open-looking line(s)" in stopped.attention.reason
        lines = stopped.attention.context["lines"]
        assert isinstance(lines, list) and len(lines) == 3
        assert all(line.split(": ", 1)[1].startswith(j.strip()) for line, j in zip(lines, junk, strict=True))
        assert stopped.steps[Step.VERIFY].attempts == 0  # stopped before verify
        await h.orch.recover(h.orch_id, RecoveryOption.SKIP)
        record = await h.status()
    assert record.status.value == "completed", record.attention
    assert record.attention is None and record.accepted_unparsed == lines
    assert record.steps[Step.IMPLEMENT].status.value == "completed"
    names = [(b.name, b.task_ids, b.status.value) for b in record.batches]
    assert names[4:] == [("Phase 5: Extra", ["T021"], "completed")] and len(names) == 5
    held = [t for b in record.batches for t in b.task_ids]
    assert held.count("T005") == 1 and "T024" not in held
    text = tasks_md(root).read_text()
    assert text.count("- [x] T") == 21 and "- [x] T005 Define the Todo model\n" in text
    for line in junk:  # untouched: the agent was never asked about them
        assert line in text
    log = h.log()
    actions = [e["action"] for e in log]
    assert actions.count("needs_attention") == 1 and "recovered" in actions and actions[-1] == "complete"
    (ignored,) = [e for e in log if e["action"] == "ignored_lines"]  # named once, when first seen
    no_id, unknown_box = ignored["lines"]
    assert re.fullmatch(r"specs/0001-todo-cli/tasks\.md:\d+: no task id \(.*\): - \[ \] Add an import command", no_id)
    assert re.fullmatch(r"specs/0001-todo-cli/tasks\.md:\d+: checkbox `\[\?\]` .*: - \[\?\] T024 Decide on a licence", unknown_box)
    assert [e["reason"] for e in log if e["action"] == "replan"] == [
        "plan batches: 20 open task(s)",
        "add batches for tasks added to tasks.md: 1 open task(s); 2 task-looking line(s) ignored",
    ]
    assert [e["detail"]["batch_index"] for e in log if e["action"] == "spawn_batch"] == [0, 1, 2, 3, 4]
    spawned(log)


async def test_ids_a_run_ticks_unasked_are_logged_and_published(tmp_path: Path) -> None:
    def first_batch_also_ticks_t005(call: AgentCall) -> Ran:
        ran = play_skill(call)
        if "Phase 1: Setup" in call.prompt:
            tick(call.root, ["T005"])
        return ran

    root = demo(tmp_path)
    async with engine(root, runs=FakeRuns(first_batch_also_ticks_t005)) as h:
        await h.start(skip_analyze=True, auto_merge=True)
        record = await h.status()
    assert record.status.value == "completed", record.attention
    (unasked,) = [e for e in h.log() if e["action"] == "unasked_ticks"]
    first_run = h.runs.started("implement")[0].run_id
    assert unasked["ticks"] == [{"id": "T005", "run_id": first_run, "by": f"batch 1 'Phase 1: Setup' (run {first_run[:8]})"}]
    published = [e.payload for e in h.events if e.type == "orchestration.unasked_ticks"]
    assert len(published) == 1 and isinstance(published[0], Decision) and "T005" in published[0].reason
    assert record.observed is not None and record.observed.ticks["T005"].run_id == first_run
    assert "T005" in h.runs.started("verify")[0].prompts[0]  # verify is told to check it
