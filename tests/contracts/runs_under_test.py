"""The two ``RunPort`` implementations the run-port contract (test_runs_contract_e2e.py) holds to the same rules,
each behind one small driver: the port itself, the events it emits, and how a test scripts the agent, holds the
scheduler's only slot and frees it.

- ``fake``: ``FakeRuns`` (tests/engine/fakes.py), an agent function playing each run in-process;
- ``real``: ``RunnerPort`` (engine/adapters.py) over a real ``RunManager`` and ``RunScheduler`` wired as the
  daemon wires them (the scheduler follows the runner's events), the agent the fake ``claude``
  (tests/fake_claude/) as a real child process, scripted per invocation.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import anyio
import anyio.abc
import pytest

from specflowd.engine.adapters import RunnerPort
from specflowd.engine.ports import RunPort, RunRequest
from specflowd.errors import SpecflowError
from specflowd.runner.manager import RunManager
from specflowd.runner.records import RunnerSettings
from specflowd.services.events import Event, EventBus
from specflowd.services.launcher import RunLauncher
from specflowd.services.scheduling import RunScheduler
from specflowd.vocabulary import RESULT_SCHEMA, PermissionMode, Question, QuestionOption, RunStatus
from tests.engine.fakes import Agent, FakeRuns, Script, ask, complete, ends, fail, hang

Behaviour = Literal["complete", "ask", "hang", "stale", "rate_limit", "fail"]
Kind = Literal["fake", "real"]

FAKE_CLAUDE = Path(__file__).resolve().parents[1] / "fake_claude" / "claude"
FAILURE = "tests failed: 3 of 40"
RESET = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)  # a rate limit's reset, as the agent reports it
LIFECYCLE = frozenset({"run.started", "question.asked", "run.finished"})
QUESTION = Question(
    question="Which database should we use?",
    header="Database",
    options=[QuestionOption(label="PostgreSQL", description="relational"),
             QuestionOption(label="SQLite", description="embedded")],
)  # fmt: skip


def request(
    root: Path, run_id: str, *, agent: str | None = None, budget_usd: float = 2.0, stale_after_s: float = 600.0
) -> RunRequest:
    """A run as the engine asks for one (no task ids in the prompt: the agents tick nothing)."""
    return RunRequest(
        orchestration_id="orch-contract",
        project_root=root,
        run_id=run_id,
        step="implement",
        batch="1",
        attempt=2,
        prompt="/flow.implement Carry out the contract's work.",
        json_schema=RESULT_SCHEMA,
        budget_usd=budget_usd,
        permission_mode=PermissionMode.ACCEPT_EDITS,
        stale_after_s=stale_after_s,
        binary=agent,
        sandbox=False,  # the contract is the port's, not Claude Code's sandbox (tests/runner/test_sandbox*.py)
    )


def _fake_agent(behaviour: Behaviour) -> Agent:
    match behaviour:
        case "complete":
            return complete([])
        case "ask":
            return ask(QUESTION)
        case "hang":
            return hang
        case "stale":
            return ends(RunStatus.STALE, cost_usd=0.0, error="no output for 1.5 s")
        case "rate_limit":
            return ends(RunStatus.RATE_LIMITED, cost_usd=0.0, error="429 rate limit", rate_limit_reset=RESET)
        case "fail":
            return fail(FAILURE)


def _claude_step(behaviour: Behaviour) -> dict[str, Any]:
    match behaviour:
        case "ask":
            return {"action": "ask", "questions": [{**QUESTION.model_dump(), "multiSelect": False}]}
        case "stale":
            return {"action": "hang"}  # silent: stale once the run's stale_after_s passes
        case "rate_limit":
            return {"action": "rate_limit", "retries": 0, "reset_epoch": int(RESET.timestamp())}
        case "fail":
            return {"action": "fail", "message": FAILURE}
        case _:
            return {"action": behaviour}


@dataclass
class RunsUnderTest:
    """One ``RunPort`` and what a contract test does around it."""

    kind: Kind
    port: RunPort
    root: Path
    script: Callable[..., None]  # script(*behaviours): one behaviour per invocation, then "complete"
    hold_the_only_slot: Callable[[], Awaitable[None]]  # the next admission of another run is queued behind a held slot
    free_the_slot: Callable[[], None]  # that slot is given back: what queued for it is admitted
    remove_agent: Callable[[], None]  # the agent binary goes away (uninstalled): starts and continuations fail
    agent: str | None = None  # the agent binary the runs name
    events: list[Event] = field(default_factory=list)
    woken: list[str] = field(default_factory=list)  # orchestrations the port woke (a queued run admitted)
    _changed: anyio.Event = field(default_factory=anyio.Event)

    def request(self, run_id: str, *, root: Path | None = None, stale_after_s: float = 600.0) -> RunRequest:
        return request(root or self.root, run_id, agent=self.agent, stale_after_s=stale_after_s)

    def saw(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    async def until(self, predicate: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
        """Wait until ``predicate`` holds: checked after each event and at least every 50 ms, with a deadline."""
        try:
            with anyio.fail_after(timeout):
                while not (value := predicate()):
                    self._changed = anyio.Event()
                    with anyio.move_on_after(0.05):
                        await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"{self.kind}: timed out waiting for {what}") from None
        return value

    async def final(self, run_id: str, what: str = "the run to end") -> RunStatus:
        evidence = await self.until(lambda: (e := self.port.evidence(run_id)).final and e, what)
        status: RunStatus = evidence.status
        return status

    async def settled(self, run_id: str, status: RunStatus) -> None:
        """Wait for the run's invocation to end with ``status`` (waiting_input is not final)."""
        await self.until(lambda: self.port.evidence(run_id).status == status, f"status {status.value}")

    def event_types(self, run_id: str) -> list[str]:
        """The run's events the engine acts on (the real runner also sends progress, which it ignores)."""
        return [e.type for e in self.events if e.type in LIFECYCLE and getattr(e.payload, "run_id", None) == run_id]


@asynccontextmanager
async def runs_under_test(kind: Kind, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RunsUnderTest]:
    root = tmp_path / "project"
    (root / "specs" / "0001-contract").mkdir(parents=True)
    (root / "specs" / "0001-contract" / "tasks.md").write_text(
        "# Tasks\n\n## Phase 1: Setup\n- [ ] T001 Create the project\n"
    )
    bus = EventBus()
    async with anyio.create_task_group() as tg:
        if kind == "fake":
            driver = _fake(tg, bus, root)
        else:
            driver = await _real(tg, bus, root, tmp_path, monkeypatch)
        bus.listeners.append(driver.saw)
        try:
            yield driver
        finally:
            await _stop_what_runs(driver)
            tg.cancel_scope.cancel()


async def _stop_what_runs(driver: RunsUnderTest) -> None:
    """No agent outlives its test: every run still going is cancelled."""
    for run_id in {getattr(e.payload, "run_id", "") for e in driver.events}:
        if run_id and not driver.port.evidence(run_id).final:
            with contextlib.suppress(SpecflowError):
                await driver.port.cancel(run_id)


def _fake(tg: anyio.abc.TaskGroup, bus: EventBus, root: Path) -> RunsUnderTest:
    runs = FakeRuns()
    runs.bus, runs._tg = bus, tg

    def script(*behaviours: Behaviour) -> None:
        runs.agent = Script(*map(_fake_agent, behaviours), then=complete([]))

    async def hold() -> None:
        runs.queueing = True

    def remove_agent() -> None:
        runs.unavailable = "claude"

    driver = RunsUnderTest("fake", runs, root, script, hold, runs.admit_all, remove_agent)
    runs.wake = driver.woken.append
    return driver


async def _real(
    tg: anyio.abc.TaskGroup, bus: EventBus, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> RunsUnderTest:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no settings file: no telemetry, defaults
    script_path = tmp_path / "claude-script.json"
    script_path.write_text("[]")
    monkeypatch.setenv("FAKE_CLAUDE_SCRIPT", str(script_path))  # the agents inherit the daemon's environment
    manager = RunManager(
        emit=bus.emit, settings=RunnerSettings(claude=str(FAKE_CLAUDE), kill_grace_s=1.0, poll_interval_s=0.05)
    )
    scheduler = RunScheduler(tmp_path / "scheduler.json", bus.emit)
    bus.listeners.append(lambda event: scheduler.notice(event.project, event.payload))  # as the daemon does
    port = RunnerPort(RunLauncher(manager, scheduler, lambda _root: None))
    tg.start_soon(manager.run)
    tg.start_soon(scheduler.run)

    def script(*behaviours: Behaviour) -> None:
        script_path.write_text(json.dumps([_claude_step(b) for b in behaviours]))
        script_path.with_name(script_path.name + ".count").unlink(missing_ok=True)

    async def hold() -> None:
        scheduler.set_limit("default", 1)
        await port.admit("slot-holder", root, "orch-holder")  # admitted: holds the slot until withdrawn

    def free() -> None:
        port.withdraw("slot-holder")

    agent = tmp_path / "bin" / "claude"  # the runs' own copy, so that a test can uninstall it
    agent.parent.mkdir()
    shutil.copy2(FAKE_CLAUDE, agent)

    driver = RunsUnderTest("real", port, root, script, hold, free, agent.unlink, agent=str(agent))
    scheduler.on_admitted(driver.woken.append)
    return driver
