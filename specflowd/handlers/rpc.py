"""rpc.* : ``rpc.discover``, the OpenRPC document of every method (OpenRPC's service discovery method)."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from specflowd.event_catalogue import CATALOGUE
from specflowd.protocol.openrpc import build_openrpc
from specflowd.protocol.rpc import EmptyParams, Message, Router
from specflowd.services.context import Call

router: Router[Call] = Router()


class OpenRpcDocument(Message):
    model_config = ConfigDict(populate_by_name=True)
    openrpc: str
    info: dict[str, Any]
    methods: list[dict[str, Any]]
    components: dict[str, Any]
    x_events: dict[str, Any] = Field(alias="x-events", description="the event notifications: envelope and types")

    @model_serializer(mode="wrap")
    def _extension_names(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        data["x-events"] = data.pop("x_events")  # an OpenRPC extension keeps its spelling on the wire
        return data


@router.method("rpc.discover", params=EmptyParams, result=OpenRpcDocument, summary="OpenRPC document")
async def discover(call: Call, _: EmptyParams) -> OpenRpcDocument:
    services = call.services
    if services.openrpc is None:  # built once per daemon: the method table never changes while it runs
        services.openrpc = build_openrpc(services.specs, CATALOGUE)
    return OpenRpcDocument.model_validate(services.openrpc)  # (validating the built document: ~20 µs)
