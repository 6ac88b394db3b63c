"""groups.* : the run scheduler's groups and their parallel limits (docs/scheduler.md)."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from specflowd.admission.units import DEFAULT_LIMIT, MAX_LIMIT, GroupView
from specflowd.errors import NotFound
from specflowd.protocol.rpc import EmptyParams, Message, Router
from specflowd.services.context import Call

router: Router[Call] = Router()

# Names and limits are checked by the scheduler itself, whose invalid_config error says what is allowed (a
# schema bound here would answer only "Invalid params").


def require_group(call: Call, name: str) -> None:
    """A group an orchestration or a project names must exist: NotFound says how to add it."""
    if not call.services.scheduler.has_group(name):
        raise NotFound(f"no scheduler group {name!r}; add it with `specflowctl groups add {name}`", group=name)


class GroupList(Message):
    groups: list[GroupView]


class GroupRef(Message):
    model_config = ConfigDict(extra="forbid")
    group: str = Field(max_length=200, description="1-64 letters, digits, '.', '_' or '-'; a letter or digit first")


class GroupLimitParams(GroupRef):
    limit: int = Field(description=f"agents of this group at once, 0-{MAX_LIMIT}; 0 pauses the group")


class GroupAddParams(GroupRef):
    limit: int = Field(DEFAULT_LIMIT, description=f"agents of this group at once, 0-{MAX_LIMIT}; 0 pauses the group")


class GroupRemoved(Message):
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
