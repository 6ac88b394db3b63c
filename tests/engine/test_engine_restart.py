"""The engine stopped and started again in-process (tests/engine/fakes.py: leaving ``engine()`` stops it the way a
SIGKILL stops the daemon's engine; runs live on in ``FakeRuns`` as they do on disk): a record reloaded mid-batch
and mid-heal, the journal's repair of a decision a crash kept from the log, runs that never started giving their
attempt back, records that cannot be loaded, and writes that fail."""

from __future__ import annotations

import errno
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from specflowctl.demo import DEMO_FEATURE, create_demo_project
from specflowd.domain.record import RecoveryOption
from specflowd.errors import StorageError
from specflowd.event_catalogue import OrchestrationProblem
from specflowd.files import workflows
from specflowd.files.atomic import atomic_write_json
from specflowd.vocabulary import RunStatus
from tests.engine.fakes import AgentCall, FakeClock, FakeRuns, Ran, Script, engine, fail, hang, play_skill, tick

pytestmark = pytest.mark.anyio

SPAWN_ACTIONS = ("spawn_batch", "spawn_step", "heal")


def demo(tmp_path: Path) -> Path:
    return create_demo_project(tmp_path / "demo")


def done_count(root: Path) -> int:
    return (root / "specs" / DEMO_FEATURE / "tasks.md").read_text().count("- [x] T")


def spawned(log: list[dict[str, Any]]) -> list[str]:
    ids = [e["run_id"] for e in log if e["action"] in SPAWN_ACTIONS]
    assert len(ids) == len(set(ids)), f"a run id was spawned twice: {ids}"
    return ids


def batch_spawns(log: list[dict[str, Any]]) -> list[int]:
    return [e["detail"]["batch_index"] for e in log if e["action"] == "spawn_batch"]


def finish_as_skill(runs: FakeRuns, run_id: str) -> None:
    run = runs.runs[run_id]
    runs.finish(run_id, play_skill(AgentCall(run_id, run.root, run.step, run.prompts[0])))


async def test_a_record_reloaded_mid_batch_follows_its_live_run_and_runs_nothing_twice(tmp_path: Path) -> None:
    root = demo(tmp_path)
    runs = FakeRuns(Script(play_skill, hang))  # batch 2's run is live when the engine stops
    async with engine(root, runs=runs) as h:
        await h.start(skip_analyze=True, auto_merge=True)
        await h.until(lambda: len(runs.calls) == 2, "batch 2 running")
        orch_id, clock, log_at_stop = h.orch_id, h.clock, h.log()
        live = runs.started()[1].run_id
        assert h.record().current_run_id == live and h.record().batches[1].status.value == "running"

    async with engine(root, runs=runs, clock=clock) as h:
        h.orch_id = orch_id
        await h.settled()
        assert len(runs.started()) == 2  # the live run is followed, not started again
        finish_as_skill(runs, live)
        record = await h.status()
    assert record.status.value == "completed", record.attention
    log = h.log()
    assert log[: len(log_at_stop)] == log_at_stop
    assert batch_spawns(log) == [0, 1, 2, 3]
    assert spawned(log) == [r.run_id for r in runs.started()]
    assert done_count(root) == 20


async def test_a_record_reloaded_mid_heal_finishes_its_heal_once(tmp_path: Path) -> None:
    root = demo(tmp_path)
    runs = FakeRuns(Script(fail("tests failed", tasks=["T001", "T002"]), hang))  # batch 1 fails half-way; its heal runs on
    async with engine(root, runs=runs) as h:
        await h.start(skip_analyze=True, auto_merge=True)
        await h.until(lambda: len(runs.calls) == 2, "heal running")
        assert h.record().status.value == "healing"
        orch_id, clock = h.orch_id, h.clock
        (heal,) = runs.started("heal")

    async with engine(root, runs=runs, clock=clock) as h:
        h.orch_id = orch_id
        assert h.record().status.value == "healing"
        finish_as_skill(runs, heal.run_id)
        record = await h.status()
    assert record.status.value == "completed", record.attention
    assert [b.status.value for b in record.batches] == ["healed", "completed", "completed", "completed"]
    log = h.log()
    assert [e["run_id"] for e in log if e["action"] == "heal"] == [heal.run_id]  # healed once, not spawned again
    assert batch_spawns(log) == [0, 1, 2, 3]
    spawned(log)


async def test_a_decision_a_crash_kept_from_the_log_is_appended_at_load(tmp_path: Path) -> None:
    root = demo(tmp_path)
    runs = FakeRuns(Script(play_skill, hang))
    async with engine(root, runs=runs) as h:
        await h.start(skip_analyze=True, auto_merge=True)
        await h.until(lambda: len(runs.calls) == 2, "batch 2 running")
        orch_id, clock = h.orch_id, h.clock
    # the kill fell between saving the record (carrying the spawn as pending) and appending its line
    events = workflows.WorkflowDir(root).events_path(orch_id)
    lines = events.read_text().splitlines(keepends=True)
    lost = json.loads(lines[-1])
    assert lost["action"] == "spawn_batch"
    events.write_text("".join(lines[:-1]))
    document = json.loads(workflows.WorkflowDir(root).record_path(orch_id).read_text())
    assert document["decision_log"]["seq"] == lost["seq"] and document["decision_log"]["pending"][-1] == lost

    async with engine(root, runs=runs, clock=clock) as h:
        h.orch_id = orch_id
        assert h.log()[-1] == lost  # repaired before the engine acted on the record
        finish_as_skill(runs, runs.started()[1].run_id)
        record = await h.status()
    assert record.status.value == "completed", record.attention
    seqs = [e["seq"] for e in h.log() if "seq" in e]
    assert seqs == list(range(1, len(seqs) + 1))  # every decision the record reflects, each once, in order
    assert batch_spawns(h.log()) == [0, 1, 2, 3]


async def test_a_run_that_never_started_gives_its_attempt_back(tmp_path: Path) -> None:
    root = demo(tmp_path)
    runs = FakeRuns()
    async with engine(root, runs=runs) as h:
        await h.start(skip_analyze=True, auto_merge=True)
        await h.until(lambda: h.record().batches and h.record().batches[0].status.value == "completed", "batch 1")
        runs.stall = True
        await h.until(lambda: h.record().batches[1].status.value == "running", "batch 2's spawn recorded")
        orch_id, clock, log_at_stop = h.orch_id, h.clock, h.log()
        lost = h.record().current_run_id
    assert lost is not None and lost not in runs.runs
    runs.stall = False

    async with engine(root, runs=runs, clock=clock) as h:
        h.orch_id = orch_id
        record = await h.status()
    assert record.status.value == "completed", record.attention
    assert [b.status.value for b in record.batches] == ["completed"] * 4  # batch 2 spawned again, never healed
    log = h.log()
    assert log[: len(log_at_stop)] == log_at_stop
    assert batch_spawns(log).count(0) == 1 and batch_spawns(log).count(1) == 2
    ids = spawned(log)
    assert set(ids) - set(runs.runs) == {lost}  # only the spawn recorded right before the stop never started
    assert {r for r, ref in record.runs.items() if ref.never_started} == {lost}
    (not_started,) = [e for e in log if e["action"] == "not_started"]
    assert lost in not_started["reason"] and "its attempt is given back" in not_started["reason"]
    batch = record.batches[1]
    assert batch.attempts - batch.extra_attempts == 1  # only the run that started used an attempt


async def test_a_continuation_that_never_started_starts_the_work_afresh_without_an_attempt(tmp_path: Path) -> None:
    root = demo(tmp_path)
    runs = FakeRuns()
    clock = FakeClock()
    runs.agent = Script(lambda call: Ran(RunStatus.RATE_LIMITED, rate_limit_reset=clock.now() + timedelta(minutes=5)))
    async with engine(root, runs=runs, clock=clock) as h:
        await h.start(skip_analyze=True, auto_merge=True)
        await h.status("waiting_rate_limit")
        runs.stall = True
        clock.advance(300)  # the reset: the session is continued, and the daemon dies before its agent starts
        await h.until(lambda: "resume_run" in h.actions(), "the continuation recorded")
        orch_id = h.orch_id
        session = runs.started()[0].run_id
    # what the runner's reconcile finds: that continuation never started
    run = runs.runs[session]
    run.continuations, run.status = 1, RunStatus.NOT_STARTED
    runs.stall = False

    async with engine(root, runs=runs, clock=clock) as h:
        h.orch_id = orch_id
        record = await h.status()
    assert record.status.value == "completed", record.attention
    actions = h.actions()
    assert actions.count("resume_run") == 1 and actions.index("resume_run") < actions.index("resume_failed")
    (failed,) = [e for e in h.log() if e["action"] == "resume_failed"]
    assert "never started" in failed["reason"]
    batch = record.batches[0]
    assert batch.attempts - batch.extra_attempts == 1 and len(batch.run_ids) == 2  # afresh, no attempt used


async def test_records_that_cannot_be_loaded_are_reported_and_left_untouched(tmp_path: Path) -> None:
    root = demo(tmp_path)
    async with engine(root) as h:
        good = await h.start(auto_merge=True)
        await h.status("completed")
    store = root / ".specflow" / "workflows"
    corrupt = store / "orchestration-badbadbadbad.json"
    corrupt.write_text('{"id": "badbadbadbad", "status": ')  # truncated
    newer = store / "orchestration-f00f00f00f00.json"
    newer.write_text(json.dumps({**json.loads((store / f"orchestration-{good}.json").read_text()), "id": "f00f00f00f00",
                                 "schema_version": 99}))  # fmt: skip
    before = {p: p.read_bytes() for p in (corrupt, newer)}

    async with engine(root) as h:
        problems = h.orch.problems()
        assert [o.id for o in h.orch.list_all(include_finished=True)] == [good]  # the others are not guessed at
    assert any("orchestration-badbadbadbad.json: cannot load orchestration badbadbadbad" in p for p in problems), problems
    assert any("schema_version 99 is newer than this daemon supports" in p for p in problems), problems
    reported = [e.payload for e in h.events if isinstance(e.payload, OrchestrationProblem)]
    assert sorted(p.orchestration for p in reported) == ["badbadbadbad", "f00f00f00f00"]
    assert {p: p.read_bytes() for p in (corrupt, newer)} == before  # nothing rewritten or deleted


async def test_a_failed_write_stops_one_orchestration_and_a_restart_resumes_from_the_last_good_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = demo(tmp_path)
    other = create_demo_project(tmp_path / "other")
    full: set[Path] = set()  # projects whose disk is full
    real_write = atomic_write_json  # what workflows.py imported

    def write(path: Path, document: Any) -> None:
        if any(path.is_relative_to(p) for p in full):
            raise OSError(errno.EFBIG, "File too large")
        real_write(path, document)

    monkeypatch.setattr(workflows, "atomic_write_json", write)
    runs = FakeRuns(Script(play_skill, hang))
    async with engine(root, runs=runs) as h:
        await h.start(skip_analyze=True, auto_merge=True)
        await h.until(lambda: len(runs.calls) == 2, "batch 2 running")
        orch_id, clock = h.orch_id, h.clock
        full.add(root)
        finish_as_skill(runs, runs.started()[1].run_id)  # the engine's next write fails
        stopped = await h.status("needs_attention")
        assert stopped.attention is not None and stopped.attention.kind.value == "storage"
        reason = stopped.attention.reason
        assert "cannot write orchestration" in reason and "File too large" in reason and "intact" in reason
        on_disk = h.on_disk()  # intact: atomic replace, never half-written
        assert on_disk["id"] == orch_id and on_disk["state"]["kind"] != "needs_attention"
        with pytest.raises(StorageError) as refused:  # still no room: a clear error, nothing changed
            await h.orch.recover(orch_id, RecoveryOption.RETRY)
        assert refused.value.kind == "storage_error" and h.record().status.value == "needs_attention"
        # the engine lives on: another project's phase completes meanwhile
        elsewhere = (await h.orch.start(other, stopped.config.model_copy(update={"skip_analyze": True}))).id
        await h.status("completed", orch_id=elsewhere)

    full.clear()  # room again: the orchestration resumes from the record on disk
    async with engine(root, runs=runs, clock=clock) as h:
        h.orch_id = orch_id
        done = await h.status()
    assert done.status.value == "completed", done.attention
    assert done_count(root) == 20
    spawned(h.log())  # nothing ran twice


async def test_ticks_outside_any_run_are_noticed_when_the_engine_wakes(tmp_path: Path) -> None:
    root = demo(tmp_path)
    async with engine(root, runs=FakeRuns(Script(hang))) as h:
        await h.start(skip_analyze=True)
        await h.until(lambda: h.runs.started(), "batch 1 running")
        tick(root, ["T020"])  # the user ticks a task of batch 4 by hand while batch 1 runs
        h.project.touch()
        await h.until(lambda: "unasked_ticks" in h.actions(), "the tick noticed")
    (entry,) = [e for e in h.log() if e["action"] == "unasked_ticks"]
    # the tick is credited to the run current at that moment (batch 1's), which was not asked for T020
    assert [t["id"] for t in entry["ticks"]] == ["T020"] and entry["ticks"][0]["run_id"] == h.runs.started()[0].run_id
