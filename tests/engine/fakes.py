"""The engine in-process: the real ``Orchestrator`` behind fakes of its ports (engine/ports.py) and a fake clock.

Model: httpx's ``MockTransport`` — the side-effect part is injected, the loop is the real one. What is real:
the orchestrator, the domain, the record journal (``ProjectJournals`` on a temporary project: the crash-safe journal
and its log repair), the project reader's parsing (tasks.md, the state file, ROADMAP: read straight from the
temporary project), the skills' state file edit (``set_state_values`` without a CLI), the Claude Helper's
adviser (without a key: its deterministic fallback) and the event bus. What is fake: agent runs (``FakeRuns``:
an *agent* function plays each run, by default the /flow.* skills as the simulated agent does — it ticks the
prompt's task ids in tasks.md and reports completion in the state file), the clock (``FakeClock``: time moves
only when a test advances it, so rate-limit waits and the safety timer are exact), and file-change wake-ups
(``TestProject.touch``).

Each fake is held to the real adapter of its port by the contract tests in tests/contracts/ (the same tests run
on both); what a fake does differently on purpose is said in its docstring.

Waiting is on events: ``Harness.until`` re-checks its condition whenever an event is emitted (and at most every
50 ms), with a deadline. A whole phase takes a few milliseconds of engine time.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import anyio.abc

from specflowd.domain.config import OrchestrationConfig, Step
from specflowd.domain.evidence import RunEvidence
from specflowd.domain.merge_ready import GateCheck
from specflowd.domain.record import TERMINAL_STATUSES, OrchestrationRecord
from specflowd.engine.adapters import ProjectJournals
from specflowd.engine.consult import HelperAdviser
from specflowd.engine.evidence_adapters import missing_run_evidence, project_evidence
from specflowd.engine.orchestrator import Orchestrator
from specflowd.engine.ports import (
    Admission,
    Admitted,
    EnginePorts,
    ProjectView,
    Queued,
    RunRequest,
    SkillStateWriter,
    StateWrite,
)
from specflowd.errors import AgentUnavailable, BudgetExhausted, InvalidConfig, InvalidState, NotFound, ProjectError
from specflowd.event_catalogue import QuestionAsked, RunFinished, RunStarted
from specflowd.files.skill_state import set_state_values
from specflowd.files.workflows import WorkflowDir
from specflowd.project.snapshot import read_project_snapshot
from specflowd.services.events import Event, EventBus
from specflowd.simagent import check_off
from specflowd.vocabulary import RESUMABLE_STATUSES, Question, RunStatus, ToolLoop

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
STOPPED = frozenset({"completed", "needs_attention", "failed", "cancelled"})
_TASK_ID = re.compile(r"\bT\d{3,}[a-z]?\b")


# -- the clock -------------------------------------------------------------------------------------------------


class FakeClock:
    """Time stands still until ``advance``; sleepers whose moment has come are woken then (the ``Clock`` contract:
    tests/contracts/test_clock_contract.py)."""

    def __init__(self, start: datetime = NOW) -> None:
        self._now = start
        self._sleepers: list[tuple[datetime, anyio.Event]] = []

    def now(self) -> datetime:
        return self._now

    async def sleep_until(self, moment: datetime) -> None:
        if moment <= self._now:
            await anyio.lowlevel.checkpoint()
            return
        entry = (moment, anyio.Event())
        self._sleepers.append(entry)
        try:
            await entry[1].wait()
        finally:
            self._sleepers.remove(entry)

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        for moment, event in self._sleepers:
            if moment <= self._now:
                event.set()

    @property
    def sleepers(self) -> list[datetime]:
        """When each sleeper wants to wake (the engine's rate-limit waits and safety timers)."""
        return sorted(moment for moment, _ in self._sleepers)


# -- the project -----------------------------------------------------------------------------------------------


class TestProject:
    """The real reader (parsing tasks.md, the state file, ROADMAP) on the test's files; ``touch()`` stands for
    the file watcher seeing a change. Unlike ``ProjectFiles`` on purpose: ``changed`` watches no file (it returns
    after ``touch()``, for whichever root it waits on, without a debounce), and no read is reused. The
    ``ProjectReader`` contract: tests/contracts/test_project_contract.py."""

    __test__ = False

    def __init__(self) -> None:
        self._changed = anyio.Event()
        self.reads = 0

    async def read(self, root: Path) -> ProjectView:
        self.reads += 1
        snapshot = read_project_snapshot(root)
        feature = snapshot.feature_dir.name if snapshot.feature_dir else None
        return ProjectView(evidence=project_evidence(snapshot), feature=feature)

    async def changed(self, root: Path) -> None:
        await self._changed.wait()
        self._changed = anyio.Event()

    def touch(self) -> None:
        self._changed.set()


# -- the skills' state file --------------------------------------------------------------------------------------


class FakeSkillState:
    """Writes the running step into the state file as the real adapter does without a SpecFlow CLI (an atomic
    edit); ``fail_with`` makes the writes fail like the CLI printing an error. Unlike ``SkillStateFile`` on
    purpose: it runs no CLI — a failed write's ``via`` is ``specflow state set …`` and its ``output`` the message
    as given (the real one names the CLI's path and each pair, and puts ``exit status N:`` before what the CLI
    printed), and the implement gate is what the test set in ``gate``, not a verdict on the project. The
    ``SkillStateWriter`` contract: tests/contracts/test_skill_state_contract.py (and ``_cli_contract_e2e.py``)."""

    def __init__(self) -> None:
        self.writes: list[tuple[Path, Step]] = []
        self.fail_with: str | None = None
        self.gate: GateCheck | None = None  # the SpecFlow CLI's implement gate (None: no CLI installed)
        self.gate_checks = 0

    async def mark_running(self, root: Path, step: Step) -> StateWrite:
        self.writes.append((root, step))
        if self.fail_with is not None:
            return StateWrite(ok=False, via="specflow state set …", output=self.fail_with)
        from specflowd.engine.bookkeeping import running_step_values

        result = await set_state_values(root, running_step_values(step), None)
        return StateWrite(ok=result.ok, via=result.via, output=result.output)

    async def implement_gate(self, root: Path) -> GateCheck | None:
        self.gate_checks += 1
        return self.gate


# -- agent runs ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentCall:
    """One invocation of the fake agent: a run's start or a continuation of its session."""

    run_id: str
    root: Path
    step: str
    prompt: str  # this invocation's
    continuation: int = 0
    answers: dict[str, str] | None = None
    first_prompt: str = ""  # what the session was started with (a continuation goes on with that work)

    @property
    def work(self) -> str:
        return self.first_prompt or self.prompt

    @property
    def task_ids(self) -> list[str]:
        return list(dict.fromkeys(_TASK_ID.findall(self.work)))


@dataclass(frozen=True)
class Ran:
    """How an invocation ends."""

    status: RunStatus = RunStatus.COMPLETED
    cost_usd: float = 0.01
    error: str | None = None
    message: str | None = None
    questions: list[Question] = field(default_factory=list)
    rate_limit_reset: datetime | None = None
    loop: ToolLoop | None = None  # status looping: what the runner saw repeat


HANG = None  # the invocation keeps running until cancelled or finished by the test
Agent = Callable[[AgentCall], Ran | None]


def feature_dir(root: Path) -> Path:
    return sorted(d for d in (root / "specs").iterdir() if d.is_dir())[-1]


def tick(root: Path, ids: list[str]) -> None:
    tasks_md = feature_dir(root) / "tasks.md"
    for task_id in ids:
        check_off(tasks_md, task_id)


def set_skill_state(root: Path, step: str, status: str, *, close_phase: bool = False, **phase: Any) -> None:
    """Write ``orchestration.step`` (and phase keys) into the state file as a skill does."""
    path = root / ".specflow" / "orchestration-state.json"
    document = json.loads(path.read_text()) if path.exists() else {}
    orch = document.setdefault("orchestration", {})
    phase_doc = orch.setdefault("phase", {})
    if close_phase:  # as `specflow phase close` leaves it
        orch["step"] = {"current": "design", "index": 0, "status": "not_started"}
        phase_doc.update(id=None, number=None, name=None, branch=None, status="not_started")
    else:
        orch["step"] = {"current": step, "index": ["design", "analyze", "implement", "verify", "merge"].index(step),
                        "status": status}  # fmt: skip
    phase_doc.update(phase)
    path.write_text(json.dumps(document, indent=2))


def play_skill(call: AgentCall) -> Ran:
    """What the simulated agent does for each /flow.* skill (specflowd/simagent.py)."""
    skill = call.work.split()[0] if call.work.startswith("/") else ""
    if skill == "/flow.implement":
        tick(call.root, call.task_ids)
    elif skill == "/flow.design":
        target = feature_dir(call.root)
        for name in ("spec.md", "plan.md", "tasks.md"):
            if not (target / name).exists():
                (target / name).write_text(f"# {name}\n\n- [ ] T001 First task\n" if name == "tasks.md" else "# x\n")
        set_skill_state(call.root, "design", "complete")
    elif skill in ("/flow.analyze", "/flow.verify"):
        set_skill_state(call.root, skill.removeprefix("/flow."), "complete")
    elif skill == "/flow.merge":
        if (refusal := merge_refusal(call.root)) is not None:
            return Ran(message=refusal)  # the real skill blocks, ends its session normally, writes nothing
        set_skill_state(call.root, "merge", "complete", close_phase=True)
    return Ran(message=f"{skill or 'prompt'} done")


def merge_refusal(root: Path) -> str | None:
    """/flow.merge's own checks (step verify/complete, not on main/master), as the real skill makes them."""
    evidence = project_evidence(read_project_snapshot(root))
    step = evidence.skill_step
    if step is None or step.current != "verify" or step.status != "complete":
        return "BLOCKED: run `/flow.verify` first"
    if evidence.git_branch in ("main", "master"):
        return "Cannot merge from main branch"
    return None


class Script:
    """Per invocation, in order, what the agent does; once the script is used up, ``then`` (the skills)."""

    def __init__(self, *steps: Agent, then: Agent = play_skill) -> None:
        self.steps = list(steps)
        self.then = then

    def __call__(self, call: AgentCall) -> Ran | None:
        return self.steps.pop(0)(call) if self.steps else self.then(call)


def complete(tasks: list[str] | None = None, cost_usd: float = 0.01) -> Callable[[AgentCall], Ran]:
    """Tick ``tasks`` (default: the prompt's ids) and end completed, whatever the skill."""

    def agent(call: AgentCall) -> Ran:
        tick(call.root, call.task_ids if tasks is None else tasks)
        return Ran(cost_usd=cost_usd)

    return agent


def fail(message: str = "tests failed", *, tasks: list[str] | None = None, cost_usd: float = 0.01) -> Agent:
    def agent(call: AgentCall) -> Ran:
        tick(call.root, tasks or [])
        return Ran(RunStatus.FAILED, cost_usd=cost_usd, error=message)

    return agent


def ends(status: RunStatus, cost_usd: float = 0.01, **kw: Any) -> Agent:
    return lambda call: Ran(status, cost_usd=cost_usd, **kw)


def ask(*questions: Question) -> Agent:
    return lambda call: Ran(RunStatus.WAITING_INPUT, questions=list(questions), message="a question")


def hang(call: AgentCall) -> None:
    return HANG


@dataclass
class FakeRun:
    run_id: str
    orchestration: str
    root: Path
    step: str
    batch_index: int | None
    attempt: int
    prompts: list[str]
    budget_usd: float
    status: RunStatus = RunStatus.RUNNING
    cost_usd: float = 0.0
    error: str | None = None
    message: str | None = None
    questions: list[Question] = field(default_factory=list)
    rate_limit_reset: datetime | None = None
    continuations: int = 0
    answers: list[dict[str, str]] = field(default_factory=list)
    loop: ToolLoop | None = None

    @property
    def final(self) -> bool:
        return self.status not in (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.WAITING_INPUT)

    def evidence(self) -> RunEvidence:
        return RunEvidence(
            run_id=self.run_id,
            step=self.step,
            batch_index=self.batch_index,
            attempt=self.attempt,
            status=self.status,
            final=self.final,
            error=self.error,
            cost_usd=self.cost_usd,
            rate_limit_reset=self.rate_limit_reset,
            questions=list(self.questions),
            message=self.message,
            continuations=self.continuations,
            loop=self.loop,
        )


class FakeRuns:
    """The ``RunPort``: runs live in memory (they survive a "daemon restart": give the next harness the same
    object, as run directories survive on disk), each invocation is played by ``agent`` in its own task, and
    the run's events go through the event bus like the runner's. ``queueing`` makes admission queue every run
    until ``admit_all()`` (a scheduler in front of the runner); ``stall`` makes starts and continuations hang
    before the runner records anything (a daemon killed between recording a spawn and exec'ing its agent).

    It refuses what ``RunnerPort`` refuses, with the same errors (the ``RunPort`` contract:
    tests/contracts/test_runs_contract_e2e.py). Unlike it on purpose: admission has no slots, groups or
    rate-limit gates (``queueing`` queues every run, in group ``default`` for a ``slot``; a rate-limited run does
    not hold back later admissions: the engine's own wait for the reset, on the fake clock, ends when the real
    scheduler's gate would); the agent is gone when ``unavailable`` says so, whatever the request's ``agent``;
    run ids need not be UUIDs (the real agent takes the run id as its session id); and no ``run.progress``
    events (the engine acts on none)."""

    def __init__(self, agent: Agent = play_skill) -> None:
        self.agent = agent
        self.runs: dict[str, FakeRun] = {}
        self.requests: list[RunRequest] = []
        self.calls: list[AgentCall] = []  # every invocation the agent played
        self.resumes: list[tuple[str, str, float]] = []
        self.cancels: list[str] = []
        self.withdrawn: list[str] = []
        self.unavailable: str | None = None  # an agent binary that went away: starts fail
        self.queueing = False
        self.stall = False
        self.queued: list[tuple[str, str]] = []  # (run id, orchestration)
        self.admitted: set[str] = set()
        self.asked: list[tuple[str, str | None, int, str]] = []  # (run id, group, priority, kind) per admit
        self.wake: Callable[[str], None] = lambda orchestration: None
        self.bus: EventBus | None = None
        self._tg: anyio.abc.TaskGroup | None = None

    # -- admission
    async def admit(
        self,
        run_id: str,
        project_root: Path,
        orchestration: str,
        *,
        group: str | None = None,
        priority: int = 0,
        kind: str = "run",
    ) -> Admission:
        self.asked.append((run_id, group, priority, kind))
        if not self.queueing or run_id in self.admitted:
            return Admitted()
        if (run_id, orchestration) not in self.queued:
            self.queued.append((run_id, orchestration))
        return Queued(position=[r for r, _ in self.queued].index(run_id) + 1, group="default", reason="slot")

    def withdraw(self, run_id: str) -> None:
        self.withdrawn.append(run_id)
        self.queued = [(r, o) for r, o in self.queued if r != run_id]

    def admit_all(self) -> None:
        for run_id, orchestration in self.queued:
            self.admitted.add(run_id)
            self.wake(orchestration)
        self.queued = []

    # -- runs
    async def start(self, request: RunRequest) -> None:
        if self.stall:
            await anyio.sleep_forever()
        if self.unavailable is not None:
            raise AgentUnavailable(f"could not start {self.unavailable}: no such file", binary=self.unavailable)
        if not request.project_root.is_dir():
            raise ProjectError(
                f"project directory {request.project_root} does not exist", project=str(request.project_root)
            )
        if request.run_id in self.runs:
            raise InvalidState(f"run {request.run_id} already exists: a run is never started twice")
        self.requests.append(request)
        run = FakeRun(
            run_id=request.run_id,
            orchestration=request.orchestration_id,
            root=request.project_root,
            step=request.step,
            batch_index=request.batch_index,
            attempt=request.attempt,
            prompts=[request.prompt],
            budget_usd=request.budget_usd,
        )
        self.runs[run.run_id] = run
        self._invoke(run, AgentCall(run.run_id, run.root, run.step, request.prompt))

    async def resume(self, run_id: str, prompt: str, budget_usd: float) -> None:
        if self.stall:
            await anyio.sleep_forever()
        run = self._run(run_id)
        if run.status not in RESUMABLE_STATUSES:
            raise InvalidState(f"run {run_id} is {run.status}; only a rate-limited or stale run can be resumed")
        if min(run.budget_usd - run.cost_usd, budget_usd) <= 0:
            raise BudgetExhausted(f"run {run_id} has spent its budget")
        if self.unavailable is not None:
            raise AgentUnavailable(f"could not start {self.unavailable}: no such file", binary=self.unavailable)
        self.resumes.append((run_id, prompt, budget_usd))
        self._continue(run, prompt, None)

    async def answer(self, run_id: str, answers: dict[str, str]) -> None:
        run = self._run(run_id)
        if run.status != RunStatus.WAITING_INPUT:
            raise InvalidState(f"run {run_id} is not waiting for input ({run.status})")
        if not answers:
            raise InvalidConfig("answers must not be empty", run_id=run_id)
        if run.budget_usd - run.cost_usd <= 0:
            raise BudgetExhausted(f"run {run_id} has spent its budget")
        if self.unavailable is not None:
            raise AgentUnavailable(f"could not start {self.unavailable}: no such file", binary=self.unavailable)
        run.answers.append(dict(answers))
        self._continue(run, "answers: " + ", ".join(f"{k}={v}" for k, v in answers.items()), dict(answers))

    async def cancel(self, run_id: str) -> None:
        run = self._run(run_id)
        if run.final:
            raise InvalidState(f"run {run_id} already ended ({run.status})")
        self.cancels.append(run_id)
        self.finish(run_id, Ran(RunStatus.CANCELLED, cost_usd=0.0, message="cancelled by request"))

    def evidence(self, run_id: str) -> RunEvidence:
        run = self.runs.get(run_id)
        return run.evidence() if run is not None else missing_run_evidence(run_id)

    # -- the agent
    def _run(self, run_id: str) -> FakeRun:
        try:
            return self.runs[run_id]
        except KeyError:
            raise NotFound(f"unknown run {run_id}") from None

    def _continue(self, run: FakeRun, prompt: str, answers: dict[str, str] | None) -> None:
        run.continuations += 1
        run.prompts.append(prompt)
        # the questions stay until the continuation's outcome replaces them, as the runner keeps them
        run.status, run.error, run.rate_limit_reset = RunStatus.RUNNING, None, None
        self._invoke(run, AgentCall(run.run_id, run.root, run.step, prompt, run.continuations, answers, run.prompts[0]))

    def _invoke(self, run: FakeRun, call: AgentCall) -> None:
        self._emit(run, RunStarted(run_id=run.run_id, orchestration=run.orchestration, step=run.step,
                                   batch=None if run.batch_index is None else str(run.batch_index),
                                   attempt=run.attempt, continuation=run.continuations, pid=4242,
                                   started_at=NOW.isoformat(), budget_usd=run.budget_usd))  # fmt: skip
        assert self._tg is not None, "FakeRuns is not attached to a running harness"
        self._tg.start_soon(self._play, run, call)

    async def _play(self, run: FakeRun, call: AgentCall) -> None:
        await anyio.lowlevel.checkpoint()  # the agent runs after start() returned, as a real child does
        self.calls.append(call)
        ran = self.agent(call)
        if ran is not None and not run.final:
            self.finish(run.run_id, ran)

    def finish(self, run_id: str, ran: Ran) -> None:
        """End the run's current invocation as ``ran`` says (tests call it for a hanging run)."""
        run = self._run(run_id)
        run.cost_usd = round(run.cost_usd + ran.cost_usd, 6)
        run.status, run.error, run.message = ran.status, ran.error, ran.message
        run.questions = list(ran.questions)
        run.rate_limit_reset = ran.rate_limit_reset
        run.loop = ran.loop
        if ran.status == RunStatus.WAITING_INPUT:
            self._emit(run, QuestionAsked(run_id=run_id, orchestration=run.orchestration, step=run.step,
                                          message=ran.message, questions=list(ran.questions)))  # fmt: skip
            return
        self._emit(run, RunFinished(run_id=run_id, orchestration=run.orchestration, step=run.step,
                                    batch=None if run.batch_index is None else str(run.batch_index),
                                    attempt=run.attempt, status=run.status, detail=ran.message, error=ran.error,
                                    cost_usd=run.cost_usd, loop=ran.loop,
                                    rate_limit_reset=ran.rate_limit_reset.isoformat() if ran.rate_limit_reset else None))  # fmt: skip

    def _emit(self, run: FakeRun, payload: Any) -> None:
        assert self.bus is not None
        self.bus.emit(str(run.root), payload)

    def started(self, step: str | None = None) -> list[FakeRun]:
        return [r for r in self.runs.values() if step is None or r.step == step]


# -- the harness ------------------------------------------------------------------------------------------------


@dataclass
class Harness:
    root: Path
    orch: Orchestrator
    runs: FakeRuns
    clock: FakeClock
    project: TestProject
    skill_writer: FakeSkillState | SkillStateWriter
    journal: ProjectJournals
    bus: EventBus
    events: list[Event]
    _changed: anyio.Event = field(default_factory=anyio.Event)
    orch_id: str = ""

    @property
    def skill_state(self) -> FakeSkillState:
        """The fake skill-state writer the engine was given (the default)."""
        assert isinstance(self.skill_writer, FakeSkillState), "this harness writes the state with a real adapter"
        return self.skill_writer

    def _saw(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    async def start(self, **config: Any) -> str:
        record = await self.orch.start(self.root, OrchestrationConfig(**config))
        self.orch_id = record.id
        return record.id

    def record(self, orch_id: str | None = None) -> OrchestrationRecord:
        return self.orch.get(orch_id or self.orch_id)

    def on_disk(self, orch_id: str | None = None) -> dict[str, Any]:
        return WorkflowDir(self.root).load(orch_id or self.orch_id)

    def log(self, orch_id: str | None = None) -> list[dict[str, Any]]:
        return WorkflowDir(self.root).read_events(orch_id or self.orch_id)

    def actions(self, orch_id: str | None = None) -> list[str]:
        return [e["action"] for e in self.log(orch_id)]

    def event_types(self) -> list[str]:
        return [e.type for e in self.events]

    async def until(self, predicate: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
        """Wait for ``predicate`` to hold; it is checked after every event (and every 50 ms), with a deadline."""
        try:
            with anyio.fail_after(timeout):
                while not (value := predicate()):
                    self._changed = anyio.Event()
                    with anyio.move_on_after(0.05):
                        await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}; status {self._status()}; log {self._tail()}") from None
        return value

    def _status(self) -> str:
        try:
            r = self.record()
        except NotFound:
            return "-"
        return f"{r.status.value}/{r.step.value} attention={r.attention}"

    def _tail(self) -> list[str]:
        try:
            return [f"{e['action']}: {e['reason']}" for e in self.log()[-6:]]
        except (OSError, ValueError):
            return []

    async def status(self, *statuses: str, orch_id: str | None = None) -> OrchestrationRecord:
        """Wait until the orchestration's status is one of ``statuses`` (default: stopped or finished)."""
        wanted = set(statuses) or STOPPED
        record: OrchestrationRecord = await self.until(
            lambda: (r := self.record(orch_id)).status.value in wanted and r, f"status in {sorted(wanted)}"
        )
        return record

    async def settled(self) -> None:
        """Let the engine run until it waits (nothing left to decide without news)."""
        for _ in range(50):
            await anyio.lowlevel.checkpoint()


@asynccontextmanager
async def engine(
    root: Path,
    *,
    runs: FakeRuns | None = None,
    clock: FakeClock | None = None,
    skill_state: FakeSkillState | SkillStateWriter | None = None,
    adviser: Any = None,
    project: TestProject | None = None,
) -> AsyncIterator[Harness]:
    """The orchestrator on ``root`` with fakes, running until the block ends. Leaving the block stops it the way
    a SIGKILL would stop the daemon's engine: nothing more is written (give the next ``engine`` the same
    ``runs`` and ``clock`` to restart)."""
    runs = runs or FakeRuns()
    clock = clock or FakeClock()
    project = project or TestProject()
    skill_state = skill_state or FakeSkillState()
    journal = ProjectJournals()
    bus = EventBus()
    events: list[Event] = []
    orch = Orchestrator(
        EnginePorts(
            runs=runs,
            clock=clock,
            project=project,
            journal=journal,
            skill_state=skill_state,
            adviser=adviser or HelperAdviser(),
            events=bus,
        )
    )
    harness = Harness(root, orch, runs, clock, project, skill_state, journal, bus, events)
    bus.listeners.append(harness._saw)
    bus.listeners.append(lambda event: orch.notice(event.payload))
    runs.bus, runs.wake = bus, orch.wake
    try:
        async with anyio.create_task_group() as tg:
            runs._tg = tg
            tg.start_soon(orch.run, [root])
            await orch.ready()
            try:
                yield harness
            finally:
                tg.cancel_scope.cancel()
    except BaseExceptionGroup as group:  # one failure (an assertion of the test, mostly): show it plainly
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
    finally:
        runs._tg = None


def terminal(record: OrchestrationRecord) -> bool:
    return record.status in TERMINAL_STATUSES
