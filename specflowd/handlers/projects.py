"""projects.* : the project registry (list, register, unregister) and a project's status."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import anyio
from pydantic import ConfigDict, Field, StringConstraints

from specflowd.admission.units import DEFAULT_GROUP
from specflowd.event_catalogue import RegistryChanged
from specflowd.handlers.groups import require_group
from specflowd.project.registry import ProjectEntry
from specflowd.project.snapshot import read_project_snapshot
from specflowd.project.status import ProjectStatus, build_status
from specflowd.protocol.params import PathRef, Text
from specflowd.protocol.rpc import EmptyParams, Message, Router
from specflowd.services.context import Call

router: Router[Call] = Router()


class ProjectList(Message):
    projects: list[ProjectEntry]
    problem: str | None = None


class RegisterParams(Message):
    model_config = ConfigDict(extra="forbid")
    path: PathRef = Field(description="Absolute path of the project root")
    name: Annotated[Text, StringConstraints(min_length=1, max_length=200)] | None = None


class ProjectRef(Message):
    model_config = ConfigDict(extra="forbid")
    project: PathRef = Field(description="Registry id or absolute path")


class SetGroupParams(Message):
    model_config = ConfigDict(extra="forbid")
    project: PathRef = Field(description="Registry id or absolute path")
    group: str | None = Field(
        max_length=200, description="an existing scheduler group; null or `default`: the default group"
    )


class ProjectFilter(Message):
    model_config = ConfigDict(extra="forbid")
    project: PathRef | None = None


def project_root(call: Call, ref: str) -> Path:
    """The root of the registered project ``ref`` names (a registry id or a path)."""
    return Path(call.services.registry.resolve(ref).path)


def project_root_or_none(call: Call, ref: str | None) -> Path | None:
    """``project_root`` of an optional filter: None (every project) when it is not given."""
    return project_root(call, ref) if ref else None


@router.method("projects.list", params=EmptyParams, result=ProjectList, summary="Registered projects")
async def list_projects(call: Call, _: EmptyParams) -> ProjectList:
    registry = call.services.registry
    return ProjectList(projects=registry.projects(), problem=registry.problem)


@router.method("projects.register", params=RegisterParams, result=ProjectEntry, summary="Register a project")
async def register(call: Call, params: RegisterParams) -> ProjectEntry:
    # read, change and write registry.json (fsync) in a worker thread: the loop serves other clients meanwhile
    entry = await anyio.to_thread.run_sync(call.services.registry.register, params.path, params.name)
    call.services.bus.emit(entry.path, RegistryChanged(added=[entry.id], removed=[]))
    return entry


@router.method("projects.unregister", params=ProjectRef, result=ProjectEntry, summary="Forget a project")
async def unregister(call: Call, params: ProjectRef) -> ProjectEntry:
    entry = await anyio.to_thread.run_sync(call.services.registry.unregister, params.project)
    call.services.bus.emit(entry.path, RegistryChanged(added=[], removed=[entry.id]))
    return entry


@router.method(
    "projects.set_group", params=SetGroupParams, result=ProjectEntry, summary="Name the scheduler group of its runs"
)
async def set_group(call: Call, params: SetGroupParams) -> ProjectEntry:
    """Runs admitted from now on use it (a run already queued keeps its group); an orchestration's own
    ``group`` still comes first."""
    group = None if params.group == DEFAULT_GROUP else params.group
    if group is not None:
        require_group(call, group)
    return await anyio.to_thread.run_sync(call.services.registry.set_group, params.project, group)


@router.method("projects.status", params=ProjectRef, result=ProjectStatus, summary="Phase, step, tasks, next action")
async def project_status(call: Call, params: ProjectRef) -> ProjectStatus:
    root = project_root(call, params.project)
    snapshot = await anyio.to_thread.run_sync(read_project_snapshot, root)
    status = build_status(snapshot)
    status.queued = call.services.scheduler.queued_in(str(root))
    return status
