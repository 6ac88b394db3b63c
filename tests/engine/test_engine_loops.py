"""A run the runner stopped as ``looping``, through the real engine in-process (tests/engine/fakes.py): healed
like a failed run, attempt counted, and the heal prompt says exactly what repeated."""

from __future__ import annotations

from pathlib import Path

import pytest

from specflowctl.demo import create_demo_project
from specflowd.domain.config import Step
from specflowd.vocabulary import LoopCall, RunStatus, ToolLoop
from tests.engine.fakes import AgentCall, FakeRuns, Ran, Script, engine, play_skill

pytestmark = pytest.mark.anyio

LOOP = ToolLoop(
    cycle=[LoopCall(tool="Bash", input='{"command":"npm test","description":"Run the tests"}')], repeats=8, calls=8
)
ERROR = f"stopped by the daemon: the agent repeated the same tool calls: it {LOOP.describe()}"


def looping(call: AgentCall) -> Ran:
    return Ran(RunStatus.LOOPING, error=ERROR, message="stopped by the daemon: looping", loop=LOOP)


async def test_a_looping_batch_is_healed_and_the_heal_prompt_names_the_repeated_call(tmp_path: Path) -> None:
    root = create_demo_project(tmp_path / "demo")
    async with engine(root, runs=FakeRuns(Script(looping))) as h:  # the first batch loops, the rest play skills
        await h.start(skip_analyze=True, auto_merge=True)
        record = await h.status()
    assert record.status.value == "completed", record.attention
    first = record.batches[0]
    assert first.status.value == "healed" and first.heal_attempts == 1  # the heal counted as an attempt
    (heal,) = [e for e in h.log() if e["action"] == "heal"]
    assert "run ended looping" in heal["reason"], heal["reason"]
    (heal_run,) = h.runs.started("heal")
    assert (
        'The previous session called Bash {"command":"npm test","description":"Run the tests"} 8 times in a row, '
        "so specflowd stopped it; do not repeat it:" in heal_run.prompts[0]
    )


async def test_a_looping_verify_run_is_retried_like_a_failed_one(tmp_path: Path) -> None:
    looped: list[str] = []

    def verify_loops_once(call: AgentCall) -> Ran:
        if call.step == "verify" and not looped:
            looped.append(call.run_id)
            return looping(call)
        return play_skill(call)

    root = create_demo_project(tmp_path / "demo")
    async with engine(root, runs=FakeRuns(verify_loops_once)) as h:
        await h.start(skip_analyze=True, auto_merge=True)
        record = await h.status()
    assert record.status.value == "completed", record.attention
    assert [r.step for r in h.runs.started("verify")] == ["verify", "verify"]
    assert record.step_record(Step.VERIFY).attempts == 2
    retry = [e for e in h.log() if e["action"] == "spawn_step" and e["run_id"] != looped[0] and "verify" in e["reason"]]
    assert retry and "called Bash" in retry[0]["reason"], retry
