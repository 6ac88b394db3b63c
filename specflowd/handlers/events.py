"""events.subscribe / events.unsubscribe: the connection then receives ``event`` notifications."""

from __future__ import annotations

import anyio
from pydantic import ConfigDict

from specflowd.errors import InvalidState
from specflowd.protocol.params import PathRef
from specflowd.protocol.rpc import EmptyParams, Message, Router, notification
from specflowd.services.context import Call
from specflowd.services.events import Subscription

router: Router[Call] = Router()

_KEY = "subscription"


class SubscribeParams(Message):
    model_config = ConfigDict(extra="forbid")
    project: PathRef | None = None


class Subscribed(Message):
    subscribed: bool
    project: str | None = None


@router.method("events.subscribe", params=SubscribeParams, result=Subscribed, summary="Receive events")
async def subscribe(call: Call, params: SubscribeParams) -> Subscribed:
    conn, bus = call.conn, call.services.bus
    if _KEY in conn.attachments:
        raise InvalidState("this connection is already subscribed; unsubscribe first")
    project = call.services.registry.resolve(params.project).path if params.project else None
    sub = bus.subscribe(project)
    conn.attachments[_KEY] = sub
    conn.idle_exempt = True  # a subscriber waits for events: not idle
    conn.on_close.append(lambda: bus.unsubscribe(sub))

    async def pump(sub: Subscription = sub) -> None:
        while (event := await sub.next()) is not None:
            if not await conn.send(notification("event", event.to_params())):
                break
        bus.unsubscribe(sub)  # the connection is gone: stop queueing for it
        if conn.attachments.get(_KEY) in (None, sub):  # not re-subscribed meanwhile: no longer waiting for events
            conn.idle_exempt = False
        await anyio.lowlevel.checkpoint()

    conn.start_background(pump)
    return Subscribed(subscribed=True, project=project)


@router.method("events.unsubscribe", params=EmptyParams, result=Subscribed, summary="Stop receiving events")
async def unsubscribe(call: Call, _: EmptyParams) -> Subscribed:
    sub = call.conn.attachments.pop(_KEY, None)
    if sub is None:
        raise InvalidState("this connection has no subscription")
    call.services.bus.unsubscribe(sub)
    call.conn.idle_exempt = False
    return Subscribed(subscribed=False)
