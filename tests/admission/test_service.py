"""The daemon's run scheduler service (services/scheduling.py) in-process: admission and wake-ups, the runner's
events keeping slots right, the rate-limit gate, groups, and scheduler.json across a restart."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from specflowd.admission.units import WaitReason
from specflowd.errors import InvalidState
from specflowd.event_catalogue import (
    EventPayload,
    QuestionAsked,
    RunFinished,
    RunStarted,
    SchedulerAdmitted,
    SchedulerGroup,
    SchedulerQueued,
    SchedulerRateLimited,
)
from specflowd.run_spec import RunSpec, RunTicket
from specflowd.services.scheduling import RunScheduler, account_key
from specflowd.vocabulary import RunStatus

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class World:
    """A scheduler with a recorded event stream and wake-ups."""

    def __init__(self, path: Path, clock: Any = None) -> None:
        self.events: list[EventPayload] = []
        self.woken: list[str] = []
        self.s = RunScheduler(path, lambda _project, payload: self.events.append(payload), clock=clock or Clock())
        self.s.on_admitted(self.woken.append)

    def of(self, kind: type[EventPayload]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def ask(self, run_id: str, project: str, orch: str | None = None, group: str | None = None) -> Any:
        unit = self.s.unit(RunTicket(run_id=run_id, project_root=Path(project), orchestration_id=orch or f"o-{run_id}", group=group))
        return self.s.request(unit)

    def started(self, run_id: str, project: str = "/p") -> None:
        self.s.notice(project, RunStarted(run_id=run_id, orchestration=None, step="implement", batch=None,
                                          attempt=1, continuation=0, pid=1, started_at=None, budget_usd=1.0))  # fmt: skip

    def finished(self, run_id: str, status: RunStatus = RunStatus.COMPLETED, reset: str | None = None) -> None:
        self.s.notice("/p", RunFinished(run_id=run_id, orchestration="o", step="implement", batch=None, attempt=1,
                                        status=status, detail=None, error=None, cost_usd=0.0,
                                        rate_limit_reset=reset))  # fmt: skip


def test_a_runs_unit_is_made_from_its_description(tmp_path: Path) -> None:
    s = RunScheduler(tmp_path / "scheduler.json", lambda _project, _payload: None, account="key-abc")
    s.add_group("gpu", 1)
    spec = RunSpec(project_root=Path("/p"), prompt="/flow.verify", step="verify", run_id="r1", orchestration_id="o",
                   group="gpu", priority=4, kind="step")  # fmt: skip
    unit = s.unit(spec)
    assert (unit.id, unit.project, unit.group, unit.priority, unit.kind) == ("r1", "/p", "gpu", 4, "step")
    assert (unit.orchestration, unit.account) == ("o", "key-abc")
    assert s.unit(spec.model_copy(update={"group": "removed"})).group == "default"  # a group gone since it was named
    assert s.unit(RunTicket(run_id="r2", project_root=Path("/p"))).group == "default"
    with pytest.raises(InvalidState):
        s.unit(RunTicket(project_root=Path("/p")))  # a run is queued by its id


def test_a_run_waits_for_a_slot_and_its_orchestration_is_woken_when_it_gets_one(tmp_path: Path) -> None:
    w = World(tmp_path / "scheduler.json")
    w.s.set_limit("default", 1)
    assert w.ask("r1", "/a") is None  # admitted at once: no event, no wake-up
    waiting = w.ask("r2", "/b")
    assert waiting is not None and (waiting.position, waiting.group, waiting.reason) == (1, "default", WaitReason.SLOT)
    assert w.ask("r2", "/b") == waiting  # asking again keeps the place, says it once
    assert [e.run_id for e in w.of(SchedulerQueued)] == ["r2"] and w.of(SchedulerAdmitted) == []
    assert w.s.queued_for("o-r2") is not None and w.s.queued_in("/b") is not None
    w.started("r1")
    w.finished("r1")
    assert w.woken == ["o-r2"] and [e.run_id for e in w.of(SchedulerAdmitted)] == ["r2"]
    assert w.ask("r2", "/b") is None  # the woken orchestration asks again: admitted
    assert w.s.queued_for("o-r2") is None


def test_withdrawing_frees_a_queued_place_or_an_unused_slot_never_a_running_one(tmp_path: Path) -> None:
    w = World(tmp_path / "scheduler.json")
    w.s.set_limit("default", 1)
    w.ask("r1", "/a")
    w.ask("r2", "/b")
    w.ask("r3", "/c")
    w.s.withdraw("r2")  # paused while queued
    assert [u.id for u, _ in w.s.queue()] == ["r3"]
    w.s.withdraw("r1")  # admitted, decided otherwise before starting: its slot goes to r3
    assert w.woken == ["o-r3"]
    w.started("r3")
    w.s.withdraw("r3")  # started: only its end frees the slot
    assert [u.id for u, started in w.s.running()] == ["r3"]


def test_raising_a_limit_admits_at_once_and_zero_pauses(tmp_path: Path) -> None:
    w = World(tmp_path / "scheduler.json")
    w.s.set_limit("default", 0)
    for n in range(3):
        assert w.ask(f"r{n}", f"/p{n}").reason is WaitReason.PAUSED
    w.s.set_limit("default", 2)
    assert w.woken == ["o-r0", "o-r1"]
    assert [e.limit for e in w.of(SchedulerGroup)] == [0, 2]


def test_removing_a_group_moves_its_queue_to_default(tmp_path: Path) -> None:
    w = World(tmp_path / "scheduler.json")
    w.s.add_group("gpu", 0)
    w.s.set_limit("default", 0)
    w.ask("r1", "/a", group="gpu")
    w.ask("r2", "/b", group="nope")  # a group that does not exist (removed since): default
    assert [(u.id, u.group) for u, _ in w.s.queue()] == [("r2", "default"), ("r1", "gpu")]
    assert w.s.remove_group("gpu") == ["r1"]
    assert [(u.id, u.group) for u, _ in w.s.queue()] == [("r2", "default"), ("r1", "default")]
    with pytest.raises(InvalidState):
        w.s.remove_group("default")


def test_a_rate_limit_gates_new_admissions_once_until_its_reset(tmp_path: Path) -> None:
    clock = Clock()
    w = World(tmp_path / "scheduler.json", clock)
    w.ask("r1", "/a")
    w.ask("r2", "/b")
    w.started("r1")
    w.started("r2")
    reset = clock.now + timedelta(minutes=3)
    w.finished("r1", RunStatus.RATE_LIMITED, str(int(reset.timestamp())))
    w.finished("r2", RunStatus.RATE_LIMITED, reset.isoformat())  # the same reset again: no second notice
    assert [(e.until, e.run_id) for e in w.of(SchedulerRateLimited)] == [(reset.isoformat(), "r1")]
    held = w.ask("r3", "/c")
    assert held.reason is WaitReason.RATE_LIMIT and held.until == reset and w.s.gates() == {"default": reset}
    clock.now = reset
    assert w.ask("r4", "/d") is None  # the first admission pass after the reset lets the queue go, in order
    assert w.woken == ["o-r3"] and w.s.gates() == {}


def test_a_rate_limit_without_a_reset_waits_five_minutes_like_the_engine(tmp_path: Path) -> None:
    clock = Clock()
    w = World(tmp_path / "scheduler.json", clock)
    w.ask("r1", "/a")
    w.finished("r1", RunStatus.RATE_LIMITED, None)
    assert w.s.gates() == {"default": clock.now + timedelta(minutes=5)}
    assert w.s.clear_gate() and w.s.gates() == {}  # the user's resume ends it
    w.ask("r2", "/b")
    w.finished("r2", RunStatus.RATE_LIMITED, (clock.now - timedelta(minutes=1)).isoformat())  # found after a restart
    assert w.s.gates() == {} and len(w.of(SchedulerRateLimited)) == 1  # a reset already past holds nothing


def test_answers_continue_at_once_and_count_against_their_group(tmp_path: Path) -> None:
    w = World(tmp_path / "scheduler.json")
    w.s.add_group("gpu", 1)
    w.ask("r1", "/a", group="gpu")
    w.started("r1")
    w.s.notice("/a", QuestionAsked(run_id="r1", orchestration="o-r1", step="implement", message=None, questions=[]))
    assert w.s.running() == []  # no process while it waits for answers
    w.started("r1", "/a")  # answered: it runs again, in its own group even beyond the limit
    assert [(u.id, u.group) for u, _ in w.s.running()] == [("r1", "gpu")]


async def test_a_standalone_run_waits_in_its_call_until_admitted(tmp_path: Path) -> None:
    w = World(tmp_path / "scheduler.json")
    w.s.set_limit("default", 1)
    w.ask("r1", "/a")
    got: list[str] = []

    async def standalone() -> None:
        await w.s.wait(w.s.unit(RunTicket(run_id="s1", project_root=Path("/b"))))
        got.append("admitted")

    async with anyio.create_task_group() as tg:
        tg.start_soon(standalone)
        await anyio.wait_all_tasks_blocked()
        assert got == [] and [u.id for u, _ in w.s.queue()] == ["s1"]
        w.finished("r1")
    assert got == ["admitted"]


async def test_the_queue_its_order_limits_and_gates_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "scheduler.json"
    w = World(path, lambda: datetime.now(UTC))
    w.s.add_group("gpu", 1)
    w.s.set_limit("default", 0)
    w.ask("running", "/z", group="gpu")
    w.started("running")
    for n, project in enumerate(["/a", "/b", "/a", "/c"]):
        w.ask(f"q{n}", project)
    w.s.request(w.s.unit(RunTicket(run_id="standalone", project_root=Path("/s"))))
    order = [u.id for u, _ in w.s.queue()]
    async with anyio.create_task_group() as tg:
        tg.start_soon(w.s.run)
        with anyio.fail_after(10):
            while not path.exists() or len(json.loads(path.read_text())["queue"]["queued"]) < len(order):
                await anyio.sleep(0.01)
        tg.cancel_scope.cancel()
    again = World(path)
    # the standalone run waited in an RPC call the restart ended: dropped; the rest keeps its order
    assert [u.id for u, _ in again.s.queue()] == [i for i in order if i != "standalone"]
    assert len(order) == 5 and {g.name: g.limit for g in again.s.groups()} == {"default": 0, "gpu": 1}
    again.s.adopt_live([RunTicket(run_id="running", project_root=Path("/z"), orchestration_id="o-running")])  # re-adopted: its own group's slot
    assert [(u.id, u.group) for u, _ in again.s.running()] == [("running", "gpu")]


def test_a_corrupt_file_is_reported_and_the_queue_starts_empty(tmp_path: Path) -> None:
    path = tmp_path / "scheduler.json"
    path.write_text('{"version": 1, "queue": {"groups": {"x": 99}}}')
    w = World(path)
    assert w.s.problem and "not valid" in w.s.problem and [g.name for g in w.s.groups()] == ["default"]


async def test_the_gate_passing_admits_the_waiting_runs_without_any_other_event(tmp_path: Path) -> None:
    w = World(tmp_path / "scheduler.json", lambda: datetime.now(UTC))
    w.ask("r1", "/a")
    w.s.gate(datetime.now(UTC) + timedelta(seconds=0.3), "r1", "o-r1")
    w.finished("r1")
    assert w.ask("r2", "/b").reason is WaitReason.RATE_LIMIT
    async with anyio.create_task_group() as tg:
        tg.start_soon(w.s.run)
        with anyio.fail_after(10):
            while w.woken != ["o-r2"]:
                await anyio.sleep(0.02)
        tg.cancel_scope.cancel()


def test_the_account_key_names_the_credentials_without_revealing_them() -> None:
    assert account_key({}) == "default"
    key = account_key({"ANTHROPIC_API_KEY": "sk-secret"})
    assert key.startswith("key-") and "secret" not in key and key != account_key({"ANTHROPIC_API_KEY": "sk-other"})
    assert account_key({"ANTHROPIC_API_KEY": "sk-secret", "ANTHROPIC_BASE_URL": "http://x"}) != key
    assert account_key({"CLAUDE_CONFIG_DIR": "/home/u/.claude-work"}).startswith("config-")
