"""orchestrate.* : preview, start, follow and steer orchestrations (docs/daemon.md#rpc-contract)."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Any

import anyio
from pydantic import ConfigDict, Field, model_validator

from specflowd.admission.units import QueuePosition
from specflowd.domain.config import Step, budget_conflicts
from specflowd.domain.progress import Progress
from specflowd.domain.record import (
    OrchestrationRecord,
    OrchestrationRecordView,
    OrchestrationStatus,
    RecoveryOption,
    record_view,
)
from specflowd.errors import InvalidConfig
from specflowd.files.workflows import WorkflowDir
from specflowd.handlers.groups import require_group
from specflowd.handlers.projects import project_root, project_root_or_none
from specflowd.handlers.runs import MAX_OFFSET, preview_sandbox
from specflowd.paths import user_config_path
from specflowd.project.forecast_plan import preview_forecast
from specflowd.project.snapshot import read_project_snapshot
from specflowd.project.status import OrchestrationPreview, build_preview
from specflowd.protocol.params import Identifier, JsonObject, PathRef, given
from specflowd.protocol.rpc import Message, Router
from specflowd.runner.agentcheck import AgentCheck, check_agent, require_agent
from specflowd.runner.sandbox import RunSandbox, mode_problem
from specflowd.services.context import Call, project_call
from specflowd.settings import config_sources, load_settings, merge_config

router: Router[Call] = Router()


class PreviewParams(Message):
    model_config = ConfigDict(extra="forbid")
    project: PathRef = Field(description="Registry id or absolute path")
    config: JsonObject = Field(default_factory=dict, description="OrchestrationConfig overrides")
    check_agent: bool = Field(True, description="also resolve the agent binary, run `--version`, look for skills")


class SettingsView(Message):
    file: str = Field(description="the settings file (it may not exist)")
    sources: dict[str, str] = Field(description="setting (dotted) -> where its non-default value came from")
    problem: str | None = None


class PreviewResult(OrchestrationPreview):
    """The plan, plus what the daemon checked around it (kept apart from the plan's own fields)."""

    agent: AgentCheck | None = Field(None, description="the agent binary, its version, skills (check_agent=true)")
    settings: SettingsView
    sandbox: RunSandbox = Field(description="how each run would be confined: write paths, domains, limits")


class StartParams(Message):
    model_config = ConfigDict(extra="forbid")
    project: PathRef = Field(description="Registry id or absolute path")
    config: JsonObject = Field(default_factory=dict, description="OrchestrationConfig overrides")


class Target(Message):
    """``{id}`` or ``{project}`` (that project's active or latest orchestration)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"anyOf": [given("id"), given("project")]},  # the rule _one enforces
    )
    id: Identifier | None = None
    project: PathRef | None = None

    @model_validator(mode="after")
    def _one(self) -> Target:
        if not self.id and not self.project:
            raise ValueError("give id or project")
        return self


class PauseParams(Target):
    now: bool = Field(False, description="stop the running run now instead of after it ends")


class ResumeParams(Target):
    budget: float | None = Field(None, gt=0, le=10_000, description="new total budget (USD)")


class GoBackParams(Target):
    step: Step


class RecoverParams(Target):
    action: RecoveryOption
    budget: float | None = Field(None, gt=0, le=10_000)


class ListParams(Message):
    model_config = ConfigDict(extra="forbid")
    project: PathRef | None = None
    include_finished: bool = False
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="skip this many orchestrations (oldest first)")
    limit: int | None = Field(None, ge=1, le=10_000, description="at most this many; none = every one")


class OrchestrationView(Message):
    record: OrchestrationRecordView
    decisions: list[dict[str, Any]]
    progress: Progress
    queued: QueuePosition | None = Field(
        None,
        description="its next agent run waits in the run scheduler's queue: group, position (1 = next), reason "
        "(slot | paused | rate_limit) and the reset it waits for; the record's status is unchanged meanwhile",
    )
    sandbox: RunSandbox | None = Field(
        None, description="how its next agent run is confined, as its config and the settings file say now"
    )


class OrchestrationList(Message):
    orchestrations: list[OrchestrationRecordView]
    total: int = Field(description="orchestrations listed without a page: pages are taken from these, oldest first")


class DecisionLogParams(Target):
    since: int = Field(0, ge=0, le=MAX_OFFSET, description="byte offset from a previous call's `next_offset`")
    limit: int = Field(500, ge=1, le=5000, description="at most this many entries per call")


class DecisionLog(Message):
    orchestration: str
    entries: list[dict[str, Any]]
    next_offset: int = Field(description="pass as `since` for the next page (or to follow new entries)")
    more: bool = Field(description="entries remain after this page")


def _record(call: Call, target: Target) -> OrchestrationRecord:
    """``id`` may be a unique prefix (``ambiguous_id`` when it is not unique)."""
    engine = call.services.orchestrations
    if target.id:
        return engine.get(engine.resolve(target.id))
    assert target.project is not None
    return engine.for_project(project_root(call, target.project))


async def _view(call: Call, record: OrchestrationRecord) -> OrchestrationView:
    engine = call.services.orchestrations
    return OrchestrationView(
        record=record_view(record),
        decisions=engine.decisions(record),
        progress=await engine.progress(record),
        queued=call.services.scheduler.queued_for(record.id),
        sandbox=preview_sandbox(record.config, load_settings(user_config_path()), Path(record.project_path)),
    )


@router.method(
    "orchestrate.preview",
    params=PreviewParams,
    result=PreviewResult,
    summary="Steps, batch plan, warnings, caps and the agent an orchestration would use; no side effects",
)
@project_call
async def preview(call: Call, params: PreviewParams) -> PreviewResult:
    root = project_root(call, params.project)
    path = user_config_path()
    settings = load_settings(path)
    config = merge_config(settings.orchestrate, params.config)
    snapshot = await anyio.to_thread.run_sync(read_project_snapshot, root)
    plan = build_preview(snapshot, config)
    history = await call.services.orchestrations.forecast_history(root)
    plan.forecast = await anyio.to_thread.run_sync(preview_forecast, plan, config, history)  # ~2000 draws: off the loop
    if settings.problem:
        plan.warnings.append(settings.problem)
    plan.warnings += [w for ws in budget_conflicts(config.budget) for w in ws]  # the caps as they will apply
    agent = None
    if params.check_agent:
        skills = [f"flow.{s.step.value}" for s in plan.steps if s.runs or s.step == Step.MERGE]
        environ, sandboxed = dict(os.environ), config.sandbox
        check = partial(check_agent, config.agent, settings.agent.claude, environ, root, skills, sandboxed=sandboxed)
        agent = await anyio.to_thread.run_sync(check)
    sandbox = preview_sandbox(config, settings, root)
    if not sandbox.enabled:  # what is not confined is a warning; that limits are not enforced is in `sandbox`
        plan.warnings.append("agent runs are not sandboxed (sandbox = false): shell commands can write anywhere")
    elif not sandbox.edit_tools_confined:
        plan.warnings.append("bypassPermissions: the agents' Write/Edit tools are not confined to the project")
    if problem := mode_problem(config.sandbox, config.permission_mode, os.geteuid() == 0):
        plan.warnings.append(problem)
    sources = config_sources(settings.orchestrate, params.config, str(path)) if not settings.problem else {}
    view = SettingsView(file=str(path), sources=sources, problem=settings.problem)
    return PreviewResult(**dict(plan), agent=agent, settings=view, sandbox=sandbox)


@router.method("orchestrate.start", params=StartParams, result=OrchestrationView, summary="Start completing the phase")
@project_call
async def start(call: Call, params: StartParams) -> OrchestrationView:
    root = project_root(call, params.project)
    settings = load_settings(user_config_path())
    config = merge_config(settings.orchestrate, params.config)
    if config.group is not None:
        require_group(call, config.group)
    if problem := mode_problem(config.sandbox, config.permission_mode, os.geteuid() == 0):
        raise InvalidConfig(problem)
    # nothing starts without a working agent (and a machine that can sandbox it): refused here (agent_unavailable)
    # rather than as a failed first run, naming where the failing value came from
    require = partial(require_agent, config.agent, settings.agent.claude, dict(os.environ), sandboxed=config.sandbox)
    await anyio.to_thread.run_sync(require)
    if config.agent is None and settings.agent.claude:  # the binary configured now, recorded for this orchestration
        config = config.model_copy(update={"agent": settings.agent.claude})
    return await _view(call, await call.services.orchestrations.start(root, config))


@router.method("orchestrate.status", params=Target, result=OrchestrationView, summary="Record and last decisions")
async def status(call: Call, params: Target) -> OrchestrationView:
    return await _view(call, _record(call, params))


@router.method("orchestrate.list", params=ListParams, result=OrchestrationList, summary="Orchestrations, oldest first")
async def list_orchestrations(call: Call, params: ListParams) -> OrchestrationList:
    root = project_root_or_none(call, params.project)
    engine, finished = call.services.orchestrations, params.include_finished
    page = engine.list_all(root, finished, offset=params.offset, limit=params.limit)
    return OrchestrationList(orchestrations=[record_view(r) for r in page], total=engine.count(root, finished))


@router.method(
    "orchestrate.pause", params=PauseParams, result=OrchestrationView, summary="Pause (after the run, or now)"
)
async def pause(call: Call, params: PauseParams) -> OrchestrationView:
    return await _view(call, await call.services.orchestrations.pause(_record(call, params).id, params.now))


@router.method(
    "orchestrate.resume", params=ResumeParams, result=OrchestrationView, summary="Resume; optionally raise the budget"
)
async def resume(call: Call, params: ResumeParams) -> OrchestrationView:
    record = _record(call, params)
    if record.status is OrchestrationStatus.WAITING_RATE_LIMIT:
        call.services.scheduler.clear_gate()  # the user ends the wait: for every run of the account, not only this one
    return await _view(call, await call.services.orchestrations.resume(record.id, params.budget))


@router.method("orchestrate.cancel", params=Target, result=OrchestrationView, summary="Cancel; stops the running run")
async def cancel(call: Call, params: Target) -> OrchestrationView:
    return await _view(call, await call.services.orchestrations.cancel(_record(call, params).id))


@router.method("orchestrate.merge", params=Target, result=OrchestrationView, summary="Merge a phase waiting for it")
async def merge(call: Call, params: Target) -> OrchestrationView:
    return await _view(call, await call.services.orchestrations.merge(_record(call, params).id))


@router.method(
    "orchestrate.go_back", params=GoBackParams, result=OrchestrationView, summary="Return to an earlier step"
)
async def go_back(call: Call, params: GoBackParams) -> OrchestrationView:
    return await _view(call, await call.services.orchestrations.go_back(_record(call, params).id, params.step))


@router.method(
    "orchestrate.recover",
    params=RecoverParams,
    result=OrchestrationView,
    summary="retry | skip | abort after needs_attention",
)
async def recover(call: Call, params: RecoverParams) -> OrchestrationView:
    engine = call.services.orchestrations
    return await _view(call, await engine.recover(_record(call, params).id, params.action, params.budget))


@router.method(
    "orchestrate.log",
    params=DecisionLogParams,
    result=DecisionLog,
    summary="The decision log, a page at a time from a byte offset",
)
async def decision_log(call: Call, params: DecisionLogParams) -> DecisionLog:
    record = _record(call, params)
    store = WorkflowDir(Path(record.project_path))
    page = await anyio.to_thread.run_sync(store.read_events_from, record.id, params.since, params.limit)
    entries, next_offset, more = page
    return DecisionLog(orchestration=record.id, entries=entries, next_offset=next_offset, more=more)
