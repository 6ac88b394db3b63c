"""projects.status and orchestrate.preview: read-only views of a project's evidence."""

from __future__ import annotations

from pathlib import Path

import anyio
from pydantic import BaseModel, ConfigDict, Field

from specflowd.handlers.projects import ProjectRef
from specflowd.paths import user_config_path
from specflowd.project.snapshot import read_project_snapshot
from specflowd.project.status import OrchestrationPreview, ProjectStatus, build_preview, build_status
from specflowd.protocol.params import JsonObject, PathRef
from specflowd.protocol.rpc import Router
from specflowd.services.context import Call
from specflowd.settings import load_settings, merge_config

router: Router[Call] = Router()


class PreviewParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project: PathRef = Field(description="Registry id or absolute path")
    config: JsonObject = Field(default_factory=dict, description="OrchestrationConfig overrides")


@router.method("projects.status", params=ProjectRef, result=ProjectStatus, summary="Phase, step, tasks, next action")
async def project_status(call: Call, params: ProjectRef) -> ProjectStatus:
    entry = call.services.registry.resolve(params.project)
    snapshot = await anyio.to_thread.run_sync(read_project_snapshot, Path(entry.path))
    return build_status(snapshot)


@router.method(
    "orchestrate.preview",
    params=PreviewParams,
    result=OrchestrationPreview,
    summary="Steps, batch plan, warnings and caps an orchestration would use; no side effects",
)
async def preview(call: Call, params: PreviewParams) -> OrchestrationPreview:
    entry = call.services.registry.resolve(params.project)
    settings = load_settings(user_config_path())
    config = merge_config(settings.orchestrate, params.config)
    snapshot = await anyio.to_thread.run_sync(read_project_snapshot, Path(entry.path))
    result = build_preview(snapshot, config)
    if settings.problem:
        result.warnings.append(settings.problem)
    return result
