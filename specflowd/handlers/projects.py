"""projects.list / register / unregister."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from specflowd.event_catalogue import RegistryChanged
from specflowd.project.registry import ProjectEntry
from specflowd.protocol.params import PathRef, Text
from specflowd.protocol.rpc import EmptyParams, Router
from specflowd.services.context import Call

router: Router[Call] = Router()


class ProjectList(BaseModel):
    projects: list[ProjectEntry]
    problem: str | None = None


class RegisterParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: PathRef = Field(description="Absolute path of the project root")
    name: Annotated[Text, StringConstraints(min_length=1, max_length=200)] | None = None


class ProjectRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project: PathRef = Field(description="Registry id or absolute path")


@router.method("projects.list", params=EmptyParams, result=ProjectList, summary="Registered projects")
async def list_projects(call: Call, _: EmptyParams) -> ProjectList:
    registry = call.services.registry
    return ProjectList(projects=registry.projects(), problem=registry.problem)


@router.method("projects.register", params=RegisterParams, result=ProjectEntry, summary="Register a project")
async def register(call: Call, params: RegisterParams) -> ProjectEntry:
    entry = call.services.registry.register(params.path, params.name)
    call.services.bus.emit(entry.path, RegistryChanged(added=[entry.id], removed=[]))
    return entry


@router.method("projects.unregister", params=ProjectRef, result=ProjectEntry, summary="Forget a project")
async def unregister(call: Call, params: ProjectRef) -> ProjectEntry:
    entry = call.services.registry.unregister(params.project)
    call.services.bus.emit(entry.path, RegistryChanged(added=[], removed=[entry.id]))
    return entry
