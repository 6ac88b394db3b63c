"""RunManager: starts agent runs, watches them, decides how they ended, re-adopts them after a restart.

One watch task per live run: it tails ``output.jsonl`` from the persisted offset (a 0.25 s stat-sized read;
no subprocess polls anything), waits for the process to exit through a pidfd, stops the process group when
the live cost crosses the cap or the run goes stale, and records the verdict. Runs are recorded before
exec, so a crash between the two can never lead to a second spawn of the same run.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.abc

from specflowd.errors import InvalidState, NotFound
from specflowd.runner.command import RunSpec, build_argv, resolve_binary
from specflowd.runner.procs import identity_alive, spawn, stop_group, wait_exit
from specflowd.runner.records import ProcessIdentity, RunDir, RunRecord, now_iso
from specflowd.runner.streamjson import DEFAULT_PRICES, RunProgress, feed
from specflowd.runner.verdict import RunStatus, Verdict, judge

__all__ = ["RunManager", "RunnerSettings"]

log = logging.getLogger(__name__)

Publish = Callable[[str, str | None, dict[str, Any]], object]


@dataclass
class RunnerSettings:
    binary: str | None = None
    grace_s: float = 5.0
    tick_s: float = 0.25
    progress_interval_s: float = 0.5
    prices: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    extra_env: dict[str, str] = field(default_factory=dict)


@dataclass
class _Run:
    record: RunRecord
    dir: RunDir
    spec: RunSpec | None
    progress: RunProgress = field(default_factory=RunProgress)
    proc: subprocess.Popen[bytes] | None = None
    identity: ProcessIdentity | None = None
    exited: anyio.Event = field(default_factory=anyio.Event)
    final: anyio.Event = field(default_factory=anyio.Event)
    exit_code: int | None = None
    base_cost: float = 0.0
    cancelled: bool = False
    budget_stopped: bool = False
    stale_stopped: bool = False
    last_output: float = field(default_factory=time.monotonic)
    last_progress_event: float = 0.0


class RunManager:
    def __init__(self, *, publish: Publish, settings: RunnerSettings | None = None) -> None:
        self._publish = publish
        self.settings = settings or RunnerSettings()
        self._runs: dict[str, _Run] = {}
        self._tg: anyio.abc.TaskGroup | None = None
        self._ready = anyio.Event()

    # -- lifecycle -------------------------------------------------------------------------------------
    async def run(self) -> None:
        async with anyio.create_task_group() as tg:
            self._tg = tg
            self._ready.set()
            await anyio.sleep_forever()

    def _task_group(self) -> anyio.abc.TaskGroup:
        if self._tg is None:
            raise RuntimeError("RunManager.run() is not running")
        return self._tg

    # -- queries ---------------------------------------------------------------------------------------
    def get(self, run_id: str) -> RunRecord:
        return self._get(run_id).record

    def _get(self, run_id: str) -> _Run:
        run = self._runs.get(run_id)
        if run is None:
            raise NotFound(f"no run {run_id!r}", run=run_id)
        return run

    def list_runs(self, project_root: Path | None = None) -> list[RunRecord]:
        records = [r.record for r in self._runs.values()]
        if project_root is not None:
            records = [r for r in records if Path(r.project_root) == project_root]
        return sorted(records, key=lambda r: r.created_at)

    def counts(self) -> tuple[int, int]:
        active = sum(1 for r in self._runs.values() if not r.record.final)
        return active, len(self._runs)

    def pending_questions(self, project_root: Path | None = None) -> list[RunRecord]:
        return [r for r in self.list_runs(project_root) if r.status is RunStatus.WAITING_INPUT]

    async def wait_final(self, run_id: str) -> RunRecord:
        run = self._get(run_id)
        await run.final.wait()
        return run.record

    async def wait_settled(self, run_id: str) -> RunRecord:
        """Until the run is final or waiting for answers."""
        run = self._get(run_id)
        while not run.record.final and run.record.status is not RunStatus.WAITING_INPUT:
            with anyio.move_on_after(0.1):
                await run.final.wait()
        return run.record

    # -- actions ---------------------------------------------------------------------------------------
    async def start(self, spec: RunSpec) -> RunRecord:
        await self._ready.wait()
        binary = resolve_binary(spec.binary or self.settings.binary)
        run_id = spec.session_id or str(uuid.uuid4())
        if run_id in self._runs:
            raise InvalidState(f"run {run_id} already exists; a run is never started twice", run=run_id)
        root = Path(spec.project_root)
        run_dir = RunDir(root, run_id)
        run_dir.path.mkdir(parents=True, exist_ok=False)
        run_dir.prompt_file(0).write_text(spec.prompt, encoding="utf-8")
        record = RunRecord(
            run_id=run_id,
            project_root=str(root),
            step=spec.step,
            orchestration_id=spec.orchestration_id,
            batch=spec.batch,
            attempt=spec.attempt,
            argv=build_argv(binary, spec, run_id),
            budget_usd=spec.budget_usd,
            stale_after_s=spec.stale_after_s,
        )
        run_dir.save(record)  # recorded before exec (DESIGN §2.4)
        run = _Run(record, run_dir, spec)
        self._runs[run_id] = run
        self._launch(run, record.argv, run_dir.prompt_file(0))
        self._publish("run.started", record.project_root, self._summary(record))
        return record

    def _env(self, spec: RunSpec | None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.settings.extra_env)
        for name in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
            env.pop(name, None)
        if os.geteuid() == 0 and spec is not None and spec.permission_mode.value == "bypassPermissions":
            env["IS_SANDBOX"] = "1"  # the CLI refuses bypassPermissions for root without it
        return env

    def _launch(self, run: _Run, argv: list[str], prompt: Path) -> None:
        d = run.dir
        try:
            proc, identity = spawn(
                argv,
                cwd=Path(run.record.project_root),
                stdin=prompt,
                stdout=d.output,
                stderr=d.stderr,
                env=self._env(run.spec),
            )
        except OSError as exc:
            run.record.status = RunStatus.FAILED
            run.record.error = f"could not start {argv[0]}: {exc.strerror}"
            run.record.finished_at = now_iso()
            d.save(run.record)
            run.final.set()
            self._publish("run.finished", run.record.project_root, self._summary(run.record))
            return
        d.save_identity(identity)
        run.proc, run.identity = proc, identity
        run.exited = anyio.Event()
        run.exit_code = None
        run.last_output = time.monotonic()
        run.record.status = RunStatus.RUNNING
        run.record.started_at = run.record.started_at or now_iso()
        d.save(run.record)
        self._task_group().start_soon(self._watch, run, False)

    async def cancel(self, run_id: str) -> RunRecord:
        run = self._get(run_id)
        if run.record.final:
            raise InvalidState(f"run {run_id} already ended ({run.record.status.value})", run=run_id)
        run.cancelled = True
        if run.record.status is RunStatus.WAITING_INPUT or run.identity is None:
            self._finish(run, Verdict(RunStatus.CANCELLED, "cancelled by the user"))
        else:
            await self._terminate(run)
            await run.final.wait()
        return run.record

    async def answer(self, run_id: str, answers: dict[str, str]) -> RunRecord:
        run = self._get(run_id)
        if run.record.status is not RunStatus.WAITING_INPUT:
            raise InvalidState(f"run {run_id} is not waiting for answers ({run.record.status.value})", run=run_id)
        if not answers:
            raise InvalidState("no answers given", run=run_id)
        binary = resolve_binary((run.spec.binary if run.spec else None) or self.settings.binary)
        lines = ["Answers to your questions:"]
        for question in run.record.questions:
            key = question.get("header") or question["question"]
            value = answers.get(key, answers.get(question["question"]))
            if value is not None:
                lines.append(f"- {question['question']} -> {value}")
        known = {q.get("header") for q in run.record.questions} | {q["question"] for q in run.record.questions}
        lines += [f"- {key} -> {value}" for key, value in answers.items() if key not in known]
        lines.append("Continue the task with these answers.")
        run.record.continuations += 1
        prompt = run.dir.prompt_file(run.record.continuations)
        prompt.write_text("\n".join(lines) + "\n", encoding="utf-8")
        spec = run.spec or RunSpec(
            project_root=run.record.project_root,
            prompt="",
            step=run.record.step,
            budget_usd=run.record.budget_usd or 5.0,
        )
        remaining = max(0.01, run.record.budget_usd - run.record.cost_usd) if run.record.budget_usd else spec.budget_usd
        argv = build_argv(binary, spec.model_copy(update={"budget_usd": remaining}), run_id, resume=True)
        run.record.answers.append(dict(answers))
        run.record.questions = []
        run.base_cost = run.record.cost_usd
        run.progress = RunProgress()
        run.record.status = RunStatus.RUNNING
        run.dir.save(run.record)
        self._launch(run, argv, prompt)
        self._publish("run.resumed", run.record.project_root, self._summary(run.record))
        return run.record

    # -- watching --------------------------------------------------------------------------------------
    async def _await_exit(self, run: _Run) -> None:
        assert run.identity is not None
        run.exit_code = await wait_exit(run.identity, run.proc)
        run.exited.set()

    def _read_output(self, run: _Run) -> bool:
        try:
            with run.dir.output.open("rb") as handle:
                handle.seek(run.record.offset)
                data = handle.read()
        except FileNotFoundError:
            return False
        if not data:
            return False
        consumed = len(data) - len(data.rsplit(b"\n", 1)[-1]) if b"\n" in data else 0
        if not consumed:
            return False  # only a partial line so far: wait for its newline
        feed(run.progress, data[:consumed], self.settings.prices)
        run.record.offset += consumed
        p, r = run.progress, run.record
        r.cost_usd = round(run.base_cost + p.cost_usd, 6)
        r.turns, r.model, r.tool_calls, r.bad_lines = p.turns, p.model or r.model, len(p.tool_calls), p.bad_lines
        r.last_texts = list(p.last_texts)
        r.last_activity = now_iso()
        run.last_output = time.monotonic()
        return True

    async def _watch(self, run: _Run, after_restart: bool) -> None:
        tg = self._task_group()
        tg.start_soon(self._await_exit, run)
        record = run.record
        while True:
            if self._read_output(run):
                run.dir.save(record)
                now = time.monotonic()
                if now - run.last_progress_event >= self.settings.progress_interval_s:
                    run.last_progress_event = now
                    self._publish("run.progress", record.project_root, self._summary(record))
            if run.exited.is_set():
                self._read_output(run)
                if run.progress.pending.strip():  # a last line without newline: the process is gone, take it
                    feed(run.progress, b"\n", self.settings.prices)
                break
            if not (run.cancelled or run.budget_stopped or run.stale_stopped):
                if record.budget_usd and run.progress.result is None and record.cost_usd > record.budget_usd:
                    log.warning(
                        "run %s crossed its cap ($%.4f > $%.2f): stopping",
                        record.run_id,
                        record.cost_usd,
                        record.budget_usd,
                    )
                    run.budget_stopped = True
                    tg.start_soon(self._terminate, run)
                elif time.monotonic() - run.last_output > record.stale_after_s:
                    log.warning("run %s produced no output for %.0fs: stopping", record.run_id, record.stale_after_s)
                    run.stale_stopped = True
                    tg.start_soon(self._terminate, run)
            with anyio.move_on_after(self.settings.tick_s):
                await run.exited.wait()
        record.exit_code = run.exit_code
        record.stderr_tail = run.dir.stderr_tail()
        record.cost_usd = round(run.base_cost + run.progress.cost_usd, 6)
        verdict = judge(
            run.progress,
            exit_code=run.exit_code,
            cancelled=run.cancelled,
            budget_stopped=run.budget_stopped,
            stale_stopped=run.stale_stopped,
            after_restart=after_restart,
            stderr_tail=record.stderr_tail,
        )
        self._finish(run, verdict)

    def _finish(self, run: _Run, verdict: Verdict) -> None:
        record = run.record
        record.status = verdict.status
        record.error = verdict.error
        record.message = verdict.message
        record.rate_limit_reset = verdict.rate_limit_reset
        if verdict.status is RunStatus.WAITING_INPUT:
            record.questions = verdict.questions
            run.dir.save(record)
            self._publish(
                "question.asked", record.project_root, {**self._summary(record), "questions": record.questions}
            )
            run.final = anyio.Event()  # not final: answering continues it
            return
        record.finished_at = now_iso()
        run.dir.save(record)
        run.final.set()
        self._publish("run.finished", record.project_root, self._summary(record))

    async def _terminate(self, run: _Run) -> None:
        identity = run.identity
        if identity is None or run.exited.is_set():
            return
        if run.proc is None and not identity_alive(identity):
            return  # an adopted process that is gone: never signal a group that may now be someone else's
        stop_group(identity, signal.SIGTERM)
        with anyio.move_on_after(self.settings.grace_s):
            await run.exited.wait()
        if not run.exited.is_set():
            stop_group(identity, signal.SIGKILL)

    # -- restart ---------------------------------------------------------------------------------------
    async def reconcile(self, project_roots: list[Path]) -> None:
        """Re-adopt live runs (same pid *and* start time), finalise the others from their output."""
        await self._ready.wait()
        for root in project_roots:
            for run_dir in RunDir.scan(root):
                try:
                    record = run_dir.load()
                except (OSError, ValueError) as exc:
                    log.warning("skipping unreadable run metadata %s: %s", run_dir.metadata, exc)
                    continue
                if record.run_id in self._runs:
                    continue
                run = _Run(record, run_dir, None)
                self._runs[record.run_id] = run
                if record.final:
                    run.final.set()
                    continue
                if record.status is RunStatus.WAITING_INPUT:
                    continue
                identity = run_dir.load_identity()
                # re-read the current invocation's output from its start so the verdict sees its result line
                run.base_cost = 0.0 if record.continuations == 0 else record.cost_usd
                if identity is not None and identity_alive(identity):
                    run.identity = identity
                    log.info("re-adopting run %s (pid %d)", record.run_id, identity.pid)
                    self._task_group().start_soon(self._watch, run, True)
                    self._publish("run.adopted", record.project_root, self._summary(record))
                    continue
                self._read_output(run)
                if run.progress.pending.strip():
                    feed(run.progress, b"\n", self.settings.prices)
                record.stderr_tail = run_dir.stderr_tail()
                self._finish(
                    run, judge(run.progress, exit_code=None, after_restart=True, stderr_tail=record.stderr_tail)
                )

    # -- logs ------------------------------------------------------------------------------------------
    def log(self, run_id: str, since: int = 0, limit_bytes: int = 1 << 20) -> dict[str, Any]:
        import json

        run = self._get(run_id)
        entries: list[dict[str, Any]] = []
        try:
            with run.dir.output.open("rb") as handle:
                handle.seek(since)
                data = handle.read(limit_bytes)
        except FileNotFoundError:
            data = b""
        data = data[: data.rfind(b"\n") + 1]  # whole lines only (rfind is -1 when there is none: empty)
        offset = since + len(data)
        for raw in data.splitlines():
            try:
                obj = json.loads(raw)
            except ValueError:
                entries.append({"kind": "bad_line", "text": raw[:200].decode(errors="replace")})
                continue
            entries.extend(_readable(obj))
        return {
            "run": run_id,
            "entries": entries,
            "next": offset,
            "cost_usd": run.record.cost_usd,
            "status": run.record.status.value,
        }

    @staticmethod
    def _summary(record: RunRecord) -> dict[str, Any]:
        return {
            "run": record.run_id,
            "step": record.step,
            "orchestration": record.orchestration_id,
            "batch": record.batch,
            "attempt": record.attempt,
            "status": record.status.value,
            "cost_usd": record.cost_usd,
            "turns": record.turns,
            "error": record.error,
            "message": f"{record.step}: {record.status.value}",
        }


def _readable(obj: Any) -> list[dict[str, Any]]:
    if not isinstance(obj, dict):
        return []
    kind = obj.get("type")
    if kind == "system" and obj.get("subtype") == "init":
        return [{"kind": "init", "text": f"session {obj.get('session_id')} model {obj.get('model')}"}]
    if kind == "system" and obj.get("subtype") == "api_retry":
        return [{"kind": "retry", "text": f"API error {obj.get('error_status')}, retry {obj.get('attempt')}"}]
    if kind == "assistant":
        out = []
        for block in (obj.get("message") or {}).get("content") or []:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text":
                out.append({"kind": "text", "text": str(block.get("text", ""))})
            elif block.get("type") == "tool_use":
                args = block.get("input") or {}
                brief = next((str(args[k]) for k in ("command", "file_path", "pattern", "path") if k in args), "")
                out.append({"kind": "tool", "text": f"{block.get('name')} {brief}".strip()[:200]})
        return out
    if kind == "result":
        return [
            {
                "kind": "result",
                "text": f"{obj.get('subtype')} cost ${obj.get('total_cost_usd', 0)} turns {obj.get('num_turns')}",
            }
        ]
    return []
