"""runs.* : standalone skill runs, their records and transcripts."""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from functools import partial
from pathlib import Path

import anyio
from pydantic import ConfigDict, Field

from specflowd.domain.config import OrchestrationConfig
from specflowd.errors import InvalidConfig, InvalidState
from specflowd.handlers.projects import ProjectFilter, project_root, project_root_or_none
from specflowd.paths import user_config_path
from specflowd.protocol.params import Identifier, PathRef, Text
from specflowd.protocol.rpc import Message, Router
from specflowd.run_spec import RunSpec
from specflowd.runner.agentcheck import require_agent
from specflowd.runner.records import LogChunk, RunRecord
from specflowd.runner.sandbox import RunSandbox, mode_problem, run_sandbox, run_temp_dir
from specflowd.runner.sandboxcheck import systemd_run_path
from specflowd.services.context import Call, project_call
from specflowd.settings import Settings, load_settings, merge_config
from specflowd.vocabulary import RESULT_SCHEMA

router: Router[Call] = Router()

MAX_OFFSET = 2**53 - 1  # the largest integer every JSON client (JavaScript's doubles included) holds exactly

_SKILL = re.compile(r"^/?(?:flow\.)?(?P<name>[a-z][a-z0-9_-]*)$")


class StartRunParams(Message):
    model_config = ConfigDict(extra="forbid")
    project: PathRef = Field(description="Registry id or absolute path")
    skill: Text = Field(min_length=1, max_length=200, description="verify, flow.verify or /flow.verify")
    context: Text | None = Field(None, max_length=20_000, description="appended to the prompt")
    budget_usd: float | None = Field(None, gt=0, le=10_000)
    sandbox: bool | None = Field(None, description="in Claude Code's sandbox (default: the settings', else true)")


def preview_sandbox(config: OrchestrationConfig, settings: Settings, root: Path) -> RunSandbox:
    """How a run in ``root`` would be confined now; its temp dir is named by a placeholder run id."""
    return run_sandbox(
        enabled=config.sandbox,
        project_root=root,
        temp_dir=run_temp_dir(Path(tempfile.gettempdir()), os.geteuid(), "<run>") if config.sandbox else None,
        uid=os.geteuid(),
        permission_mode=config.permission_mode,
        settings=settings.sandbox.for_project(root, settings.agent.settings),
        limits_enforced=systemd_run_path(os.environ) is not None,
    )


class RunRef(Message):
    model_config = ConfigDict(extra="forbid")
    run: Identifier


class RunLogParams(RunRef):
    since: int = Field(0, ge=0, le=MAX_OFFSET, description="byte offset from a previous call's `next_offset`")


class RunListParams(ProjectFilter):
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="skip this many runs (oldest first)")
    limit: int | None = Field(None, ge=1, le=10_000, description="at most this many runs; none = every one")


class RunList(Message):
    runs: list[RunRecord]
    total: int = Field(description="runs known (of the project): pages are taken from these, oldest first")


@router.method("runs.start", params=StartRunParams, result=RunRecord, summary="Run one skill, supervised")
@project_call
async def start(call: Call, params: StartRunParams) -> RunRecord:
    root = project_root(call, params.project)
    match = _SKILL.match(params.skill.strip())
    if match is None:
        raise InvalidState(f"not a skill name: {params.skill!r}")
    skill = match["name"]
    settings = load_settings(user_config_path())
    config = merge_config(settings.orchestrate, {} if params.sandbox is None else {"sandbox": params.sandbox})
    if problem := mode_problem(config.sandbox, config.permission_mode, os.geteuid() == 0):
        raise InvalidConfig(problem)
    require = partial(require_agent, None, settings.agent.claude, dict(os.environ), sandboxed=config.sandbox)
    await anyio.to_thread.run_sync(require)  # a missing agent or a machine that cannot sandbox: refused now
    spec = RunSpec(
        project_root=root,
        prompt=f"/flow.{skill}" + (f"\n\n{params.context}" if params.context else ""),
        step=skill,
        budget_usd=params.budget_usd or config.budget.per_batch,
        permission_mode=config.permission_mode,
        sandbox=config.sandbox,
        stale_after_s=config.stale_after_s,
        model=next((m for step, m in config.models.items() if step.value == skill), None),
        fallback_model=config.fallback_model,
        json_schema=RESULT_SCHEMA,
        binary=settings.agent.claude,  # as configured now (the daemon's startup value may be stale)
        run_id=str(uuid.uuid4()),
    )
    # admitted by the run scheduler like every agent run: the call waits here for a slot (docs/scheduler.md)
    return await call.services.launcher.launch(spec)


@router.method("runs.list", params=RunListParams, result=RunList, summary="Known runs, oldest first, a page at a time")
async def list_runs(call: Call, params: RunListParams) -> RunList:
    runs = call.services.runs
    root = project_root_or_none(call, params.project)
    page = runs.list(root, offset=params.offset, limit=params.limit)
    return RunList(runs=page, total=runs.total(root))


@router.method("runs.get", params=RunRef, result=RunRecord, summary="One run's record")
async def get(call: Call, params: RunRef) -> RunRecord:
    manager = call.services.runs
    return manager.get(manager.resolve(params.run))


@router.method("runs.log", params=RunLogParams, result=LogChunk, summary="Readable transcript from a byte offset")
async def log(call: Call, params: RunLogParams) -> LogChunk:
    manager = call.services.runs
    return manager.log(manager.resolve(params.run), params.since)


@router.method("runs.cancel", params=RunRef, result=RunRecord, summary="Stop a run (its process group)")
async def cancel(call: Call, params: RunRef) -> RunRecord:
    manager = call.services.runs
    return await manager.cancel(manager.resolve(params.run))
