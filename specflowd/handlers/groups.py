"""groups.* : the run scheduler's groups and their parallel limits (docs/scheduler.md)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from specflowd.protocol.rpc import EmptyParams, Router
from specflowd.scheduler.units import DEFAULT_LIMIT, MAX_LIMIT, GroupView
from specflowd.services.context import Call

router: Router[Call] = Router()

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"  # the scheduler's GROUP_NAME


class GroupList(BaseModel):
    groups: list[GroupView]


class GroupRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    group: str = Field(pattern=_NAME, description="1-64 letters, digits, '.', '_' or '-'")


class GroupLimitParams(GroupRef):
    limit: int = Field(ge=0, le=MAX_LIMIT, description="agents of this group at once; 0 pauses the group")


class GroupAddParams(GroupRef):
    limit: int = Field(DEFAULT_LIMIT, ge=0, le=MAX_LIMIT, description="agents of this group at once; 0 = paused")


class GroupRemoved(BaseModel):
    group: str
    moved: list[str] = Field(description="run ids that were queued in it, now queued in default (in order)")


@router.method("groups.list", params=EmptyParams, result=GroupList, summary="Groups: limit, running, queued")
async def list_groups(call: Call, _: EmptyParams) -> GroupList:
    return GroupList(groups=call.services.scheduler.groups())


@router.method("groups.add", params=GroupAddParams, result=GroupView, summary="Add a group with a parallel limit")
async def add(call: Call, params: GroupAddParams) -> GroupView:
    return call.services.scheduler.add_group(params.group, params.limit)


@router.method(
    "groups.set_limit", params=GroupLimitParams, result=GroupView, summary="Change a group's limit (applies at once)"
)
async def set_limit(call: Call, params: GroupLimitParams) -> GroupView:
    return call.services.scheduler.set_limit(params.group, params.limit)


@router.method(
    "groups.remove", params=GroupRef, result=GroupRemoved, summary="Remove a group; its queued runs move to default"
)
async def remove(call: Call, params: GroupRef) -> GroupRemoved:
    return GroupRemoved(group=params.group, moved=call.services.scheduler.remove_group(params.group))
