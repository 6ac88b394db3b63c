"""The skills' state file and the USER GATE through the real engine in-process: the running step written before
each run (through the real adapter and a SpecFlow CLI that fails, or a writer that fails), a skill's own
``blocked`` verdict, the gate asked about during verify, confirmed during the phase, or left confirmed by the
previous phase. The same against the SpecFlow CLI and skill-playing agents through the real daemon:
test_specflow_cli_e2e.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from specflowctl.demo import create_demo_project
from specflowd.domain.config import OrchestrationConfig, Step
from specflowd.domain.merge_ready import GateCheck
from specflowd.domain.record import RecoveryOption
from specflowd.engine.adapters import SkillStateFile
from specflowd.project.snapshot import read_project_snapshot
from specflowd.project.status import build_preview
from specflowd.vocabulary import Question, QuestionOption, RunStatus
from tests.engine.fakes import AgentCall, FakeRuns, Ran, engine, play_skill, set_skill_state

pytestmark = pytest.mark.anyio

GATE = Question(
    question="Phase 0001 has a USER GATE: has the user verified it?",
    header="USER GATE",
    options=[QuestionOption(label="Confirm"), QuestionOption(label="Skip")],
)


def gated(tmp_path: Path, name: str = "demo", *, gate_status: str | None = None) -> Path:
    """The demo project, its phase behind a USER GATE (``gate_status``: userGateStatus an earlier phase left)."""
    root = create_demo_project(tmp_path / name)
    roadmap = root / "ROADMAP.md"
    roadmap.write_text(roadmap.read_text().replace("| Tests pass |", "| **USER GATE**: it works |"))
    if gate_status is not None:
        set_skill_state(root, "design", "complete", userGateStatus=gate_status)
    return root


def verify_asks_about_the_gate(call: AgentCall) -> Ran:
    """/flow.verify asks the user about an unpassed gate and writes the answer (as the skill does)."""
    if call.step != "verify":
        return play_skill(call)
    if call.answers is None:
        return Ran(RunStatus.WAITING_INPUT, questions=[GATE], message="the USER GATE needs the user")
    answer = next(iter(call.answers.values()))
    set_skill_state(call.root, "verify", "complete", userGateStatus="skipped" if answer == "Skip" else "confirmed")
    return Ran()


async def test_a_user_gate_skipped_during_verify_lets_merge_go_on(tmp_path: Path) -> None:
    root = gated(tmp_path)
    async with engine(root, runs=FakeRuns(verify_asks_about_the_gate)) as h:
        await h.start(auto_merge=True, skip_analyze=True)
        asked = await h.status("waiting_input", "completed", "needs_attention")
        assert asked.status.value == "waiting_input" and asked.step == Step.VERIFY, asked.attention
        (question,) = asked.pending_questions
        assert question.header == "USER GATE"
        await h.orch.answer(h.orch_id, {question.question: "Skip"})
        record = await h.status()
    assert record.status.value == "completed" and not record.merge_requested, record.attention
    (gate,) = [e for e in h.log() if e["action"] == "user_gate"]
    assert (gate["was"], gate["now"]) == (None, "skipped")
    assert "wait_for_user_gate" not in h.actions()


async def test_a_gate_confirmed_during_the_phase_lets_merge_go_on_and_an_unpassed_one_waits(tmp_path: Path) -> None:
    def verify_confirms(call: AgentCall) -> Ran:
        ran = play_skill(call)
        if call.step == "verify":  # the user confirmed when /flow.verify asked
            set_skill_state(call.root, "verify", "complete", userGateStatus="confirmed")
        return ran

    root = gated(tmp_path)
    async with engine(root, runs=FakeRuns(verify_confirms)) as h:
        await h.start(skip_analyze=True, auto_merge=True)
        done = await h.status()
    assert done.status.value == "completed"  # confirmed during this orchestration: merge went on by itself
    assert [e["action"] for e in h.log() if e["action"] == "user_gate"] == ["user_gate"]
    assert "wait_for_user_gate" not in h.actions()

    unpassed = gated(tmp_path, "unpassed")
    async with engine(unpassed) as h:  # verify leaves the gate alone: merge waits even with auto_merge
        await h.start(skip_analyze=True, auto_merge=True)
        waiting = await h.status("waiting_user_gate", "completed")
        assert waiting.status.value == "waiting_user_gate" and not h.runs.started("merge")
        await h.orch.merge(h.orch_id)  # merge passes any gate
        assert (await h.status()).status.value == "completed"


async def test_a_gate_left_confirmed_by_the_previous_phase_makes_merge_wait(tmp_path: Path) -> None:
    """`phase close`/`phase open` keep userGateStatus: a `confirmed` from the last phase must not pass this
    phase's gate. /flow.verify does not ask again (it sees confirmed), so merge waits for the user."""
    root = gated(tmp_path, gate_status="confirmed")
    config = OrchestrationConfig(auto_merge=True, skip_analyze=True)
    preview = build_preview(read_project_snapshot(root), config)
    merge = next(s for s in preview.steps if s.step == "merge")
    assert not merge.runs and "was set before this orchestration started and does not count" in merge.reason
    async with engine(root) as h:
        await h.start(auto_merge=True, skip_analyze=True)
        waiting = await h.status("waiting_user_gate", "completed", "needs_attention")
        assert waiting.status.value == "waiting_user_gate", waiting.attention
        assert waiting.steps[Step.VERIFY].status.value == "completed" and waiting.pending_questions == []
        wait = [e for e in h.log() if e["action"] == "wait_for_user_gate"]
        assert len(wait) == 1 and wait[0]["reason"] == merge.reason.split(";")[0]  # the preview said so
        await h.orch.merge(h.orch_id)
        record = await h.status()
    assert record.status.value == "completed" and record.merge_requested, record.attention


async def test_a_failing_specflow_cli_stops_before_the_spawn_and_a_blocked_verdict_stops_for_the_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = tmp_path / "broken-specflow"
    failing.write_text("#!/bin/sh\necho 'Error: State file schema validation failed'\necho 'Hint: run check --fix'\nexit 1\n")
    failing.chmod(0o755)
    settings = tmp_path / "config" / "specflow" / "specflowd.toml"
    settings.parent.mkdir(parents=True)
    settings.write_text(f'[specflow]\ncli = "{failing}"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))

    seen: list[tuple[str, dict[str, object]]] = []  # the step each run found in the state file when it started

    def analyze_blocks(call: AgentCall) -> Ran:
        state = json.loads((call.root / ".specflow" / "orchestration-state.json").read_text())
        seen.append((call.step, state["orchestration"]["step"]))
        if call.step == "analyze":
            set_skill_state(call.root, "analyze", "blocked")
            return Ran(message="analysis found 2 critical issues that need the user")
        return play_skill(call)

    root = create_demo_project(tmp_path / "demo")
    async with engine(root, runs=FakeRuns(analyze_blocks), skill_state=SkillStateFile()) as h:
        await h.start()
        stopped = await h.status("needs_attention")
        attention = stopped.attention
        assert attention is not None and attention.kind.value == "state_write"
        assert "Error: State file schema validation failed" in attention.reason and attention.step == Step.ANALYZE
        assert attention.options == [RecoveryOption.RETRY, RecoveryOption.ABORT] and stopped.runs == {}  # nothing started
        assert str(failing) in str(attention.context["command"])
        settings.write_text('[specflow]\ncli = ""\n')  # no CLI: the state file is edited directly
        await h.orch.recover(h.orch_id, RecoveryOption.RETRY)

        blocked = await h.status("needs_attention")
        attention = blocked.attention
        assert attention is not None and attention.kind.value == "skill_verdict" and attention.step == Step.ANALYZE
        assert attention.reason == (
            "/flow.analyze reported step.status=blocked: analysis found 2 critical issues that need the user"
        )
        assert len(blocked.runs) == 1  # read, not retried until the attempts are gone
        await h.orch.recover(h.orch_id, RecoveryOption.SKIP)
        final = await h.status("waiting_merge", "completed", "needs_attention")
    assert final.status.value == "waiting_merge" and final.steps[Step.ANALYZE].status.value == "skipped"
    running = {"status": "in_progress"}
    assert seen == [
        ("analyze", {"current": "analyze", "index": 1, **running}),
        *[("implement", {"current": "implement", "index": 2, **running})] * 4,
        ("verify", {"current": "verify", "index": 3, **running}),
    ]


async def test_a_failed_state_write_stops_before_the_spawn_and_retry_writes_again(tmp_path: Path) -> None:
    root = create_demo_project(tmp_path / "demo")
    async with engine(root) as h:
        h.skill_state.fail_with = "Error: state file is locked"
        await h.start(auto_merge=True)
        stopped = await h.status("needs_attention")
        assert stopped.attention is not None and stopped.attention.kind.value == "state_write"
        assert stopped.attention.context["output"] == "Error: state file is locked"
        assert h.runs.started() == [] and stopped.steps[Step.ANALYZE].attempts == 0  # nothing started, no attempt
        h.skill_state.fail_with = None
        await h.orch.recover(h.orch_id, RecoveryOption.RETRY)
        assert (await h.status()).status.value == "completed"
    assert h.skill_state.writes[0][1] == h.skill_state.writes[1][1] == Step.ANALYZE
    assert [step for _, step in h.skill_state.writes] == [Step.ANALYZE, Step.ANALYZE, *[Step.IMPLEMENT] * 4,
                                                          Step.VERIFY]  # fmt: skip


def without_design(root: Path, step: dict[str, object] | None) -> Path:
    """The demo project as `phase open` leaves it (``step``: the state file's step; None = no step at all)."""
    for name in ("spec.md", "plan.md", "tasks.md"):
        (tasks_dir(root) / name).unlink()
    path = root / ".specflow" / "orchestration-state.json"
    state = json.loads(path.read_text())
    if step is None:
        del state["orchestration"]["step"]
    else:
        state["orchestration"]["step"] = step
    path.write_text(json.dumps(state))
    return root


def tasks_dir(root: Path) -> Path:
    return next(p for p in (root / "specs").iterdir() if p.is_dir())


@pytest.mark.parametrize(
    ("step", "written"),
    [({"current": "design", "index": 0, "status": "not_started"}, []), (None, [Step.DESIGN])],
    ids=["after-phase-open", "empty-step"],
)
async def test_design_runs_on_what_phase_open_left_and_merge_gets_no_write(
    tmp_path: Path, step: dict[str, object] | None, written: list[Step]
) -> None:
    seen: list[tuple[str, object]] = []

    def note_step(call: AgentCall) -> Ran:
        state = json.loads((call.root / ".specflow" / "orchestration-state.json").read_text())
        seen.append((call.step, state["orchestration"].get("step")))
        return play_skill(call)

    root = without_design(create_demo_project(tmp_path / "demo"), step)
    async with engine(root, runs=FakeRuns(note_step)) as h:
        await h.start(auto_merge=True, skip_analyze=True)
        record = await h.status()
    assert record.status.value == "completed", record.attention
    assert [s for _, s in h.skill_state.writes] == [*written, Step.IMPLEMENT, Step.VERIFY]
    assert seen[0] == ("design", step or {"current": "design", "index": 0, "status": "in_progress"})
    # /flow.merge found what the passed verify left: the engine wrote nothing before it
    assert seen[-1] == ("merge", {"current": "verify", "index": 3, "status": "complete"})


async def test_a_verify_that_did_not_pass_never_starts_merge(tmp_path: Path) -> None:
    def verify_writes_nothing(call: AgentCall) -> Ran:
        if call.step == "verify":
            return Ran(message="2 checks still fail")  # /flow.verify on failure writes no step.status
        return play_skill(call)

    root = create_demo_project(tmp_path / "demo")
    async with engine(root, runs=FakeRuns(verify_writes_nothing)) as h:
        await h.start(auto_merge=True, skip_analyze=True)
        stopped = await h.status("needs_attention", "completed")
    attention = stopped.attention
    assert attention is not None and attention.kind.value == "step_attempts" and attention.step == Step.VERIFY
    assert "verify run completed but the skill did not report completion" in attention.reason
    assert [r.step for r in h.runs.started()].count("verify") == 2
    assert "merge" not in [r.step for r in h.runs.started()]


async def test_merge_is_not_started_when_the_step_or_the_cli_gate_would_make_it_refuse(tmp_path: Path) -> None:
    root = create_demo_project(tmp_path / "demo")
    async with engine(root) as h:
        await h.start(skip_analyze=True)
        await h.status("waiting_merge")
        set_skill_state(root, "verify", "in_progress")  # e.g. the user re-ran /flow.verify, unfinished
        await h.orch.merge(h.orch_id)
        stopped = await h.status("needs_attention")
        attention = stopped.attention
        assert attention is not None and attention.kind.value == "merge_blocked" and attention.step == Step.MERGE
        assert "step verify/in_progress" in attention.reason and "run /flow.verify" in attention.reason
        assert "specflowctl recover retry" in attention.reason
        assert "merge" not in [r.step for r in h.runs.started()] and stopped.steps[Step.MERGE].attempts == 0

        set_skill_state(root, "verify", "complete")
        h.skill_state.gate = GateCheck(passed=False, via="specflow check --gate implement", output="✗ implement: 1 open")
        await h.orch.recover(h.orch_id, RecoveryOption.RETRY)
        stopped = await h.status("needs_attention")
        attention = stopped.attention
        assert attention is not None and attention.kind.value == "merge_blocked", attention
        assert "`specflow check --gate implement` fails" in attention.reason and "1 open" in attention.reason
        assert "merge" not in [r.step for r in h.runs.started()]

        h.skill_state.gate = GateCheck(passed=True, via="specflow check --gate implement", output="")
        await h.orch.recover(h.orch_id, RecoveryOption.RETRY)
        record = await h.status()
    assert record.status.value == "completed", record.attention
    assert [r.step for r in h.runs.started()].count("merge") == 1 and h.skill_state.gate_checks == 2


async def test_the_fake_merge_skill_refuses_as_the_real_one(tmp_path: Path) -> None:
    root = create_demo_project(tmp_path / "demo")
    set_skill_state(root, "merge", "in_progress")
    call = AgentCall(run_id="r", root=root, step="merge", prompt="/flow.merge")
    assert play_skill(call).message == "BLOCKED: run `/flow.verify` first"
    state = json.loads((root / ".specflow" / "orchestration-state.json").read_text())
    assert state["orchestration"]["step"]["current"] == "merge"  # left as is: the phase is not closed
