"""projects.status and orchestrate.preview: read-only views of a project's evidence."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import anyio
from pydantic import BaseModel, ConfigDict, Field

from specflowd.domain.config import Step
from specflowd.handlers.projects import ProjectRef
from specflowd.paths import user_config_path
from specflowd.project.snapshot import read_project_snapshot
from specflowd.project.status import OrchestrationPreview, ProjectStatus, build_preview, build_status
from specflowd.protocol.params import JsonObject, PathRef
from specflowd.protocol.rpc import Router
from specflowd.runner.agentcheck import AgentCheck, check_agent
from specflowd.services.context import Call
from specflowd.settings import config_sources, load_settings, merge_config

router: Router[Call] = Router()


class PreviewParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project: PathRef = Field(description="Registry id or absolute path")
    config: JsonObject = Field(default_factory=dict, description="OrchestrationConfig overrides")
    check_agent: bool = Field(True, description="also resolve the agent binary, run `--version`, look for skills")


@router.method("projects.status", params=ProjectRef, result=ProjectStatus, summary="Phase, step, tasks, next action")
async def project_status(call: Call, params: ProjectRef) -> ProjectStatus:
    entry = call.services.registry.resolve(params.project)
    snapshot = await anyio.to_thread.run_sync(read_project_snapshot, Path(entry.path))
    return build_status(snapshot)


class SettingsView(BaseModel):
    file: str = Field(description="the settings file (it may not exist)")
    sources: dict[str, str] = Field(description="setting (dotted) -> where its non-default value came from")
    problem: str | None = None


class PreviewResult(OrchestrationPreview):
    """The plan, plus what the daemon checked around it (kept apart from the plan's own fields)."""

    agent: AgentCheck | None = Field(None, description="the agent binary, its version, skills (check_agent=true)")
    settings: SettingsView


@router.method(
    "orchestrate.preview",
    params=PreviewParams,
    result=PreviewResult,
    summary="Steps, batch plan, warnings, caps and the agent an orchestration would use; no side effects",
)
async def preview(call: Call, params: PreviewParams) -> PreviewResult:
    entry = call.services.registry.resolve(params.project)
    path = user_config_path()
    settings = load_settings(path)
    config = merge_config(settings.orchestrate, params.config)
    snapshot = await anyio.to_thread.run_sync(read_project_snapshot, Path(entry.path))
    plan = build_preview(snapshot, config)
    if settings.problem:
        plan.warnings.append(settings.problem)
    agent = None
    if params.check_agent:
        skills = [f"flow.{s.step.value}" for s in plan.steps if s.runs or s.step == Step.MERGE]
        check = partial(check_agent, config.agent, settings.agent.claude, dict(os.environ), Path(entry.path), skills)
        agent = await anyio.to_thread.run_sync(check)
    sources = config_sources(settings.orchestrate, params.config, str(path)) if not settings.problem else {}
    view = SettingsView(file=str(path), sources=sources, problem=settings.problem)
    return PreviewResult(**dict(plan), agent=agent, settings=view)
